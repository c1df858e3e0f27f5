import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import type { ClusterEntity } from './cluster.entity.js';
import { CREDENTIAL_TYPES, type CredentialEntity } from './credential.entity.js';
import {
  ATTRIBUTE_KEY_MESSAGE,
  ATTRIBUTE_KEY_RE,
  CREDENTIAL_NAME_MESSAGE,
  CREDENTIAL_NAME_RE,
  FINGERPRINT_MESSAGE,
  GROUP_NAME_MESSAGE,
  GROUP_NAME_RE,
  HOSTNAME_MESSAGE,
  HOSTNAME_RE,
  LOGIN_USER_RE,
  MAX_ATTRIBUTE_VALUE,
  NODE_NAME_MESSAGE,
  NODE_NAME_RE,
  TAG_MESSAGE,
  TAG_RE,
  USER_MESSAGE,
} from './inventory.schema.js';
import type { NodeView } from './node-views.js';
import { FINGERPRINT_RE } from './ssh-keys.js';

/** `{ environment: 'production' }`: string keys (attribute names) to string values. */
export function IsAttributeMap(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isAttributeMap',
      validator: {
        validate: (v: unknown) =>
          v !== null &&
          typeof v === 'object' &&
          !Array.isArray(v) &&
          Object.keys(v).length <= 100 &&
          Object.entries(v as Record<string, unknown>).every(
            ([k, val]) =>
              ATTRIBUTE_KEY_RE.test(k) &&
              typeof val === 'string' &&
              val.length <= MAX_ATTRIBUTE_VALUE,
          ),
        defaultMessage: () =>
          `must map attribute names to strings (at most 100; ${ATTRIBUTE_KEY_MESSAGE}; values up to ${MAX_ATTRIBUTE_VALUE} characters)`,
      },
    },
    options,
  );
}

const GLOB_LIST = { each: true, message: 'each entry must be a node name or glob (web-*)' };
const GLOB_RE = /^[A-Za-z0-9*?[\]][A-Za-z0-9._*?[\]-]{0,252}$/;

/** A node filter without `cluster`: what a cluster may be defined by. */
export class ClusterFilterDto {
  @ApiPropertyOptional({ type: [String], example: ['web-*'], description: 'Names or globs' })
  @IsOptional()
  @IsArray()
  @Matches(GLOB_RE, GLOB_LIST)
  @ArrayMaxSize(1000)
  names?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Nodes carrying all of these tags' })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @ArrayMaxSize(100)
  tags?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Nodes carrying at least one of these' })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @ArrayMaxSize(100)
  tagsAny?: string[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { environment: 'production' },
  })
  @IsOptional()
  @IsAttributeMap()
  attributes?: Record<string, string>;

  @ApiPropertyOptional({ type: [String], description: 'Names or globs to leave out' })
  @IsOptional()
  @IsArray()
  @Matches(GLOB_RE, GLOB_LIST)
  @ArrayMaxSize(1000)
  exclude?: string[];
}

/** Which nodes: every given criterion must hold (the runbook `targets.nodes` filter). */
export class NodeFilterDto extends ClusterFilterDto {
  @ApiPropertyOptional({ description: 'Members of this cluster' })
  @IsOptional()
  @Matches(GROUP_NAME_RE, { message: GROUP_NAME_MESSAGE })
  cluster?: string;
}

export class CreateNodeDto {
  @ApiProperty({ example: 'web-1', pattern: NODE_NAME_RE.source })
  @Matches(NODE_NAME_RE, { message: NODE_NAME_MESSAGE })
  name: string;

  @ApiPropertyOptional({ example: '10.0.0.11', description: 'Defaults to the name' })
  @IsOptional()
  @Matches(HOSTNAME_RE, { message: HOSTNAME_MESSAGE })
  hostname?: string;

  @ApiPropertyOptional({ default: 22 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;

  @ApiPropertyOptional({
    example: 'deploy',
    description: "Login user; default: the credential's username, else root",
  })
  @IsOptional()
  @Matches(LOGIN_USER_RE, { message: USER_MESSAGE })
  user?: string;

  @ApiPropertyOptional({ type: [String], example: ['web', 'linux'] })
  @IsOptional()
  @IsArray()
  @Matches(TAG_RE, { each: true, message: `each tag: ${TAG_MESSAGE}` })
  @ArrayUnique()
  @ArrayMaxSize(100)
  tags?: string[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { environment: 'production' },
  })
  @IsOptional()
  @IsAttributeMap()
  attributes?: Record<string, string>;

  @ApiPropertyOptional({ example: 'deploy-key', description: 'Credential name' })
  @IsOptional()
  @Matches(CREDENTIAL_NAME_RE, { message: CREDENTIAL_NAME_MESSAGE })
  credential?: string;

  @ApiPropertyOptional({ example: 'SHA256:LZMVckPigPlLEkdMsx0YjjANiL4Kaqk2BtVFdYLLKnE' })
  @IsOptional()
  @Matches(FINGERPRINT_RE, { message: FINGERPRINT_MESSAGE })
  hostKey?: string;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  trustOnFirstUse?: boolean;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

/** Every field optional; `null` clears user, credential and hostKey. */
export class UpdateNodeDto {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(HOSTNAME_RE, { message: HOSTNAME_MESSAGE })
  hostname?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @Matches(LOGIN_USER_RE, { message: USER_MESSAGE })
  user?: string | null;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @Matches(TAG_RE, { each: true, message: `each tag: ${TAG_MESSAGE}` })
  @ArrayUnique()
  @ArrayMaxSize(100)
  tags?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsAttributeMap()
  attributes?: Record<string, string>;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @Matches(CREDENTIAL_NAME_RE, { message: CREDENTIAL_NAME_MESSAGE })
  credential?: string | null;

  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @Matches(FINGERPRINT_RE, { message: FINGERPRINT_MESSAGE })
  hostKey?: string | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  trustOnFirstUse?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class CreateClusterDto {
  @ApiProperty({ example: 'web', pattern: GROUP_NAME_RE.source })
  @Matches(GROUP_NAME_RE, { message: GROUP_NAME_MESSAGE })
  name: string;

  @ApiPropertyOptional({ example: 'Public web tier' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['web-1', 'web-2', 'edge-*'],
    description: 'Node names or globs; give this or filter',
  })
  @IsOptional()
  @IsArray()
  @Matches(GLOB_RE, GLOB_LIST)
  @ArrayMinSize(1)
  @ArrayMaxSize(10000)
  nodes?: string[];

  @ApiPropertyOptional({ type: ClusterFilterDto, description: 'Give this or nodes' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ClusterFilterDto)
  filter?: ClusterFilterDto;
}

/** Setting `nodes` replaces a filter and the other way round. */
export class UpdateClusterDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @Matches(GLOB_RE, GLOB_LIST)
  @ArrayMinSize(1)
  @ArrayMaxSize(10000)
  nodes?: string[];

  @ApiPropertyOptional({ type: ClusterFilterDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ClusterFilterDto)
  filter?: ClusterFilterDto;
}

export class CreateCredentialDto {
  @ApiProperty({ example: 'deploy-key', pattern: CREDENTIAL_NAME_RE.source })
  @Matches(CREDENTIAL_NAME_RE, { message: CREDENTIAL_NAME_MESSAGE })
  name: string;

  @ApiProperty({ enum: CREDENTIAL_TYPES })
  @IsIn(CREDENTIAL_TYPES, { message: `must be one of ${CREDENTIAL_TYPES.join(', ')}` })
  type: 'ssh-key' | 'password';

  @ApiPropertyOptional({ example: 'deploy', description: 'Login user for nodes that set none' })
  @IsOptional()
  @Matches(LOGIN_USER_RE, { message: USER_MESSAGE })
  username?: string;

  @ApiPropertyOptional({
    description: 'ssh-key: the private key (OpenSSH or PEM). Write-only: never returned.',
    writeOnly: true,
  })
  @IsOptional()
  @IsString()
  @Length(1, 16384)
  privateKey?: string;

  @ApiPropertyOptional({ description: 'ssh-key: its passphrase, if any', writeOnly: true })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  passphrase?: string;

  @ApiPropertyOptional({ description: 'password: the password', writeOnly: true })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  password?: string;
}

export class UpdateCredentialDto {
  @ApiPropertyOptional({ nullable: true, type: String })
  @IsOptional()
  @Matches(LOGIN_USER_RE, { message: USER_MESSAGE })
  username?: string | null;
}

/** The new secret, of the credential's type. */
export class RotateCredentialDto {
  @ApiPropertyOptional({ writeOnly: true })
  @IsOptional()
  @IsString()
  @Length(1, 16384)
  privateKey?: string;

  @ApiPropertyOptional({ writeOnly: true })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  passphrase?: string;

  @ApiPropertyOptional({ writeOnly: true })
  @IsOptional()
  @IsString()
  @Length(1, 1024)
  password?: string;
}

export class AnsibleImportDto {
  @ApiProperty({ enum: ['ini', 'yaml'] })
  @IsIn(['ini', 'yaml'], { message: 'must be ini or yaml' })
  format: 'ini' | 'yaml';

  @ApiProperty({ description: 'The inventory file as text' })
  @IsString()
  @Length(1, 1024 * 1024)
  content: string;

  @ApiPropertyOptional({ description: 'Credential for imported nodes that have none yet' })
  @IsOptional()
  @Matches(CREDENTIAL_NAME_RE, { message: CREDENTIAL_NAME_MESSAGE })
  credential?: string;
}

export class RundeckImportDto {
  @ApiProperty({ enum: ['yaml', 'xml', 'json'], description: 'resources.yaml, .xml or .json' })
  @IsIn(['yaml', 'xml', 'json'], { message: 'must be yaml, xml or json' })
  format: 'yaml' | 'xml' | 'json';

  @ApiProperty({ description: 'The Rundeck resource model document as text' })
  @IsString()
  @Length(1, 1024 * 1024)
  content: string;

  @ApiPropertyOptional({ description: 'Credential for imported nodes that have none yet' })
  @IsOptional()
  @Matches(CREDENTIAL_NAME_RE, { message: CREDENTIAL_NAME_MESSAGE })
  credential?: string;
}

export class CredentialRefDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
}

export class NodeDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() hostname: string;
  @ApiProperty() port: number;
  @ApiProperty({ description: "Effective login user (the node's, the credential's, or root)" })
  user: string;
  @ApiProperty({ nullable: true, type: String, description: 'The user set on the node' })
  username: string | null;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  attributes: Record<string, string>;
  @ApiProperty({ type: [String] }) clusters: string[];
  @ApiProperty({ type: CredentialRefDto, nullable: true }) credential: CredentialRefDto | null;
  @ApiProperty({ nullable: true, type: String }) hostKeyFingerprint: string | null;
  @ApiProperty() trustOnFirstUse: boolean;
  @ApiProperty({
    enum: ['ssh', 'local'],
    description: '`local`: commands run on the Firebreak host itself (the built-in localhost node)',
  })
  connection: string;
  @ApiProperty({ enum: ['file', 'api', 'ansible', 'builtin'] }) source: string;
  @ApiProperty({ nullable: true, type: String }) sourcePath: string | null;
  @ApiProperty() disabled: boolean;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class ClusterDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() description: string;
  @ApiProperty({ type: [String], nullable: true, description: 'Names or globs' })
  nodes: string[] | null;
  @ApiProperty({ type: ClusterFilterDto, nullable: true }) filter: ClusterFilterDto | null;
  @ApiProperty({ type: [String], description: 'Enabled nodes that belong to it now' })
  members: string[];
  @ApiProperty({ enum: ['file', 'api', 'ansible'] }) source: string;
  @ApiProperty({ nullable: true, type: String }) sourcePath: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

/** What the API shows of a credential: never the secret. */
export class CredentialDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: CREDENTIAL_TYPES }) type: string;
  @ApiProperty({ nullable: true, type: String }) username: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'SHA256:… of the public key' })
  publicFingerprint: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ nullable: true, type: String }) rotatedAt: string | null;
}

export function toClusterDto(c: ClusterEntity, members: string[]): ClusterDto {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    nodes: c.nodeNames,
    filter: c.filter,
    members,
    source: c.source,
    sourcePath: c.sourcePath,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

/** Built field by field, so the ciphertext, IV and tag can never ride along. */
export function toCredentialDto(c: CredentialEntity): CredentialDto {
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    username: c.username,
    publicFingerprint: c.publicFingerprint,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    rotatedAt: c.rotatedAt?.toISOString() ?? null,
  };
}

export function toNodeDto(v: NodeView): NodeDto {
  const n = v.node;
  return {
    id: n.id,
    name: n.name,
    hostname: n.hostname,
    port: n.port,
    user: v.user,
    username: n.username,
    tags: n.tags,
    attributes: n.attributes,
    clusters: v.clusters,
    credential: v.credential ? { id: v.credential.id, name: v.credential.name } : null,
    hostKeyFingerprint: n.hostKeyFingerprint,
    trustOnFirstUse: n.trustOnFirstUse,
    connection: n.connection,
    source: n.source,
    sourcePath: n.sourcePath,
    disabled: n.disabled,
    createdAt: n.createdAt.toISOString(),
    updatedAt: n.updatedAt.toISOString(),
  };
}

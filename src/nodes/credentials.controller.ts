import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { AuditContext } from '../audit/audit.service.js';
import { CheckAbility } from '../common/access/acl.decorator.js';
import { Audit } from '../auth/current.decorator.js';
import { CREDENTIAL_NAME_RE } from './inventory.schema.js';
import {
  CreateCredentialDto,
  CredentialDto,
  RotateCredentialDto,
  toCredentialDto,
  UpdateCredentialDto,
} from './nodes.dto.js';
import { CredentialsService } from './credentials.service.js';
import { checkRef } from './refs.js';

const credentialRef = (ref: string) => checkRef(ref, CREDENTIAL_NAME_RE, 'credential');

/** Secrets go in, never out: every response is metadata built field by field. */
@ApiTags('credentials')
@ApiBearerAuth()
@Controller('credentials')
export class CredentialsController {
  constructor(private readonly credentials: CredentialsService) {}

  @Get()
  @CheckAbility('read', 'Credential')
  @ApiOperation({ summary: 'Credentials: name, type, user, public key fingerprint (operator+)' })
  @ApiOkResponse({ type: CredentialDto, isArray: true })
  async list(): Promise<CredentialDto[]> {
    return (await this.credentials.listCredentials()).map(toCredentialDto);
  }

  @Post()
  @CheckAbility('create', 'Credential')
  @ApiOperation({
    summary: 'Store an SSH private key (with passphrase) or a password, encrypted (admin)',
  })
  @ApiOkResponse({ type: CredentialDto })
  async create(
    @Body() body: CreateCredentialDto,
    @Audit() ctx: AuditContext,
  ): Promise<CredentialDto> {
    return toCredentialDto(await this.credentials.createCredential(body, ctx));
  }

  @Get(':ref')
  @CheckAbility('read', 'Credential')
  @ApiOperation({ summary: "A credential's metadata by id or name (operator+)" })
  @ApiOkResponse({ type: CredentialDto })
  async get(@Param('ref') ref: string): Promise<CredentialDto> {
    return toCredentialDto(await this.credentials.getCredential(credentialRef(ref)));
  }

  @Patch(':ref')
  @CheckAbility('update', 'Credential')
  @ApiOperation({ summary: "Change a credential's default login user (admin)" })
  @ApiOkResponse({ type: CredentialDto })
  async update(
    @Param('ref') ref: string,
    @Body() body: UpdateCredentialDto,
    @Audit() ctx: AuditContext,
  ): Promise<CredentialDto> {
    return toCredentialDto(await this.credentials.updateCredential(credentialRef(ref), body, ctx));
  }

  @Post(':ref/rotate')
  @HttpCode(200)
  @CheckAbility('update', 'Credential')
  @ApiOperation({ summary: 'Replace the secret (same type); the old one is gone (admin)' })
  @ApiOkResponse({ type: CredentialDto })
  async rotate(
    @Param('ref') ref: string,
    @Body() body: RotateCredentialDto,
    @Audit() ctx: AuditContext,
  ): Promise<CredentialDto> {
    return toCredentialDto(await this.credentials.rotateCredential(credentialRef(ref), body, ctx));
  }

  @Delete(':ref')
  @HttpCode(204)
  @CheckAbility('delete', 'Credential')
  @ApiOperation({ summary: 'Delete a credential no node uses (admin); 409 names the nodes' })
  @ApiNoContentResponse()
  async delete(@Param('ref') ref: string, @Audit() ctx: AuditContext): Promise<void> {
    await this.credentials.deleteCredential(credentialRef(ref), ctx);
  }
}

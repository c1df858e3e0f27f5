import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR, type AuditContext } from '../audit/audit.service.js';
import { DomainException, notFound, validationFailed } from '../common/errors.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { deriveKey } from '../config/keys.js';
import {
  CredentialDecryptError,
  decryptSecret,
  encryptSecret,
  type CredentialSecret,
} from './credential-crypto.js';
import { CredentialEntity, type CredentialType } from './credential.entity.js';
import { NodeEntity } from './node.entity.js';
import { byRef, changes, lockByRef } from './node-records.js';
import { inspectPrivateKey } from './ssh-keys.js';
import { insertNew } from './upsert.js';

export interface CredentialInput {
  name: string;
  type: CredentialType;
  username?: string | null;
  privateKey?: string;
  passphrase?: string;
  password?: string;
}

const isForeignKeyViolation = (e: unknown) =>
  e instanceof QueryFailedError && (e.driverError as { code?: string }).code === '23503';

/**
 * The credential store: SSH keys and passwords, encrypted at rest with a key derived from
 * SECRET_KEY. Secrets go in through the API and out only through `decrypt`, for a connection.
 * Every change is audited in the same transaction, with the secret values masked.
 */
@Injectable()
export class CredentialsService {
  private readonly logger = new Logger(CredentialsService.name);
  private readonly key: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {
    this.key = deriveKey(config.secretKey, 'credentials');
  }

  private get credentials() {
    return this.dataSource.getRepository(CredentialEntity);
  }

  /** The secret of a credential, to connect to `node`; a ciphertext that fails is audited. */
  async decrypt(c: CredentialEntity, node: string): Promise<CredentialSecret> {
    try {
      return decryptSecret(this.key, c.id, c);
    } catch (e) {
      if (!(e instanceof CredentialDecryptError)) throw e;
      this.logger.error(`credential "${c.name}": ${e.message}`);
      await this.audit
        .record(SYSTEM_ACTOR, {
          action: 'credential.decrypt',
          outcome: 'failure',
          subjectType: 'Credential',
          subjectId: c.id,
          details: { name: c.name, node, reason: 'ciphertext does not authenticate' },
        })
        .catch(() => undefined);
      throw new DomainException(
        'INTERNAL',
        `credential "${c.name}" could not be decrypted: its stored ciphertext was altered or moved, or SECRET_KEY changed since it was stored; rotate the credential`,
        { credential: c.name },
      );
    }
  }

  listCredentials(): Promise<CredentialEntity[]> {
    return this.credentials.find({ order: { name: 'ASC' } });
  }

  async getCredential(ref: string): Promise<CredentialEntity> {
    const c = await this.credentials.findOneBy(byRef(ref));
    if (!c) throw notFound('Credential', ref);
    return c;
  }

  /** Checks a secret against its type; returns it with the public key fingerprint, if any. */
  private checkSecret(
    type: CredentialType,
    input: Pick<CredentialInput, 'privateKey' | 'passphrase' | 'password'>,
  ): { secret: CredentialSecret; fingerprint: string | null } {
    if (type === 'password') {
      const problems = [
        ...(input.password ? [] : [{ path: 'password', message: 'is required for type password' }]),
        ...(input.privateKey !== undefined
          ? [{ path: 'privateKey', message: 'applies to type ssh-key only' }]
          : []),
        ...(input.passphrase !== undefined
          ? [{ path: 'passphrase', message: 'applies to type ssh-key only' }]
          : []),
      ];
      if (problems.length) throw validationFailed(problems);
      return { secret: { type, password: input.password! }, fingerprint: null };
    }
    if (input.password !== undefined)
      throw validationFailed([{ path: 'password', message: 'applies to type password only' }]);
    if (!input.privateKey)
      throw validationFailed([{ path: 'privateKey', message: 'is required for type ssh-key' }]);
    const inspected = inspectPrivateKey(input.privateKey, input.passphrase);
    if (!inspected.ok) {
      const path = /passphrase/.test(inspected.message) ? 'passphrase' : 'privateKey';
      throw validationFailed([{ path, message: inspected.message }]);
    }
    return {
      secret: {
        type,
        privateKey: input.privateKey,
        ...(input.passphrase ? { passphrase: input.passphrase } : {}),
      },
      fingerprint: inspected.info.fingerprint,
    };
  }

  async createCredential(input: CredentialInput, ctx: AuditContext): Promise<CredentialEntity> {
    const { secret, fingerprint } = this.checkSecret(input.type, input);
    const id = randomUUID();
    const encrypted = encryptSecret(this.key, id, secret);
    return this.dataSource.transaction(async (m) => {
      await insertNew(m, CredentialEntity, 'credential', {
        id,
        name: input.name,
        type: input.type,
        username: input.username ?? null,
        ...encrypted,
        publicFingerprint: fingerprint,
        rotatedAt: null,
      });
      const c = await m.findOneByOrFail(CredentialEntity, { id });
      await this.auditCredential(m, ctx, 'credential.create', c, secretValues(input), {
        type: c.type,
        username: c.username,
        publicFingerprint: c.publicFingerprint,
      });
      return c;
    });
  }

  async updateCredential(
    ref: string,
    input: { username?: string | null },
    ctx: AuditContext,
  ): Promise<CredentialEntity> {
    return this.dataSource.transaction(async (m) => {
      const c = await this.lockCredential(m, ref);
      const changed = changes(c, { username: input.username });
      if (Object.keys(changed).length) {
        c.username = input.username ?? null;
        await m.save(c);
        await this.auditCredential(m, ctx, 'credential.update', c, [], { changed });
      }
      return c;
    });
  }

  /** Replaces the secret (same type); the old one is gone. */
  async rotateCredential(
    ref: string,
    input: Pick<CredentialInput, 'privateKey' | 'passphrase' | 'password'>,
    ctx: AuditContext,
  ): Promise<CredentialEntity> {
    return this.dataSource.transaction(async (m) => {
      const c = await this.lockCredential(m, ref);
      const { secret, fingerprint } = this.checkSecret(c.type, input);
      const before = c.publicFingerprint;
      Object.assign(c, encryptSecret(this.key, c.id, secret), {
        publicFingerprint: fingerprint,
        rotatedAt: new Date(),
      });
      await m.save(c);
      await this.auditCredential(m, ctx, 'credential.rotate', c, secretValues(input), {
        type: c.type,
        publicFingerprint: { from: before, to: fingerprint },
      });
      return c;
    });
  }

  /** Refused (409, naming them) while nodes use it. */
  async deleteCredential(ref: string, ctx: AuditContext): Promise<void> {
    try {
      await this.dataSource.transaction(async (m) => {
        const c = await this.lockCredential(m, ref);
        const users = await m.find(NodeEntity, {
          where: { credentialId: c.id },
          select: { name: true },
          order: { name: 'ASC' },
        });
        if (users.length)
          throw credentialInUse(
            c.name,
            users.map((n) => n.name),
          );
        await m.delete(CredentialEntity, { id: c.id });
        await this.auditCredential(m, ctx, 'credential.delete', c, [], { type: c.type });
      });
    } catch (e) {
      // A node took the credential between the check and the delete.
      if (isForeignKeyViolation(e)) throw credentialInUse(ref, []);
      throw e;
    }
  }

  private lockCredential(m: EntityManager, ref: string): Promise<CredentialEntity> {
    return lockByRef(m, CredentialEntity, 'Credential', ref);
  }

  private auditCredential(
    m: EntityManager,
    ctx: AuditContext,
    action: string,
    c: CredentialEntity,
    secrets: string[],
    details: Record<string, unknown>,
  ) {
    return this.audit.record(
      ctx,
      {
        action,
        subjectType: 'Credential',
        subjectId: c.id,
        details: { name: c.name, ...details },
        secretValues: secrets,
      },
      m,
    );
  }
}

function credentialInUse(name: string, nodes: string[]) {
  const shown = nodes.slice(0, 10).join(', ') + (nodes.length > 10 ? ', …' : '');
  return new DomainException(
    'CONFLICT',
    nodes.length
      ? `credential "${name}" is used by ${nodes.length} node(s): ${shown}; give them another credential first`
      : `credential "${name}" is in use by a node; give it another credential first`,
    { credential: name, nodes },
  );
}

function secretValues(
  input: Partial<Pick<CredentialInput, 'privateKey' | 'passphrase' | 'password'>>,
) {
  return [input.privateKey, input.passphrase, input.password].filter(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
}

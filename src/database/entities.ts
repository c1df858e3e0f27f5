import { ApiTokenEntity } from '../auth/api-token.entity.js';
import { UserEntity } from '../auth/user.entity.js';
import { AuditEntryEntity } from '../audit/audit-entry.entity.js';
import { RunbookVersionEntity } from '../runbooks/runbook-version.entity.js';
import { RunbookEntity } from '../runbooks/runbook.entity.js';

/** Every entity, for the app's data source and the migration CLI alike. */
export const ENTITIES = [
  UserEntity,
  ApiTokenEntity,
  AuditEntryEntity,
  RunbookEntity,
  RunbookVersionEntity,
];

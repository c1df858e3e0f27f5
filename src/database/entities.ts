import { ApiTokenEntity } from '../auth/api-token.entity.js';
import { UserEntity } from '../auth/user.entity.js';
import { AuditEntryEntity } from '../audit/audit-entry.entity.js';
import { ExecutionLogEntity } from '../executions/execution-log.entity.js';
import { ExecutionResultEntity } from '../executions/execution-result.entity.js';
import { ExecutionEntity } from '../executions/execution.entity.js';
import { IncidentRoleEntity } from '../incidents/incident-role.entity.js';
import { IncidentTimelineEntity } from '../incidents/incident-timeline.entity.js';
import { IncidentEntity } from '../incidents/incident.entity.js';
import { ClusterEntity } from '../nodes/cluster.entity.js';
import { CredentialEntity } from '../nodes/credential.entity.js';
import { NodeEntity } from '../nodes/node.entity.js';
import { RunbookVersionEntity } from '../runbooks/runbook-version.entity.js';
import { RunbookEntity } from '../runbooks/runbook.entity.js';

/** Every entity, for the app's data source and the migration CLI alike. */
export const ENTITIES = [
  UserEntity,
  ApiTokenEntity,
  AuditEntryEntity,
  RunbookEntity,
  RunbookVersionEntity,
  CredentialEntity,
  NodeEntity,
  ClusterEntity,
  ExecutionEntity,
  ExecutionResultEntity,
  ExecutionLogEntity,
  IncidentEntity,
  IncidentRoleEntity,
  IncidentTimelineEntity,
];

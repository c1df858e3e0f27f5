import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { IcsRole } from './incident-rules.js';

/** A current holder of an ICS role; one row per role, except subject-matter experts. */
@Entity('incident_roles')
@Index('incident_roles_holder_key', ['incidentId', 'role', 'userId'], { unique: true })
@Index('incident_roles_single_key', ['incidentId', 'role'], {
  unique: true,
  where: `"role" <> 'subject_matter_expert'`,
})
export class IncidentRoleEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'incident_id', type: 'uuid' })
  incidentId: string;

  @Column({ type: 'varchar', length: 32 })
  role: IcsRole;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ type: 'varchar', length: 64 })
  username: string;

  @Column({ name: 'display_name', type: 'varchar', length: 128 })
  displayName: string;

  @Column({ name: 'assigned_at', type: 'timestamptz' })
  assignedAt: Date;

  @Column({ name: 'assigned_by', type: 'varchar', length: 128 })
  assignedBy: string;
}

import { ROLE_TITLES, SEVERITY_MEANINGS, type IcsRole, type Severity } from './incident-rules.js';
import { secondsBetween } from './response-metrics.js';

export interface PostmortemInput {
  ref: string;
  title: string;
  summary: string | null;
  impact: string | null;
  severity: Severity;
  status: string;
  source: string;
  services: string[];
  declaredBy: string;
  declaredAt: Date;
  acknowledgedAt: Date | null;
  identifiedAt: Date | null;
  mitigatedAt: Date | null;
  resolvedAt: Date | null;
  roles: Array<{ role: IcsRole; username: string; displayName: string }>;
  timeline: Array<{
    at: Date;
    kind: string;
    actorName: string;
    summary: string;
    link?: string | null;
  }>;
  executions: Array<{
    id: string;
    runbook: string;
    status: string;
    actorName: string;
    at: Date;
    logs: string;
  }>;
  actionItems: Array<{ text: string; owner?: string | null; done?: boolean }>;
}

/** 1h 2m 3s; `—` when the stage was not reached. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [h ? `${h}h` : '', m ? `${m}m` : '', `${s % 60}s`].filter(Boolean);
  return parts.join(' ');
}

/** Table cells must not break the table. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** A Markdown postmortem from plain data: summary, impact, roles, durations, timeline, actions. */
export function renderPostmortem(p: PostmortemInput): string {
  const out: string[] = [];
  out.push(`# Postmortem: ${p.ref} — ${p.title}`, '');
  out.push(`- **Severity:** ${p.severity} (${SEVERITY_MEANINGS[p.severity]})`);
  out.push(`- **Status:** ${p.status}`);
  out.push(`- **Source:** ${p.source}`);
  out.push(`- **Declared:** ${p.declaredAt.toISOString()} by ${p.declaredBy}`);
  if (p.resolvedAt) out.push(`- **Resolved:** ${p.resolvedAt.toISOString()}`);
  out.push(`- **Services:** ${p.services.length ? p.services.join(', ') : '—'}`, '');
  out.push('## Summary', '', p.summary?.trim() || '_No summary yet._', '');
  out.push('## Impact', '', p.impact?.trim() || '_No impact statement yet._', '');
  out.push('## Roles', '');
  if (p.roles.length === 0) out.push('_No roles assigned._');
  for (const r of p.roles)
    out.push(`- **${ROLE_TITLES[r.role]}:** ${r.displayName} (${r.username})`);
  out.push('', '## Durations', '', '| Measure | Duration |', '| --- | --- |');
  out.push(
    `| Time to acknowledge (TTA) | ${formatDuration(secondsBetween(p.declaredAt, p.acknowledgedAt))} |`,
  );
  out.push(
    `| Time to identify | ${formatDuration(secondsBetween(p.declaredAt, p.identifiedAt))} |`,
  );
  out.push(
    `| Time to mitigate (TTM) | ${formatDuration(secondsBetween(p.declaredAt, p.mitigatedAt))} |`,
  );
  out.push(
    `| Time to resolve (TTR) | ${formatDuration(secondsBetween(p.declaredAt, p.resolvedAt))} |`,
  );
  out.push(
    '',
    '## Timeline',
    '',
    '| Time (UTC) | Event | Actor | Details |',
    '| --- | --- | --- | --- |',
  );
  for (const e of p.timeline) {
    const details = e.link ? `${cell(e.summary)} ([link](${e.link}))` : cell(e.summary);
    out.push(`| ${e.at.toISOString()} | ${e.kind} | ${cell(e.actorName)} | ${details} |`);
  }
  out.push('', '## Executions', '');
  if (p.executions.length === 0) out.push('_No runbooks were run for this incident._');
  else {
    out.push('| Started (UTC) | Runbook | By | Result | Logs |', '| --- | --- | --- | --- | --- |');
    for (const x of p.executions) {
      out.push(
        `| ${x.at.toISOString()} | ${cell(x.runbook)} | ${cell(x.actorName)} | ${x.status} | [logs](${x.logs}) |`,
      );
    }
  }
  out.push('', '## Action items', '');
  if (p.actionItems.length === 0) out.push('_None recorded._');
  for (const a of p.actionItems) {
    out.push(`- [${a.done ? 'x' : ' '}] ${a.text.trim()}${a.owner ? ` (owner: ${a.owner})` : ''}`);
  }
  return out.join('\n') + '\n';
}

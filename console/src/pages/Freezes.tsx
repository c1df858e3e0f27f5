import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  MultiSelect,
  SegmentedControl,
  Stack,
  Switch,
  Table,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, enc } from '../api';
import { useHasRole } from '../session';
import { errorText, QueryState, useFormError, when } from './common';
import { useConfirm } from './confirm';
import { FormDialog } from './FormDialog';

interface Freeze {
  name: string;
  reason?: string;
  start?: string;
  end?: string;
  cron?: string;
  duration?: string;
  timezone?: string;
  scope?: {
    runbooks?: string[];
    kinds?: string[];
    tags?: string[];
    nodes?: { names?: string[]; attributes?: Record<string, string> };
  };
  includeDiagnostics?: boolean;
  source: 'file' | 'api';
  active: { start: string; until: string } | null;
  next: { start: string; until: string } | null;
}

interface FreezeList {
  file: string;
  freezes: Freeze[];
  problems: Array<{ file: string; path: string; line: number; col: number; message: string }>;
}

/** What the form edits: the API's fields, lists as lists, node attributes as KEY=VALUE lines. */
interface Draft {
  name: string;
  reason: string;
  mode: 'once' | 'recurring';
  start: string;
  end: string;
  cron: string;
  duration: string;
  timezone: string;
  runbooks: string[];
  kinds: string[];
  tags: string[];
  nodeNames: string[];
  attributes: string;
  includeDiagnostics: boolean;
}

const BLANK: Draft = {
  name: '',
  reason: '',
  mode: 'once',
  start: '',
  end: '',
  cron: '',
  duration: '',
  timezone: '',
  runbooks: [],
  kinds: [],
  tags: [],
  nodeNames: [],
  attributes: '',
  includeDiagnostics: false,
};

const draftOf = (f: Freeze): Draft => ({
  name: f.name,
  reason: f.reason ?? '',
  mode: f.cron !== undefined || f.duration !== undefined ? 'recurring' : 'once',
  start: f.start ?? '',
  end: f.end ?? '',
  cron: f.cron ?? '',
  duration: f.duration ?? '',
  timezone: f.timezone ?? '',
  runbooks: f.scope?.runbooks ?? [],
  kinds: f.scope?.kinds ?? [],
  tags: f.scope?.tags ?? [],
  nodeNames: f.scope?.nodes?.names ?? [],
  attributes: Object.entries(f.scope?.nodes?.attributes ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n'),
  includeDiagnostics: f.includeDiagnostics ?? false,
});

/**
 * The request body. Every field is sent: an empty one as null on a change (PATCH: null removes)
 * and left out on a create; the server checks the whole freeze exactly as it checks the file.
 */
function bodyOf(d: Draft, patch: boolean): Record<string, unknown> {
  const attributes = Object.fromEntries(
    d.attributes
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const i = l.indexOf('=');
        return i < 0 ? [l, ''] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
      }),
  );
  const nodes = {
    ...(d.nodeNames.length ? { names: d.nodeNames } : {}),
    ...(Object.keys(attributes).length ? { attributes } : {}),
  };
  const scope = {
    ...(d.runbooks.length ? { runbooks: d.runbooks } : {}),
    ...(d.kinds.length ? { kinds: d.kinds } : {}),
    ...(d.tags.length ? { tags: d.tags } : {}),
    ...(Object.keys(nodes).length ? { nodes } : {}),
  };
  const once = d.mode === 'once';
  const fields: Record<string, unknown> = {
    reason: d.reason.trim() || undefined,
    start: once ? d.start.trim() || undefined : undefined,
    end: once ? d.end.trim() || undefined : undefined,
    cron: once ? undefined : d.cron.trim() || undefined,
    duration: once ? undefined : d.duration.trim() || undefined,
    timezone: once ? undefined : d.timezone.trim() || undefined,
    scope: Object.keys(scope).length ? scope : undefined,
    includeDiagnostics: d.includeDiagnostics || undefined,
  };
  const body: Record<string, unknown> = patch ? {} : { name: d.name.trim() };
  for (const [k, v] of Object.entries(fields))
    if (v !== undefined) body[k] = v;
    else if (patch) body[k] = null;
  return body;
}

function FreezeDialog({ editing, onClose }: { editing: Freeze | null; onClose: () => void }) {
  const client = useQueryClient();
  const [d, setD] = useState<Draft>(editing ? draftOf(editing) : BLANK);
  const err = useFormError();
  const set =
    <K extends keyof Draft>(k: K) =>
    (v: Draft[K]) =>
      setD((x) => ({ ...x, [k]: v }));
  const text = (k: 'name' | 'reason' | 'start' | 'end' | 'cron' | 'duration' | 'timezone') => ({
    value: d[k],
    onChange: (e: { currentTarget: { value: string } }) => set(k)(e.currentTarget.value),
    error: err.field(k),
  });
  return (
    <FormDialog
      title={editing ? `Edit freeze ${editing.name}` : 'New change freeze'}
      submitLabel={editing ? 'Save freeze' : 'Create freeze'}
      onClose={onClose}
      err={err}
      onSubmit={async () => {
        await api(editing ? `/freezes/${enc(editing.name)}` : '/freezes', {
          method: editing ? 'PATCH' : 'POST',
          body: bodyOf(d, !!editing),
        });
        await client.invalidateQueries({ queryKey: ['freezes'] });
        onClose();
      }}
    >
      <TextInput
        label="Freeze name"
        description="2-63 lower-case letters, digits or dashes; kept when edited"
        required
        disabled={!!editing}
        {...text('name')}
      />
      <TextInput label="Reason" description="Shown to whoever is refused" {...text('reason')} />
      <SegmentedControl
        aria-label="Window"
        value={d.mode}
        onChange={(v) => set('mode')(v)}
        data={[
          { value: 'once', label: 'One-off window' },
          { value: 'recurring', label: 'Recurring window' },
        ]}
      />
      {d.mode === 'once' ? (
        <Group grow align="start" wrap="wrap">
          <TextInput
            label="Start"
            description="ISO 8601 with offset"
            placeholder="2026-12-20T00:00:00Z"
            {...text('start')}
          />
          <TextInput
            label="End"
            description="ISO 8601 with offset"
            placeholder="2027-01-04T00:00:00Z"
            {...text('end')}
          />
        </Group>
      ) : (
        <Group grow align="start" wrap="wrap">
          <TextInput
            label="Cron"
            description="When each window starts"
            placeholder="0 18 * * 5"
            {...text('cron')}
          />
          <TextInput
            label="Duration"
            description="e.g. 64h"
            placeholder="64h"
            {...text('duration')}
          />
          <TextInput
            label="Time zone"
            description="IANA, default UTC"
            placeholder="Europe/Berlin"
            {...text('timezone')}
          />
        </Group>
      )}
      <Title order={4}>Scope (empty: every runbook)</Title>
      <TagsInput
        label="Runbooks"
        value={d.runbooks}
        onChange={set('runbooks')}
        error={err.field('scope.runbooks')}
      />
      <Group grow align="start" wrap="wrap">
        <MultiSelect
          label="Kinds"
          data={['diagnostic', 'remediation']}
          value={d.kinds}
          onChange={set('kinds')}
          error={err.field('scope.kinds')}
        />
        <TagsInput
          label="Runbook tags"
          value={d.tags}
          onChange={set('tags')}
          error={err.field('scope.tags')}
        />
      </Group>
      <Group grow align="start" wrap="wrap">
        <TagsInput
          label="Node names"
          value={d.nodeNames}
          onChange={set('nodeNames')}
          error={err.field('scope.nodes.names')}
        />
        <Textarea
          label="Node attributes"
          description="KEY=VALUE, one a line; all must match"
          placeholder="environment=production"
          autosize
          minRows={1}
          value={d.attributes}
          onChange={(e) => set('attributes')(e.currentTarget.value)}
          error={err.field('scope.nodes.attributes')}
        />
      </Group>
      <Switch
        label="Freeze diagnostics too"
        checked={d.includeDiagnostics}
        onChange={(e) => set('includeDiagnostics')(e.currentTarget.checked)}
      />
    </FormDialog>
  );
}

function windowText(f: Freeze) {
  return f.cron !== undefined
    ? `${f.cron} for ${f.duration ?? '?'}${f.timezone ? ` (${f.timezone})` : ' (UTC)'}`
    : `${when(f.start)} – ${when(f.end)}`;
}

function scopeText(f: Freeze) {
  const s = f.scope;
  const parts = [
    s?.runbooks?.length ? `runbooks ${s.runbooks.join(', ')}` : '',
    s?.kinds?.length ? `kinds ${s.kinds.join(', ')}` : '',
    s?.tags?.length ? `tags ${s.tags.join(', ')}` : '',
    s?.nodes?.names?.length ? `nodes ${s.nodes.names.join(', ')}` : '',
    s?.nodes?.attributes
      ? Object.entries(s.nodes.attributes)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')
      : '',
  ].filter(Boolean);
  return `${parts.join('; ') || 'every runbook'}${f.includeDiagnostics ? ' (diagnostics too)' : ''}`;
}

/**
 * Change freezes (/freezes): those of the reviewed file (read-only here: the file is named) and
 * those made through the API, which admins create, change and remove. The server checks a freeze
 * exactly as it checks the file and names the field of each problem; the form shows it there.
 */
export function Freezes() {
  const admin = useHasRole('admin');
  const client = useQueryClient();
  const list = useQuery({ queryKey: ['freezes'], queryFn: () => api<FreezeList>('/freezes') });
  const [editing, setEditing] = useState<Freeze | 'new' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const confirm = useConfirm();
  const remove = async (f: Freeze) => {
    const ok = await confirm.ask({
      title: `Delete the freeze ${f.name}?`,
      message: 'Runs in its scope are no longer refused by it.',
      confirmLabel: 'Delete freeze',
    });
    if (!ok) return;
    setError(null);
    try {
      await api(`/freezes/${enc(f.name)}`, { method: 'DELETE' });
      await client.invalidateQueries({ queryKey: ['freezes'] });
    } catch (e) {
      setError(errorText(e));
    }
  };
  const data = list.data;
  return (
    <Stack>
      {confirm.dialog}
      <Group justify="space-between">
        <Title order={2}>Change freezes</Title>
        {admin && <Button onClick={() => setEditing('new')}>New freeze</Button>}
      </Group>
      <Text size="sm" c="dimmed">
        Runs in a freeze's scope are refused while its window is open (a break-glass run waits for
        someone else's approval instead). Freezes in{' '}
        {data ? <Code data-testid="freezes-file">{data.file}</Code> : 'the freezes file'} change
        only through review of that file.
      </Text>
      {data && data.problems.length > 0 && (
        <Alert color="red" title={`${data.file} has problems (the last valid version applies)`}>
          {data.problems.map((p, i) => (
            <Text key={i} size="sm">
              line {p.line}:{p.col} {p.path}: {p.message}
            </Text>
          ))}
        </Alert>
      )}
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <QueryState
        loading={list.isLoading}
        error={list.error}
        empty={data?.freezes.length === 0}
        emptyText="No change freezes."
        what="Change freezes"
      />
      {data && data.freezes.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table aria-label="Change freezes">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Source</Table.Th>
                <Table.Th>Window</Table.Th>
                <Table.Th>Scope</Table.Th>
                <Table.Th>Now</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.freezes.map((f) => (
                <Table.Tr key={`${f.source}:${f.name}`} data-testid={`freeze-${f.name}`}>
                  <Table.Td>
                    <Text fw={500}>{f.name}</Text>
                    {f.reason && (
                      <Text size="xs" c="dimmed">
                        {f.reason}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={f.source === 'file' ? 'gray' : 'blue'}>
                      {f.source}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{windowText(f)}</Table.Td>
                  <Table.Td>{scopeText(f)}</Table.Td>
                  <Table.Td>
                    {f.active ? (
                      <Badge color="red">frozen until {when(f.active.until)}</Badge>
                    ) : f.next ? (
                      <Text size="sm">next {when(f.next.start)}</Text>
                    ) : (
                      <Text size="sm" c="dimmed">
                        over
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {f.source === 'file' ? (
                      <Text size="xs" c="dimmed">
                        read-only: in {data.file}
                      </Text>
                    ) : admin ? (
                      <Group gap={4} wrap="nowrap">
                        <Button
                          size="compact-xs"
                          variant="default"
                          onClick={() => setEditing(f)}
                          aria-label={`Edit ${f.name}`}
                        >
                          Edit
                        </Button>
                        <Button
                          size="compact-xs"
                          color="red"
                          variant="light"
                          onClick={() => void remove(f)}
                          aria-label={`Delete ${f.name}`}
                        >
                          Delete
                        </Button>
                      </Group>
                    ) : null}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {editing && (
        <FreezeDialog
          editing={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
        />
      )}
    </Stack>
  );
}

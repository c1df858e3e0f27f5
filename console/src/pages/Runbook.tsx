import {
  Badge,
  Box,
  Button,
  Card,
  Code,
  Group,
  Select,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import {
  api,
  apiText,
  enc,
  type Execution,
  type Runbook as RunbookT,
  type RunbookVersion,
} from '../api';
import { sideBySide } from '../diff';
import { ExecutionRows } from './Executions';

/** One side of a side-by-side diff row: the line number, then the text. */
function DiffSide({
  line,
  background,
}: {
  line: { n: number; text: string } | undefined;
  background: string | undefined;
}) {
  return (
    <>
      <td
        style={{
          color: 'var(--mantine-color-dimmed)',
          width: 32,
          textAlign: 'right',
          paddingRight: 6,
        }}
      >
        {line?.n}
      </td>
      <td style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all', background, width: '50%' }}>
        {line?.text}
      </td>
    </>
  );
}

function DiffView({ name, from, to }: { name: string; from: number; to: number }) {
  const diff = useQuery({
    queryKey: ['diff', name, from, to],
    queryFn: () => apiText(`/runbooks/${enc(name)}/diff?from=${from}&to=${to}`),
  });
  if (diff.isLoading) return <Text aria-busy="true">Loading diff…</Text>;
  if (diff.error) return <Text c="red">{diff.error.message}</Text>;
  const rows = sideBySide(diff.data ?? '');
  if (rows.length === 0) return <Text c="dimmed">No differences.</Text>;
  const bg = (kind: string, side: 'l' | 'r') =>
    kind === 'changed' || (kind === 'removed' && side === 'l') || (kind === 'added' && side === 'r')
      ? side === 'l'
        ? 'var(--mantine-color-red-light)'
        : 'var(--mantine-color-green-light)'
      : undefined;
  return (
    <Box style={{ overflowX: 'auto' }}>
      <table
        aria-label={`Diff v${from} → v${to}`}
        style={{
          borderCollapse: 'collapse',
          tableLayout: 'fixed',
          width: '100%',
          fontFamily: 'var(--mantine-font-family-monospace)',
          fontSize: 12,
        }}
      >
        <colgroup>
          <col style={{ width: 40 }} />
          <col />
          <col style={{ width: 40 }} />
          <col />
        </colgroup>
        <thead>
          <tr>
            <th colSpan={2} style={{ textAlign: 'left' }}>
              v{from}
            </th>
            <th colSpan={2} style={{ textAlign: 'left' }}>
              v{to}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) =>
            row.kind === 'hunk' ? (
              <tr key={i}>
                <td colSpan={4} style={{ color: 'var(--mantine-color-dimmed)' }}>
                  {row.text}
                </td>
              </tr>
            ) : (
              <tr key={i}>
                <DiffSide line={row.left} background={bg(row.kind, 'l')} />
                <DiffSide line={row.right} background={bg(row.kind, 'r')} />
              </tr>
            ),
          )}
        </tbody>
      </table>
    </Box>
  );
}

function Versions({ name, current }: { name: string; current: number }) {
  const versions = useQuery({
    queryKey: ['versions', name],
    queryFn: () => api<RunbookVersion[]>(`/runbooks/${enc(name)}/versions`),
  });
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  if (versions.isLoading) return <Text aria-busy="true">Loading…</Text>;
  if (versions.error) return <Text c="red">{versions.error.message}</Text>;
  const list = versions.data ?? [];
  const choices = list.map((v) => ({ value: String(v.version), label: `v${v.version}` }));
  const f = from ?? (current > 1 ? String(current - 1) : null);
  const t = to ?? String(current);
  return (
    <Stack>
      <Table aria-label="Versions">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Version</Table.Th>
            <Table.Th>Author</Table.Th>
            <Table.Th>Source</Table.Th>
            <Table.Th>Created</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.map((v) => (
            <Table.Tr key={v.version}>
              <Table.Td>v{v.version}</Table.Td>
              <Table.Td>{v.author}</Table.Td>
              <Table.Td>
                {v.sourceKind}
                {v.sourcePath ? `: ${v.sourcePath}` : ''}
                {v.gitCommit ? ` @ ${v.gitCommit.slice(0, 8)}` : ''}
              </Table.Td>
              <Table.Td>{new Date(v.createdAt).toLocaleString()}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {list.length > 1 ? (
        <>
          <Group>
            <Select
              label="Compare"
              data={choices}
              value={f}
              onChange={setFrom}
              w={120}
              allowDeselect={false}
            />
            <Select
              label="with"
              data={choices}
              value={t}
              onChange={setTo}
              w={120}
              allowDeselect={false}
            />
          </Group>
          {f && t && <DiffView name={name} from={Number(f)} to={Number(t)} />}
        </>
      ) : (
        <Text c="dimmed" size="sm">
          One version so far: nothing to compare.
        </Text>
      )}
    </Stack>
  );
}

export function Runbook() {
  const { name = '' } = useParams();
  const runbook = useQuery({
    queryKey: ['runbook', name],
    queryFn: () => api<RunbookT>(`/runbooks/${enc(name)}`),
  });
  const runs = useQuery({
    queryKey: ['executions', 'runbook', name],
    queryFn: () => api<Execution[]>(`/executions?runbook=${enc(name)}&limit=10`),
  });
  if (runbook.isLoading) return <Text aria-busy="true">Loading…</Text>;
  if (runbook.error)
    return (
      <Text c="red" role="alert">
        {runbook.error.message}
      </Text>
    );
  const r = runbook.data!;
  const options = r.version.definition?.options ?? [];
  return (
    <Stack maw={1100}>
      <Group justify="space-between">
        <Group>
          <Title order={2}>{r.name}</Title>
          <Badge variant="light">{r.kind}</Badge>
          <Text c="dimmed">v{r.currentVersion}</Text>
          {r.disabled && (
            <Badge color="gray">disabled{r.disabledReason ? `: ${r.disabledReason}` : ''}</Badge>
          )}
        </Group>
        {r.canRun && !r.disabled && (
          <Button component={Link} to={`/runbooks/${enc(r.name)}/run`}>
            Run…
          </Button>
        )}
      </Group>
      <Text data-testid="runbook-description">{r.description}</Text>
      <Group gap={4}>
        {r.tags.map((t) => (
          <Badge
            key={t}
            variant="outline"
            component={Link}
            to={`/runbooks?tag=${enc(t)}`}
            style={{ cursor: 'pointer' }}
          >
            {t}
          </Badge>
        ))}
      </Group>
      <Card withBorder>
        <Title order={3} mb="sm">
          Options
        </Title>
        {options.length === 0 ? (
          <Text c="dimmed">None.</Text>
        ) : (
          <Table.ScrollContainer minWidth={500}>
            <Table aria-label="Options">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Default</Table.Th>
                  <Table.Th>Description</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {options.map((o) => (
                  <Table.Tr key={o.name}>
                    <Table.Td>
                      <Code>{o.name}</Code>
                      {o.required && (
                        <Text span c="red">
                          {' '}
                          *
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      {o.type}
                      {o.secure ? ', secure' : ''}
                      {o.values ? `: ${o.values.join(' | ')}` : ''}
                    </Table.Td>
                    <Table.Td>
                      {o.default === undefined ? '' : <Code>{JSON.stringify(o.default)}</Code>}
                    </Table.Td>
                    <Table.Td>{o.description}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
      <Card withBorder>
        <Title order={3} mb="sm">
          Last runs
        </Title>
        {runs.data && runs.data.length > 0 ? (
          <Table>
            <ExecutionRows rows={runs.data} />
          </Table>
        ) : (
          <Text c="dimmed">
            {runs.isLoading ? 'Loading…' : runs.error ? runs.error.message : 'Never run.'}
          </Text>
        )}
      </Card>
      <Card withBorder>
        <Title order={3} mb="sm">
          Version history
        </Title>
        <Versions name={r.name} current={r.currentVersion} />
      </Card>
    </Stack>
  );
}

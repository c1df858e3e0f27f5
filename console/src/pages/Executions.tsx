import { Anchor, Badge, Group, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, FINAL_STATUSES, statusColor, type Execution } from '../api';

/** Every status, for the filter: the ones a run passes through, then the final ones. */
const STATUSES = ['queued', 'running', 'awaiting_approval', 'awaiting_child', ...FINAL_STATUSES];

export function ExecutionRows({ rows }: { rows: Execution[] }) {
  return (
    <>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Runbook</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Nodes</Table.Th>
          <Table.Th>By</Table.Th>
          <Table.Th>Started</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((e) => (
          <Table.Tr key={e.id}>
            <Table.Td>
              <Anchor component={Link} to={`/executions/${e.id}`}>
                {e.runbook} v{e.version}
              </Anchor>
            </Table.Td>
            <Table.Td>
              <Badge color={statusColor(e.status)} variant="light">
                {e.status}
              </Badge>
            </Table.Td>
            <Table.Td>
              <Text size="sm" lineClamp={1}>
                {e.targets.length <= 3 ? e.targets.join(', ') : `${e.targets.length} nodes`}
              </Text>
            </Table.Td>
            <Table.Td>{e.actor}</Table.Td>
            <Table.Td>{new Date(e.createdAt).toLocaleString()}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </>
  );
}

/** Executions history with filters (in the URL, so a filtered view is a link). */
export function Executions() {
  const [params, setParams] = useSearchParams();
  // The inputs own the filters (instant, no lost keystrokes); the URL follows, so a filtered
  // view is a link.
  const [filters, setFilters] = useState<Record<string, string>>(() =>
    Object.fromEntries(['runbook', 'status', 'actor'].map((k) => [k, params.get(k) ?? ''])),
  );
  useEffect(() => {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) next.set(k, v);
    setParams(next, { replace: true });
  }, [filters, setParams]);
  const set = (key: string, value: string) => setFilters((f) => ({ ...f, [key]: value }));
  const query = new URLSearchParams();
  for (const [key, v] of Object.entries(filters)) if (v) query.set(key, v);
  query.set('limit', '100');
  const executions = useQuery({
    queryKey: ['executions', query.toString()],
    queryFn: () => api<Execution[]>(`/executions?${query.toString()}`),
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  });
  return (
    <Stack>
      <Title order={2}>Executions</Title>
      <Group align="end">
        <TextInput
          label="Runbook"
          value={filters.runbook}
          onChange={(e) => set('runbook', e.currentTarget.value.trim())}
          w={200}
        />
        <Select
          label="Status"
          data={[{ value: '', label: 'Any' }, ...STATUSES.map((s) => ({ value: s, label: s }))]}
          value={filters.status}
          onChange={(v) => set('status', v ?? '')}
          allowDeselect={false}
          w={200}
        />
        <TextInput
          label="Started by"
          value={filters.actor}
          onChange={(e) => set('actor', e.currentTarget.value.trim())}
          w={160}
        />
      </Group>
      {executions.error && <Text c="red">{executions.error.message}</Text>}
      {executions.isLoading && <Text aria-busy="true">Loading…</Text>}
      {executions.data && executions.data.length === 0 && <Text c="dimmed">No executions.</Text>}
      {executions.data && executions.data.length > 0 && (
        <Table.ScrollContainer minWidth={640}>
          <Table highlightOnHover aria-label="Executions">
            <ExecutionRows rows={executions.data} />
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

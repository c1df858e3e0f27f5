import { Anchor, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, type Approval } from '../api';

/** What you may decide now (GET /approvals); deciding happens on the execution's page. */
export function Approvals() {
  const approvals = useQuery({
    queryKey: ['approvals', 'pending'],
    queryFn: () => api<Approval[]>('/approvals'),
    refetchInterval: 5000,
  });
  return (
    <Stack>
      <Title order={2}>Approvals</Title>
      {approvals.isLoading && <Text aria-busy="true">Loading…</Text>}
      {approvals.error && <Text c="red">{approvals.error.message}</Text>}
      {approvals.data && approvals.data.length === 0 && (
        <Text c="dimmed">Nothing waits for your decision.</Text>
      )}
      {approvals.data && approvals.data.length > 0 && (
        <Table aria-label="Pending approvals">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Runbook</Table.Th>
              <Table.Th>Requested by</Table.Th>
              <Table.Th>Reason</Table.Th>
              <Table.Th>Step</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {approvals.data.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td>
                  <Anchor component={Link} to={`/executions/${a.executionId}`}>
                    {a.runbook}
                  </Anchor>
                </Table.Td>
                <Table.Td>{a.requestedBy}</Table.Td>
                <Table.Td>{a.reason}</Table.Td>
                <Table.Td>{a.step ?? 'before start'}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

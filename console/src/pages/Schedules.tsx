import { Alert, Anchor, Badge, Button, Code, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, enc, statusColor } from '../api';
import { errorText, QueryState, when } from './common';

interface Schedule {
  id: string;
  runbook: string;
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  paused: boolean;
  pausedBy: string | null;
  next: Array<{ utc: string; local: string }>;
  last: {
    fireTime: string;
    kind: string;
    status: string;
    executionId: string | null;
    executionStatus: string | null;
    error: string | null;
  } | null;
}

interface Freeze {
  name: string;
  reason?: string | null;
  active: { start: string; until: string } | null;
  next: { start: string; until: string } | null;
}

/** The change freezes in effect now (GET /freezes), as a banner; nothing when none is. */
export function FreezeBanner() {
  const freezes = useQuery({
    queryKey: ['freezes'],
    queryFn: () => api<{ freezes: Freeze[] }>('/freezes'),
    refetchInterval: 60_000,
  });
  const active = (freezes.data?.freezes ?? []).filter((f) => f.active);
  if (active.length === 0) return null;
  return (
    <Alert color="orange" title="Change freeze" data-testid="freeze-banner" role="status">
      {active.map((f) => (
        <Text key={f.name} size="sm">
          {f.name}: frozen until {when(f.active!.until)}
          {f.reason ? ` (${f.reason})` : ''}. Runs in its scope are refused unless break-glass.
        </Text>
      ))}
    </Alert>
  );
}

/** Schedules (GET /schedules?next=3): next fire times in their zone and UTC, last run, pause. */
export function Schedules() {
  const client = useQueryClient();
  const schedules = useQuery({
    queryKey: ['schedules'],
    queryFn: () => api<Schedule[]>('/schedules?next=3'),
    refetchInterval: 30_000,
  });
  const [error, setError] = useState<string | null>(null);
  const toggle = async (s: Schedule) => {
    setError(null);
    try {
      await api(`/schedules/${enc(s.id)}/${s.paused ? 'resume' : 'pause'}`, { method: 'POST' });
      await client.invalidateQueries({ queryKey: ['schedules'] });
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Stack>
      <Title order={2}>Schedules</Title>
      <FreezeBanner />
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <QueryState
        loading={schedules.isLoading}
        error={schedules.error}
        empty={schedules.data?.length === 0}
        emptyText="No runbook you may see has a schedule."
        what="Schedules"
      />
      {schedules.data && schedules.data.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table aria-label="Schedules">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Runbook</Table.Th>
                <Table.Th>Schedule</Table.Th>
                <Table.Th>Next</Table.Th>
                <Table.Th>Last</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {schedules.data.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/runbooks/${enc(s.runbook)}`}>
                      {s.runbook}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>
                    {s.name} <Code>{s.cron}</Code> {s.timezone}
                    {s.paused && (
                      <Badge ml={4} color="gray">
                        paused{s.pausedBy ? ` by ${s.pausedBy}` : ''}
                      </Badge>
                    )}
                    {!s.enabled && (
                      <Badge ml={4} color="gray">
                        runbook disabled
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {s.next.length === 0
                      ? '—'
                      : s.next.map((n) => (
                          <Text key={n.utc} size="sm">
                            {n.local} ({n.utc.replace('.000Z', 'Z')} UTC)
                          </Text>
                        ))}
                  </Table.Td>
                  <Table.Td>
                    {s.last ? (
                      <Text size="sm">
                        {when(s.last.fireTime)}{' '}
                        {s.last.executionId ? (
                          <Anchor component={Link} to={`/executions/${s.last.executionId}`}>
                            <Badge
                              color={statusColor(s.last.executionStatus ?? '')}
                              variant="light"
                            >
                              {s.last.executionStatus ?? s.last.status}
                            </Badge>
                          </Anchor>
                        ) : (
                          <Badge color="gray" variant="light">
                            {s.last.status}
                          </Badge>
                        )}
                        {s.last.error ? ` ${s.last.error}` : ''}
                      </Text>
                    ) : (
                      'never'
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Button
                      size="compact-xs"
                      variant="default"
                      onClick={() => void toggle(s)}
                      aria-label={`${s.paused ? 'Resume' : 'Pause'} ${s.runbook} ${s.name}`}
                    >
                      {s.paused ? 'Resume' : 'Pause'}
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { keepPreviousData, useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { Fragment, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, ApiError } from '../api';
import { useHasRole } from '../session';
import { NeedsAdmin, QueryState, when } from './common';

export interface AuditEntry {
  id: string;
  at: string;
  actorId: string | null;
  actor: string;
  action: string;
  outcome: 'success' | 'failure' | 'denied';
  subjectType: string | null;
  subjectId: string | null;
  details: Record<string, unknown>;
  requestId: string | null;
  sourceIp: string | null;
  hash: string;
  prevHash: string;
}

interface AuditPage {
  items: AuditEntry[];
  nextBefore: string | null;
}

type VerifyResult =
  | { ok: true; checked: number; lastId: string | null }
  | { ok: false; checked: number; firstBad: { id: string; reason: string } };

const FILTERS = ['actor', 'action', 'outcome', 'subjectType', 'subjectId', 'from', 'to'] as const;
const PAGE = 50;

const outcomeColor = (o: string) => (o === 'success' ? 'green' : o === 'denied' ? 'orange' : 'red');

/** `datetime-local` (the browser's zone) ↔ the API's ISO 8601. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : '');

/** The audit trail (GET /audit), filtered and paged, and the hash chain check (GET /audit/verify). */
export function Audit() {
  const admin = useHasRole('admin');
  const [params, setParams] = useSearchParams();
  // The inputs own the filters; the URL follows, so a filtered view is a link.
  const [filters, setFilters] = useState<Record<string, string>>(() =>
    Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])),
  );
  useEffect(() => {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) next.set(k, v);
    setParams(next, { replace: true });
  }, [filters, setParams]);
  const set = (key: string, value: string) => setFilters((f) => ({ ...f, [key]: value }));
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) {
    if (!v) continue;
    query.set(k, k === 'from' || k === 'to' ? toIso(v) : v);
  }
  query.set('limit', String(PAGE));
  const [open, setOpen] = useState<Set<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const trail = useInfiniteQuery({
    queryKey: ['audit', query.toString()],
    queryFn: ({ pageParam }) =>
      api<AuditPage>(`/audit?${query.toString()}${pageParam ? `&before=${pageParam}` : ''}`),
    initialPageParam: '',
    getNextPageParam: (last) => last.nextBefore ?? undefined,
    placeholderData: keepPreviousData,
    enabled: admin,
  });
  const verify = useMutation({ mutationFn: () => api<VerifyResult>('/audit/verify') });
  if (!admin)
    return (
      <Stack maw={900}>
        <Title order={2}>Audit</Title>
        <NeedsAdmin what="The audit trail" />
      </Stack>
    );
  const entries = trail.data?.pages.flatMap((p) => p.items) ?? [];
  const fieldError = (f: string) =>
    trail.error instanceof ApiError
      ? trail.error.problems.find((p) => p.path === f)?.message
      : undefined;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Audit</Title>
        <Button onClick={() => verify.mutate()} loading={verify.isPending} variant="default">
          Verify the chain
        </Button>
      </Group>
      <div aria-live="polite">
        {verify.data?.ok === true && (
          <Alert color="green" title="Intact" data-testid="verify-result">
            All {verify.data.checked} entries match their hashes
            {verify.data.lastId ? `, up to entry #${verify.data.lastId}` : ''}: nothing was changed
            or removed.
          </Alert>
        )}
        {verify.data?.ok === false && (
          <Alert color="red" title="Broken" data-testid="verify-result">
            Broken at entry #{verify.data.firstBad.id}: {verify.data.firstBad.reason}. The{' '}
            {verify.data.checked} entries before it check out.
          </Alert>
        )}
        {verify.error && (
          <Alert color="red" role="alert">
            {verify.error.message}
          </Alert>
        )}
      </div>
      <Group align="end" wrap="wrap">
        <TextInput
          label="Actor"
          value={filters.actor}
          onChange={(e) => set('actor', e.currentTarget.value.trim())}
          w={150}
        />
        <TextInput
          label="Action"
          placeholder="auth.login"
          value={filters.action}
          onChange={(e) => set('action', e.currentTarget.value.trim())}
          error={fieldError('action')}
          w={170}
        />
        <Select
          label="Outcome"
          data={[
            { value: '', label: 'Any' },
            { value: 'success', label: 'success' },
            { value: 'failure', label: 'failure' },
            { value: 'denied', label: 'denied' },
          ]}
          value={filters.outcome}
          onChange={(v) => set('outcome', v ?? '')}
          allowDeselect={false}
          w={120}
        />
        <TextInput
          label="Object type"
          placeholder="User"
          value={filters.subjectType}
          onChange={(e) => set('subjectType', e.currentTarget.value.trim())}
          w={130}
        />
        <TextInput
          label="Object id"
          value={filters.subjectId}
          onChange={(e) => set('subjectId', e.currentTarget.value.trim())}
          w={170}
        />
        <TextInput
          label="From"
          type="datetime-local"
          value={filters.from}
          onChange={(e) => set('from', e.currentTarget.value)}
          error={fieldError('from')}
          w={200}
        />
        <TextInput
          label="To"
          type="datetime-local"
          value={filters.to}
          onChange={(e) => set('to', e.currentTarget.value)}
          error={fieldError('to')}
          w={200}
        />
      </Group>
      <QueryState
        loading={trail.isLoading}
        error={trail.error}
        empty={!!trail.data && entries.length === 0}
        emptyText="No entries match."
        what="The audit trail"
      />
      {entries.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table aria-label="Audit entries" data-testid="audit-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>#</Table.Th>
                <Table.Th>When</Table.Th>
                <Table.Th>Actor</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Outcome</Table.Th>
                <Table.Th>Object</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Details</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {entries.map((e) => (
                <Fragment key={e.id}>
                  <Table.Tr>
                    <Table.Td>{e.id}</Table.Td>
                    <Table.Td>{when(e.at)}</Table.Td>
                    <Table.Td>{e.actor}</Table.Td>
                    <Table.Td>
                      <Code>{e.action}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Badge color={outcomeColor(e.outcome)} variant="light">
                        {e.outcome}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" style={{ wordBreak: 'break-all' }}>
                        {e.subjectType ? `${e.subjectType} ${e.subjectId ?? ''}` : '—'}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Button
                        size="compact-xs"
                        variant="subtle"
                        aria-expanded={open.has(e.id)}
                        aria-controls={`audit-details-${e.id}`}
                        onClick={() => toggle(e.id)}
                      >
                        {open.has(e.id) ? 'Hide' : 'Details'}
                        <VisuallyHidden> of entry {e.id}</VisuallyHidden>
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                  {open.has(e.id) && (
                    <Table.Tr id={`audit-details-${e.id}`}>
                      <Table.Td colSpan={7}>
                        <Stack gap={4}>
                          <Code block data-testid={`audit-details-${e.id}`}>
                            {JSON.stringify(e.details, null, 2)}
                          </Code>
                          <Text size="xs" c="dimmed">
                            request {e.requestId ?? '—'} · from {e.sourceIp ?? '—'} · hash{' '}
                            {e.hash.slice(0, 16)}… (previous {e.prevHash.slice(0, 16)}…)
                          </Text>
                        </Stack>
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {trail.hasNextPage && (
        <div>
          <Button
            variant="default"
            onClick={() => void trail.fetchNextPage()}
            loading={trail.isFetchingNextPage}
          >
            Older entries
          </Button>
        </div>
      )}
    </Stack>
  );
}

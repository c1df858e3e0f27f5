import { Anchor, Badge, Group, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type RunbookSummary } from '../api';

/** The catalog: search by name/description, tag and kind; the filters live in the URL. */
export function Runbooks() {
  const [params, setParams] = useSearchParams();
  // The inputs own the filters (instant, no lost keystrokes); the URL follows, so a filtered
  // view is a link.
  const [filters, setFilters] = useState<Record<string, string>>(() =>
    Object.fromEntries(['q', 'tag', 'kind', 'incident'].map((k) => [k, params.get(k) ?? ''])),
  );
  useEffect(() => {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) next.set(k, v);
    setParams(next, { replace: true });
  }, [filters, setParams]);
  const set = (key: string, value: string) => setFilters((f) => ({ ...f, [key]: value }));
  const { q = '', tag = '', kind = '', incident = '' } = filters;
  const [debouncedQ] = useDebouncedValue(q, 200);
  const query = new URLSearchParams();
  if (debouncedQ) query.set('q', debouncedQ);
  if (tag) query.set('tag', tag);
  if (kind) query.set('kind', kind);
  const runbooks = useQuery({
    queryKey: ['runbooks', query.toString()],
    queryFn: () => api<RunbookSummary[]>(`/runbooks?${query.toString()}`),
    placeholderData: keepPreviousData,
  });
  return (
    <Stack>
      <Title order={2}>Runbooks</Title>
      {incident && (
        <Text data-testid="for-incident">
          Pick a runbook to run for <b>{incident}</b>.
        </Text>
      )}
      <Group align="end" wrap="wrap">
        <TextInput
          label="Search"
          placeholder="name or description"
          value={q}
          onChange={(e) => set('q', e.currentTarget.value)}
          w={280}
        />
        <TextInput
          label="Tag"
          placeholder="e.g. linux"
          value={tag}
          onChange={(e) => set('tag', e.currentTarget.value.trim())}
          w={160}
        />
        <Select
          label="Kind"
          data={[
            { value: '', label: 'Any' },
            { value: 'diagnostic', label: 'Diagnostic' },
            { value: 'remediation', label: 'Remediation' },
          ]}
          value={kind}
          onChange={(v) => set('kind', v ?? '')}
          allowDeselect={false}
          w={160}
        />
      </Group>
      {runbooks.isLoading && <Text aria-busy="true">Loading…</Text>}
      {runbooks.error && (
        <Text c="red" role="alert">
          {runbooks.error.message}
        </Text>
      )}
      {runbooks.data && runbooks.data.length === 0 && (
        <Text c="dimmed">
          No runbook matches
          {q || tag || kind ? ' these filters' : ' (none is synced yet: runbooks/*.yaml)'}.
        </Text>
      )}
      {runbooks.data && runbooks.data.length > 0 && (
        <Table.ScrollContainer minWidth={600}>
          <Table highlightOnHover aria-label="Runbooks">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Description</Table.Th>
                <Table.Th>Tags</Table.Th>
                <Table.Th>Version</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {runbooks.data.map((r) => (
                <Table.Tr key={r.name} data-testid={`runbook-${r.name}`}>
                  <Table.Td>
                    <Anchor
                      component={Link}
                      to={
                        incident
                          ? `/runbooks/${encodeURIComponent(r.name)}/run?incident=${encodeURIComponent(incident)}`
                          : `/runbooks/${encodeURIComponent(r.name)}`
                      }
                    >
                      {r.name}
                    </Anchor>
                    {r.disabled && (
                      <Badge ml="xs" color="gray">
                        disabled
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={r.kind === 'diagnostic' ? 'blue' : 'orange'}>
                      {r.kind}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" lineClamp={2}>
                      {r.description}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {r.tags.map((t) => (
                        <Badge
                          key={t}
                          variant="outline"
                          size="sm"
                          style={{ cursor: 'pointer' }}
                          onClick={() => set('tag', t)}
                        >
                          {t}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>v{r.currentVersion}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

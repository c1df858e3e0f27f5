import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError, enc } from '../api';

export interface Incident {
  id: string;
  ref: string;
  title: string;
  summary: string | null;
  severity: string;
  status: string;
  services: string[];
  declaredBy: string;
  declaredAt: string;
  roles: Array<{ role: string; username: string; displayName: string }>;
}

interface TimelineEntry {
  id: string;
  seq: number;
  at: string;
  kind: string;
  actor: string;
  summary: string;
  subjectType: string | null;
  subjectId: string | null;
}

const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'];
const OPEN = ['triggered', 'investigating', 'identified', 'monitoring'];
const STATUSES = [...OPEN, 'resolved'];

export const severityColor = (s: string) =>
  s === 'SEV1' ? 'red' : s === 'SEV2' ? 'orange' : s === 'SEV3' ? 'yellow' : 'gray';

function Declare({ onDeclared }: { onDeclared: (ref: string) => void }) {
  const [title, setTitle] = useState('');
  const [severity, setSeverity] = useState<string | null>('SEV3');
  const [summary, setSummary] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const i = await api<Incident>('/incidents', {
        method: 'POST',
        body: { title, severity, ...(summary ? { summary } : {}) },
      });
      onDeclared(i.ref);
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (f: string) => error?.problems.find((p) => p.path === f)?.message;
  return (
    <Card withBorder component="form" onSubmit={(e) => void submit(e)} noValidate>
      <Title order={3} mb="sm">
        Declare an incident
      </Title>
      <Stack>
        <Group align="start" grow>
          <TextInput
            label="Title"
            required
            value={title}
            onChange={(e) => setTitle(e.currentTarget.value)}
            error={fieldError('title')}
          />
          <Select
            label="Severity"
            data={SEVERITIES}
            value={severity}
            onChange={setSeverity}
            allowDeselect={false}
            error={fieldError('severity')}
            maw={140}
          />
        </Group>
        <Textarea
          label="Summary"
          value={summary}
          onChange={(e) => setSummary(e.currentTarget.value)}
          autosize
          minRows={2}
        />
        {error && !error.problems.length && <Alert color="red">{error.message}</Alert>}
        <div>
          <Button type="submit" loading={busy}>
            Declare
          </Button>
        </div>
      </Stack>
    </Card>
  );
}

/** The board: open incidents by status column, the most severe first; and the declare form. */
export function Incidents() {
  const navigate = useNavigate();
  const incidents = useQuery({
    queryKey: ['incidents'],
    queryFn: () => api<Incident[]>('/incidents?limit=200'),
    refetchInterval: 5000,
  });
  const open = (incidents.data ?? []).filter((i) => OPEN.includes(i.status));
  return (
    <Stack>
      <Title order={2}>Incidents</Title>
      {incidents.error && <Text c="red">{incidents.error.message}</Text>}
      {incidents.isLoading && <Text aria-busy="true">Loading…</Text>}
      {incidents.data && open.length === 0 && <Text c="dimmed">No open incident.</Text>}
      {open.length > 0 && (
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }} aria-label="Open incidents by status">
          {OPEN.map((status) => (
            <Stack key={status} gap="xs" aria-label={status}>
              <Text fw={600} tt="capitalize">
                {status} ({open.filter((i) => i.status === status).length})
              </Text>
              {open
                .filter((i) => i.status === status)
                .sort((a, b) => a.severity.localeCompare(b.severity))
                .map((i) => (
                  <Card key={i.id} withBorder padding="sm" data-testid={`incident-${i.ref}`}>
                    <Group gap="xs">
                      <Badge color={severityColor(i.severity)}>{i.severity}</Badge>
                      <Anchor component={Link} to={`/incidents/${enc(i.ref)}`} fw={600}>
                        {i.ref}
                      </Anchor>
                    </Group>
                    <Text size="sm" mt={4}>
                      {i.title}
                    </Text>
                  </Card>
                ))}
            </Stack>
          ))}
        </SimpleGrid>
      )}
      <Declare onDeclared={(ref) => void navigate(`/incidents/${enc(ref)}`)} />
    </Stack>
  );
}

const ICS_ROLES = [
  { value: 'commander', label: 'Incident commander' },
  { value: 'operations_lead', label: 'Operations lead' },
  { value: 'communications_lead', label: 'Communications lead' },
  { value: 'scribe', label: 'Scribe' },
  { value: 'subject_matter_expert', label: 'Subject-matter expert' },
];
/** Roles one person holds at a time: assigning one hands it over. */
const SINGLE = new Set(['commander', 'operations_lead', 'communications_lead', 'scribe']);
const roleLabel = (r: string) => ICS_ROLES.find((x) => x.value === r)?.label ?? r;

/** Roles as assigned; assign or hand over (POST …/roles), stand down (DELETE …/roles/R/U). */
function Roles({
  incident,
  act,
  remove,
}: {
  incident: Incident;
  act: (path: string, body: object) => Promise<boolean>;
  remove: (role: string, username: string) => Promise<void>;
}) {
  const [role, setRole] = useState<string | null>('commander');
  const [username, setUsername] = useState('');
  const holder = SINGLE.has(role ?? '') ? incident.roles.find((r) => r.role === role) : undefined;
  return (
    <Card withBorder>
      <Title order={3} mb="sm">
        Roles
      </Title>
      {incident.roles.length === 0 ? (
        <Text c="dimmed">No one assigned yet.</Text>
      ) : (
        <Table aria-label="Roles" data-testid="roles" mb="sm">
          <Table.Tbody>
            {incident.roles.map((r) => (
              <Table.Tr key={`${r.role}:${r.username}`}>
                <Table.Td>{roleLabel(r.role)}</Table.Td>
                <Table.Td>{r.displayName || r.username}</Table.Td>
                <Table.Td>
                  {/* An incident always has a commander: handed over, never stood down. */}
                  {r.role !== 'commander' && (
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      color="red"
                      aria-label={`Stand ${r.username} down as ${roleLabel(r.role)}`}
                      onClick={() => void remove(r.role, r.username)}
                    >
                      Stand down
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void act('roles', { role, username: username.trim() }).then(
            (ok) => ok && setUsername(''),
          );
        }}
      >
        <Group align="end">
          <Select
            label="Role"
            data={ICS_ROLES}
            value={role}
            onChange={setRole}
            allowDeselect={false}
            w={220}
          />
          <TextInput
            label="Username"
            value={username}
            onChange={(e) => setUsername(e.currentTarget.value)}
            w={180}
          />
          <Button type="submit" disabled={!username.trim()}>
            {holder ? `Hand over from ${holder.username}` : 'Assign'}
          </Button>
        </Group>
      </form>
    </Card>
  );
}

/** One incident: status and severity, roles, notes, the live timeline, runbooks run for it. */
export function IncidentPage() {
  const { ref = '' } = useParams();
  const client = useQueryClient();
  const incident = useQuery({
    queryKey: ['incident', ref],
    queryFn: () => api<Incident>(`/incidents/${enc(ref)}`),
  });
  const timeline = useQuery({
    queryKey: ['timeline', ref],
    queryFn: () =>
      api<TimelineEntry[] | { items: TimelineEntry[] }>(
        `/incidents/${enc(ref)}/timeline?limit=500`,
      ),
  });
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Live: each new timeline entry (SSE, the session cookie) refreshes the page's data.
  useEffect(() => {
    const source = new EventSource(`/incidents/${enc(ref)}/timeline/stream`);
    source.addEventListener('entry', () => {
      void client.invalidateQueries({ queryKey: ['timeline', ref] });
      void client.invalidateQueries({ queryKey: ['incident', ref] });
    });
    return () => source.close();
  }, [ref, client]);
  if (incident.isLoading) return <Text aria-busy="true">Loading…</Text>;
  if (incident.error)
    return (
      <Text c="red" role="alert">
        {incident.error.message}
      </Text>
    );
  const i = incident.data!;
  const entries = Array.isArray(timeline.data) ? timeline.data : (timeline.data?.items ?? []);
  const act = async (path: string, body: object) => {
    setError(null);
    try {
      await api(`/incidents/${enc(ref)}/${path}`, { method: 'POST', body });
      void client.invalidateQueries({ queryKey: ['incident', ref] });
      void client.invalidateQueries({ queryKey: ['timeline', ref] });
      return true;
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      return false;
    }
  };
  const remove = async (role: string, username: string) => {
    setError(null);
    try {
      await api(`/incidents/${enc(ref)}/roles/${enc(role)}/${enc(username)}`, { method: 'DELETE' });
      void client.invalidateQueries({ queryKey: ['incident', ref] });
      void client.invalidateQueries({ queryKey: ['timeline', ref] });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <Stack maw={1100}>
      <Group justify="space-between">
        <Group>
          <Title order={2}>
            {i.ref}: {i.title}
          </Title>
          <Badge color={severityColor(i.severity)} size="lg">
            {i.severity}
          </Badge>
          <Badge variant="light" size="lg" data-testid="incident-status">
            {i.status}
          </Badge>
        </Group>
        <Button component={Link} to={`/runbooks?incident=${enc(i.ref)}`} variant="default">
          Run a runbook for {i.ref}
        </Button>
      </Group>
      {i.summary && <Text>{i.summary}</Text>}
      <Text size="sm" c="dimmed">
        Declared by {i.declaredBy} · {new Date(i.declaredAt).toLocaleString()}
        {i.services.length ? ` · services: ${i.services.join(', ')}` : ''}
      </Text>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Group align="end">
        <Select
          label="Status"
          data={STATUSES}
          value={i.status}
          onChange={(v) => v && v !== i.status && void act('status', { status: v })}
          allowDeselect={false}
          w={180}
        />
        <Select
          label="Severity"
          data={SEVERITIES}
          value={i.severity}
          onChange={(v) => v && v !== i.severity && void act('severity', { severity: v })}
          allowDeselect={false}
          w={120}
        />
        <Button
          component="a"
          href={`/incidents/${enc(i.ref)}/postmortem`}
          variant="subtle"
          onClick={(e) => {
            e.preventDefault();
            void fetch(`/incidents/${enc(i.ref)}/postmortem`, {
              headers: { Accept: 'text/markdown' },
            })
              .then((r) => r.text())
              .then((text) => {
                const a = document.createElement('a');
                a.href = URL.createObjectURL(new Blob([text], { type: 'text/markdown' }));
                a.download = `${i.ref}-postmortem.md`;
                a.click();
              });
          }}
        >
          Postmortem
        </Button>
      </Group>
      <Roles incident={i} act={act} remove={remove} />
      <Card withBorder>
        <Title order={3} mb="sm">
          Timeline
        </Title>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act('notes', { text: note }).then((ok) => ok && setNote(''));
          }}
        >
          <Group align="end" mb="md">
            <Textarea
              label="Add a note"
              value={note}
              onChange={(e) => setNote(e.currentTarget.value)}
              autosize
              minRows={1}
              style={{ flex: 1 }}
            />
            <Button type="submit" disabled={!note.trim()}>
              Add note
            </Button>
          </Group>
        </form>
        <Stack gap={6} role="feed" aria-label="Timeline" data-testid="timeline">
          {entries.map((e) => (
            <Group key={e.id} gap="xs" wrap="nowrap" align="start">
              <Text size="xs" c="dimmed" w={150} style={{ flexShrink: 0 }}>
                {new Date(e.at).toLocaleString()}
              </Text>
              <Badge variant="light" size="sm" style={{ flexShrink: 0 }}>
                {e.kind}
              </Badge>
              <Text size="sm">
                {e.actor}: {e.summary}
                {e.subjectType === 'Execution' && e.subjectId && (
                  <>
                    {' '}
                    <Anchor component={Link} to={`/executions/${e.subjectId}`}>
                      (execution)
                    </Anchor>
                  </>
                )}
              </Text>
            </Group>
          ))}
        </Stack>
      </Card>
    </Stack>
  );
}

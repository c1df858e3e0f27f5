import {
  Alert,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  FileInput,
  Group,
  Modal,
  NumberInput,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Table,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, enc } from '../../api';
import { QueryState, useFormError } from '../common';

interface AdminNode {
  id: string;
  name: string;
  hostname: string;
  port: number;
  user: string;
  username: string | null;
  tags: string[];
  clusters: string[];
  credential: { id: string; name: string } | null;
  hostKeyFingerprint: string | null;
  trustOnFirstUse: boolean;
  connection: string;
  source: string;
  disabled: boolean;
}

interface Cluster {
  id: string;
  name: string;
  description: string;
  members: string[];
  source: string;
}

interface NodeImportReport {
  format: string;
  created: string[];
  updated: string[];
  unchanged: string[];
  skipped: Array<{ name: string; reason: string }>;
  clusters: {
    created: string[];
    updated: string[];
    unchanged: string[];
    skipped: Array<{ name: string; reason: string }>;
  };
  ignoredVars: string[];
  vaultVars: Array<{ host: string; variable: string }>;
}

/** Add a node, or edit one (name fixed). Only the fields that changed are sent on edit. */
function NodeForm({ node, onDone }: { node?: AdminNode; onDone: () => void }) {
  const [f, setF] = useState({
    name: node?.name ?? '',
    hostname: node?.hostname ?? '',
    port: node?.port ?? 22,
    user: node?.username ?? '',
    tags: node?.tags ?? [],
    credential: node?.credential?.name ?? '',
    trustOnFirstUse: node?.trustOnFirstUse ?? false,
    disabled: node?.disabled ?? false,
  });
  const [busy, setBusy] = useState(false);
  const err = useFormError();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      if (node) {
        await api(`/nodes/${enc(node.name)}`, {
          method: 'PATCH',
          body: {
            hostname: f.hostname,
            port: f.port,
            user: f.user || null,
            tags: f.tags,
            credential: f.credential || null,
            trustOnFirstUse: f.trustOnFirstUse,
            disabled: f.disabled,
          },
        });
      } else {
        await api('/nodes', {
          method: 'POST',
          body: {
            name: f.name,
            ...(f.hostname ? { hostname: f.hostname } : {}),
            port: f.port,
            ...(f.user ? { user: f.user } : {}),
            tags: f.tags,
            ...(f.credential ? { credential: f.credential } : {}),
            trustOnFirstUse: f.trustOnFirstUse,
          },
        });
        setF({ ...f, name: '', hostname: '' });
      }
      onDone();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <Stack>
        <Group grow align="start" wrap="wrap">
          {!node && (
            <TextInput
              label="Name"
              required
              value={f.name}
              onChange={(e) => setF({ ...f, name: e.currentTarget.value })}
              error={err.field('name')}
            />
          )}
          <TextInput
            label="Hostname"
            description={node ? undefined : 'Defaults to the name'}
            value={f.hostname}
            onChange={(e) => setF({ ...f, hostname: e.currentTarget.value })}
            error={err.field('hostname')}
          />
          <NumberInput
            label="Port"
            min={1}
            max={65535}
            value={f.port}
            onChange={(v) => setF({ ...f, port: Number(v) || 22 })}
            error={err.field('port')}
          />
        </Group>
        <Group grow align="start" wrap="wrap">
          <TextInput
            label="Login user"
            description="Empty: the credential's user, else root"
            value={f.user}
            onChange={(e) => setF({ ...f, user: e.currentTarget.value })}
            error={err.field('user')}
          />
          <TextInput
            label="Credential"
            description="A credential's name"
            value={f.credential}
            onChange={(e) => setF({ ...f, credential: e.currentTarget.value })}
            error={err.field('credential')}
          />
          <TagsInput
            label="Tags"
            value={f.tags}
            onChange={(tags) => setF({ ...f, tags })}
            error={err.field('tags')}
          />
        </Group>
        <Group>
          <Checkbox
            label="Trust the host key on first use"
            checked={f.trustOnFirstUse}
            onChange={(e) => setF({ ...f, trustOnFirstUse: e.currentTarget.checked })}
          />
          {node && (
            <Switch
              label="Disabled (no runs target it)"
              checked={f.disabled}
              onChange={(e) => setF({ ...f, disabled: e.currentTarget.checked })}
            />
          )}
        </Group>
        {err.general && <Alert color="red">{err.general}</Alert>}
        <div>
          <Button type="submit" loading={busy}>
            {node ? 'Save node' : 'Add node'}
          </Button>
        </div>
      </Stack>
    </form>
  );
}

/** The node sources that import a file: each with its route and the formats it reads. */
const NODE_SOURCES = {
  ansible: {
    label: 'Ansible inventory',
    path: '/nodes/import/ansible',
    formats: [
      { value: 'ini', label: 'INI' },
      { value: 'yaml', label: 'YAML' },
    ],
    placeholder: 'hosts.ini or inventory.yaml',
  },
  rundeck: {
    label: 'Rundeck resource model',
    path: '/nodes/import/rundeck',
    formats: [
      { value: 'yaml', label: 'YAML' },
      { value: 'xml', label: 'XML' },
      { value: 'json', label: 'JSON' },
    ],
    placeholder: 'resources.yaml, .xml or .json',
  },
} as const;
type NodeSource = keyof typeof NODE_SOURCES;

/** Nodes from an Ansible inventory or a Rundeck resource model (pasted or a file). */
function NodeImport({ onDone }: { onDone: () => void }) {
  const [source, setSource] = useState<NodeSource>('ansible');
  const [content, setContent] = useState('');
  const [format, setFormat] = useState<string | null>('ini');
  const [credential, setCredential] = useState('');
  const [report, setReport] = useState<NodeImportReport | null>(null);
  const [busy, setBusy] = useState(false);
  const err = useFormError();
  const load = async (file: File | null) => {
    if (!file) return;
    setContent(await file.text());
    const ext = /\.(ya?ml|xml|json|ini)$/i.exec(file.name)?.[1].toLowerCase();
    const byExt = ext === 'yml' ? 'yaml' : ext;
    if (byExt && NODE_SOURCES[source].formats.some((f) => f.value === byExt)) setFormat(byExt);
  };
  const from = NODE_SOURCES[source];
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    setReport(null);
    try {
      setReport(
        await api<NodeImportReport>(from.path, {
          method: 'POST',
          body: { content, format, ...(credential ? { credential } : {}) },
        }),
      );
      onDone();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  const list = (label: string, names: string[]) =>
    names.length > 0 && (
      <Text size="sm">
        {label} ({names.length}): {names.join(', ')}
      </Text>
    );
  return (
    <Card withBorder component="form" onSubmit={(e) => void submit(e)} noValidate>
      <Title order={3} mb="sm">
        Import nodes
      </Title>
      <Stack>
        <SegmentedControl
          aria-label="Node source"
          value={source}
          onChange={(v) => {
            setSource(v as NodeSource);
            setFormat(NODE_SOURCES[v as NodeSource].formats[0].value);
            setReport(null);
          }}
          data={Object.entries(NODE_SOURCES).map(([value, s]) => ({ value, label: s.label }))}
        />
        <Group grow align="start" wrap="wrap">
          <FileInput
            label="Inventory file"
            placeholder={from.placeholder}
            onChange={(f) => void load(f)}
          />
          <Select
            label="Format"
            data={[...from.formats]}
            value={format}
            onChange={setFormat}
            allowDeselect={false}
            error={err.field('format')}
          />
          <TextInput
            label="Credential for new nodes"
            value={credential}
            onChange={(e) => setCredential(e.currentTarget.value)}
            error={err.field('credential')}
          />
        </Group>
        <Textarea
          label="Inventory"
          description="Or paste it here"
          value={content}
          onChange={(e) => setContent(e.currentTarget.value)}
          autosize
          minRows={3}
          maxRows={12}
          error={err.field('content')}
          styles={{ input: { fontFamily: 'monospace' } }}
        />
        {err.general && <Alert color="red">{err.general}</Alert>}
        <div>
          <Button type="submit" loading={busy} disabled={!content.trim()}>
            Import
          </Button>
        </div>
        {report && (
          <Alert
            color="green"
            title={`Imported from the ${from.label}`}
            data-testid="node-import-report"
          >
            {list('Nodes created', report.created)}
            {list('Nodes updated', report.updated)}
            {list('Unchanged', report.unchanged)}
            {report.skipped.map((s) => (
              <Text key={s.name} size="sm" c="orange">
                Skipped {s.name}: {s.reason}
              </Text>
            ))}
            {list('Clusters created', report.clusters.created)}
            {list('Clusters updated', report.clusters.updated)}
            {report.clusters.skipped.map((s) => (
              <Text key={s.name} size="sm" c="orange">
                Skipped cluster {s.name}: {s.reason}
              </Text>
            ))}
            {list('Variables not imported', report.ignoredVars)}
            {report.vaultVars.length > 0 && (
              <Text size="sm">
                Vault-encrypted, not imported:{' '}
                {report.vaultVars.map((v) => `${v.host} ${v.variable}`).join(', ')}
              </Text>
            )}
          </Alert>
        )}
      </Stack>
    </Card>
  );
}

/** Nodes and clusters: list with filters, add, edit, disable, import (Ansible, Rundeck). */
export function Nodes() {
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [tag, setTag] = useState('');
  const [cluster, setCluster] = useState('');
  const [includeDisabled, setIncludeDisabled] = useState(true);
  const [editing, setEditing] = useState<AdminNode | null>(null);
  const q = new URLSearchParams();
  if (name) q.set('name', name);
  if (tag) q.set('tag', tag);
  if (cluster) q.set('cluster', cluster);
  if (includeDisabled) q.set('includeDisabled', 'true');
  const nodes = useQuery({
    queryKey: ['admin-nodes', q.toString()],
    queryFn: () => api<AdminNode[]>(`/nodes?${q.toString()}`),
    placeholderData: keepPreviousData,
  });
  const clusters = useQuery({ queryKey: ['clusters'], queryFn: () => api<Cluster[]>('/clusters') });
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['admin-nodes'] });
    void client.invalidateQueries({ queryKey: ['clusters'] });
  };
  return (
    <Stack>
      <Group align="end" wrap="wrap">
        <TextInput
          label="Name or glob"
          placeholder="web-*"
          value={name}
          onChange={(e) => setName(e.currentTarget.value.trim())}
          w={180}
        />
        <TextInput
          label="Tag"
          value={tag}
          onChange={(e) => setTag(e.currentTarget.value.trim())}
          w={140}
        />
        <TextInput
          label="Cluster"
          value={cluster}
          onChange={(e) => setCluster(e.currentTarget.value.trim())}
          w={140}
        />
        <Checkbox
          label="Show disabled"
          checked={includeDisabled}
          onChange={(e) => setIncludeDisabled(e.currentTarget.checked)}
          mb={8}
        />
      </Group>
      <QueryState
        loading={nodes.isLoading}
        error={nodes.error}
        empty={nodes.data?.length === 0}
        emptyText="No node matches."
        what="Nodes"
      />
      {nodes.data && nodes.data.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table aria-label="Nodes">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Address</Table.Th>
                <Table.Th>Tags</Table.Th>
                <Table.Th>Clusters</Table.Th>
                <Table.Th>Credential</Table.Th>
                <Table.Th>Source</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {nodes.data.map((n) => (
                <Table.Tr key={n.id} data-testid={`node-${n.name}`}>
                  <Table.Td>
                    {n.name} {n.disabled && <Badge color="gray">disabled</Badge>}
                  </Table.Td>
                  <Table.Td>
                    <Code>
                      {n.connection === 'local' ? 'local' : `${n.user}@${n.hostname}:${n.port}`}
                    </Code>
                  </Table.Td>
                  <Table.Td>{n.tags.join(', ') || '—'}</Table.Td>
                  <Table.Td>{n.clusters.join(', ') || '—'}</Table.Td>
                  <Table.Td>{n.credential?.name ?? '—'}</Table.Td>
                  <Table.Td>{n.source}</Table.Td>
                  <Table.Td>
                    {(n.source === 'api' || n.source === 'ansible') && (
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() => setEditing(n)}
                        aria-label={`Edit ${n.name}`}
                      >
                        Edit
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Text size="xs" c="dimmed">
        Nodes from inventory.yaml are edited in that file (reviewed with the runbooks); the built-in
        localhost node is set by LOCAL_NODE.
      </Text>
      <Card withBorder>
        <Title order={3} mb="sm">
          Add a node
        </Title>
        <NodeForm onDone={refresh} />
      </Card>
      <NodeImport onDone={refresh} />
      <Title order={3}>Clusters</Title>
      <QueryState
        loading={clusters.isLoading}
        error={clusters.error}
        empty={clusters.data?.length === 0}
        emptyText="No clusters."
        what="Clusters"
      />
      {clusters.data && clusters.data.length > 0 && (
        <Table aria-label="Clusters">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Description</Table.Th>
              <Table.Th>Members</Table.Th>
              <Table.Th>Source</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {clusters.data.map((c) => (
              <Table.Tr key={c.id}>
                <Table.Td>{c.name}</Table.Td>
                <Table.Td>{c.description || '—'}</Table.Td>
                <Table.Td>
                  <Text size="sm" lineClamp={2}>
                    {c.members.length}: {c.members.join(', ')}
                  </Text>
                </Table.Td>
                <Table.Td>{c.source}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {editing && (
        <Modal opened onClose={() => setEditing(null)} title={`Edit ${editing.name}`} size="lg">
          <NodeForm
            node={editing}
            onDone={() => {
              setEditing(null);
              refresh();
            }}
          />
        </Modal>
      )}
    </Stack>
  );
}

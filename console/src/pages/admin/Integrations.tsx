import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Modal,
  Checkbox,
  Select,
  Stack,
  Switch,
  Table,
  TagsInput,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, enc } from '../../api';
import type { AuditEntry } from '../Audit';
import { CopyValue, QueryState, useFormError, when } from '../common';
import { useConfirm } from '../confirm';

interface Integration {
  id: string;
  name: string;
  type: string;
  url: string;
  identity: string;
  severityLabel: string;
  severityMap: Record<string, string>;
  defaultSeverity: string;
  autoRun: string[];
  monitorOnResolve: boolean;
  commander: string | null;
  signatureHeader?: string;
  timestampHeader?: string | null;
  disabled: boolean;
  createdBy: string;
  createdAt: string;
}

const TYPES = ['alertmanager', 'grafana', 'pagerduty', 'generic', 'cloudevents'];
const SEVERITIES = ['SEV1', 'SEV2', 'SEV3', 'SEV4'];
const ROLES = ['viewer', 'responder', 'operator', 'admin'];

/** Where to paste the URL and the secret, per source. */
const HOW: Record<string, string> = {
  alertmanager:
    'Alertmanager: a webhook_configs receiver with this url and http_config.authorization.credentials set to the secret.',
  grafana:
    'Grafana: a webhook contact point with this URL and the secret as its HMAC signature secret.',
  pagerduty:
    'PagerDuty: a generic webhook (v3) subscription with this URL; set its signing secret here with "New secret".',
  generic: 'Send JSON with Authorization: Bearer <secret>.',
  cloudevents: 'Send CloudEvents (structured JSON) with Authorization: Bearer <secret>.',
};

function Settings({ integration, onClose }: { integration: Integration; onClose: () => void }) {
  const client = useQueryClient();
  const [f, setF] = useState({
    defaultSeverity: integration.defaultSeverity,
    severityLabel: integration.severityLabel,
    autoRun: integration.autoRun,
    monitorOnResolve: integration.monitorOnResolve,
    commander: integration.commander ?? '',
    disabled: integration.disabled,
  });
  const [busy, setBusy] = useState(false);
  const err = useFormError();
  const rejected = useQuery({
    queryKey: ['rejected', integration.id],
    queryFn: () =>
      api<{ items: AuditEntry[] }>(
        `/audit?action=alert.rejected&subjectType=Integration&subjectId=${enc(integration.id)}&limit=20`,
      ),
  });
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      await api(`/integrations/${enc(integration.id)}`, {
        method: 'PATCH',
        body: { ...f, commander: f.commander || null },
      });
      await client.invalidateQueries({ queryKey: ['integrations'] });
      onClose();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={`${integration.name} settings`} size="lg">
      <form onSubmit={(e) => void save(e)} noValidate>
        <Stack>
          <Group grow align="start">
            <TextInput
              label="Severity label"
              value={f.severityLabel}
              onChange={(e) => setF({ ...f, severityLabel: e.currentTarget.value })}
              error={err.field('severityLabel')}
            />
            <Select
              label="Default severity"
              data={SEVERITIES}
              value={f.defaultSeverity}
              onChange={(v) => setF({ ...f, defaultSeverity: v ?? 'SEV3' })}
              allowDeselect={false}
              error={err.field('defaultSeverity')}
            />
          </Group>
          <TagsInput
            label="Runbooks that may run automatically"
            description="Diagnostics whose trigger opts in (autoRun: true); * for any"
            value={f.autoRun}
            onChange={(autoRun) => setF({ ...f, autoRun })}
            error={err.field('autoRun')}
          />
          <TextInput
            label="Commander of the incidents it opens"
            description="A username; empty: its service identity"
            value={f.commander}
            onChange={(e) => setF({ ...f, commander: e.currentTarget.value })}
            error={err.field('commander')}
          />
          <Switch
            label="Move an incident to monitoring when all its alerts resolved"
            checked={f.monitorOnResolve}
            onChange={(e) => setF({ ...f, monitorOnResolve: e.currentTarget.checked })}
          />
          <Switch
            label="Disabled (deliveries are refused)"
            checked={f.disabled}
            onChange={(e) => setF({ ...f, disabled: e.currentTarget.checked })}
          />
          {err.general && <Alert color="red">{err.general}</Alert>}
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              Save
            </Button>
          </Group>
          <Title order={4}>Rejected deliveries</Title>
          <QueryState
            loading={rejected.isLoading}
            error={rejected.error}
            empty={rejected.data?.items.length === 0}
            emptyText="None: every delivery so far was understood."
            what="Rejected deliveries (from the audit trail)"
          />
          {!!rejected.data?.items.length && (
            <Stack gap={4} data-testid="rejected">
              {rejected.data.items.map((r) => (
                <Text key={r.id} size="sm">
                  {when(r.at)}: <Code>{JSON.stringify(r.details)}</Code>
                </Text>
              ))}
            </Stack>
          )}
        </Stack>
      </form>
    </Modal>
  );
}

/** Alert sources (/integrations): the hook URL to paste, the secret shown once, settings. */
export function Integrations() {
  const client = useQueryClient();
  const integrations = useQuery({
    queryKey: ['integrations'],
    queryFn: () => api<Integration[]>('/integrations'),
  });
  const [name, setName] = useState('');
  const [type, setType] = useState<string | null>('alertmanager');
  const [roles, setRoles] = useState<string[]>(['responder']);
  const [created, setCreated] = useState<(Integration & { secret: string }) | null>(null);
  const [editing, setEditing] = useState<Integration | null>(null);
  const [busy, setBusy] = useState(false);
  const err = useFormError();
  const confirm = useConfirm();
  const refresh = () => void client.invalidateQueries({ queryKey: ['integrations'] });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      setCreated(
        await api<Integration & { secret: string }>('/integrations', {
          method: 'POST',
          body: { name, type, roles },
        }),
      );
      setName('');
      refresh();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  const newSecret = async (i: Integration) => {
    const ok = await confirm.ask({
      title: `Replace the secret of ${i.name}?`,
      message: 'The old secret stops working at once: the source must be given the new one.',
      confirmLabel: 'Replace secret',
    });
    if (!ok) return;
    err.setError(null);
    try {
      setCreated(
        await api<Integration & { secret: string }>(`/integrations/${enc(i.id)}/secret`, {
          method: 'POST',
          body: {},
        }),
      );
    } catch (e2) {
      err.setError(e2 as Error);
    }
  };
  return (
    <Stack>
      {confirm.dialog}
      {created && (
        <Alert
          color="green"
          title={`${created.name}: paste these into ${created.type}`}
          data-testid="integration-created"
          withCloseButton
          closeButtonLabel="Done: I copied the secret"
          onClose={() => setCreated(null)}
        >
          <Stack gap="xs">
            <Text size="sm">{HOW[created.type]}</Text>
            <CopyValue value={created.url} label="the hook URL" />
            <Text size="sm">Secret, shown only this once:</Text>
            <CopyValue value={created.secret} label="the secret" testId="integration-secret" />
          </Stack>
        </Alert>
      )}
      <QueryState
        loading={integrations.isLoading}
        error={integrations.error}
        empty={integrations.data?.length === 0}
        emptyText="No integrations yet: add one to receive alerts."
        what="Integrations"
      />
      {integrations.data && integrations.data.length > 0 && (
        <Table.ScrollContainer minWidth={760}>
          <Table aria-label="Integrations">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Hook URL</Table.Th>
                <Table.Th>Acts as</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {integrations.data.map((i) => (
                <Table.Tr key={i.id} data-testid={`integration-${i.name}`}>
                  <Table.Td>
                    {i.name} {i.disabled && <Badge color="gray">disabled</Badge>}
                  </Table.Td>
                  <Table.Td>{i.type}</Table.Td>
                  <Table.Td>
                    <CopyValue value={i.url} label={`the hook URL of ${i.name}`} />
                  </Table.Td>
                  <Table.Td>{i.identity}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() => setEditing(i)}
                        aria-label={`Settings of ${i.name}`}
                      >
                        Settings
                      </Button>
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() => void newSecret(i)}
                        aria-label={`New secret for ${i.name}`}
                      >
                        New secret
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Card withBorder component="form" onSubmit={(e) => void create(e)} noValidate>
        <Title order={3} mb="sm">
          Add an integration
        </Title>
        <Group align="start" wrap="wrap">
          <TextInput
            label="Integration name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={err.field('name')}
            w={220}
          />
          <Select
            label="Source"
            data={TYPES}
            value={type}
            onChange={setType}
            allowDeselect={false}
            error={err.field('type')}
            w={170}
          />
          <Checkbox.Group
            label="Its roles"
            description="What its service identity may do"
            value={roles}
            onChange={setRoles}
            error={err.field('roles')}
          >
            <Group gap="sm" mt={6}>
              {ROLES.map((r) => (
                <Checkbox key={r} value={r} label={r} />
              ))}
            </Group>
          </Checkbox.Group>
          <Button type="submit" loading={busy} mt={24}>
            Add
          </Button>
        </Group>
        {err.general && (
          <Alert color="red" mt="sm">
            {err.general}
          </Alert>
        )}
      </Card>
      {editing && <Settings integration={editing} onClose={() => setEditing(null)} />}
    </Stack>
  );
}

import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../../api';
import { CopyValue, errorText, QueryState, useFormError, when } from '../common';
import { useConfirm } from '../confirm';

interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

const EXPIRY = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '180', label: '180 days' },
];

/** Your own API tokens (/auth/tokens): create one (shown once), list, revoke. */
export function Tokens() {
  const client = useQueryClient();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: () => api<ApiToken[]>('/auth/tokens') });
  const [name, setName] = useState('');
  const [days, setDays] = useState<string | null>('30');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<string | null>(null);
  const err = useFormError();
  const confirm = useConfirm();
  const refresh = () => void client.invalidateQueries({ queryKey: ['tokens'] });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      const expiresAt = new Date(Date.now() + Number(days ?? 30) * 86_400_000).toISOString();
      const t = await api<ApiToken & { token: string }>('/auth/tokens', {
        method: 'POST',
        body: { name, expiresAt },
      });
      setCreated({ name: t.name, token: t.token });
      setName('');
      refresh();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (t: ApiToken) => {
    const ok = await confirm.ask({
      title: `Revoke the token ${t.name}?`,
      message: 'Scripts using it stop working at once. This cannot be undone.',
      confirmLabel: 'Revoke token',
    });
    if (!ok) return;
    setRevokeError(null);
    try {
      await api(`/auth/tokens/${t.id}`, { method: 'DELETE' });
      refresh();
    } catch (e2) {
      setRevokeError(errorText(e2));
    }
  };
  const live = (tokens.data ?? []).filter((t) => !t.revokedAt);
  return (
    <Stack>
      {confirm.dialog}
      {created && (
        <Alert
          color="green"
          title={`Token "${created.name}" created`}
          data-testid="token-created"
          withCloseButton
          closeButtonLabel="Done: I copied it"
          onClose={() => setCreated(null)}
        >
          <Text mb="xs">
            Copy it now: it is shown only this once (Firebreak keeps only its hash). Use it as{' '}
            <code>Authorization: Bearer …</code> or <code>FIREBREAK_TOKEN</code>.
          </Text>
          <CopyValue value={created.token} label="the new token" testId="new-token" />
        </Alert>
      )}
      <QueryState
        loading={tokens.isLoading}
        error={tokens.error}
        empty={!!tokens.data && live.length === 0}
        emptyText="You have no API tokens."
        what="API tokens"
      />
      {revokeError && <Alert color="red">{revokeError}</Alert>}
      {live.length > 0 && (
        <Table.ScrollContainer minWidth={640}>
          <Table aria-label="API tokens">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Starts with</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {live.map((t) => (
                <Table.Tr key={t.id} data-testid={`token-${t.name}`}>
                  <Table.Td>{t.name}</Table.Td>
                  <Table.Td>
                    <code>{t.prefix}…</code>
                  </Table.Td>
                  <Table.Td>
                    {new Date(t.expiresAt) < new Date() ? (
                      <Badge color="gray">expired</Badge>
                    ) : (
                      when(t.expiresAt)
                    )}
                  </Table.Td>
                  <Table.Td>{when(t.lastUsedAt)}</Table.Td>
                  <Table.Td>
                    <Button
                      size="compact-xs"
                      color="red"
                      variant="light"
                      onClick={() => void revoke(t)}
                      aria-label={`Revoke ${t.name}`}
                    >
                      Revoke
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Card withBorder component="form" onSubmit={(e) => void create(e)} noValidate>
        <Title order={3} mb="sm">
          New API token
        </Title>
        <Group align="start" wrap="wrap">
          <TextInput
            label="Token name"
            description="What uses it, e.g. ci-deploy"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={err.field('name')}
            w={260}
          />
          <Select
            label="Expires in"
            data={EXPIRY}
            value={days}
            onChange={setDays}
            allowDeselect={false}
            error={err.field('expiresAt')}
            w={140}
          />
          <Button type="submit" loading={busy} mt={24}>
            Create token
          </Button>
        </Group>
        {err.general && (
          <Alert color="red" mt="sm">
            {err.general}
          </Alert>
        )}
      </Card>
    </Stack>
  );
}

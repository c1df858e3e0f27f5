import {
  Alert,
  Button,
  Card,
  Code,
  Group,
  PasswordInput,
  Select,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, enc } from '../../api';
import { errorText, QueryState, useFormError, when } from '../common';
import { useConfirm } from '../confirm';
import { FormDialog } from '../FormDialog';

interface Credential {
  id: string;
  name: string;
  type: 'ssh-key' | 'password';
  username: string | null;
  publicFingerprint: string | null;
  createdAt: string;
  rotatedAt: string | null;
}

/** The secret fields of a type: write-only (never filled from the server, never shown back). */
function SecretFields({
  type,
  value,
  onChange,
  field,
}: {
  type: string;
  value: { privateKey: string; passphrase: string; password: string };
  onChange: (v: { privateKey: string; passphrase: string; password: string }) => void;
  field: (f: string) => string | undefined;
}) {
  return type === 'ssh-key' ? (
    <>
      <Textarea
        label="Private key"
        description="OpenSSH or PEM; stored encrypted, never shown again"
        required
        value={value.privateKey}
        onChange={(e) => onChange({ ...value, privateKey: e.currentTarget.value })}
        error={field('privateKey')}
        autosize
        minRows={3}
        maxRows={8}
        autoComplete="off"
        spellCheck={false}
        styles={{ input: { fontFamily: 'monospace' } }}
      />
      <PasswordInput
        label="Passphrase"
        value={value.passphrase}
        onChange={(e) => onChange({ ...value, passphrase: e.currentTarget.value })}
        error={field('passphrase')}
        autoComplete="off"
      />
    </>
  ) : (
    <PasswordInput
      label="Password"
      description="Stored encrypted, never shown again"
      required
      value={value.password}
      onChange={(e) => onChange({ ...value, password: e.currentTarget.value })}
      error={field('password')}
      autoComplete="off"
    />
  );
}

const EMPTY = { privateKey: '', passphrase: '', password: '' };

const secretBody = (type: string, s: typeof EMPTY) =>
  type === 'ssh-key'
    ? { privateKey: s.privateKey, ...(s.passphrase ? { passphrase: s.passphrase } : {}) }
    : { password: s.password };

function Rotate({ credential, onClose }: { credential: Credential; onClose: () => void }) {
  const client = useQueryClient();
  const [secret, setSecret] = useState(EMPTY);
  const err = useFormError();
  return (
    <FormDialog
      title={`Rotate ${credential.name}`}
      submitLabel="Rotate"
      onClose={onClose}
      err={err}
      onSubmit={async () => {
        await api(`/credentials/${enc(credential.name)}/rotate`, {
          method: 'POST',
          body: secretBody(credential.type, secret),
        });
        await client.invalidateQueries({ queryKey: ['credentials'] });
        onClose();
      }}
    >
      <Text size="sm">The new secret replaces the old one; the old one is gone.</Text>
      <SecretFields type={credential.type} value={secret} onChange={setSecret} field={err.field} />
    </FormDialog>
  );
}

/** Credentials (write-only): create, rotate, delete; the list shows metadata only. */
export function Credentials() {
  const client = useQueryClient();
  const credentials = useQuery({
    queryKey: ['credentials'],
    queryFn: () => api<Credential[]>('/credentials'),
  });
  const [name, setName] = useState('');
  const [type, setType] = useState<string | null>('ssh-key');
  const [username, setUsername] = useState('');
  const [secret, setSecret] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [rotating, setRotating] = useState<Credential | null>(null);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const err = useFormError();
  const confirm = useConfirm();
  const refresh = () => void client.invalidateQueries({ queryKey: ['credentials'] });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      await api('/credentials', {
        method: 'POST',
        body: {
          name,
          type,
          ...(username ? { username } : {}),
          ...secretBody(type ?? 'ssh-key', secret),
        },
      });
      setName('');
      setUsername('');
      setSecret(EMPTY);
      refresh();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (c: Credential) => {
    const ok = await confirm.ask({
      title: `Delete the credential ${c.name}?`,
      message: 'Nodes that use it can no longer be reached until they get another one.',
      confirmLabel: 'Delete credential',
    });
    if (!ok) return;
    setDeleteError(null);
    try {
      await api(`/credentials/${enc(c.name)}`, { method: 'DELETE' });
      refresh();
    } catch (e2) {
      setDeleteError(errorText(e2));
    }
  };
  return (
    <Stack>
      {confirm.dialog}
      <QueryState
        loading={credentials.isLoading}
        error={credentials.error}
        empty={credentials.data?.length === 0}
        emptyText="No credentials yet."
        what="Credentials"
      />
      {deleteError && (
        <Alert color="red" role="alert">
          {deleteError}
        </Alert>
      )}
      {credentials.data && credentials.data.length > 0 && (
        <Table.ScrollContainer minWidth={720}>
          <Table aria-label="Credentials">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>User</Table.Th>
                <Table.Th>Public key</Table.Th>
                <Table.Th>Last set</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {credentials.data.map((c) => (
                <Table.Tr key={c.id} data-testid={`credential-${c.name}`}>
                  <Table.Td>{c.name}</Table.Td>
                  <Table.Td>{c.type}</Table.Td>
                  <Table.Td>{c.username ?? '—'}</Table.Td>
                  <Table.Td>
                    {c.publicFingerprint ? <Code>{c.publicFingerprint}</Code> : '—'}
                  </Table.Td>
                  <Table.Td>{when(c.rotatedAt ?? c.createdAt)}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="compact-xs"
                        variant="default"
                        onClick={() => setRotating(c)}
                        aria-label={`Rotate ${c.name}`}
                      >
                        Rotate
                      </Button>
                      <Button
                        size="compact-xs"
                        color="red"
                        variant="light"
                        onClick={() => void remove(c)}
                        aria-label={`Delete ${c.name}`}
                      >
                        Delete
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
          Add a credential
        </Title>
        <Stack>
          <Group grow align="start" wrap="wrap">
            <TextInput
              label="Credential name"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={err.field('name')}
            />
            <Select
              label="Type"
              data={[
                { value: 'ssh-key', label: 'SSH private key' },
                { value: 'password', label: 'Password' },
              ]}
              value={type}
              onChange={(v) => {
                setType(v);
                setSecret(EMPTY);
              }}
              allowDeselect={false}
              error={err.field('type')}
            />
            <TextInput
              label="Default login user"
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
              error={err.field('username')}
            />
          </Group>
          <SecretFields
            type={type ?? 'ssh-key'}
            value={secret}
            onChange={setSecret}
            field={err.field}
          />
          {err.general && <Alert color="red">{err.general}</Alert>}
          <div>
            <Button type="submit" loading={busy}>
              Add credential
            </Button>
          </div>
        </Stack>
      </Card>
      {rotating && <Rotate credential={rotating} onClose={() => setRotating(null)} />}
    </Stack>
  );
}

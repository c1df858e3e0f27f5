import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  Checkbox,
  PasswordInput,
  Stack,
  Switch,
  Table,
  TagsInput,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../../api';
import { QueryState, useFormError, when } from '../common';

export interface User {
  id: string;
  username: string;
  displayName: string;
  email: string | null;
  roles: string[];
  groups: string[];
  disabled: boolean;
  hasPassword: boolean;
  lastLoginAt: string | null;
}

const ROLES = ['viewer', 'responder', 'operator', 'admin'];

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const [form, setForm] = useState({
    username: '',
    displayName: '',
    email: '',
    password: '',
    roles: ['responder'],
    groups: [] as string[],
  });
  const [busy, setBusy] = useState(false);
  const err = useFormError();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      await api('/users', {
        method: 'POST',
        body: {
          username: form.username,
          displayName: form.displayName,
          roles: form.roles,
          groups: form.groups,
          ...(form.email ? { email: form.email } : {}),
          ...(form.password ? { password: form.password } : {}),
        },
      });
      setForm({ ...form, username: '', displayName: '', email: '', password: '' });
      onCreated();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card withBorder component="form" onSubmit={(e) => void submit(e)} noValidate>
      <Title order={3} mb="sm">
        Add a user
      </Title>
      <Stack>
        <Group grow align="start" wrap="wrap">
          <TextInput
            label="Username"
            required
            value={form.username}
            onChange={(e) => setForm({ ...form, username: e.currentTarget.value })}
            error={err.field('username')}
          />
          <TextInput
            label="Display name"
            required
            value={form.displayName}
            onChange={(e) => setForm({ ...form, displayName: e.currentTarget.value })}
            error={err.field('displayName')}
          />
          <TextInput
            label="Email"
            type="email"
            value={form.email}
            onChange={(e) => setForm({ ...form, email: e.currentTarget.value })}
            error={err.field('email')}
          />
        </Group>
        <Group grow align="start" wrap="wrap">
          <PasswordInput
            label="Initial password"
            description="At least 12 characters; leave empty for a token-only user"
            value={form.password}
            onChange={(e) => setForm({ ...form, password: e.currentTarget.value })}
            error={err.field('password')}
            autoComplete="new-password"
          />
          <Checkbox.Group
            label="Roles"
            value={form.roles}
            onChange={(roles) => setForm({ ...form, roles })}
            error={err.field('roles')}
          >
            <Group gap="sm" mt={6}>
              {ROLES.map((r) => (
                <Checkbox key={r} value={r} label={r} />
              ))}
            </Group>
          </Checkbox.Group>
          <TagsInput
            label="Groups"
            value={form.groups}
            onChange={(groups) => setForm({ ...form, groups })}
            error={err.field('groups')}
          />
        </Group>
        {err.general && <Alert color="red">{err.general}</Alert>}
        <div>
          <Button type="submit" loading={busy}>
            Add user
          </Button>
        </div>
      </Stack>
    </Card>
  );
}

function EditUser({ user, onClose }: { user: User; onClose: () => void }) {
  const client = useQueryClient();
  const [roles, setRoles] = useState(user.roles);
  const [groups, setGroups] = useState(user.groups);
  const [displayName, setDisplayName] = useState(user.displayName);
  const [disabled, setDisabled] = useState(user.disabled);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const err = useFormError();
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      await api(`/users/${user.id}`, {
        method: 'PATCH',
        body: { roles, groups, displayName, disabled, ...(password ? { password } : {}) },
      });
      await client.invalidateQueries({ queryKey: ['users'] });
      onClose();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={`Edit ${user.username}`}>
      <form onSubmit={(e) => void save(e)} noValidate>
        <Stack>
          <TextInput
            label="Display name"
            value={displayName}
            onChange={(e) => setDisplayName(e.currentTarget.value)}
            error={err.field('displayName')}
          />
          <Checkbox.Group
            label="Roles"
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
          <TagsInput
            label="Groups"
            value={groups}
            onChange={setGroups}
            error={err.field('groups')}
          />
          <PasswordInput
            label="New password"
            description="Leave empty to keep the current one"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={err.field('password')}
            autoComplete="new-password"
          />
          <Switch
            label="Disabled (cannot sign in; sessions and tokens stop working)"
            checked={disabled}
            onChange={(e) => setDisabled(e.currentTarget.checked)}
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
        </Stack>
      </form>
    </Modal>
  );
}

/** Users, their roles and groups (GET/POST /users, PATCH /users/:id). */
export function Users() {
  const client = useQueryClient();
  const users = useQuery({ queryKey: ['users'], queryFn: () => api<User[]>('/users') });
  const [editing, setEditing] = useState<User | null>(null);
  return (
    <Stack>
      <QueryState
        loading={users.isLoading}
        error={users.error}
        empty={users.data?.length === 0}
        emptyText="No users."
        what="Managing users"
      />
      {users.data && users.data.length > 0 && (
        <Table.ScrollContainer minWidth={720}>
          <Table aria-label="Users">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Username</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Roles</Table.Th>
                <Table.Th>Groups</Table.Th>
                <Table.Th>Last sign-in</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.data.map((u) => (
                <Table.Tr key={u.id} data-testid={`user-${u.username}`}>
                  <Table.Td>{u.username}</Table.Td>
                  <Table.Td>{u.displayName}</Table.Td>
                  <Table.Td data-testid="roles">{u.roles.join(', ')}</Table.Td>
                  <Table.Td>{u.groups.join(', ') || '—'}</Table.Td>
                  <Table.Td>{when(u.lastLoginAt)}</Table.Td>
                  <Table.Td>
                    {u.disabled ? (
                      <Badge color="gray">disabled</Badge>
                    ) : (
                      <Badge color="green" variant="light">
                        active
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Button
                      size="compact-xs"
                      variant="default"
                      onClick={() => setEditing(u)}
                      aria-label={`Edit ${u.username}`}
                    >
                      Edit
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {users.data && (
        <CreateUser onCreated={() => void client.invalidateQueries({ queryKey: ['users'] })} />
      )}
      {editing && <EditUser user={editing} onClose={() => setEditing(null)} />}
    </Stack>
  );
}

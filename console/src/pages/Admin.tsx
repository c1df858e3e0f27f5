import { Stack, Tabs, Title } from '@mantine/core';
import { Navigate, useNavigate, useParams } from 'react-router';
import { useHasRole } from '../session';
import { NeedsAdmin } from './common';
import { Credentials } from './admin/Credentials';
import { Import } from './admin/Import';
import { Integrations } from './admin/Integrations';
import { Nodes } from './admin/Nodes';
import { Tokens } from './admin/Tokens';
import { Users } from './admin/Users';

/** Each section is a deep link: /admin/users, /admin/tokens, /admin/nodes, … */
const SECTIONS = [
  { key: 'users', label: 'Users', page: Users, adminOnly: true },
  { key: 'tokens', label: 'API tokens', page: Tokens, adminOnly: false },
  { key: 'nodes', label: 'Nodes and clusters', page: Nodes, adminOnly: true },
  { key: 'credentials', label: 'Credentials', page: Credentials, adminOnly: true },
  { key: 'integrations', label: 'Integrations', page: Integrations, adminOnly: true },
  { key: 'import', label: 'Import runbooks', page: Import, adminOnly: true },
];

/**
 * Admin: users, API tokens, nodes and clusters, credentials, integrations, runbook import. Your own API tokens
 * are yours whatever your role; the rest needs the admin role (the API checks it too).
 */
export function Admin() {
  const admin = useHasRole('admin');
  const { section } = useParams();
  const navigate = useNavigate();
  const current = SECTIONS.find((s) => s.key === section);
  if (!current) return <Navigate to={admin ? '/admin/users' : '/admin/tokens'} replace />;
  const Page = current.page;
  return (
    <Stack>
      <Title order={2}>Admin</Title>
      <Tabs
        value={current.key}
        onChange={(v) => v && void navigate(`/admin/${v}`)}
        keepMounted={false}
      >
        <Tabs.List>
          {SECTIONS.map((s) => (
            <Tabs.Tab key={s.key} value={s.key}>
              {s.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Tabs.Panel value={current.key} pt="md">
          {current.adminOnly && !admin ? <NeedsAdmin what={current.label} /> : <Page />}
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

import {
  ActionIcon,
  Anchor,
  AppShell,
  Burger,
  Button,
  Group,
  NavLink,
  Text,
  useComputedColorScheme,
  useMantineColorScheme,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useQueryClient } from '@tanstack/react-query';
import { Link, Route, Routes, useLocation, useNavigate } from 'react-router';
import { api } from './api';
import { Approvals } from './pages/Approvals';
import { Execution } from './pages/Execution';
import { Executions } from './pages/Executions';
import { Home } from './pages/Home';
import { IncidentPage, Incidents } from './pages/Incidents';
import { Login } from './pages/Login';
import { NotFound, Placeholder } from './pages/Placeholder';
import { RunForm } from './pages/RunForm';
import { Runbook } from './pages/Runbook';
import { Runbooks } from './pages/Runbooks';
import { RequireSession, useMe } from './session';

/** Navigation: every page has a deep link (the same path as its API object). */
const NAV = [
  { to: '/', label: 'Home' },
  { to: '/runbooks', label: 'Runbooks' },
  { to: '/executions', label: 'Executions' },
  { to: '/approvals', label: 'Approvals' },
  { to: '/incidents', label: 'Incidents' },
  { to: '/audit', label: 'Audit' },
  { to: '/admin', label: 'Admin' },
  { to: '/settings/slack', label: 'Slack' },
];

function Shell() {
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const me = useMe();
  const navigate = useNavigate();
  const client = useQueryClient();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light');
  const logout = async () => {
    await api('/auth/logout', { method: 'POST' }).catch(() => undefined);
    client.clear();
    void navigate('/login', { replace: true });
  };
  return (
    <AppShell
      header={{ height: 52 }}
      navbar={{ width: 200, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Anchor component={Link} to="/" underline="never" c="inherit" fw={700} size="lg">
              Firebreak
            </Anchor>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <ActionIcon
              variant="default"
              aria-label={`Switch to ${scheme === 'dark' ? 'light' : 'dark'} mode`}
              onClick={() => setColorScheme(scheme === 'dark' ? 'light' : 'dark')}
            >
              {scheme === 'dark' ? '☀' : '☾'}
            </ActionIcon>
            <Text size="sm" visibleFrom="xs" data-testid="whoami">
              {me.displayName || me.username}
            </Text>
            <Button size="xs" variant="default" onClick={() => void logout()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {NAV.map((item) => (
          <NavLink
            key={item.to}
            component={Link}
            to={item.to}
            label={item.label}
            onClick={close}
            active={
              item.to === '/' ? location.pathname === '/' : location.pathname.startsWith(item.to)
            }
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/runbooks" element={<Runbooks />} />
          <Route path="/runbooks/:name" element={<Runbook />} />
          <Route path="/runbooks/:name/run" element={<RunForm />} />
          <Route path="/executions" element={<Executions />} />
          <Route path="/executions/:id" element={<Execution />} />
          <Route path="/approvals" element={<Approvals />} />
          <Route path="/incidents" element={<Incidents />} />
          <Route path="/incidents/:ref" element={<IncidentPage />} />
          <Route
            path="/audit"
            element={
              <Placeholder
                title="Audit"
                what="the audit trail with filters and the verify button"
                api="GET /audit, GET /audit/verify"
              />
            }
          />
          <Route
            path="/admin/*"
            element={
              <Placeholder
                title="Admin"
                what="users, roles and groups, API tokens, nodes and clusters, credentials and integrations"
                api="/users, /auth/tokens, /nodes, /clusters, /credentials, /integrations"
              />
            }
          />
          <Route
            path="/settings/slack"
            element={
              <Placeholder
                title="Link your Slack account"
                what="linking your Slack user to your Firebreak user, so you can approve and run from Slack"
                api="(the Slack integration)"
              />
            }
          />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route
        path="*"
        element={
          <RequireSession>
            <Shell />
          </RequireSession>
        }
      />
    </Routes>
  );
}

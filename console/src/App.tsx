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
import { lazy, Suspense, type ReactNode } from 'react';
import { Link, Route, Routes, useLocation, useNavigate } from 'react-router';
import { api } from './api';
import { Login } from './pages/Login';
import { NotFound } from './pages/Placeholder';
import { RequireSession, useMe } from './session';

/**
 * Each page is its own chunk, loaded when first visited (sign-in and the execution view load
 * little); Suspense shows the loading state meanwhile.
 */
function page<K extends string>(load: () => Promise<Record<K, () => ReactNode>>, name: K) {
  return lazy(async () => ({ default: (await load())[name] }));
}
const Home = page(() => import('./pages/Home'), 'Home');
const Runbooks = page(() => import('./pages/Runbooks'), 'Runbooks');
const Runbook = page(() => import('./pages/Runbook'), 'Runbook');
const RunForm = page(() => import('./pages/RunForm'), 'RunForm');
const Executions = page(() => import('./pages/Executions'), 'Executions');
const Execution = page(() => import('./pages/Execution'), 'Execution');
const Approvals = page(() => import('./pages/Approvals'), 'Approvals');
const Incidents = page(() => import('./pages/Incidents'), 'Incidents');
const IncidentPage = page(() => import('./pages/Incidents'), 'IncidentPage');
const Audit = page(() => import('./pages/Audit'), 'Audit');
const Admin = page(() => import('./pages/Admin'), 'Admin');
const SlackSettings = page(() => import('./pages/SlackSettings'), 'SlackSettings');
const Schedules = page(() => import('./pages/Schedules'), 'Schedules');
const Freezes = page(() => import('./pages/Freezes'), 'Freezes');

const Loading = () => (
  <Text aria-busy="true" c="dimmed">
    Loading…
  </Text>
);

/** Navigation: every page has a deep link (the same path as its API object). */
const NAV = [
  { to: '/', label: 'Home' },
  { to: '/runbooks', label: 'Runbooks' },
  { to: '/executions', label: 'Executions' },
  { to: '/approvals', label: 'Approvals' },
  { to: '/incidents', label: 'Incidents' },
  { to: '/schedules', label: 'Schedules' },
  { to: '/freezes', label: 'Freezes' },
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
        <Suspense fallback={<Loading />}>
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
            <Route path="/schedules" element={<Schedules />} />
            <Route path="/freezes" element={<Freezes />} />
            <Route path="/audit" element={<Audit />} />
            <Route path="/admin" element={<Admin />} />
            <Route path="/admin/:section" element={<Admin />} />
            <Route path="/settings/slack" element={<SlackSettings />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
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

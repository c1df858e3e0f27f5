import { Button, Card, Code, List, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, type Execution, type NodeInfo } from '../api';
import { useMe } from '../session';
import { ExecutionRows } from './Executions';

/**
 * Home. On a fresh install (no executions yet) it is the first-run page: how to run
 * diagnose-host on the built-in localhost node, and how to add a real node.
 */
export function Home() {
  const me = useMe();
  const executions = useQuery({
    queryKey: ['executions', 'recent'],
    queryFn: () => api<Execution[]>('/executions?limit=10'),
  });
  const nodes = useQuery({ queryKey: ['nodes'], queryFn: () => api<NodeInfo[]>('/nodes') });
  const firstRun = executions.data !== undefined && executions.data.length === 0;
  const hasLocalhost = nodes.data?.some((n) => n.name === 'localhost') ?? false;
  return (
    <Stack maw={960}>
      <Title order={2}>Welcome, {me.displayName || me.username}</Title>
      {firstRun && (
        <Card withBorder data-testid="first-run">
          <Stack>
            <Title order={3}>Getting started</Title>
            <Text>
              Nothing has run yet. Start with the read-only <b>diagnose-host</b> runbook on{' '}
              <b>localhost</b>, the Firebreak host itself
              {hasLocalhost ? '' : ' (not enabled here: LOCAL_NODE=false)'}.
            </Text>
            <div>
              <Button component={Link} to="/runbooks/diagnose-host/run?nodes=localhost">
                Run diagnose-host on localhost
              </Button>
            </div>
            <Text size="sm">
              From a terminal:{' '}
              <Code>npx firebreak run diagnose-host --node localhost --follow</Code>
            </Text>
            <Title order={4}>Add a real node</Title>
            <List size="sm" spacing="xs">
              <List.Item>
                Add it to <Code>runbooks/inventory.yaml</Code> (name, hostname, user, tags) and
                sync: <Code>POST /nodes/sync</Code>; or <Code>POST /nodes</Code>; or import an
                Ansible inventory (<Code>POST /nodes/import/ansible</Code>).
              </List.Item>
              <List.Item>
                Store its SSH key as a credential (<Code>POST /credentials</Code>, write-only), and
                pin its host key on first use.
              </List.Item>
              <List.Item>
                Then pick it in any runbook's run form. <Code>docs/nodes.md</Code> in the repository
                has the details.
              </List.Item>
            </List>
          </Stack>
        </Card>
      )}
      <Card withBorder>
        <Title order={3} mb="sm">
          Recent executions
        </Title>
        {executions.isLoading && <Text aria-busy="true">Loading…</Text>}
        {executions.error && <Text c="red">{executions.error.message}</Text>}
        {executions.data && executions.data.length > 0 && (
          <Table>
            <ExecutionRows rows={executions.data} />
          </Table>
        )}
        {firstRun && <Text c="dimmed">None yet.</Text>}
      </Card>
    </Stack>
  );
}

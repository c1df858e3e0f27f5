import { Alert, Badge, Button, Code, Group, List, Stack, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api';
import { CopyValue, errorText, QueryState, when } from './common';

type SlackLink =
  | { linked: false }
  | { linked: true; teamId: string; slackUserId: string; via: string; linkedAt: string };

interface LinkCode {
  code: string;
  expiresAt: string;
  command: string;
}

/** Link your Slack account (POST /me/slack/link-codes), its status (GET /me/slack), unlink. */
export function SlackSettings() {
  const client = useQueryClient();
  const link = useQuery({
    queryKey: ['me-slack'],
    queryFn: () => api<SlackLink>('/me/slack'),
    // While a code waits to be typed in Slack, the page notices the link.
    refetchInterval: (q) => (q.state.data?.linked === false ? 5000 : false),
  });
  const [code, setCode] = useState<LinkCode | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const newCode = () =>
    run(async () => setCode(await api<LinkCode>('/me/slack/link-codes', { method: 'POST' })));
  const unlink = () =>
    run(async () => {
      await api('/me/slack', { method: 'DELETE' });
      setCode(null);
      await client.invalidateQueries({ queryKey: ['me-slack'] });
    });
  const l = link.data;
  return (
    <Stack maw={760}>
      <Title order={2}>Slack</Title>
      <Text>
        Linking your Slack user to your Firebreak user lets you run runbooks, approve and work
        incidents from Slack, as yourself, with your roles.
      </Text>
      <QueryState loading={link.isLoading} error={link.error} what="Slack settings" />
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {l?.linked === true && (
        <Alert color="green" title="Linked" data-testid="slack-status">
          <Text size="sm">
            Slack user <Code>{l.slackUserId}</Code> in workspace <Code>{l.teamId}</Code>, linked{' '}
            {when(l.linkedAt)} (via {l.via}).
          </Text>
          <Button mt="sm" color="red" variant="light" onClick={() => void unlink()} loading={busy}>
            Unlink Slack
          </Button>
        </Alert>
      )}
      {l?.linked === false && (
        <Stack data-testid="slack-status">
          <Group>
            <Badge color="gray">Not linked</Badge>
          </Group>
          <List type="ordered" spacing="xs">
            <List.Item>Get a one-time code here (valid 10 minutes, one use).</List.Item>
            <List.Item>
              In Slack, type the command it shows in any channel where the Firebreak app is.
            </List.Item>
            <List.Item>This page shows the link once Slack confirmed it.</List.Item>
          </List>
          <div>
            <Button onClick={() => void newCode()} loading={busy}>
              {code ? 'New code' : 'Get a link code'}
            </Button>
          </div>
          {code && (
            <Alert color="blue" title="Type this in Slack" data-testid="slack-code">
              <CopyValue value={code.command} label="the Slack command" />
              <Text size="sm" mt="xs">
                Code <Code>{code.code}</Code>, valid until {when(code.expiresAt)}.
              </Text>
            </Alert>
          )}
        </Stack>
      )}
    </Stack>
  );
}

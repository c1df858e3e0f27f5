import { Alert, Anchor, Code, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';

/** A page the console does not build yet: it says what will be here and which API it uses. */
export function Placeholder({ title, what, api }: { title: string; what: string; api: string }) {
  return (
    <Stack maw={720}>
      <Title order={2}>{title}</Title>
      <Alert color="gray" title="Not in the console yet">
        <Text>This page will show {what}.</Text>
        <Text mt="xs">
          Until then use the API (<Code>{api}</Code>, described at{' '}
          <Anchor href="/api/docs">/api/docs</Anchor>) or the <Code>firebreak</Code> CLI.
        </Text>
      </Alert>
    </Stack>
  );
}

export function NotFound() {
  return (
    <Stack>
      <Title order={2}>Not found</Title>
      <Text>
        Nothing here.{' '}
        <Anchor component={Link} to="/">
          Home
        </Anchor>
      </Text>
    </Stack>
  );
}

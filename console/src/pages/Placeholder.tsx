import { Anchor, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';

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

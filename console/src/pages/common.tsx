import { Alert, Button, Code, CopyButton, Group, Text } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { ApiError } from '../api';

/** Shown instead of an admin page to those without the admin role (the API refuses anyway). */
export function NeedsAdmin({ what }: { what: string }) {
  return (
    <Alert color="yellow" title="Needs the admin role" role="alert" data-testid="needs-admin">
      <Text>
        {what} is for admins. Ask an admin if you need a change here; the API refuses it to your
        user as well.
      </Text>
    </Alert>
  );
}

/** Loading, error (a 403 as "needs admin") and empty states of one query, in one place. */
export function QueryState({
  loading,
  error,
  empty,
  emptyText,
  what,
}: {
  loading: boolean;
  error: Error | null;
  empty?: boolean;
  emptyText?: ReactNode;
  what: string;
}) {
  if (loading)
    return (
      <Text aria-busy="true" c="dimmed">
        Loading…
      </Text>
    );
  if (error instanceof ApiError && error.status === 403) return <NeedsAdmin what={what} />;
  if (error)
    return (
      <Alert color="red" role="alert">
        {error.message}
      </Alert>
    );
  if (empty) return <Text c="dimmed">{emptyText}</Text>;
  return null;
}

/** A value to copy (a token shown once, a hook URL), with a labelled copy button. */
export function CopyValue({
  value,
  label,
  testId,
}: {
  value: string;
  label: string;
  testId?: string;
}) {
  return (
    <Group gap="xs" wrap="nowrap" align="center">
      <Code data-testid={testId} style={{ wordBreak: 'break-all' }}>
        {value}
      </Code>
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Button
            size="xs"
            variant="default"
            onClick={copy}
            aria-label={`Copy ${label}`}
            style={{ flexShrink: 0 }}
          >
            {copied ? 'Copied' : 'Copy'}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}

/** The message of a failed action (field problems named by their path). */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    const problems = err.problems;
    return problems.length
      ? `${err.message}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`
      : err.message;
  }
  return String(err);
}

export const when = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString() : '—';

/** A form's failed submit: messages under their fields (by path), the rest as one message. */
export function useFormError() {
  const [error, setError] = useState<ApiError | Error | null>(null);
  const field = (f: string) =>
    error instanceof ApiError
      ? error.problems.find((p) => p.path === f || p.path.startsWith(`${f}.`))?.message
      : undefined;
  // Also the whole message: a problem at a path the form has no field for is never lost.
  const general = error ? errorText(error) : null;
  return { error, setError, field, general };
}

import { Alert, Button, Group, Modal, Stack } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import type { useFormError } from './common';

/**
 * The admin pages' one form dialog: a modal (named by its title, focus trapped, Escape closes)
 * around a form whose submit runs `onSubmit`; a failure goes to `err` (each field shows its own
 * message by path, the rest under the form) and the dialog stays open with what was typed.
 */
export function FormDialog({
  title,
  submitLabel,
  onClose,
  onSubmit,
  err,
  children,
  size = 'lg',
}: {
  title: string;
  submitLabel: string;
  onClose: () => void;
  /** Throws on failure; closes the dialog itself (or not) on success. */
  onSubmit: () => Promise<void>;
  err: ReturnType<typeof useFormError>;
  children: ReactNode;
  size?: string;
}) {
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    err.setError(null);
    try {
      await onSubmit();
    } catch (e2) {
      err.setError(e2 as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={title} size={size}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Stack>
          {children}
          {err.general && (
            <Alert color="red" role="alert">
              {err.general}
            </Alert>
          )}
          <Group justify="end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              {submitLabel}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

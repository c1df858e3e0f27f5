import { Button, Group, Modal, Text } from '@mantine/core';
import { useCallback, useRef, useState, type ReactNode } from 'react';

interface ConfirmRequest {
  /** The dialog's title, its accessible name: a question naming the object. */
  title: string;
  message: ReactNode;
  /** The destructive button, named for what it does ("Revoke token", not "OK"). */
  confirmLabel: string;
}

/**
 * One accessible confirm dialog instead of `window.confirm`: a Mantine modal (role dialog named
 * by its title, focus trapped inside, Escape or a click outside cancels, focus back where it was),
 * Cancel focused first so Enter on a slip does nothing destructive. `ask` resolves true only for
 * the named button; render `dialog` once in the page.
 */
export function useConfirm() {
  const [request, setRequest] = useState<ConfirmRequest | null>(null);
  const resolver = useRef<((ok: boolean) => void) | null>(null);
  const ask = useCallback(
    (r: ConfirmRequest) =>
      new Promise<boolean>((resolve) => {
        resolver.current?.(false);
        resolver.current = resolve;
        setRequest(r);
      }),
    [],
  );
  const close = (ok: boolean) => {
    resolver.current?.(ok);
    resolver.current = null;
    setRequest(null);
  };
  const dialog = (
    <Modal
      opened={request !== null}
      onClose={() => close(false)}
      title={request?.title}
      trapFocus
      returnFocus
      closeOnEscape
    >
      <Text size="sm">{request?.message}</Text>
      <Group justify="end" mt="md">
        <Button variant="default" onClick={() => close(false)} data-autofocus>
          Cancel
        </Button>
        <Button color="red" onClick={() => close(true)}>
          {request?.confirmLabel}
        </Button>
      </Group>
    </Modal>
  );
  return { ask, dialog };
}

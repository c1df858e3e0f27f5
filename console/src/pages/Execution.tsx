import {
  Alert,
  Anchor,
  Badge,
  Box,
  Button,
  Card,
  Group,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { memo, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import {
  api,
  ApiError,
  FINAL_STATUSES,
  statusColor,
  type Approval,
  type Execution as ExecutionT,
  type ExecutionDetail,
  type StepResult,
} from '../api';
import { useMe } from '../session';
import { LogViewer } from './LogViewer';

const RANK: Record<string, number> = {
  failed: 5,
  timed_out: 5,
  canceled: 4,
  running: 3,
  succeeded: 2,
  skipped: 1,
};

/** One status per node: its worst step so far (failed > canceled > running > succeeded). */
function nodeStatuses(
  e: ExecutionDetail,
): Array<{ node: string; status: string; steps: StepResult[] }> {
  const byNode = new Map<string, StepResult[]>();
  for (const t of e.targets) byNode.set(t, []);
  for (const r of e.results) {
    if (r.node === null) continue;
    const list = byNode.get(r.node) ?? [];
    list.push(r);
    byNode.set(r.node, list);
  }
  return [...byNode].map(([node, steps]) => {
    let status =
      steps.length === 0 ? (FINAL_STATUSES.has(e.status) ? 'not run' : 'pending') : 'skipped';
    for (const s of steps) if ((RANK[s.status] ?? 0) > (RANK[status] ?? 0)) status = s.status;
    return { node, status, steps };
  });
}

/**
 * Per-node status grid: small cells (1,000 nodes stay light), each a button that filters the log;
 * one tab stop, arrow keys between cells (the ARIA grid pattern, one row that wraps).
 * Plain buttons with a native `title`, no tooltip component per cell: 1,000 floating tooltips made
 * the first render one long task and every later one slow. Memoised: scrolling the log or a poll
 * that brings the same results does not redraw it.
 */
const NodeGrid = memo(function NodeGrid({
  e,
  selected,
  onSelect,
}: {
  e: ExecutionDetail;
  selected: string | null;
  onSelect: (n: string | null) => void;
}) {
  const cells = useMemo(() => nodeStatuses(e), [e]);
  // One tab stop for the whole grid (roving tabindex): arrow keys move between cells, Home/End to
  // the first/last, Enter or Space filters the log by the cell's node.
  const [focus, setFocus] = useState(0);
  const gridRef = useRef<HTMLDivElement>(null);
  const current = Math.min(focus, Math.max(cells.length - 1, 0));
  const onKeyDown = (ev: KeyboardEvent<HTMLDivElement>) => {
    const buttons = gridRef.current?.querySelectorAll<HTMLButtonElement>('[role=gridcell]');
    if (!buttons?.length) return;
    // Cells per visual row: those on the first cell's line.
    const top = buttons[0].offsetTop;
    let perRow = 0;
    while (perRow < buttons.length && buttons[perRow].offsetTop === top) perRow++;
    const moves: Record<string, number> = {
      ArrowRight: current + 1,
      ArrowLeft: current - 1,
      ArrowDown: current + perRow,
      ArrowUp: current - perRow,
      Home: 0,
      End: buttons.length - 1,
    };
    const next = moves[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    const to = Math.max(0, Math.min(buttons.length - 1, next));
    setFocus(to);
    buttons[to].focus();
  };
  const counts = new Map<string, number>();
  for (const c of cells) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  const small = cells.length > 40;
  return (
    <Stack gap="xs">
      <Group gap="xs">
        {[...counts].map(([s, n]) => (
          <Badge key={s} color={statusColor(s)} variant="light">
            {s}: {n}
          </Badge>
        ))}
      </Group>
      <Box
        ref={gridRef}
        role="grid"
        aria-label="Node status"
        aria-rowcount={1}
        aria-colcount={cells.length}
        aria-multiselectable={false}
        onKeyDown={onKeyDown}
        data-testid="node-grid"
        style={{
          display: 'grid',
          gridTemplateColumns: small
            ? 'repeat(auto-fill, 18px)'
            : 'repeat(auto-fill, minmax(140px, 1fr))',
          gap: 4,
        }}
      >
        {/* One row of cells that wraps visually (display: contents keeps the CSS grid). */}
        <div role="row" style={{ display: 'contents' }}>
          {cells.map((c, i) => (
            <button
              key={c.node}
              type="button"
              role="gridcell"
              aria-colindex={i + 1}
              tabIndex={i === current ? 0 : -1}
              onFocus={() => setFocus(i)}
              title={`${c.node}: ${c.status}`}
              aria-label={`${c.node}: ${c.status}`}
              aria-selected={selected === c.node}
              data-status={c.status}
              onClick={() => onSelect(selected === c.node ? null : c.node)}
              style={{
                height: 18,
                minWidth: 18,
                border:
                  selected === c.node
                    ? '2px solid var(--mantine-color-text)'
                    : '1px solid var(--mantine-color-default-border)',
                borderRadius: 3,
                background: `var(--mantine-color-${statusColor(c.status)}-light)`,
                color: 'var(--mantine-color-text)',
                fontSize: 11,
                overflow: 'hidden',
                whiteSpace: 'nowrap',
                textOverflow: 'ellipsis',
                cursor: 'pointer',
                padding: small ? 0 : '0 4px',
              }}
            >
              {small ? '' : `${c.node} · ${c.status}`}
            </button>
          ))}
        </div>
      </Box>
    </Stack>
  );
});

function ApprovalBanner({
  approval,
  executionId,
  onDone,
}: {
  approval: Approval;
  executionId: string;
  onDone: () => void;
}) {
  const me = useMe();
  const mine = useQuery({
    queryKey: ['approvals', 'pending'],
    queryFn: () => api<Approval[]>('/approvals'),
  });
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const mayDecide = mine.data?.some((a) => a.id === approval.id) ?? false;
  const approvals = approval.decisions.filter((d) => d.decision === 'approve').length;
  const decide = async (decision: 'approve' | 'reject', choice?: string) => {
    setBusy(true);
    setError(null);
    try {
      await api(`/executions/${executionId}/approvals`, {
        method: 'POST',
        body: { decision, ...(comment ? { comment } : {}), ...(choice ? { choice } : {}) },
      });
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Alert
      color="yellow"
      title={`Waiting for approval${approval.step ? ` at step ${approval.step}` : ''}`}
      data-testid="approval-banner"
    >
      <Stack gap="xs">
        <Text size="sm">
          Requested by {approval.requestedBy}: {approval.reason}. {approvals} of {approval.required}{' '}
          approval
          {approval.required === 1 ? '' : 's'} so far.
        </Text>
        {mayDecide ? (
          <>
            <Textarea
              label="Comment"
              value={comment}
              onChange={(e) => setComment(e.currentTarget.value)}
              autosize
              minRows={1}
              maw={480}
            />
            <Group>
              {approval.choices?.length ? (
                approval.choices.map((c) => (
                  <Button key={c} loading={busy} onClick={() => void decide('approve', c)}>
                    Approve: {c}
                  </Button>
                ))
              ) : (
                <Button loading={busy} onClick={() => void decide('approve')}>
                  Approve
                </Button>
              )}
              <Button
                color="red"
                variant="outline"
                loading={busy}
                onClick={() => void decide('reject')}
              >
                Reject
              </Button>
            </Group>
          </>
        ) : (
          <Text size="sm" data-testid="waiting-for">
            {approval.requestedBy === me.username ? 'You asked; someone else must decide. ' : ''}
            Waiting for {approval.approvers.join(', ') || 'an approver'}.
          </Text>
        )}
        {error && (
          <Text c="red" role="alert">
            {error}
          </Text>
        )}
      </Stack>
    </Alert>
  );
}

export function Execution() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [node, setNode] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const detail = useQuery({
    queryKey: ['execution', id],
    queryFn: () => api<ExecutionDetail>(`/executions/${encodeURIComponent(id)}`),
    refetchInterval: (q) =>
      q.state.data && FINAL_STATUSES.has(q.state.data.status) ? false : 1500,
  });
  const refresh = () => void client.invalidateQueries({ queryKey: ['execution', id] });
  if (detail.isLoading) return <Text aria-busy="true">Loading…</Text>;
  if (detail.error)
    return (
      <Text c="red" role="alert">
        {detail.error.message}
      </Text>
    );
  const e = detail.data!;
  const final = FINAL_STATUSES.has(e.status);
  const pending = e.approvals.find((a) => a.state === 'pending');
  const act = async (what: 'cancel' | 'rerun') => {
    setError(null);
    try {
      const r = await api<ExecutionT>(`/executions/${e.id}/${what}`, { method: 'POST' });
      if (what === 'rerun') void navigate(`/executions/${r.id}`);
      else refresh();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <Stack>
      <Group justify="space-between">
        <Group>
          <Title order={2}>
            <Anchor component={Link} to={`/runbooks/${encodeURIComponent(e.runbook)}`} inherit>
              {e.runbook}
            </Anchor>{' '}
            v{e.version}
          </Title>
          <Badge size="lg" color={statusColor(e.status)} data-testid="execution-status">
            {e.status}
          </Badge>
        </Group>
        <Group>
          {!final && (
            <Button color="red" variant="outline" onClick={() => void act('cancel')}>
              Cancel
            </Button>
          )}
          {final && (
            <Button variant="default" onClick={() => void act('rerun')}>
              Rerun
            </Button>
          )}
        </Group>
      </Group>
      <Text size="sm" c="dimmed">
        Started by {e.actor} via {e.trigger} · {new Date(e.createdAt).toLocaleString()}
        {e.finishedAt ? ` · finished ${new Date(e.finishedAt).toLocaleString()}` : ''}
        {e.rerunOf ? ' · rerun of ' : ''}
        {e.rerunOf && (
          <Anchor component={Link} to={`/executions/${e.rerunOf}`}>
            {e.rerunOf.slice(0, 8)}
          </Anchor>
        )}
      </Text>
      {e.error && <Alert color="red">{e.error}</Alert>}
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {pending && <ApprovalBanner approval={pending} executionId={e.id} onDone={refresh} />}
      <Card withBorder>
        <Title order={3} mb="sm">
          Nodes
        </Title>
        {e.targets.length === 0 ? (
          <Text c="dimmed">Runs on the Firebreak host only.</Text>
        ) : (
          <NodeGrid e={e} selected={node} onSelect={setNode} />
        )}
      </Card>
      {e.children.length > 0 && (
        <Card withBorder>
          <Title order={3} mb="sm">
            Child executions
          </Title>
          {e.children.map((c) => (
            <Text key={c.id}>
              <Anchor component={Link} to={`/executions/${c.id}`}>
                {c.runbook}
              </Anchor>{' '}
              (step {c.step}):{' '}
              <Badge color={statusColor(c.status)} variant="light">
                {c.status}
              </Badge>
            </Text>
          ))}
        </Card>
      )}
      <Card withBorder>
        <Title order={3} mb="sm">
          Output
        </Title>
        <LogViewer id={e.id} node={node} onNode={setNode} onEnd={refresh} />
      </Card>
    </Stack>
  );
}

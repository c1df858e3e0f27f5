import { Badge, Box, Button, Group, Select, Switch, Text } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import { apiText, type LogLine } from '../api';

const ROW = 20;

/**
 * Live output over SSE (the session cookie goes with it: same origin, no token in the URL),
 * virtualised so 10,000+ lines stay smooth: lines are kept in a ref and the view re-renders at
 * most once per animation frame. Filter by node, step and stream; follow (pauses when you
 * scroll up), download.
 */
export function LogViewer({
  id,
  node,
  onNode,
  onEnd,
}: {
  id: string;
  node: string | null;
  onNode: (n: string | null) => void;
  onEnd: () => void;
}) {
  const lines = useRef<LogLine[]>([]);
  const [version, setVersion] = useState(0);
  const [ended, setEnded] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);
  const [step, setStep] = useState<string | null>(null);
  const [stream, setStream] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const onEndRef = useRef(onEnd);
  onEndRef.current = onEnd;

  useEffect(() => {
    lines.current = [];
    setVersion((v) => v + 1);
    setEnded(null);
    const source = new EventSource(`/executions/${encodeURIComponent(id)}/stream`);
    let frame = 0;
    const schedule = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setVersion((v) => v + 1);
      });
    };
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.addEventListener('log', (e) => {
      lines.current.push(JSON.parse((e as MessageEvent<string>).data) as LogLine);
      schedule();
    });
    source.addEventListener('end', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { status: string };
      source.close(); // or EventSource reconnects
      setConnected(false);
      setEnded(data.status);
      schedule();
      onEndRef.current();
    });
    return () => {
      source.close();
      cancelAnimationFrame(frame);
    };
  }, [id]);

  const all = lines.current;
  const { nodes, steps, streams } = useMemo(() => {
    const n = new Set<string>();
    const s = new Set<string>();
    const st = new Set<string>();
    for (const l of all) {
      if (l.node) n.add(l.node);
      if (l.step) s.add(l.step);
      st.add(l.stream);
    }
    return { nodes: [...n].sort(), steps: [...s], streams: [...st].sort() };
  }, [all, version]);
  const shown = useMemo(
    () =>
      node || step || stream
        ? all.filter(
            (l) =>
              (!node || l.node === node) &&
              (!step || l.step === step) &&
              (!stream || l.stream === stream),
          )
        : all.slice(),
    [all, version, node, step, stream],
  );

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 30,
  });
  useEffect(() => {
    if (follow && shown.length > 0) virtualizer.scrollToIndex(shown.length - 1, { align: 'end' });
  }, [follow, shown.length, virtualizer]);

  const download = async () => {
    const q = new URLSearchParams({ format: 'text', limit: '10000' });
    if (node) q.set('node', node);
    if (step) q.set('step', step);
    const text = await apiText(`/executions/${encodeURIComponent(id)}/logs?${q.toString()}`);
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `execution-${id}.log`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  // The filter bar as one memoised element: scrolling re-renders this component (the virtualiser)
  // but not the selects, whose options can be 1,000 node names.
  const filters = useMemo(
    () => (
      <Group mb="xs" align="end" wrap="wrap">
        <Select
          label="Node"
          data={nodes}
          value={node}
          onChange={onNode}
          clearable
          placeholder="all"
          w={180}
        />
        <Select
          label="Step"
          data={steps}
          value={step}
          onChange={setStep}
          clearable
          placeholder="all"
          w={180}
        />
        <Select
          label="Stream"
          data={streams}
          value={stream}
          onChange={setStream}
          clearable
          placeholder="all"
          w={140}
        />
        <Switch
          label="Follow"
          checked={follow}
          onChange={(e) => setFollow(e.currentTarget.checked)}
        />
        <Button variant="default" size="xs" onClick={() => void download()}>
          Download
        </Button>
        <Text size="sm" c="dimmed" aria-live="polite" data-testid="log-state">
          {shown.length} of {all.length} lines ·{' '}
          {ended ? `ended: ${ended}` : connected ? 'live' : 'connecting…'}
        </Text>
        {ended && <Badge data-testid="log-ended">{ended}</Badge>}
      </Group>
    ),
    // (download reads id, node and step)
    [
      nodes,
      steps,
      streams,
      node,
      step,
      stream,
      follow,
      shown.length,
      all.length,
      ended,
      connected,
      id,
      onNode,
    ],
  );

  return (
    <Box>
      {filters}
      <div
        ref={scroller}
        role="log"
        aria-label="Execution output"
        aria-live="off"
        tabIndex={0}
        data-testid="log"
        onWheel={(e) => {
          if (e.deltaY < 0) setFollow(false);
        }}
        onKeyDown={(e) => {
          // The keys scroll it natively (it has the focus); going up pauses follow, End resumes.
          if (e.key === 'PageUp' || e.key === 'ArrowUp' || e.key === 'Home') setFollow(false);
          if (e.key === 'End') setFollow(true);
        }}
        style={{
          height: 420,
          overflow: 'auto',
          // Its own layout and paint boundary: the rows a scroll brings in re-lay only the log.
          contain: 'strict',
          fontFamily: 'var(--mantine-font-family-monospace)',
          fontSize: 12,
          background: 'var(--mantine-color-default-hover)',
          border: '1px solid var(--mantine-color-default-border)',
        }}
      >
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative', minWidth: '100%' }}>
          {virtualizer.getVirtualItems().map((item) => {
            const l = shown[item.index];
            return (
              <div
                key={item.key}
                data-testid="log-line"
                style={{
                  position: 'absolute',
                  top: 0,
                  left: 0,
                  height: ROW,
                  lineHeight: `${ROW}px`,
                  transform: `translateY(${item.start}px)`,
                  whiteSpace: 'pre',
                  paddingLeft: 6,
                  color:
                    l.stream === 'stderr'
                      ? 'var(--mantine-color-red-text)'
                      : l.stream === 'system'
                        ? 'var(--mantine-color-dimmed)'
                        : undefined,
                }}
              >
                <span style={{ color: 'var(--mantine-color-dimmed)' }}>
                  {(l.node ?? '-').padEnd(12)} {(l.step ?? '-').padEnd(14)}{' '}
                </span>
                {l.line}
              </div>
            );
          })}
        </div>
      </div>
    </Box>
  );
}

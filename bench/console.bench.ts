import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';

import { registerFleet, waitFinished } from '../test/support/fleet.js';
import { startSshd, type SshServer } from '../test/support/sshd.js';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../test/support/app.js';
import { ensureConsoleBuilt, launchChromium } from '../test/support/console.js';

/**
 * bench/console (`npm run bench -- bench/console.bench.ts`): the web console's execution page in
 * the system Chromium (headless, playwright-core), on two finished executions of the real server:
 *
 * - a run on the Firebreak host printing CONSOLE_BENCH_LINES (10,000) lines;
 * - `echo` on CONSOLE_BENCH_NODES (1,000) node names spread over CONSOLE_BENCH_SSHDS loopback
 *   sshd (node i on sshd i mod N, as bench/fanout does), every node's result real.
 *
 * For each page, measured in the browser: time from navigation to the first log line / the full
 * node grid / every line loaded (performance.now(), polled per animation frame), then long tasks
 * (PerformanceObserver 'longtask', > 50 ms on the main thread) and frame times (requestAnimation-
 * Frame deltas, p50/p95/max) while the log, and the page with the grid, are scrolled to the end
 * programmatically one viewport per frame; the JS heap and DOM node count (CDP
 * Performance.getMetrics). The 1,000-node page also times a click on a grid cell until the log
 * shows only that node's lines. Figures go to stdout and bench/results/console.json; the machine
 * may be shared, so the load average is printed with them. Not part of `npm test`.
 */
const LINES = Number(process.env.CONSOLE_BENCH_LINES ?? 10_000);
const NODES = Number(process.env.CONSOLE_BENCH_NODES ?? 1000);
const SSHDS = Number(process.env.CONSOLE_BENCH_SSHDS ?? 4);
const WAIT = { timeout: 120_000 };

const RUNBOOKS: Record<string, string> = {
  'bench-flood': `name: bench-flood
description: ${LINES} numbered lines on the Firebreak host
kind: diagnostic
steps:
  - name: flood
    on: local
    run: seq -f 'line %06g of the log flood, long enough to look like real output' 1 ${LINES}
`,
  'bench-fleet': `name: bench-fleet
description: One line from every node
kind: diagnostic
targets: { strategy: parallel, maxParallel: ${NODES} }
steps:
  - name: hello
    run: echo ok from $(hostname)
`,
};

const nodeName = (i: number) => `node-${String(i + 1).padStart(4, '0')}`;

interface FrameStats {
  frames: number;
  p50: number;
  p95: number;
  max: number;
  over50: number;
  longTasks: number;
  longTaskMs: number;
  longestTaskMs: number;
  ms: number;
  reachedEnd: boolean;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : 0;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Long tasks, recorded from the first script on every page. */
const INIT = `
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  // Every animation frame from the start until the bench says stop (the lines streaming in).
  window.__frames = [];
  const tick = (t) => {
    if (window.__framesDone || window.__frames.length > 100000) return;
    window.__frames.push(t);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
`;

/**
 * Scrolls `selector` (or the document) from the top to the end, one viewport per animation
 * frame, recording each frame's delta and the long tasks meanwhile; returns the raw numbers.
 */
async function scrollToEnd(page: Page, selector: string | null) {
  return page.evaluate(async (sel) => {
    const el = (sel ? document.querySelector(sel) : document.scrollingElement) as HTMLElement;
    const frame = () => new Promise<number>((r) => requestAnimationFrame(r));
    el.scrollTop = 0;
    await frame();
    await frame();
    const w = window as unknown as { __longTasks: Array<{ start: number; duration: number }> };
    const t0 = performance.now();
    const deltas: number[] = [];
    let last = await frame();
    // Bounded in time as well, so a page that never reaches its end says so instead of using up
    // the test's budget in silence.
    for (let i = 0; i < 5000 && performance.now() - t0 < 180_000; i++) {
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) break;
      el.scrollTop += el.clientHeight;
      const now = await frame();
      deltas.push(now - last);
      last = now;
    }
    // One more frame so the last rows render before the caller looks.
    const end = await frame();
    deltas.push(end - last);
    const tasks = w.__longTasks.filter((t) => t.start >= t0);
    return {
      deltas,
      tasks,
      ms: end - t0,
      scrollHeight: el.scrollHeight,
      reachedEnd: el.scrollTop + el.clientHeight >= el.scrollHeight - 1,
    };
  }, selector);
}

function frameStats(raw: Awaited<ReturnType<typeof scrollToEnd>>): FrameStats {
  return {
    frames: raw.deltas.length,
    p50: r1(pct(raw.deltas, 50)),
    p95: r1(pct(raw.deltas, 95)),
    max: r1(Math.max(...raw.deltas)),
    over50: raw.deltas.filter((d) => d > 50).length,
    longTasks: raw.tasks.length,
    longTaskMs: Math.round(raw.tasks.reduce((a, t) => a + t.duration, 0)),
    longestTaskMs: Math.round(Math.max(0, ...raw.tasks.map((t) => t.duration))),
    ms: Math.round(raw.ms),
    reachedEnd: raw.reachedEnd,
  };
}

/** CONSOLE_BENCH_PROFILE=1: a CPU profile of the page while the log scrolls (bench/results). */
const PROFILE = process.env.CONSOLE_BENCH_PROFILE === '1';

async function startProfile(cdp: CDPSession) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
}

/** Stops the profile, writes it (open it in Chrome DevTools) and prints the top self times. */
async function stopProfile(cdp: CDPSession, name: string) {
  const { profile } = await cdp.send('Profiler.stop');
  const file = join(import.meta.dirname, 'results', `console-${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const dt = new Map<number, number>();
  const times = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (times[i] ?? 0)));
  const self = new Map<string, number>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (dt.get(n.id) ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(
      ([k, us]) =>
        `    ${(us / 1000).toFixed(0).padStart(6)} ms  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`,
    );
  console.log(
    `  CPU profile ${file} (${(total / 1000).toFixed(0)} ms sampled), top self time:\n${top.join('\n')}`,
  );
}

const sleep = (ms: number) => new Promise<null>((r) => setTimeout(() => r(null), ms));

/**
 * What the page is doing when it stops answering: if its main thread still runs a script, the
 * state of the log; if not, where it is busy (the debugger paused there, the top stack frames).
 */
async function diagnose(cdp: CDPSession): Promise<string> {
  const alive = await Promise.race([
    cdp
      .send('Runtime.evaluate', {
        expression: `(() => { const l = document.querySelector('[data-testid=log]'); return JSON.stringify({ state: document.querySelector('[data-testid=log-state]')?.textContent, scrollTop: l?.scrollTop, scrollHeight: l?.scrollHeight, clientHeight: l?.clientHeight, lines: document.querySelectorAll('[data-testid=log-line]').length, hidden: document.hidden }); })()`,
        returnByValue: true,
      })
      .then((r) => `main thread answers: ${String(r.result.value)}`),
    sleep(5000),
  ]);
  if (alive) return alive;
  const paused = new Promise<string[]>((r) =>
    cdp.once('Debugger.paused', (e) =>
      r(
        e.callFrames
          .slice(0, 12)
          .map(
            (f) =>
              `${f.functionName || '(anonymous)'} ${f.url}:${f.location.lineNumber + 1}:${(f.location.columnNumber ?? 0) + 1}`,
          ),
      ),
    ),
  );
  await Promise.race([cdp.send('Debugger.enable'), sleep(5000)]);
  await Promise.race([cdp.send('Debugger.pause'), sleep(5000)]);
  const frames = await Promise.race([paused, sleep(10_000)]);
  if (!frames) return 'main thread busy, and the debugger could not pause it';
  return `main thread busy in:\n    ${frames.join('\n    ')}`;
}

/** `work`, or an error saying what the page was doing once it went `ms` without answering. */
async function guarded<T>(cdp: CDPSession, what: string, work: Promise<T>, ms = 120_000) {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void diagnose(cdp).then((d) =>
        reject(new Error(`${what}: no answer in ${ms / 1000} s; ${d}`)),
      );
    }, ms);
  });
  try {
    return await Promise.race([work, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

async function metrics(cdp: CDPSession) {
  // After a full collection: live objects and attached-or-still-referenced nodes, not garbage.
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics: m } = await cdp.send('Performance.getMetrics');
  const get = (n: string) => m.find((x) => x.name === n)?.value ?? 0;
  return { heapMb: r1(get('JSHeapUsedSize') / 1048576), domNodes: get('Nodes') };
}

/** ms since navigation start when `fn` first holds, checked every animation frame. */
const when = (page: Page, fn: string, arg?: unknown) =>
  page
    .waitForFunction(
      `(() => { const arg = ${JSON.stringify(arg ?? null)}; return (${fn})(arg) ? performance.now() : 0; })()`,
      undefined,
      { polling: 'raf', ...WAIT },
    )
    .then((h) => h.jsonValue() as Promise<number>);

describe('bench/console', () => {
  let t: TestApp;
  let sshds: SshServer[] = [];
  let browser: Browser;
  let context: BrowserContext;
  let dir: string;
  let base: string;
  const ids: Record<string, string> = {};
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    lines: LINES,
    nodes: NODES,
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-bench-console-'));
    for (const [name, text] of Object.entries(RUNBOOKS))
      writeFileSync(join(dir, `${name}.yaml`), text);
    [sshds, browser, t] = await Promise.all([
      Promise.all(Array.from({ length: SSHDS }, () => startSshd({ login: 'lean' }))),
      launchChromium(),
      startTestApp({ RUNBOOKS_DIR: dir, SSH_MAX_PARALLEL: '100', LOG_LEVEL: 'silent' }),
      ensureConsoleBuilt(),
    ]);
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}`;
    for (const s of sshds.slice(1)) await s.authorizeKey(sshds[0].publicKey);
    for (const s of sshds) s.privateKey = sshds[0].privateKey;
    const names = Array.from({ length: NODES }, (_, i) => nodeName(i));
    await registerFleet(t, sshds[0], names.slice(0, 1));
    for (let i = 1; i < names.length; i += 50)
      await Promise.all(
        names.slice(i, i + 50).map((n, j) => registerFleet(t, sshds[(i + j) % SSHDS], [n])),
      );
    for (const [runbook, nodes] of [
      ['bench-flood', undefined],
      ['bench-fleet', names],
    ] as const) {
      const res = await t
        .http()
        .post('/executions')
        .set('Authorization', t.adminAuth)
        .send({ runbook, ...(nodes ? { nodes } : {}) });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const done = await waitFinished(t, res.body.id as string, t.adminAuth, 600_000);
      expect(done.status, done.error ?? '').toBe('succeeded');
      ids[runbook] = res.body.id as string;
    }

    // bypassCSP: the console's CSP (script-src 'self') forbids the string predicates
    // waitForFunction evaluates; the page's own scripts are unchanged.
    context = await browser.newContext({
      viewport: { width: 1280, height: 720 },
      baseURL: base,
      bypassCSP: true,
    });
    await context.addInitScript(INIT);
    const page = await context.newPage();
    await page.goto('/');
    await page.getByLabel('Username').fill('admin');
    await page.getByRole('textbox', { name: /^Password/ }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('whoami').waitFor(WAIT);
    await page.close();
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await Promise.all(sshds.map((s) => s.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
    writeFileSync(
      join(import.meta.dirname, 'results', 'console.json'),
      JSON.stringify(results, null, 2) + '\n',
    );
  });

  /** Opens an execution page cold (a new tab, the session cookie), measuring until loaded. */
  async function open(id: string) {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    await page.goto(`/executions/${id}`, { waitUntil: 'commit' });
    const firstLineMs = await when(page, `() => document.querySelector('[data-testid=log-line]')`);
    console.log(`  first line at ${Math.round(firstLineMs)} ms`);
    // Every line loaded: the stream's end arrived and the viewer shows all it holds.
    const allLinesMs = await when(
      page,
      `() => { const s = document.querySelector('[data-testid=log-state]'); const m = s && /^(\\d+) of (\\d+) lines/.exec(s.textContent); return m && m[1] === m[2] && document.querySelector('[data-testid=log-ended]'); }`,
    );
    const total = Number(
      /^(\d+) of/.exec((await page.getByTestId('log-state').textContent()) ?? '')?.[1],
    );
    // Frame times while the lines streamed in (from the first frame until all were shown).
    const streamFrames = await page.evaluate((until) => {
      const w = window as unknown as { __frames: number[]; __framesDone: boolean };
      w.__framesDone = true;
      const f = w.__frames.filter((x) => x <= until);
      return f.slice(1).map((x, i) => x - f[i]);
    }, allLinesMs);
    const sorted = [...streamFrames].sort((a, b) => a - b);
    const loadTasks = (await page.evaluate(
      () => (window as unknown as { __longTasks: Array<{ duration: number }> }).__longTasks,
    )) as Array<{ duration: number }>;
    return {
      page,
      cdp,
      total,
      load: {
        firstLineMs: Math.round(firstLineMs),
        allLinesMs: Math.round(allLinesMs),
        loadLongTasks: loadTasks.length,
        loadLongTaskMs: Math.round(loadTasks.reduce((a, x) => a + x.duration, 0)),
        loadLongestTaskMs: Math.round(Math.max(0, ...loadTasks.map((x) => x.duration))),
        streamFrames: {
          frames: streamFrames.length,
          p50: r1(pct(sorted, 50)),
          p95: r1(pct(sorted, 95)),
          max: r1(sorted[sorted.length - 1] ?? 0),
        },
      },
    };
  }

  async function loadAverage() {
    const { loadavg } = await import('node:os');
    return loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  }

  it(`a run with ${LINES} log lines: render, then scroll the log to the end`, async () => {
    const load = await loadAverage();
    const t0 = Date.now();
    const phase = <T>(name: string, value: T): T => {
      console.log(
        `  [${Math.round((Date.now() - t0) / 1000)} s] ${name}: ${JSON.stringify(value)}`,
      );
      return value;
    };
    const { page, cdp, total, load: l } = await open(ids['bench-flood']);
    phase('load', { total, ...l });
    expect(total).toBeGreaterThanOrEqual(LINES);
    const loaded = phase('loaded', await guarded(cdp, 'heap metrics', metrics(cdp)));
    if (PROFILE) await startProfile(cdp);
    const scroll = phase(
      'scroll',
      frameStats(
        await guarded(cdp, 'scrolling the log', scrollToEnd(page, '[data-testid=log]'), 240_000),
      ),
    );
    if (PROFILE) await stopProfile(cdp, 'flood-scroll');
    // The work was done: the last output line is on screen.
    await page
      .getByTestId('log-line')
      .filter({ hasText: `line ${String(LINES).padStart(6, '0')} of the log flood` })
      .waitFor(WAIT);
    const after = await metrics(cdp);
    results.flood = { total, loadAverage: load, ...l, loaded, scroll, after };
    console.log(
      `\nconsole, ${total} log lines (load average ${load}):\n` +
        `  first line ${l.firstLineMs} ms, all lines ${l.allLinesMs} ms; ${l.loadLongTasks} long tasks while loading (${l.loadLongTaskMs} ms, longest ${l.loadLongestTaskMs} ms)\n` +
        `  frames while the lines streamed in: ${l.streamFrames.frames}, p50 ${l.streamFrames.p50} / p95 ${l.streamFrames.p95} / max ${l.streamFrames.max} ms\n` +
        `  heap ${loaded.heapMb} MB, ${loaded.domNodes} DOM nodes\n` +
        `  scroll the log to the end: ${scroll.frames} frames in ${scroll.ms} ms, frame p50 ${scroll.p50} / p95 ${scroll.p95} / max ${scroll.max} ms, ${scroll.over50} over 50 ms; ${scroll.longTasks} long tasks (${scroll.longTaskMs} ms, longest ${scroll.longestTaskMs} ms)\n` +
        `  after: heap ${after.heapMb} MB, ${after.domNodes} DOM nodes\n`,
    );
    await page.close();
  });

  it(`a run across ${NODES} nodes: render the grid, scroll the page and the log, filter by a node`, async () => {
    const load = await loadAverage();
    // Each figure is printed and kept as soon as it is measured, so a slow page still leaves
    // what it reached (bench/results/console.json `fleetPhases`).
    const phases: Record<string, unknown> = {};
    results.fleetPhases = phases;
    const t0 = Date.now();
    const phase = <T>(name: string, value: T): T => {
      phases[name] = value;
      console.log(
        `  [${Math.round((Date.now() - t0) / 1000)} s] ${name}: ${JSON.stringify(value)}`,
      );
      return value;
    };
    const { page, cdp, total, load: l } = await open(ids['bench-fleet']);
    phase('load', { total, ...l });
    expect(total).toBeGreaterThanOrEqual(NODES);
    const gridMs = await when(
      page,
      `(n) => document.querySelectorAll('[data-testid=node-grid] [role=gridcell]').length === n`,
      NODES,
    );
    phase('gridMs', Math.round(gridMs));
    const loaded = phase('loaded', await metrics(cdp));
    const pageScroll = phase('pageScroll', frameStats(await scrollToEnd(page, null)));
    const logScroll = phase('logScroll', frameStats(await scrollToEnd(page, '[data-testid=log]')));
    // A click on one node's cell until the log shows only its lines.
    const target = nodeName(NODES - 1);
    const filterMs = await page.evaluate(async (name) => {
      const cell = document.querySelector(`[role=gridcell][aria-label^="${name}:"]`) as HTMLElement;
      const state = document.querySelector('[data-testid=log-state]')!;
      const t0 = performance.now();
      cell.click();
      for (;;) {
        await new Promise((r) => requestAnimationFrame(r));
        const [shown, all] = (state.textContent ?? '').split(' lines')[0].split(' of ').map(Number);
        const lines = [...document.querySelectorAll('[data-testid=log-line]')];
        if (
          shown > 0 &&
          shown < all &&
          lines.length === shown &&
          lines.every((x) => (x.textContent ?? '').startsWith(name))
        )
          return performance.now() - t0;
        if (performance.now() - t0 > 60_000) throw new Error('the log was never filtered');
      }
    }, target);
    phase('filterMs', Math.round(filterMs));
    const after = await metrics(cdp);
    results.fleet = {
      nodes: NODES,
      total,
      loadAverage: load,
      ...l,
      gridMs: Math.round(gridMs),
      loaded,
      pageScroll,
      logScroll,
      filterMs: Math.round(filterMs),
      after,
    };
    console.log(
      `\nconsole, ${NODES} nodes, ${total} log lines (load average ${load}):\n` +
        `  grid of ${NODES} cells ${Math.round(gridMs)} ms, first line ${l.firstLineMs} ms, all lines ${l.allLinesMs} ms; ${l.loadLongTasks} long tasks while loading (${l.loadLongTaskMs} ms, longest ${l.loadLongestTaskMs} ms)\n` +
        `  heap ${loaded.heapMb} MB, ${loaded.domNodes} DOM nodes\n` +
        `  scroll the page (grid) to the end: ${pageScroll.frames} frames, p50 ${pageScroll.p50} / p95 ${pageScroll.p95} / max ${pageScroll.max} ms; ${pageScroll.longTasks} long tasks (longest ${pageScroll.longestTaskMs} ms)\n` +
        `  scroll the log to the end: ${logScroll.frames} frames, p50 ${logScroll.p50} / p95 ${logScroll.p95} / max ${logScroll.max} ms; ${logScroll.longTasks} long tasks (longest ${logScroll.longestTaskMs} ms)\n` +
        `  click ${target}'s cell → log filtered to it: ${Math.round(filterMs)} ms\n` +
        `  after: heap ${after.heapMb} MB, ${after.domNodes} DOM nodes\n`,
    );
    await page.close();
  }, 1_500_000);
});

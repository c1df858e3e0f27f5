import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lintPaths } from '../cli/lint.js';
import {
  activeFreeze,
  parseFreezes,
  windowAt,
  type FreezeDefinition,
  checkFreeze,
} from './freezes.js';

const remediation = { name: 'restart', kind: 'remediation' as const, tags: ['web'] };
const prod = [{ name: 'web-1', attributes: { environment: 'production' } }];

describe('change freezes: the file and the windows', () => {
  it('names file, line and field for each problem', () => {
    const r = parseFreezes(
      'freezes.yaml',
      `freezes:
  - name: backwards
    start: 2030-01-02T00:00:00Z
    end: 2030-01-01T00:00:00Z
  - name: half
    cron: '0 18 * * 5'
  - name: both
    start: 2030-01-01T00:00:00Z
    end: 2030-01-02T00:00:00Z
    cron: '0 18 * * 5'
    duration: 1h
  - name: bad-cron
    cron: '0 25 * * *'
    duration: 1h
    scope: { kinds: [remediation] }
`,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => [p.path, p.line])).toEqual([
      ['freezes[0].end', 4],
      ['freezes[1]', 5],
      ['freezes[2]', 7],
      ['freezes[3].cron', 13],
    ]);
    // An unknown key is a schema problem, with a suggestion.
    const unknown = parseFreezes(
      'f.yaml',
      `freezes:\n  - name: x-y\n    cron: '@daily'\n    duration: 1h\n    scope: { nodez: {} }\n`,
    );
    expect(unknown.ok ? [] : unknown.problems.map((p) => [p.path, p.line, p.message])).toEqual([
      ['freezes[0].scope.nodez', 5, expect.stringMatching(/unknown key "nodez".*nodes/)],
    ]);
    const cron = parseFreezes(
      'f.yaml',
      `freezes:\n  - { name: bad-cron, cron: '0 25 * * *', duration: 1h, timezone: UTC }\n`,
    );
    expect(cron.ok ? [] : cron.problems.map((p) => [p.path, p.message])).toEqual([
      ['freezes[0].cron', expect.stringMatching(/hour: 25/)],
    ]);
  });

  it('a recurring window in a zone: from each cron time for its duration; the latest end wins', () => {
    const weekend: FreezeDefinition = {
      name: 'weekend',
      cron: '0 18 * * 5', // Friday 18:00 Berlin
      duration: '62h',
      timezone: 'Europe/Berlin',
    };
    // Friday 2026-06-05 18:00 CEST = 16:00Z; ends Monday 08:00 CEST = 06:00Z.
    expect(windowAt(weekend, new Date('2026-06-05T15:59:59Z'))).toBeNull();
    expect(windowAt(weekend, new Date('2026-06-07T12:00:00Z'))).toEqual({
      start: new Date('2026-06-05T16:00:00Z'),
      until: new Date('2026-06-08T06:00:00Z'),
    });
    expect(windowAt(weekend, new Date('2026-06-08T06:00:00Z'))).toBeNull();
    const oneOff: FreezeDefinition = {
      name: 'long',
      start: '2026-06-01T00:00:00Z',
      end: '2026-06-30T00:00:00Z',
      scope: { kinds: ['remediation'], nodes: { attributes: { environment: 'production' } } },
    };
    const at = new Date('2026-06-07T12:00:00Z');
    expect(activeFreeze([weekend, oneOff], remediation, prod, at)?.name).toBe('long');
    // Scope: staging nodes, and diagnostics unless included, are out of it.
    expect(
      activeFreeze(
        [oneOff],
        remediation,
        [{ name: 'w', attributes: { environment: 'staging' } }],
        at,
      ),
    ).toBeNull();
    expect(activeFreeze([oneOff], { ...remediation, kind: 'diagnostic' }, prod, at)).toBeNull();
    expect(
      activeFreeze(
        [{ ...weekend, includeDiagnostics: true }],
        { ...remediation, kind: 'diagnostic' },
        prod,
        at,
      )?.name,
    ).toBe('weekend');
    expect(
      activeFreeze([{ ...weekend, scope: { tags: ['db'] } }], remediation, prod, at),
    ).toBeNull();
  });

  it('firebreak lint checks freezes.yaml beside the runbooks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'firebreak-freeze-lint-'));
    try {
      writeFileSync(
        join(dir, 'freezes.yaml'),
        `freezes:\n  - { name: x-y, start: '2030-01-02T00:00:00Z', end: '2030-01-01T00:00:00Z' }\n`,
      );
      const r = await lintPaths([dir], dir);
      expect(r.problems).toEqual([
        expect.objectContaining({ file: 'freezes.yaml', path: 'freezes[0].end', line: 2 }),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('change freezes through the API: checked exactly like the file', () => {
  it('names the field path in the freeze and why', () => {
    const problems = (body: unknown) => {
      const r = checkFreeze(body);
      return r.ok ? [] : r.problems;
    };
    expect(
      problems({ name: 'x1', start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' }),
    ).toEqual([{ path: 'end', message: expect.stringMatching(/must be after start/) }]);
    const zoned = problems({
      name: 'x1',
      cron: '0 9 * * *',
      duration: '1h',
      timezone: 'Mars/Base',
    });
    expect(zoned).toEqual([{ path: 'timezone', message: expect.stringMatching(/zone/i) }]);
    expect(problems({ name: 'x1', cron: '0 99 * * *', duration: '1h' })).toEqual([
      { path: 'cron', message: expect.any(String) },
    ]);
    expect(problems({ name: 'x1', cron: '0 9 * * *', duration: '1h', scop: {} })).toEqual([
      { path: 'scop', message: expect.stringMatching(/unknown key "scop".*scope/) },
    ]);
    expect(
      problems({ name: 'x1', cron: '0 9 * * *', duration: '1h', scope: { kinds: ['x'] } }),
    ).toEqual([{ path: 'scope.kinds[0]', message: expect.any(String) }]);
    expect(problems('nope')).toEqual([{ path: '(body)', message: expect.any(String) }]);
    expect(checkFreeze({ name: 'ok-freeze', cron: '0 16 * * 5', duration: '64h' })).toMatchObject({
      ok: true,
    });
  });
});

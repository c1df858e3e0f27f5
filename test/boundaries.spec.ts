import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/**
 * The module boundaries in .dependency-cruiser.cjs, as `npm run lint` runs them, on a copy of
 * the real src/ — once as it is, and once with a forbidden import added — so a rule that stopped
 * matching would fail here, not pass silently.
 */
describe('module boundaries (dependency-cruiser, part of npm run lint)', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-boundaries-'));
    cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
    for (const f of ['tsconfig.json', '.dependency-cruiser.cjs', 'package.json'])
      cpSync(join(ROOT, f), join(dir, f));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cruise = () =>
    spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs'),
        'src',
        '--config',
        '.dependency-cruiser.cjs',
      ],
      { cwd: dir, encoding: 'utf8' },
    );

  it('the tree as it is has no violations', () => {
    const r = cruise();
    expect(r.stdout + r.stderr).toContain('no dependency violations found');
    expect(r.status).toBe(0);
  });

  const probes: Array<[string, string, string]> = [
    [
      'src/executions/probe.ts',
      "import '../incidents/incidents.service.js';",
      'engine-knows-no-trigger',
    ],
    [
      'src/runbooks/probe.ts',
      "import '../executions/executions.service.js';",
      'runbooks-not-executions',
    ],
    ['src/nodes/probe.ts', "import '../runbooks/runbooks.service.js';", 'nodes-not-runbooks'],
    ['src/audit/probe.ts', "import '../nodes/nodes.module.js';", 'audit-imports-no-feature'],
    ['src/common/probe.ts', "import '../auth/auth.module.js';", 'common-imports-no-feature'],
    [
      'src/incidents/probe.ts',
      "import { ExecutionEntity } from '../executions/execution.entity.js';\nexport const e = ExecutionEntity;",
      'no-foreign-entities',
    ],
  ];
  for (const [file, source, rule] of probes) {
    it(`${file} importing across a boundary fails with ${rule}`, () => {
      writeFileSync(join(dir, file), `${source}\n`);
      try {
        const r = cruise();
        expect(r.status).not.toBe(0);
        expect(r.stdout).toContain(`error ${rule}: ${file}`);
      } finally {
        rmSync(join(dir, file));
      }
    });
  }
});

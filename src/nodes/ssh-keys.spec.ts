import { generateKeyPairSync } from 'node:crypto';
import { FINGERPRINT_RE, inspectPrivateKey } from './ssh-keys.js';

// Throwaway test keys; the expected fingerprints are what `ssh-keygen -lf` printed for them.
const ED25519_OPENSSH = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBSaa+hCfoLBem9o8+mggSuumQZTtJJOTx062d79IP6jgAAAIgORoe9DkaH
vQAAAAtzc2gtZWQyNTUxOQAAACBSaa+hCfoLBem9o8+mggSuumQZTtJJOTx062d79IP6jg
AAAEDN4xiYru/Iil+oTymGbP0XwQLAyXtxhfbQsN6NvTwy2FJpr6EJ+gsF6b2jz6aCBK66
ZBlO0kk5PHTrZ3v0g/qOAAAABHRlc3QB
-----END OPENSSH PRIVATE KEY-----
`;
const ED25519_OPENSSH_ENCRYPTED = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBVlJKRTM
vrjWpUXqjvFD7iAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIBrJRq/MwDx+tYed
y4ng7hMWoWfzPo2BU7oEq58nK1kTAAAAkBgh15bvRt0TZ02Knh0kgLZy4OB5DfynSXB4/q
YYj6oYBNwo+xiopZro5LCvki3Q57r9JMPl08v9zh862G/s/AM1tfdeem7/PEtWrbblQRPI
qa9+wPpoaQst7/n0C6oNUSUwsBVrwSrP45kWH7BzcXArefVPxgKepNd0M6EvQQz8imIr1D
Z8yRFJx//MkLU5HA==
-----END OPENSSH PRIVATE KEY-----
`;
const ECDSA_PEM = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIDuYSZJiItcKFcj6M0NeesQYzihnzIoVxjDDsCURS4xVoAoGCCqGSM49
AwEHoUQDQgAEZfY3pLhiXIfnE8Pd3RZHD987S9Ip78WOlYL6xblMc2JadvF3Jzyl
ny5Sdl2eUZ1FcX6NiZb611Q3Jc/hZ023Yg==
-----END EC PRIVATE KEY-----
`;
const RSA_PEM = `-----BEGIN RSA PRIVATE KEY-----
MIICXwIBAAKBgQCTQuTbOLiCS7YrvABoeTOqseENvrfmPT3Dkri57JCKHmYwRdea
Zqug36o3KPcXuw+5R+X33nOY53FMpcks3pAbxMBDxshgNCI04qgnIRZqOBqlnEjK
w7Fidv6MZdQBu++NU27lQrmM7BPg99ugMmYgeOYxGNsMwH92csSDwVy2DQIDAQAB
AoGBAIEG5Zqm0hNn3w/mw7zGJVz0SipO5raXBhzr22scOXCrPgIhz8z7FHn6Pxvh
is6CGj7PHlHV2RcqAn2T7Pahc0VtF3z/SDyxo4y9qGDez/pILaPTqsL1cbpklqID
3JrARhW62eZ7xgWg4IkRpJE3whJ0ptgnV3yg++I86uGJ7hwJAkEAw5iOJDXBphYY
VGSMhaXdv5s6nOu6c+tS6jB4FAx8kSuDsnYIIXZkPbI7DOFHlGNEcu/vD5BCymt/
INuKerW7wwJBAMC9GF9PfNDLcqN67+D1FjYSERHBal3k7iE5Ob+b/w0I3RZFA1+/
G+rw8cvH6TIm8X/xJ3bnUTQpMNGLQD9MOe8CQQCKBlJv3PtdH4RlsVq0SRrVRk4z
Q+mcOXiWSEPEKheRPbq+qaoNKwWLwAUJjsO7Q92emhAB1JQ9UWQxpJrxAuOPAkEA
n516C6SGV1vFKoHrGj+eD1VS8YNeFTg7xSPhIT+NLzxB6+lna+mWszCq7fo2syPx
J+WMqznR1AKwvTg3ErSL3QJBAJ9Z24FarZlgf/+WcHOsN9v5uTMaUJWGcNY3z/cN
c4ouYxv0dUDOzeIu5u2bwxBv09/GCVgkIMSY1H6u26pg7HU=
-----END RSA PRIVATE KEY-----
`;
const ECDSA_PEM_ENCRYPTED = `-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,4AE409BE3EAD81AF8E77B97696ED79FF

i65njWIKgw5fuqHX1/yF5Ir9SRZHoMTwtCe+bBTYkiINFQVoBbCQMSDXJ9/ZuWxi
DqHikMOIs3O9USxXa/buhnvo3daE8JvzXBlCtGCRn73SQEGrJtnQGGuvtf9cuHs3
bksA4hONQFYm8mv1Y4u5oFEgnmH94FQUIiP78Qehihg=
-----END EC PRIVATE KEY-----
`;

describe('private keys: check and fingerprint (as ssh-keygen -lf)', () => {
  it.each([
    [
      'ed25519, OpenSSH',
      ED25519_OPENSSH,
      undefined,
      'ssh-ed25519',
      false,
      'SHA256:LZMVckPigPlLEkdMsx0YjjANiL4Kaqk2BtVFdYLLKnE',
    ],
    [
      'ed25519, OpenSSH, encrypted',
      ED25519_OPENSSH_ENCRYPTED,
      'correct horse',
      'ssh-ed25519',
      true,
      'SHA256:xCRgyY2CJJSsKNmt1wW2MLFC05tzfGRIsEWDq4iyKu0',
    ],
    [
      'ECDSA P-256, PEM',
      ECDSA_PEM,
      undefined,
      'ecdsa-sha2-nistp256',
      false,
      'SHA256:jXk6b690RhsOH8bYGcOd0L2PCbydCeObCS5t10wAPHs',
    ],
    [
      'RSA, PKCS#1 PEM',
      RSA_PEM,
      undefined,
      'ssh-rsa',
      false,
      'SHA256:0JDGlbyzwSAp8IvKsadVhXvWzPPSTYMBHmRkKUaLCno',
    ],
    [
      'ECDSA, encrypted PEM',
      ECDSA_PEM_ENCRYPTED,
      'pw-pem',
      'ecdsa-sha2-nistp256',
      true,
      'SHA256:g9wniHsWkGidnF9mdBFqlXRyw5l4fK92Bm0qJPzxug8',
    ],
  ])('%s', (_, key, passphrase, keyType, encrypted, fingerprint) => {
    const r = inspectPrivateKey(key, passphrase);
    expect(r).toEqual({
      ok: true,
      info: expect.objectContaining({ keyType, encrypted, fingerprint }),
    });
  });

  it('PKCS#8 keys from node:crypto (ed25519, RSA) get a well-formed fingerprint', () => {
    for (const type of ['ed25519', 'rsa'] as const) {
      const { privateKey } = generateKeyPairSync(
        type as 'ed25519',
        {
          ...(type === 'rsa' ? { modulusLength: 1024 } : {}),
          privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
          publicKeyEncoding: { format: 'pem', type: 'spki' },
        } as never,
      ) as unknown as { privateKey: string };
      const r = inspectPrivateKey(privateKey);
      expect(r.ok && r.info.fingerprint).toMatch(FINGERPRINT_RE);
    }
  });

  it('an encrypted key needs its passphrase; a wrong one is refused for PEM keys', () => {
    expect(inspectPrivateKey(ED25519_OPENSSH_ENCRYPTED)).toEqual({
      ok: false,
      message: 'the key is encrypted: send its passphrase too',
    });
    expect(inspectPrivateKey(ECDSA_PEM_ENCRYPTED)).toMatchObject({ ok: false });
    expect(inspectPrivateKey(ECDSA_PEM_ENCRYPTED, 'wrong')).toEqual({
      ok: false,
      message: 'the passphrase does not decrypt this key',
    });
  });

  it('says what is wrong with things that are not private keys', () => {
    expect(inspectPrivateKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJpr6EJ test')).toEqual({
      ok: false,
      message: 'this is a public key: send the private key',
    });
    expect(inspectPrivateKey('hunter2')).toEqual({
      ok: false,
      message: 'not a private key in OpenSSH or PEM format',
    });
    const damaged = ED25519_OPENSSH.replace('b3BlbnNz', 'AAAAAAAA');
    expect(inspectPrivateKey(damaged)).toEqual({
      ok: false,
      message: 'not a valid OpenSSH private key (damaged or truncated)',
    });
    const truncated = RSA_PEM.split('\n')
      .filter((_, i) => i < 4 || i > 10)
      .join('\n');
    expect(inspectPrivateKey(truncated)).toEqual({
      ok: false,
      message: 'not a valid PEM private key (damaged or unsupported)',
    });
  });
});

import { utils } from 'ssh2';

/**
 * A fresh ed25519 key pair in OpenSSH format that ssh2 can read back: about 1 in 300 keys from
 * ssh2's own `utils.generateKeyPairSync('ed25519')` fail its `parseKey` ("Malformed OpenSSH
 * private key"), which made tests that need "some other key" fail at random.
 */
export function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

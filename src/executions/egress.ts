import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, fetch as undiciFetch, type RequestInit, type Response } from 'undici';
import { globToRegExp } from '../nodes/node-filter.js';

/**
 * Addresses an `http` step may never reach, whatever the runbook says: link-local (where cloud
 * metadata services answer: 169.254.169.254, fd00:ec2::254 on AWS's IPv6) and the unspecified
 * addresses. Spinnaker's SSRF (NFLX-2020-003) came from a webhook stage reaching them.
 */
const BLOCKED = new BlockList();
BLOCKED.addSubnet('169.254.0.0', 16, 'ipv4');
BLOCKED.addSubnet('0.0.0.0', 8, 'ipv4');
BLOCKED.addSubnet('fe80::', 10, 'ipv6');
BLOCKED.addAddress('fd00:ec2::254', 'ipv6');
BLOCKED.addAddress('::', 'ipv6');

/** Why the policy refuses an address (null: allowed). IPv4-mapped IPv6 is judged as IPv4. */
export function blockedAddress(address: string): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  return BLOCKED.check(ip, family)
    ? `${address} is a link-local, metadata or unspecified address`
    : null;
}

export class EgressDenied extends Error {
  constructor(message: string) {
    super(`egress policy: ${message}`);
    this.name = 'EgressDenied';
  }
}

type Resolve = (
  hostname: string,
  cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolve: Resolve = (hostname, cb) => dnsLookup(hostname, { all: true }, cb);

/**
 * Where `http` and `check.http` steps may go. The host must match `allowHosts` (globs such as
 * `*.internal.example.com`; empty: any host), and every address it resolves to must be allowed
 * (`blockedAddress`). The check happens in the connection's own DNS lookup, so the address
 * checked is the address connected to (no resolve-then-rebind), and a refused request sends
 * nothing.
 */
export class EgressPolicy {
  private readonly allow: RegExp[];
  private readonly agent: Agent;

  constructor(allowHosts: readonly string[] = [], resolve: Resolve = systemResolve) {
    this.allow = allowHosts.map((h) => globToRegExp(h.toLowerCase()));
    this.agent = new Agent({
      connect: {
        lookup: (hostname, options, cb) => {
          resolve(hostname, (err, addresses) => {
            if (err) return cb(err, '', 4);
            const denied = addresses.map((a) => blockedAddress(a.address)).find(Boolean);
            if (denied) return cb(new EgressDenied(`${hostname}: ${denied}`), '', 4);
            if ((options as { all?: boolean }).all) return cb(null, addresses);
            const first = addresses[0];
            cb(null, first.address, first.family);
          });
        },
      },
    });
  }

  /** Refuses a URL by its host before any connection (IP literals never reach the lookup). */
  check(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new EgressDenied(`${url.protocol} URLs are not allowed (http and https only)`);
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (this.allow.length && !this.allow.some((re) => re.test(host)))
      throw new EgressDenied(`${host} is not in HTTP_ALLOW_HOSTS`);
    if (isIP(host)) {
      const denied = blockedAddress(host);
      if (denied) throw new EgressDenied(denied);
    }
  }

  /** fetch under the policy: checked, then connected through the checking lookup. */
  async fetch(url: string, init: RequestInit): Promise<Response> {
    this.check(new URL(url));
    try {
      return await undiciFetch(url, { ...init, dispatcher: this.agent });
    } catch (err) {
      // fetch wraps connection errors as "fetch failed"; the policy's reason is its cause.
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof EgressDenied) throw cause;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

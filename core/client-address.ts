// The client's address: the TCP peer's, or behind a trusted reverse proxy the one its X-Forwarded-For names.
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import ipaddr from 'ipaddr.js';

/** (peer address as uWS prints it, X-Forwarded-For header or '') → the client's address. */
export type ClientAddressResolver = (peer: string, forwardedFor: string | undefined) => string;

const MAPPED_V4 = /^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/**
 * uWS prints addresses in full IPv6 form, an IPv4 client on a dual-stack socket as
 * 0000:0000:0000:0000:0000:ffff:7f00:0001: written here as 127.0.0.1, so limits, logs and trust lists see one form.
 */
export function canonicalAddress(text: string): string {
  const m = MAPPED_V4.exec(text);
  if (m) {
    const hi = parseInt(m[1]!, 16);
    const lo = parseInt(m[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  if (text.startsWith('::ffff:') && text.includes('.')) return text.slice(7);
  if (text.includes(':')) {
    // Compress a full-form IPv6 address (drop leading zeros of each group, collapse the longest zero run).
    const groups = text.split(':');
    if (groups.length === 8) {
      const short = groups.map((g) => g.replace(/^0+(?=.)/, '').toLowerCase());
      let best = -1;
      let bestLen = 1;
      for (let i = 0; i < 8; ) {
        if (short[i] !== '0') {
          i++;
          continue;
        }
        let j = i;
        while (j < 8 && short[j] === '0') j++;
        if (j - i > bestLen) {
          best = i;
          bestLen = j - i;
        }
        i = j;
      }
      if (best < 0) return short.join(':');
      return `${short.slice(0, best).join(':')}::${short.slice(best + bestLen).join(':')}`;
    }
  }
  return text;
}

/**
 * Checks the trust list (addresses, CIDR ranges, or proxy-addr's names "loopback", "linklocal", "uniquelocal")
 * and returns the resolver; throws a TypeError naming a bad entry.
 */
export function clientAddressResolver(trusted: readonly string[]): ClientAddressResolver {
  if (trusted.length === 0) return (peer) => canonicalAddress(peer);
  const trust = proxyaddr.compile([...trusted]);
  return (peer, forwardedFor) => {
    const req = { socket: { remoteAddress: canonicalAddress(peer) }, headers: { 'x-forwarded-for': forwardedFor ?? '' } };
    // The rightmost address not in the trust list: what a trusted proxy saw, not what the client claims.
    const address = proxyaddr(req as unknown as Parameters<typeof proxyaddr>[0], trust);
    // A header the proxy passed on unchecked may hold anything: then the proxy itself is all that is known.
    return isIP(address) ? canonicalAddress(address) : req.socket.remoteAddress;
  };
}

/**
 * The key an address counts under in per-address limits: an IPv4 address, or an IPv6 address's /64 (one host
 * commonly holds a whole /64 and could rotate through it).
 */
export function addressBucket(ip: string): string {
  if (!ipaddr.IPv6.isValid(ip) || ipaddr.IPv4.isValid(ip)) return ip;
  const parsed = ipaddr.IPv6.parse(ip);
  if (parsed.isIPv4MappedAddress()) return parsed.toIPv4Address().toString();
  return `${parsed.parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
}

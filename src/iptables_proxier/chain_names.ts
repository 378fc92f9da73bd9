/**
 * kube-proxy's iptables-mode chain names (`pkg/proxy/iptables/proxier.go`): a prefix and the
 * first 16 characters of the standard base32 encoding of a SHA-256 hash, so that names stay
 * within iptables' 28-character limit and are the same on every node and every run. They
 * must be byte-identical to kube-proxy's so an operator's tooling and habits carry over.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** The prefixes of per-service chains; every chain that starts with one is ours. */
export const SERVICE_CHAIN_PREFIXES: readonly string[] = [
  "KUBE-SVC-",
  "KUBE-SVL-",
  "KUBE-SEP-",
  "KUBE-FW-",
  "KUBE-EXT-",
];

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (Go's `base32.StdEncoding`) of the first bytes needed for `chars`. */
function base32Prefix(bytes: Uint8Array, chars: number): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
    if (out.length === chars) break;
  }
  return out;
}

function hash16(text: string): string {
  return base32Prefix(createHash("sha256").update(text, "utf8").digest(), 16);
}

/**
 * kube-proxy's `portProtoHash`: the 16-character hash of a service port name and protocol.
 *
 * @example
 * ```ts
 * portProtoHash("ns1/svc1:p80", "tcp"); // "XPGD46QRK7WJZT7O"
 * ```
 */
export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol);
}

/**
 * `KUBE-SVC-<hash>`: the service port's chain for the Cluster traffic policy.
 *
 * @example
 * ```ts
 * serviceChain("ns1/svc1:p80", "tcp"); // "KUBE-SVC-XPGD46QRK7WJZT7O"
 * ```
 */
export function serviceChain(servicePortName: string, protocol: string): string {
  return `KUBE-SVC-${portProtoHash(servicePortName, protocol)}`;
}

/** `KUBE-SVL-<hash>`: the service port's chain for the Local traffic policy. */
export function localServiceChain(servicePortName: string, protocol: string): string {
  return `KUBE-SVL-${portProtoHash(servicePortName, protocol)}`;
}

/** `KUBE-FW-<hash>`: the load balancer source-range filter of a service port. */
export function firewallChain(servicePortName: string, protocol: string): string {
  return `KUBE-FW-${portProtoHash(servicePortName, protocol)}`;
}

/** `KUBE-EXT-<hash>`: where external traffic (NodePort, LB, external IPs) of a port goes. */
export function externalChain(servicePortName: string, protocol: string): string {
  return `KUBE-EXT-${portProtoHash(servicePortName, protocol)}`;
}

/**
 * `KUBE-SEP-<hash>`: one endpoint of a service port; `endpoint` is `ip:port` as Go's
 * `net.JoinHostPort` writes it (`[fd00::1]:80` for IPv6).
 *
 * @example
 * ```ts
 * endpointChain("ns1/svc1:p80", "tcp", "10.180.0.1:80"); // "KUBE-SEP-SXIVWICOYRO3J4NJ"
 * ```
 */
export function endpointChain(servicePortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(servicePortName + protocol + endpoint)}`;
}

/** The four per-port chain names of one service port, from one hash. */
export interface PortChains {
  readonly svc: string;
  readonly svl: string;
  readonly ext: string;
  readonly fw: string;
}

/**
 * {@linkcode serviceChain}, {@linkcode localServiceChain}, {@linkcode externalChain} and
 * {@linkcode firewallChain} at once (they share the hash).
 *
 * @example
 * ```ts
 * portChains("ns1/svc1:p80", "tcp").ext; // "KUBE-EXT-XPGD46QRK7WJZT7O"
 * ```
 */
export function portChains(servicePortName: string, protocol: string): PortChains {
  const hash = portProtoHash(servicePortName, protocol);
  return {
    svc: `KUBE-SVC-${hash}`,
    svl: `KUBE-SVL-${hash}`,
    ext: `KUBE-EXT-${hash}`,
    fw: `KUBE-FW-${hash}`,
  };
}

/** Whether a chain is one of the per-service chains (kube-proxy's `isServiceChainName`). */
export function isServiceChainName(name: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((prefix) => name.startsWith(prefix));
}

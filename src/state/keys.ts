/**
 * One function makes each object's key, and one order sorts each list, so every part of the
 * project (proxier, diff, backends, renderers) agrees on identity and output order.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { Protocol } from "../cluster/types.ts";
import type { IpSet, KernelState, RealServer, VirtualServer } from "./types.ts";

/** `address:port`, with IPv6 in brackets: `10.0.0.1:443`, `[fd00::1]:443`. */
export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The identity of a virtual server: `10.0.0.1:443/tcp`. */
export function virtualServerKey(
  vs: { readonly protocol: Protocol; readonly address: string; readonly port: number },
): string {
  return `${hostPort(vs.address, vs.port)}/${vs.protocol}`;
}

/** The identity of a real server within its virtual server: `192.168.0.1:6443`. */
export function realServerKey(rs: { readonly address: string; readonly port: number }): string {
  return hostPort(rs.address, rs.port);
}

/**
 * A string that sorts like the address does numerically: IPv4 before IPv6, then by bytes.
 * Accepts an address with an optional `/prefix`.
 */
export function addressSortKey(address: string): string {
  const slash = address.indexOf("/");
  const ip = slash < 0 ? address : address.slice(0, slash);
  const prefix = slash < 0 ? "" : address.slice(slash + 1).padStart(3, "0");
  return `${ipSortKey(ip) ?? `9${ip}`}/${prefix}`;
}

/** Hex digits of the address bytes behind a family digit; IPv4 parsed by hand (hot path). */
function ipSortKey(ip: string): string | undefined {
  const octets = ip.split(".");
  if (octets.length === 4) {
    let hex = "4";
    for (const octet of octets) {
      const n = Number(octet);
      if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
      hex += n < 16 ? `0${n.toString(16)}` : n.toString(16);
    }
    return hex;
  }
  if (!ipaddr.IPv6.isValid(ip)) return undefined;
  const bytes = ipaddr.IPv6.parse(ip).toByteArray();
  return `6${bytes.map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const PROTOCOL_ORDER: Record<Protocol, number> = { tcp: 0, udp: 1, sctp: 2 };

/** Plain string order (UTF-16 code units), the order of every sorted list here. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts items by a precomputed string key (computed once per item, not per comparison). */
export function sortByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  return items
    .map((item) => ({ item, k: key(item) }))
    .sort((a, b) => compareStrings(a.k, b.k))
    .map((x) => x.item);
}

function endpointSortKey(address: string, port: number): string {
  return `${addressSortKey(address)}:${String(port).padStart(5, "0")}`;
}

/** Real servers by address (numerically), then port. */
export function sortRealServers(realServers: readonly RealServer[]): RealServer[] {
  return sortByKey(realServers, (rs) => endpointSortKey(rs.address, rs.port));
}

/**
 * The string whose plain order is the canonical order of virtual servers: by address
 * (numerically), then port, then protocol.
 */
export function virtualServerSortKey(
  vs: { readonly protocol: Protocol; readonly address: string; readonly port: number },
): string {
  return `${endpointSortKey(vs.address, vs.port)}/${PROTOCOL_ORDER[vs.protocol]}`;
}

/** The string whose plain order is the canonical order of bound addresses: device, address. */
export function boundAddressSortKey(
  bound: { readonly device: string; readonly address: string },
): string {
  return `${bound.device} ${addressSortKey(bound.address)}`;
}

/** Virtual servers by address (numerically), then port, then protocol; real servers sorted too. */
export function sortVirtualServers(virtualServers: readonly VirtualServer[]): VirtualServer[] {
  return sortByKey(virtualServers, virtualServerSortKey).map((vs) => ({
    ...vs,
    realServers: sortRealServers(vs.realServers),
  }));
}

/** Sets by name, entries in plain string order (what `ipset save` users expect to diff). */
export function sortIpSets(ipsets: readonly IpSet[]): IpSet[] {
  return sortByKey(ipsets, (set) => set.name).map((set) => ({
    ...set,
    entries: [...set.entries].sort(compareStrings),
  }));
}

/** The same state with every list in its canonical order. */
export function sortKernelState(state: KernelState): KernelState {
  return {
    ...state,
    virtualServers: sortVirtualServers(state.virtualServers),
    ipsets: sortIpSets(state.ipsets),
    addresses: sortByKey(state.addresses, boundAddressSortKey),
  };
}

/** A state with nothing in it: what an empty kernel looks like to the diff. */
export function emptyKernelState(): KernelState {
  const emptyTable = { chains: [], jumps: [] };
  const emptyFamily = { nat: emptyTable, filter: emptyTable };
  return {
    families: [],
    virtualServers: [],
    ipsets: [],
    iptables: { ipv4: emptyFamily, ipv6: emptyFamily },
    linkPresent: false,
    addresses: [],
  };
}

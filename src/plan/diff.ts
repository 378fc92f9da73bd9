/**
 * The pure diff: (current kernel state, desired state) -> the minimal plan that makes the
 * kernel match, in the order a backend must apply it (see `Plan`): the link; for a set of
 * ours that exists with another type or family, the restores that stop our rules using it
 * and its `destroy` (`recreate_sets.ts`); set creates, adds and deletes; one
 * `iptables.restore` per table that differs (IPv4 nat,
 * IPv4 filter, IPv6 nat, IPv6 filter); IPVS changes (each desired virtual server in order,
 * then the stale ones' deletes); address adds and deletes; set destruction last.
 *
 * Both states must be in canonical order (`sortKernelState`, as the proxier and every
 * backend's `read()` return them): the diff relies on it for its output order and for a
 * cheap element-wise check that settles unchanged sets and virtual servers. A virtual server
 * key, and an address per device, occurs once in each list (as in every kernel and every
 * computed state): the runs where the two lists agree at both ends are then settled pair by
 * pair, and only the part between is diffed through keyed maps.
 *
 * Only what the desired state's families cover is managed: sets, chains, stale virtual
 * servers and addresses of another family are left as they are, and so are sets that are
 * not ours (`isOurSetName`: not every `KUBE-` name is) and addresses on other devices.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type {
  BoundAddress,
  IpSet,
  IptablesFamily,
  IptablesTable,
  JumpRule,
  KernelState,
  RealServer,
  TableName,
  VirtualServer,
} from "../state/types.ts";
import { IPVS_DEVICE } from "../state/types.ts";
import { realServerKey, sortIpSets, sortVirtualServers, virtualServerKey } from "../state/keys.ts";
import { isOurChain, isOurJump, isOurSetName } from "../proxier/ownership.ts";
import { ruleTarget } from "../render/iptables.ts";
import { familyOf } from "../proxier/node_addresses.ts";
import type { Operation, Plan, VirtualServerKey, VirtualServerSpec } from "./types.ts";
import { recreateFirst, wrongHeaderSets } from "./recreate_sets.ts";

/** Options of {@linkcode diffStates}. */
export interface DiffOptions {
  /** `ipvs.excludeCIDRs`: stale virtual servers inside these are not deleted. */
  readonly excludeCIDRs: readonly string[];
  /**
   * Held across syncs (the loop holds one): lets a diff settle by identity what an earlier
   * diff already compared and found equal (see {@linkcode SettledPairs}).
   */
  readonly settled?: SettledPairs;
}

/**
 * The pairs (kernel object, desired object) an earlier diff compared and found equal, for
 * frozen objects only: a frozen virtual server, set or list cannot have changed since, so the
 * same two objects are still equal and the next diff skips comparing them. (Every state this
 * project freezes is frozen deeply; the checks look at the object and the lists it holds.) The incremental proxier
 * hands out the same frozen objects for what did not change, and so does the dry run's kernel
 * read, so a sync after one change compares one virtual server, not 12,500. A kernel read that
 * makes new objects each time (the exec backend's) never matches: it is compared in full,
 * which is how drift is found. Entries are weak: nothing is kept alive by being remembered.
 *
 * @example
 * ```ts
 * import { emptyKernelState } from "../state/keys.ts";
 * const settled = new SettledPairs();
 * diffStates(emptyKernelState(), emptyKernelState(), { excludeCIDRs: [], settled }); // []
 * ```
 */
export class SettledPairs {
  readonly #equal = new WeakMap<object, object>();

  /** Whether `have` and `want` were found equal before (both frozen, so still are). */
  has(have: object, want: object): boolean {
    return this.#equal.get(have) === want;
  }

  /** Remembers that `have` equals `want`, when both are frozen (else nothing is proven). */
  add(have: object, want: object, parts: readonly object[]): void {
    if (!Object.isFrozen(have) || !Object.isFrozen(want)) return;
    if (!parts.every(Object.isFrozen)) return;
    this.#equal.set(have, want);
  }
}

const FAMILIES: readonly IptablesFamily[] = ["ipv4", "ipv6"];
const TABLES: readonly TableName[] = ["nat", "filter"];

// By name, not by the set's own family: a set of our IPv4 name created as inet6 is still
// the IPv4 pipeline's (and has the wrong header), kube-proxy's IPv6 sets are `KUBE-6-`.
function setFamily(set: IpSet): IptablesFamily {
  return set.name.startsWith("KUBE-6-") ? "ipv6" : "ipv4";
}

function ours(sets: readonly IpSet[], managed: ReadonlySet<IptablesFamily>): IpSet[] {
  return sets.filter((s) => isOurSetName(s.name) && managed.has(setFamily(s)));
}

/** Element-wise equality: the cheap check that settles most sets and virtual servers. */
function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
  return true;
}

function key(vs: VirtualServerKey): VirtualServerKey {
  return { protocol: vs.protocol, address: vs.address, port: vs.port };
}

function spec(vs: VirtualServer): VirtualServerSpec {
  const { realServers: _, ...rest } = vs;
  return rest;
}

/**
 * The real server as an operation carries it. A desired one has no counts and is used as it
 * is (states are immutable values): a cold plan of 125,000 real servers then shares them with
 * the desired state instead of holding a second copy.
 */
function withoutCounts(rs: RealServer): RealServer {
  if (!("activeConnections" in rs) && !("inactiveConnections" in rs)) return rs;
  return { address: rs.address, port: rs.port, forward: rs.forward, weight: rs.weight };
}

/**
 * The entries to delete and add between two strictly ascending lists (canonical order), in
 * one merge walk: a changed set of 5,000 entries costs 5,000 comparisons and no keyed sets.
 * Undefined when either list turns out not to be ascending.
 */
function mergedEntryChanges(
  old: readonly string[],
  want: readonly string[],
): { del: string[]; add: string[] } | undefined {
  const del: string[] = [];
  const add: string[] = [];
  let i = 0;
  let j = 0;
  while (i < old.length || j < want.length) {
    if (i > 0 && i < old.length && !(old[i - 1] < old[i])) return undefined;
    if (j > 0 && j < want.length && !(want[j - 1] < want[j])) return undefined;
    if (j === want.length || (i < old.length && old[i] < want[j])) del.push(old[i++]);
    else if (i === old.length || want[j] < old[i]) add.push(want[j++]);
    else i++, j++;
  }
  return { del, add };
}

/** The adds and deletes that turn one set's entries into another's: deletes first. */
function entryOps(old: IpSet, want: IpSet, ops: Operation[]): void {
  const merged = mergedEntryChanges(old.entries, want.entries);
  const wanted = merged ? undefined : new Set(want.entries);
  const present = merged ? undefined : new Set(old.entries);
  const del = merged?.del ?? old.entries.filter((entry) => !wanted!.has(entry));
  const add = merged?.add ?? want.entries.filter((entry) => !present!.has(entry));
  for (const entry of del) ops.push({ op: "ipset.del", set: want.name, entry });
  for (const entry of add) ops.push({ op: "ipset.add", set: want.name, entry });
}

function setOps(current: IpSet[], desired: IpSet[], settled?: SettledPairs): Operation[] {
  const have = new Map(current.map((s) => [s.name, s]));
  const ops: Operation[] = [];
  for (const want of desired) {
    const header = { name: want.name, type: want.type, family: want.family };
    const old = have.get(want.name);
    // A set with another header was destroyed first (recreateFirst): it is created anew.
    if (!old) {
      ops.push({ op: "ipset.create", set: header });
      for (const entry of want.entries) ops.push({ op: "ipset.add", set: want.name, entry });
    } else if (old === want || settled?.has(old, want)) {
      continue;
    } else if (sameList(old.entries, want.entries, (a, b) => a === b)) {
      settled?.add(old, want, [old.entries, want.entries]);
    } else {
      entryOps(old, want, ops);
    }
  }
  return ops;
}

function jumpId(jump: JumpRule): string {
  return `${jump.chain} ${jump.rule}`;
}

function countJumps(jumps: readonly JumpRule[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const j of jumps) counts.set(jumpId(j), (counts.get(jumpId(j)) ?? 0) + 1);
  return counts;
}

function sameRules(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((r, i) => r === b[i]);
}

/**
 * One table's restore: only the chains whose rules differ are declared and refilled (so one
 * changed endpoint rewrites its own chains, not the table), chains of ours the desired state
 * no longer has are flushed and removed, and jumps are added or deleted to match.
 */
function tableOp(
  family: IptablesFamily,
  table: TableName,
  current: IptablesTable,
  desired: IptablesTable,
): Operation[] {
  const haveChains = new Map(current.chains.map((c) => [c.name, c.rules]));
  const chains = desired.chains.filter((c) => !sameRules(haveChains.get(c.name), c.rules));
  const wanted = new Set(desired.chains.map((c) => c.name));
  const deleteChains = current.chains
    .filter((c) => !wanted.has(c.name) && isOurChain(table, c.name))
    .map((c) => c.name);
  const deleted = new Set(deleteChains);
  const have = countJumps(current.jumps);
  const want = countJumps(desired.jumps);
  // Jumps missing a copy get one inserted; surplus copies of our jumps get deleted.
  const seen = new Map<string, number>();
  const addJumps = desired.jumps.filter((j) => {
    const n = (seen.get(jumpId(j)) ?? 0) + 1;
    seen.set(jumpId(j), n);
    return n > (have.get(jumpId(j)) ?? 0);
  });
  const kept = new Map<string, number>();
  const deleteJumps = current.jumps.filter((j) => {
    // A jump the other mode writes, or one into a chain about to go, is removed; any other
    // jump we do not declare is someone else's: leave it.
    if (!want.has(jumpId(j))) return isOurJump(table, j) || deleted.has(ruleTarget(j.rule) ?? "");
    const n = (kept.get(jumpId(j)) ?? 0) + 1;
    kept.set(jumpId(j), n);
    return n > want.get(jumpId(j))!;
  });
  if (
    chains.length === 0 && deleteChains.length === 0 && addJumps.length === 0 &&
    deleteJumps.length === 0
  ) return [];
  return [{ op: "iptables.restore", family, table, chains, addJumps, deleteJumps, deleteChains }];
}

function iptablesOps(
  current: KernelState,
  desired: KernelState,
  managed: ReadonlySet<IptablesFamily>,
): Operation[] {
  return FAMILIES.filter((f) => managed.has(f)).flatMap((family) =>
    TABLES.flatMap((table) =>
      tableOp(family, table, current.iptables[family][table], desired.iptables[family][table])
    )
  );
}

/** Flags in any order; sorted copies only when the lists are not equal as they are. */
function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a === b || (a.length === b.length && a.every((flag, i) => flag === b[i]))) return true;
  return a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",");
}

function sameSpec(a: VirtualServer, b: VirtualServer): boolean {
  return a.scheduler === b.scheduler && a.persistenceTimeout === b.persistenceTimeout &&
    sameFlags(a.flags, b.flags);
}

/**
 * Graceful termination of a real server the desired state no longer has: UDP and SCTP go at
 * once; TCP with connections is drained (weight 0) and deleted on a later pass once idle.
 */
function retireRealServer(vs: VirtualServerKey, rs: RealServer): Operation[] {
  const connections = (rs.activeConnections ?? 0) + (rs.inactiveConnections ?? 0);
  if (vs.protocol !== "tcp" || connections === 0) {
    return [{
      op: "ipvs.deleteRealServer",
      virtualServer: key(vs),
      realServer: { address: rs.address, port: rs.port },
    }];
  }
  if (rs.weight === 0) return [];
  return [{
    op: "ipvs.editRealServer",
    virtualServer: key(vs),
    realServer: { ...withoutCounts(rs), weight: 0 },
  }];
}

/** `sameList` of real servers, written out: it runs for every virtual server of a sync. */
function sameRealServers(a: readonly RealServer[], b: readonly RealServer[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.address !== y.address || x.port !== y.port || x.weight !== y.weight) return false;
    if (x.forward !== y.forward) return false;
  }
  return true;
}

function realServerOps(have: VirtualServer, want: VirtualServer): Operation[] {
  if (sameRealServers(have.realServers, want.realServers)) return [];
  const present = new Map(have.realServers.map((rs) => [realServerKey(rs), rs]));
  const wanted = new Set(want.realServers.map(realServerKey));
  const ops: Operation[] = [];
  const virtualServer = key(want); // one key object for all of this virtual server's operations
  for (const rs of want.realServers) {
    const old = present.get(realServerKey(rs));
    if (!old) {
      ops.push({ op: "ipvs.addRealServer", virtualServer, realServer: withoutCounts(rs) });
    } else if (old.weight !== rs.weight || old.forward !== rs.forward) {
      ops.push({ op: "ipvs.editRealServer", virtualServer, realServer: withoutCounts(rs) });
    }
  }
  for (const rs of have.realServers) {
    if (!wanted.has(realServerKey(rs))) ops.push(...retireRealServer(have, rs));
  }
  return ops;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseExcludes(cidrs: readonly string[]): Cidr[] {
  return cidrs.map((cidr) => {
    try {
      return ipaddr.parseCIDR(cidr);
    } catch (cause) {
      throw new Error(`Cannot parse 'ipvs.excludeCIDRs' entry "${cidr}": expected a CIDR`, {
        cause,
      });
    }
  });
}

function excluded(address: string, cidrs: readonly Cidr[]): boolean {
  if (!ipaddr.isValid(address)) return false;
  const ip = ipaddr.parse(address);
  return cidrs.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
}

function sameVirtualServerKey(a: VirtualServer, b: VirtualServer): boolean {
  return a.port === b.port && a.address === b.address && a.protocol === b.protocol;
}

/**
 * How many leading and trailing positions of two lists pair up (`same` at the same offset
 * from the start, or from the end). When a key occurs at most once in each list, as in every
 * state, those pairs are exactly the matches a keyed lookup would find, and no element between
 * them can match one of them: only the part between needs maps. For the common sync (one
 * change, or none) that part is a few elements instead of every virtual server.
 */
export function matchingEnds<T>(
  a: readonly T[],
  b: readonly T[],
  same: (x: T, y: T) => boolean,
): { head: number; tail: number } {
  const limit = Math.min(a.length, b.length);
  let head = 0;
  while (head < limit && same(a[head], b[head])) head++;
  let tail = 0;
  while (tail < limit - head && same(a[a.length - 1 - tail], b[b.length - 1 - tail])) tail++;
  return { head, tail };
}

/** The operations that turn one virtual server into another of the same key. */
function pairOps(
  old: VirtualServer,
  want: VirtualServer,
  ops: Operation[],
  settled: SettledPairs | undefined,
): void {
  if (old === want) return; // a state that shares unchanged objects with the kernel's
  if (settled?.has(old, want)) return;
  const before = ops.length;
  if (!sameSpec(old, want)) ops.push({ op: "ipvs.editVirtualServer", virtualServer: spec(want) });
  const realServers = realServerOps(old, want);
  if (realServers.length > 0) ops.push(...realServers);
  if (ops.length === before) {
    settled?.add(old, want, [old.realServers, want.realServers, old.flags, want.flags]);
  }
}

/** The keyed diff of the virtual servers between the matching ends. */
function middleIpvsOps(
  current: readonly VirtualServer[],
  desired: readonly VirtualServer[],
  ops: Operation[],
  settled: SettledPairs | undefined,
): (vs: VirtualServer) => boolean {
  const have = new Map(current.map((vs) => [virtualServerKey(vs), vs]));
  for (const want of desired) {
    const old = have.get(virtualServerKey(want));
    if (old) {
      pairOps(old, want, ops, settled);
      continue;
    }
    ops.push({ op: "ipvs.addVirtualServer", virtualServer: spec(want) });
    const virtualServer = key(want); // shared by its real servers' operations
    for (const rs of want.realServers) {
      ops.push({ op: "ipvs.addRealServer", virtualServer, realServer: withoutCounts(rs) });
    }
  }
  const wanted = new Set(desired.map(virtualServerKey));
  return (vs) => wanted.has(virtualServerKey(vs));
}

function ipvsOps(
  current: KernelState,
  desired: KernelState,
  managed: ReadonlySet<IptablesFamily>,
  excludes: readonly Cidr[],
  settled: SettledPairs | undefined,
): Operation[] {
  const have = current.virtualServers;
  const want = desired.virtualServers;
  if (settled?.has(have, want)) return [];
  const { head, tail } = matchingEnds(have, want, sameVirtualServerKey);
  const ops: Operation[] = [];
  for (let i = 0; i < head; i++) pairOps(have[i], want[i], ops, settled);
  const middle = have.slice(head, have.length - tail);
  const wanted = middleIpvsOps(middle, want.slice(head, want.length - tail), ops, settled);
  for (let k = tail; k > 0; k--) {
    pairOps(have[have.length - k], want[want.length - k], ops, settled);
  }
  // Stale ones go after every desired one's operations, as in the plan's order.
  for (const old of middle) {
    if (wanted(old) || !managed.has(familyOf(old.address))) continue;
    if (excluded(old.address, excludes)) continue;
    ops.push({ op: "ipvs.deleteVirtualServer", virtualServer: key(old) });
  }
  // Every virtual server paired and none needed anything: the lists are equal whatever the
  // families managed and the excluded ranges are (only stale ones depend on those).
  if (ops.length === 0 && middle.length === 0 && head + tail === want.length) {
    settled?.add(have, want, []);
  }
  return ops;
}

function deviceAddresses(addresses: readonly BoundAddress[]): string[] {
  return addresses.filter((a) => a.device === IPVS_DEVICE).map((a) => a.address);
}

function sameBound(a: BoundAddress, b: BoundAddress): boolean {
  return a.address === b.address && a.device === b.device;
}

function addressOps(
  current: KernelState,
  desired: KernelState,
  managed: ReadonlySet<IptablesFamily>,
  settled: SettledPairs | undefined,
): Operation[] {
  if (settled?.has(current.addresses, desired.addresses)) return [];
  // An address is bound once per device, so the matching ends need nothing (see matchingEnds).
  const { head, tail } = matchingEnds(current.addresses, desired.addresses, sameBound);
  if (head === current.addresses.length && head === desired.addresses.length) {
    settled?.add(current.addresses, desired.addresses, []); // equal lists: nothing is stale
    return [];
  }
  const have = deviceAddresses(current.addresses.slice(head, current.addresses.length - tail));
  const want = deviceAddresses(desired.addresses.slice(head, desired.addresses.length - tail));
  const present = new Set(have);
  const wanted = new Set(want);
  return [
    ...want.filter((a) => !present.has(a)).map((address): Operation => ({
      op: "address.add",
      device: IPVS_DEVICE,
      address,
    })),
    ...have.filter((a) => !wanted.has(a) && managed.has(familyOf(a))).map((
      address,
    ): Operation => ({ op: "address.delete", device: IPVS_DEVICE, address })),
  ];
}

/**
 * The minimal plan that turns `current` into `desired`: nothing for what is already right,
 * operations in apply order, deterministic for equal inputs.
 *
 * @example
 * ```ts
 * import { emptyKernelState } from "../state/keys.ts";
 * diffStates(emptyKernelState(), emptyKernelState(), { excludeCIDRs: [] }); // []
 * ```
 */
export function diffStates(read: KernelState, desired: KernelState, options: DiffOptions): Plan {
  const managed = new Set(desired.families);
  const desiredSets = ours(desired.ipsets, managed);
  const wrong = wrongHeaderSets(ours(read.ipsets, managed), desiredSets);
  const first = recreateFirst(read, wrong, FAMILIES.filter((f) => managed.has(f)));
  const current = first.after;
  const currentSets = ours(current.ipsets, managed);
  const wantedSets = new Set(desiredSets.map((s) => s.name));
  return [
    ...(desired.linkPresent && !current.linkPresent
      ? [{ op: "link.add", device: IPVS_DEVICE } as const]
      : []),
    ...first.ops,
    ...setOps(currentSets, desiredSets, options.settled),
    ...iptablesOps(current, desired, managed),
    ...ipvsOps(current, desired, managed, parseExcludes(options.excludeCIDRs), options.settled),
    ...addressOps(current, desired, managed, options.settled),
    // iptables mode has no kube-ipvs0: a node switched from IPVS mode loses it.
    ...(!desired.linkPresent && current.linkPresent
      ? [{ op: "link.delete", device: IPVS_DEVICE } as const]
      : []),
    ...currentSets.filter((s) => !wantedSets.has(s.name)).map((s): Operation => ({
      op: "ipset.destroy",
      set: s.name,
    })),
  ];
}

/**
 * The plan that removes everything of ours (`--cleanup`): our jumps and chains (one restore
 * per table that has any), every virtual server but those inside `excludeCIDRs` (the operator
 * declared those not ours), the `kube-ipvs0` addresses and link, and every set of ours,
 * destroyed last when no rule uses it any more.
 */
export function cleanupPlan(
  current: KernelState,
  options: DiffOptions = { excludeCIDRs: [] },
): Plan {
  const excludes = parseExcludes(options.excludeCIDRs);
  const restores = FAMILIES.flatMap((family) =>
    TABLES.flatMap((table): Operation[] => {
      const read = current.iptables[family][table];
      // Only chains of ours (either mode's), whatever a backend returned.
      const t = { ...read, chains: read.chains.filter((c) => isOurChain(table, c.name)) };
      if (t.chains.length === 0 && t.jumps.length === 0) return [];
      return [{
        op: "iptables.restore",
        family,
        table,
        chains: [],
        addJumps: [],
        deleteJumps: t.jumps,
        deleteChains: t.chains.map((c) => c.name),
      }];
    })
  );
  return [
    ...restores,
    ...sortVirtualServers(current.virtualServers)
      .filter((vs) => !excluded(vs.address, excludes))
      .map((vs): Operation => ({ op: "ipvs.deleteVirtualServer", virtualServer: key(vs) })),
    ...deviceAddresses(current.addresses).map((address): Operation => ({
      op: "address.delete",
      device: IPVS_DEVICE,
      address,
    })),
    ...(current.linkPresent ? [{ op: "link.delete", device: IPVS_DEVICE } as const] : []),
    ...sortIpSets(current.ipsets.filter((s) => isOurSetName(s.name))).map((
      s,
    ): Operation => ({ op: "ipset.destroy", set: s.name })),
  ];
}

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
 * cheap element-wise check that settles unchanged sets and virtual servers.
 *
 * Only what the desired state's families cover is managed: sets, chains, stale virtual
 * servers and addresses of another family are left as they are, and so are sets that are
 * not ours (`isOurSetName`: not every `KUBE-` name is) and addresses on other devices.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type {
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
import { isOurSetName } from "../proxier/ownership.ts";
import { familyOf } from "../proxier/node_addresses.ts";
import type { Operation, Plan, VirtualServerKey, VirtualServerSpec } from "./types.ts";
import { recreateFirst, wrongHeaderSets } from "./recreate_sets.ts";

/** Options of {@linkcode diffStates}. */
export interface DiffOptions {
  /** `ipvs.excludeCIDRs`: stale virtual servers inside these are not deleted. */
  readonly excludeCIDRs: readonly string[];
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

function sameRealServer(a: RealServer, b: RealServer): boolean {
  return a.address === b.address && a.port === b.port && a.weight === b.weight &&
    a.forward === b.forward;
}

function key(vs: VirtualServerKey): VirtualServerKey {
  return { protocol: vs.protocol, address: vs.address, port: vs.port };
}

function spec(vs: VirtualServer): VirtualServerSpec {
  const { realServers: _, ...rest } = vs;
  return rest;
}

function withoutCounts(rs: RealServer): RealServer {
  return { address: rs.address, port: rs.port, forward: rs.forward, weight: rs.weight };
}

function setOps(current: IpSet[], desired: IpSet[]): Operation[] {
  const have = new Map(current.map((s) => [s.name, s]));
  const ops: Operation[] = [];
  for (const want of desired) {
    const header = { name: want.name, type: want.type, family: want.family };
    const old = have.get(want.name);
    // A set with another header was destroyed first (recreateFirst): it is created anew.
    if (!old) {
      ops.push({ op: "ipset.create", set: header });
      for (const entry of want.entries) ops.push({ op: "ipset.add", set: want.name, entry });
    } else if (!sameList(old.entries, want.entries, (a, b) => a === b)) {
      const wanted = new Set(want.entries);
      const present = new Set(old.entries);
      for (const entry of old.entries) {
        if (!wanted.has(entry)) ops.push({ op: "ipset.del", set: want.name, entry });
      }
      for (const entry of want.entries) {
        if (!present.has(entry)) ops.push({ op: "ipset.add", set: want.name, entry });
      }
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

function tableOp(
  family: IptablesFamily,
  table: TableName,
  current: IptablesTable,
  desired: IptablesTable,
): Operation[] {
  const haveChains = new Map(current.chains.map((c) => [c.name, c.rules]));
  const chainsMatch = desired.chains.every((c) => {
    const rules = haveChains.get(c.name);
    return rules !== undefined && rules.length === c.rules.length &&
      rules.every((r, i) => r === c.rules[i]);
  });
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
    if (!want.has(jumpId(j))) return false; // not a jump we declare: leave it
    const n = (kept.get(jumpId(j)) ?? 0) + 1;
    kept.set(jumpId(j), n);
    return n > want.get(jumpId(j))!;
  });
  if (chainsMatch && addJumps.length === 0 && deleteJumps.length === 0) return [];
  // kube-proxy rewrites all of a table's chains at once; so do we.
  return [{
    op: "iptables.restore",
    family,
    table,
    chains: desired.chains,
    addJumps,
    deleteJumps,
    deleteChains: [],
  }];
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

function sameSpec(a: VirtualServer, b: VirtualServer): boolean {
  const flags = (vs: VirtualServer) => [...vs.flags].sort().join(",");
  return a.scheduler === b.scheduler && a.persistenceTimeout === b.persistenceTimeout &&
    flags(a) === flags(b);
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

function realServerOps(have: VirtualServer, want: VirtualServer): Operation[] {
  if (sameList(have.realServers, want.realServers, sameRealServer)) return [];
  const present = new Map(have.realServers.map((rs) => [realServerKey(rs), rs]));
  const wanted = new Set(want.realServers.map(realServerKey));
  const ops: Operation[] = [];
  for (const rs of want.realServers) {
    const old = present.get(realServerKey(rs));
    if (!old) {
      ops.push({
        op: "ipvs.addRealServer",
        virtualServer: key(want),
        realServer: withoutCounts(rs),
      });
    } else if (old.weight !== rs.weight || old.forward !== rs.forward) {
      ops.push({
        op: "ipvs.editRealServer",
        virtualServer: key(want),
        realServer: withoutCounts(rs),
      });
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

function ipvsOps(
  current: KernelState,
  desired: KernelState,
  managed: ReadonlySet<IptablesFamily>,
  excludes: readonly Cidr[],
): Operation[] {
  const have = new Map(current.virtualServers.map((vs) => [virtualServerKey(vs), vs]));
  const ops: Operation[] = [];
  for (const want of desired.virtualServers) {
    const old = have.get(virtualServerKey(want));
    if (!old) {
      ops.push({ op: "ipvs.addVirtualServer", virtualServer: spec(want) });
      for (const rs of want.realServers) {
        ops.push({
          op: "ipvs.addRealServer",
          virtualServer: key(want),
          realServer: withoutCounts(rs),
        });
      }
      continue;
    }
    if (!sameSpec(old, want)) ops.push({ op: "ipvs.editVirtualServer", virtualServer: spec(want) });
    ops.push(...realServerOps(old, want));
  }
  const wanted = new Set(desired.virtualServers.map(virtualServerKey));
  for (const old of current.virtualServers) {
    if (wanted.has(virtualServerKey(old)) || !managed.has(familyOf(old.address))) continue;
    if (excluded(old.address, excludes)) continue;
    ops.push({ op: "ipvs.deleteVirtualServer", virtualServer: key(old) });
  }
  return ops;
}

function deviceAddresses(state: KernelState): string[] {
  return state.addresses.filter((a) => a.device === IPVS_DEVICE).map((a) => a.address);
}

function addressOps(
  current: KernelState,
  desired: KernelState,
  managed: ReadonlySet<IptablesFamily>,
): Operation[] {
  const have = deviceAddresses(current);
  const want = deviceAddresses(desired);
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
    ...setOps(currentSets, desiredSets),
    ...iptablesOps(current, desired, managed),
    ...ipvsOps(current, desired, managed, parseExcludes(options.excludeCIDRs)),
    ...addressOps(current, desired, managed),
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
      const t = current.iptables[family][table];
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
    ...deviceAddresses(current).map((address): Operation => ({
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

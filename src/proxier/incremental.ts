/**
 * The incremental proxier: held across syncs, it is fed each new snapshot and recomputes only
 * the services whose Service or EndpointSlices changed, keeping the rest of the desired state
 * (frozen, shared with the previous result) as it was. Its result is always the one
 * {@linkcode computeDesiredState} gives for the same input; a property test holds it to that.
 *
 * kube-proxy's IPVS mode recomputes everything on every sync.
 *
 * @module
 */

import type { ClusterSnapshot, EndpointSlice, Service } from "../cluster/types.ts";
import type { ProxyConfig } from "../config/types.ts";
import { sortByKey } from "../state/keys.ts";
import type {
  BoundAddress,
  IptablesFamily,
  IptablesFamilyState,
  KernelState,
  VirtualServer,
} from "../state/types.ts";
import {
  computeDesiredState,
  type DesiredState,
  emptyFamilyTables,
  ServiceWriter,
  type SliceLookup,
} from "./desired_state.ts";
import {
  changedObjects,
  compareIdentity,
  type ObjectChange,
  samePlainData,
} from "./incremental_changes.ts";
import { FamilyState, ServiceContribution } from "./incremental_family.ts";
import { SortedList } from "./incremental_sorted.ts";
import {
  computeServiceHealthChecks,
  healthCheckOf,
  resolveHealthChecks,
  type ServiceHealthCheck,
  type ServiceHealthChecks,
} from "./health_checks.ts";
import { detectFamilies, selectNodeAddresses } from "./node_addresses.ts";
import { nodeTopology } from "./topology.ts";
import { localDetectorFor, localDetectorWarnings, nodePodCIDRs } from "./local_detector.ts";

/** Something that turns each new snapshot into the desired state (what a sync loop holds). */
export interface DesiredStateComputer {
  /**
   * The desired state for `snapshot` on a node with addresses `nodeIPs` (primary first) whose
   * kernel can program `kernelFamilies` (none known: a dry run).
   */
  update(
    snapshot: ClusterSnapshot,
    nodeIPs: readonly string[],
    kernelFamilies?: readonly IptablesFamily[],
  ): DesiredState;
}

/** What the last {@linkcode IncrementalProxier.update} did. */
export interface UpdateSummary {
  /**
   * Whether it started over: the first update, new node addresses or a change of this node's
   * Node object that the output reads (its zone, its pod CIDRs: every service may depend on
   * them), or a snapshot not sorted by namespace/name (then `computeDesiredState` answered).
   */
  readonly full: boolean;
  /** Services whose contribution was computed again (added, changed, removed ones). */
  readonly recomputedServices: number;
}

/** A service identity's state: the service (absent once removed) and what it contributes. */
interface ServiceRecord {
  service: Service | undefined;
  /** One per family, in the order of the families. */
  contributions: ServiceContribution[];
  /** Its health check before port conflicts are settled, if it needs one. */
  check?: ServiceHealthCheck;
}

const EMPTY_TABLES: IptablesFamilyState = Object.freeze(emptyFamilyTables());

function identity(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function sameStrings(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Bound addresses are values: a recomputed service makes new objects for the same ones. */
function sameBoundAddress(held: BoundAddress, item: BoundAddress): boolean {
  return held.address === item.address && held.device === item.device;
}

/**
 * Computes the desired state change by change. Snapshots must come from one source in a row
 * (sorted by namespace/name, an unchanged object handed out as the same reference, as the
 * manifest and API sources do); anything else still gives the right answer, only slower.
 *
 * @example
 * ```ts
 * import { testConfig, service, port, snapshot } from "./testing.ts";
 * const proxier = new IncrementalProxier(testConfig(), "node-a");
 * const cluster = snapshot([service("web", "10.96.0.10", [port("http", 80)])]);
 * proxier.update(cluster, ["192.168.0.10"]).state.virtualServers.length; // 1
 * proxier.update(cluster, ["192.168.0.10"]); // nothing changed: the same result, at once
 * ```
 */
export class IncrementalProxier implements DesiredStateComputer {
  #nodeIPs: readonly string[] | undefined;
  #kernelFamilies: readonly IptablesFamily[] = [];
  /** What the output reads of this node's Node object, as text (see `#nodeKey`). */
  #node = "";
  /** The warnings that depend on the node alone (the local detector's), set at each reset. */
  #nodeWarnings: readonly string[] = [];
  #families: FamilyState[] = [];
  #virtualServers = new SortedList<VirtualServer>();
  #addresses = new SortedList<BoundAddress>(sameBoundAddress);
  #services: readonly Service[] = [];
  #slices: readonly EndpointSlice[] = [];
  readonly #records = new Map<string, ServiceRecord>();
  /** Each service identity's slices, in snapshot order (by name: one namespace). */
  readonly #slicesOf = new Map<string, EndpointSlice[]>();
  #last: DesiredState | undefined;
  /** The services with a health check, and the settled checks (`undefined`: to settle again). */
  readonly #checked = new Set<ServiceRecord>();
  #checks: ServiceHealthChecks | undefined;
  /** The input of an update answered in full, for its health checks. */
  #fallback: {
    snapshot: ClusterSnapshot;
    nodeIPs: readonly string[];
    kernelFamilies: readonly IptablesFamily[];
  } | undefined;
  #summary: UpdateSummary = { full: true, recomputedServices: 0 };

  /** `nodeName`: endpoints whose `nodeName` equals it are local. */
  constructor(readonly config: ProxyConfig, readonly nodeName: string) {}

  /** What the last update did. */
  get lastUpdate(): UpdateSummary {
    return this.#summary;
  }

  /** Brings the proxier to `snapshot` and returns the desired state, equal to a full compute. */
  update(
    snapshot: ClusterSnapshot,
    nodeIPs: readonly string[],
    kernelFamilies: readonly IptablesFamily[] = [],
  ): DesiredState {
    const nodeKey = this.#nodeKey(snapshot);
    const full = !sameStrings(nodeIPs, this.#nodeIPs) || nodeKey !== this.#node ||
      !sameStrings(kernelFamilies, this.#kernelFamilies);
    if (full) this.#reset(nodeIPs, snapshot, nodeKey, kernelFamilies);
    const serviceChanges = changedObjects(this.#services, snapshot.services);
    const sliceChanges = changedObjects(this.#slices, snapshot.endpointSlices);
    if (serviceChanges === undefined || sliceChanges === undefined) {
      // Not a snapshot the walk can follow: answer in full, start over next time.
      this.#nodeIPs = undefined;
      this.#fallback = { snapshot, nodeIPs, kernelFamilies };
      this.#summary = { full: true, recomputedServices: snapshot.services.length };
      this.#last = undefined;
      return computeDesiredState({
        config: this.config,
        snapshot,
        nodeName: this.nodeName,
        nodeIPs,
        kernelFamilies,
      });
    }
    this.#fallback = undefined;
    const dirty = new Set<string>();
    for (const change of sliceChanges) this.#applySliceChange(change, dirty);
    for (const change of serviceChanges) this.#applyServiceChange(change, dirty);
    this.#services = snapshot.services;
    this.#slices = snapshot.endpointSlices;
    let recomputed = 0;
    for (const id of dirty) recomputed += this.#recompute(id) ? 1 : 0;
    this.#summary = { full, recomputedServices: recomputed };
    if (this.#last !== undefined && recomputed === 0) return this.#last;
    this.#last = this.#publish();
    return this.#last;
  }

  /** This node's zone and pod CIDRs, the parts of its Node object the output depends on. */
  #nodeKey(snapshot: ClusterSnapshot): string {
    const node = snapshot.nodes.find((n) => n.name === this.nodeName);
    return JSON.stringify([node?.zone ?? "", node?.podCIDRs ?? []]);
  }

  /** Forgets everything: the next walk sees every object as added. */
  #reset(
    nodeIPs: readonly string[],
    snapshot: ClusterSnapshot,
    nodeKey: string,
    kernelFamilies: readonly IptablesFamily[],
  ): void {
    this.#nodeIPs = [...nodeIPs];
    this.#kernelFamilies = [...kernelFamilies];
    this.#node = nodeKey;
    const topology = nodeTopology(this.config, snapshot, this.nodeName);
    const podCIDRs = nodePodCIDRs(snapshot, this.nodeName);
    this.#virtualServers = new SortedList();
    this.#addresses = new SortedList(sameBoundAddress);
    const { config, nodeName } = this;
    this.#families = detectFamilies(nodeIPs, config.clusterCIDRs, kernelFamilies).map((family) => {
      const node = selectNodeAddresses(nodeIPs, config.nodePortAddresses, family);
      const localDetector = localDetectorFor(config, family, podCIDRs);
      const context = { family, config, nodeName, node, topology, localDetector };
      return new FamilyState(context, this.#virtualServers, this.#addresses);
    });
    const families = this.#families.map((f) => f.context.family);
    this.#nodeWarnings = localDetectorWarnings(config, families, snapshot, this.nodeName);
    this.#services = [];
    this.#slices = [];
    this.#records.clear();
    this.#slicesOf.clear();
    this.#checked.clear();
    this.#checks = undefined;
    this.#last = undefined;
  }

  /**
   * The health checks of the last update's input, equal to `computeServiceHealthChecks` of
   * it: settled again only when a service with a check changed.
   */
  healthChecks(): ServiceHealthChecks {
    if (this.#fallback !== undefined) {
      return computeServiceHealthChecks({
        config: this.config,
        nodeName: this.nodeName,
        ...this.#fallback,
      });
    }
    this.#checks ??= resolveHealthChecks(
      [...this.#checked]
        .sort((a, b) => compareIdentity(a.service!, b.service!))
        .map((record) => record.check!),
    );
    return this.#checks;
  }

  #applyServiceChange({ before, after }: ObjectChange<Service>, dirty: Set<string>): void {
    const { namespace, name } = (after ?? before)!;
    const id = identity(namespace, name);
    const record = this.#records.get(id);
    if (before !== undefined && after !== undefined && samePlainData(before, after)) {
      record!.service = after;
      return;
    }
    if (record) record.service = after;
    else this.#records.set(id, { service: after, contributions: [] });
    dirty.add(id);
  }

  #applySliceChange({ before, after }: ObjectChange<EndpointSlice>, dirty: Set<string>): void {
    if (before !== undefined && after !== undefined && samePlainData(before, after)) {
      const list = this.#slicesOf.get(identity(before.namespace, before.serviceName))!;
      list[list.indexOf(before)] = after;
      return;
    }
    if (before !== undefined) {
      const id = identity(before.namespace, before.serviceName);
      const list = this.#slicesOf.get(id)!;
      list.splice(list.indexOf(before), 1);
      if (list.length === 0) this.#slicesOf.delete(id);
      dirty.add(id);
    }
    if (after !== undefined) {
      const id = identity(after.namespace, after.serviceName);
      const list = this.#slicesOf.get(id);
      if (list === undefined) this.#slicesOf.set(id, [after]);
      else {
        const at = list.findIndex((s) => compareIdentity(s, after) > 0);
        list.splice(at < 0 ? list.length : at, 0, after);
      }
      dirty.add(id);
    }
  }

  /** Replaces a service's contributions; false when there is no such service, before or now. */
  #recompute(id: string): boolean {
    const record = this.#records.get(id);
    if (record === undefined) return false; // slices of a service that does not exist
    record.contributions.forEach((c, i) => this.#families[i].remove(c));
    if (record.check !== undefined) this.#checks = undefined;
    this.#checked.delete(record);
    const service = record.service;
    if (service === undefined) {
      this.#records.delete(id);
      return true;
    }
    const slices = this.#slicesOf.get(id) ?? [];
    const lookup: SliceLookup = {
      slicesFor: (_, family) => slices.filter((s) => s.addressType === family),
    };
    record.contributions = this.#families.map((family) => {
      const contribution = new ServiceContribution(service);
      new ServiceWriter(family.context, lookup, contribution).write(service);
      family.add(contribution);
      return contribution;
    });
    const families = this.#families.map((f) => f.context.family);
    record.check = healthCheckOf(service, families, lookup, this.nodeName);
    if (record.check !== undefined) {
      this.#checked.add(record);
      this.#checks = undefined;
    }
    return true;
  }

  #publish(): DesiredState {
    for (const family of this.#families) family.commit();
    this.#virtualServers.commit();
    this.#addresses.commit();
    const iptables: Record<IptablesFamily, IptablesFamilyState> = {
      ipv4: EMPTY_TABLES,
      ipv6: EMPTY_TABLES,
    };
    for (const family of this.#families) iptables[family.context.family] = family.rules();
    const state: KernelState = {
      families: this.#families.map((f) => f.context.family),
      virtualServers: this.#virtualServers.items(),
      ipsets: sortByKey(this.#families.flatMap((f) => f.ipSets()), (set) => set.name),
      iptables,
      linkPresent: true,
      addresses: this.#addresses.items(),
    };
    const warnings = [...this.#nodeWarnings, ...this.#families.flatMap((f) => f.warnings())];
    return Object.freeze({ state: Object.freeze(state), warnings: Object.freeze(warnings) });
  }
}

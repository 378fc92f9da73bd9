/**
 * Simulated IPVS: virtual servers and their real servers, refusing what the kernel refuses
 * (EEXIST on adding what exists, ESRCH/ENOENT on changing what does not, an unknown
 * scheduler, a real server of the other address family), with ipvsadm's messages.
 *
 * @module
 */

import type { RealServer, VirtualServer } from "../../src/state/types.ts";
import type { VirtualServerKey } from "../../src/plan/types.ts";
import {
  realServerKey,
  sortByKey,
  sortRealServers,
  virtualServerKey,
  virtualServerSortKey,
} from "../../src/state/keys.ts";
import type { IpvsOperation } from "../../src/render/ipvsadm.ts";
import { Rejected } from "./rejected.ts";
import { SCHEDULERS } from "../../src/config/types.ts";

/** The schedulers a stock kernel ships (`ip_vs_<name>.ko`): the ones the config accepts. */
export const KERNEL_SCHEDULERS: readonly string[] = SCHEDULERS;

type Service = { spec: Omit<VirtualServer, "realServers">; dests: Map<string, RealServer> };

function family(address: string): string {
  return address.includes(":") ? "ipv6" : "ipv4";
}

/**
 * The simulated IPVS table. What it lists is kept, frozen, until it changes: each virtual
 * server's listing until an operation touches that virtual server, the canonical order until
 * one is added or deleted, so a read after one change shares every other virtual server with
 * the read before it (the diff settles those by identity: `SettledPairs`).
 */
export class SimulatedIpvs {
  #services = new Map<string, Service>();
  /** Each virtual server as last listed, until it changes. */
  #listed = new Map<string, VirtualServer>();
  /** The keys in canonical order, until a virtual server is added or deleted. */
  #order: string[] | undefined;
  /** The whole listing, until anything changes. */
  #state: readonly VirtualServer[] | undefined;

  /** Starts with the virtual servers of `initial` (service names dropped, as the kernel has none). */
  constructor(initial: readonly VirtualServer[]) {
    for (const { realServers, ...spec } of initial) {
      const dests = new Map(realServers.map((rs) => [realServerKey(rs), { ...rs }]));
      this.#services.set(virtualServerKey(spec), { spec: { ...spec, service: "" }, dests });
    }
  }

  /**
   * The virtual servers as the kernel lists them, with connection counts (0 if none), in
   * canonical order (real servers too), deeply frozen.
   */
  state(): readonly VirtualServer[] {
    if (this.#state) return this.#state;
    this.#order ??= sortByKey(
      [...this.#services.keys()],
      (key) => virtualServerSortKey(this.#services.get(key)!.spec),
    );
    this.#state = Object.freeze(this.#order.map((key) => this.#listing(key)));
    return this.#state;
  }

  #listing(key: string): VirtualServer {
    const cached = this.#listed.get(key);
    if (cached) return cached;
    const { spec, dests } = this.#services.get(key)!;
    const realServers = sortRealServers([...dests.values()].map((rs) =>
      Object.freeze({
        ...rs,
        activeConnections: rs.activeConnections ?? 0,
        inactiveConnections: rs.inactiveConnections ?? 0,
      })
    ));
    const listing = Object.freeze({
      ...spec,
      flags: Object.freeze([...spec.flags]),
      realServers: Object.freeze(realServers),
    });
    this.#listed.set(key, listing);
    return listing;
  }

  /** Forgets what was listed for `key`; `added` or deleted ones change the order too. */
  #changed(key: string, reordered: boolean): void {
    this.#listed.delete(key);
    this.#state = undefined;
    if (reordered) this.#order = undefined;
  }

  /** Test hook: pretend a real server has connections. Returns false if it does not exist. */
  setConnections(vs: VirtualServerKey, rs: string, active: number, inactive: number): boolean {
    const dest = this.#services.get(virtualServerKey(vs))?.dests.get(rs);
    if (!dest) return false;
    this.#changed(virtualServerKey(vs), false);
    this.#services.get(virtualServerKey(vs))!.dests.set(rs, {
      ...dest,
      activeConnections: active,
      inactiveConnections: inactive,
    });
    return true;
  }

  #service(key: string, missing: string): Service {
    const service = this.#services.get(key);
    if (!service) throw new Rejected(missing);
    return service;
  }

  /** Applies one operation or throws {@linkcode Rejected}. */
  apply(op: IpvsOperation): void {
    const key = virtualServerKey(op.virtualServer);
    switch (op.op) {
      case "ipvs.addVirtualServer":
      case "ipvs.editVirtualServer": {
        const exists = this.#services.has(key);
        if (op.op === "ipvs.addVirtualServer" && exists) {
          throw new Rejected("Service already exists");
        }
        if (op.op === "ipvs.editVirtualServer" && !exists) throw new Rejected("No such service");
        if (!KERNEL_SCHEDULERS.includes(op.virtualServer.scheduler)) {
          throw new Rejected(`Scheduler not found: ip_vs_${op.virtualServer.scheduler}.ko`);
        }
        const dests = this.#services.get(key)?.dests ?? new Map();
        this.#services.set(key, { spec: { ...op.virtualServer, service: "" }, dests });
        this.#changed(key, !exists);
        return;
      }
      case "ipvs.deleteVirtualServer":
        this.#service(key, "No such service");
        this.#services.delete(key);
        this.#changed(key, true);
        return;
      default:
        return this.#applyDestination(op, key);
    }
  }

  /** A real server operation on the virtual server `key` (its `virtualServerKey`). */
  #applyDestination(
    op: Extract<IpvsOperation, { realServer: unknown }>,
    key: string,
  ): void {
    const service = this.#service(key, "Service not defined");
    this.#changed(key, false);
    const rsKey = realServerKey(op.realServer);
    const old = service.dests.get(rsKey);
    if (op.op === "ipvs.addRealServer") {
      if (old) throw new Rejected("Destination already exists");
      if (family(op.realServer.address) !== family(op.virtualServer.address)) {
        throw new Rejected("Address family of destination does not match the service");
      }
      // Plans are immutable values: the operation's own object is kept, not a copy of it.
      service.dests.set(rsKey, op.realServer);
    } else if (!old) {
      throw new Rejected("No such destination");
    } else if (op.op === "ipvs.editRealServer") {
      service.dests.set(rsKey, {
        ...old,
        forward: op.realServer.forward,
        weight: op.realServer.weight,
      });
    } else {
      service.dests.delete(rsKey);
    }
  }
}

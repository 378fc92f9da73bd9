/**
 * One IP family's part of the incremental proxier: what each service contributes (recorded
 * once, replayed when it leaves), and the shared memberships those contributions make up,
 * reference-counted so one service leaving keeps what another still needs.
 *
 * @module
 */

import type { VirtualServer } from "../state/types.ts";
import type { IptablesFamilyState } from "../state/types.ts";
import { IPVS_DEVICE } from "../state/types.ts";
import type { BoundAddress, IpSet } from "../state/types.ts";
import {
  boundAddressSortKey,
  sortRealServers,
  virtualServerKey,
  virtualServerSortKey,
} from "../state/keys.ts";
import { conflictWarning, type FamilyContext, type FamilySink } from "./desired_state.ts";
import { compareIdentity, type Identified } from "./incremental_changes.ts";
import { SortedList } from "./incremental_sorted.ts";
import { IPSET_DEFINITIONS, ipsetName, type SetName } from "./ipsets.ts";
import { buildIptablesRules, type NoNodeAccessEntry } from "./iptables_rules.ts";

/** What one service contributes to one family, in the order the writer produced it. */
export class ServiceContribution implements FamilySink {
  readonly sets: SetName[] = [];
  readonly entries: string[] = [];
  readonly bound: string[] = [];
  readonly virtualServers: VirtualServer[] = [];
  readonly denied: NoNodeAccessEntry[] = [];

  /** `owner` orders the service among others (first by namespace/name wins a conflict). */
  constructor(readonly owner: Identified) {}

  addEntry(set: SetName, entry: string): void {
    this.sets.push(set);
    this.entries.push(entry);
  }

  bind(ip: string): void {
    this.bound.push(ip);
  }

  addVirtualServer(vs: VirtualServer): void {
    // In canonical form and frozen now, so the published state can share it as it is.
    const realServers = Object.freeze(
      sortRealServers(vs.realServers).map((rs) => Object.freeze(rs)),
    );
    Object.freeze(vs.flags);
    this.virtualServers.push(Object.freeze({ ...vs, realServers }));
  }

  denyNodeAccess(entry: NoNodeAccessEntry): void {
    this.denied.push(entry);
  }
}

/** One service's claim on a virtual server key. */
interface Claim {
  readonly by: ServiceContribution;
  /** Which of the contribution's virtual servers (the earlier one wins within a service). */
  readonly index: number;
  readonly vs: VirtualServer;
}

function compareClaims(a: Claim, b: Claim): number {
  return compareIdentity(a.by.owner, b.by.owner) || a.index - b.index;
}

/** Entries counted by how many contributions hold them, published as a sorted list. */
class CountedList<T> {
  readonly #counts = new Map<string, number>();

  constructor(
    readonly toItem: (entry: string) => { key: string; item: T },
    readonly list: SortedList<T> = new SortedList<T>(),
  ) {}

  add(entry: string): void {
    const count = this.#counts.get(entry) ?? 0;
    this.#counts.set(entry, count + 1);
    if (count > 0) return;
    const { key, item } = this.toItem(entry);
    this.list.set(key, item);
  }

  remove(entry: string): void {
    const count = this.#counts.get(entry)!;
    if (count > 1) {
      this.#counts.set(entry, count - 1);
      return;
    }
    this.#counts.delete(entry);
    this.list.delete(this.toItem(entry).key);
  }

  get isEmpty(): boolean {
    return this.#counts.size === 0;
  }
}

const asEntry = (entry: string) => ({ key: entry, item: entry });

/** One family's shared state, changed one contribution at a time. */
export class FamilyState {
  readonly #sets = new Map<SetName, CountedList<string>>();
  readonly #ipSets = new Map<SetName, IpSet>();
  readonly #bound: CountedList<BoundAddress>;
  readonly #claims = new Map<string, Claim[]>();
  /** The sort key of each claimed virtual server key, to find it in the shared list. */
  readonly #sortKeys = new Map<string, string>();
  /** Virtual server keys whose winner must be settled at the next commit. */
  readonly #touched = new Set<string>();
  /** Keys more than one claim wants: the source of the conflict warnings. */
  readonly #conflicts = new Set<string>();
  readonly #denied = new Set<ServiceContribution>();
  #deniedChanged = true;
  #rules: IptablesFamilyState | undefined;
  #rulesSignature = "";
  #warnings: string[] = [];
  #warningsChanged = true;

  /**
   * `virtualServers` is shared by the families (one canonical list for the whole state):
   * this family only writes the keys of its own addresses into it.
   */
  constructor(
    readonly context: FamilyContext,
    readonly virtualServers: SortedList<VirtualServer>,
    addresses: SortedList<BoundAddress>,
  ) {
    for (const definition of IPSET_DEFINITIONS) {
      this.#sets.set(definition.name as SetName, new CountedList(asEntry));
    }
    const prefix = context.family === "ipv4" ? 32 : 128;
    // Both families write into one list of addresses: their keys never collide.
    this.#bound = new CountedList((ip) => {
      const item = Object.freeze({ device: IPVS_DEVICE, address: `${ip}/${prefix}` });
      return { key: boundAddressSortKey(item), item };
    }, addresses);
  }

  /** Adds a contribution's memberships and claims. */
  add(c: ServiceContribution): void {
    for (let k = 0; k < c.entries.length; k++) this.#sets.get(c.sets[k])!.add(c.entries[k]);
    for (const ip of c.bound) this.#bound.add(ip);
    c.virtualServers.forEach((vs, index) => {
      const key = virtualServerKey(vs);
      const claims = this.#claims.get(key);
      if (claims) claims.push({ by: c, index, vs });
      else {
        this.#claims.set(key, [{ by: c, index, vs }]);
        if (!this.#sortKeys.has(key)) this.#sortKeys.set(key, virtualServerSortKey(vs));
      }
      this.#touched.add(key);
    });
    if (c.denied.length > 0) {
      this.#denied.add(c);
      this.#deniedChanged = true;
    }
  }

  /** Removes what `add(c)` added; memberships other contributions hold stay. */
  remove(c: ServiceContribution): void {
    for (let k = 0; k < c.entries.length; k++) this.#sets.get(c.sets[k])!.remove(c.entries[k]);
    for (const ip of c.bound) this.#bound.remove(ip);
    for (const vs of c.virtualServers) {
      const key = virtualServerKey(vs);
      // A service that wants one key twice had all its claims on it removed at the first.
      const claims = this.#claims.get(key)?.filter((claim) => claim.by !== c);
      if (claims === undefined) continue;
      if (claims.length > 0) this.#claims.set(key, claims);
      else this.#claims.delete(key);
      this.#touched.add(key);
    }
    if (this.#denied.delete(c)) this.#deniedChanged = true;
  }

  /** Settles winners and publishes the changed sets and rules. */
  commit(): void {
    for (const key of this.#touched) this.#settle(key);
    this.#touched.clear();
    for (const [name, counted] of this.#sets) {
      if (!counted.list.commit() && this.#ipSets.has(name)) continue;
      this.#ipSets.set(name, this.#ipSet(name, counted.list.items()));
    }
    const signature = [...this.#sets.values()].map((c) => (c.isEmpty ? "0" : "1")).join("");
    if (this.#rules === undefined || this.#deniedChanged || signature !== this.#rulesSignature) {
      this.#rules = this.#buildRules();
      this.#rulesSignature = signature;
      this.#deniedChanged = false;
    }
  }

  /** The winner of a key is its first claim in service order, as a full computation has it. */
  #settle(key: string): void {
    const claims = this.#claims.get(key);
    const wasConflict = this.#conflicts.delete(key);
    const sortKey = this.#sortKeys.get(key)!;
    if (claims === undefined) {
      this.virtualServers.delete(sortKey);
      this.#sortKeys.delete(key);
    } else {
      claims.sort(compareClaims);
      this.virtualServers.set(sortKey, claims[0].vs);
      if (claims.length > 1) this.#conflicts.add(key);
    }
    if (wasConflict || (claims?.length ?? 0) > 1) this.#warningsChanged = true;
  }

  #ipSet(name: SetName, entries: readonly string[]): IpSet {
    const definition = IPSET_DEFINITIONS.find((d) => d.name === name)!;
    const family = this.context.family;
    return Object.freeze({
      name: ipsetName(name, family),
      type: definition.type,
      family: family === "ipv4" ? "inet" as const : "inet6" as const,
      comment: definition.comment,
      entries,
    });
  }

  #buildRules(): IptablesFamilyState {
    const denied = [...this.#denied].sort((a, b) => compareIdentity(a.owner, b.owner));
    return buildIptablesRules({
      family: this.context.family,
      config: this.context.config,
      sets: { isEmpty: (set: SetName) => this.#sets.get(set)!.isEmpty },
      noNodeAccess: denied.flatMap((c) => c.denied),
      localDetector: this.context.localDetector,
    });
  }

  /** The sets of this family, in kube-proxy's definition order. */
  ipSets(): IpSet[] {
    return IPSET_DEFINITIONS.map((d) => this.#ipSets.get(d.name as SetName)!);
  }

  /** The iptables content of this family (the same object while its inputs are unchanged). */
  rules(): IptablesFamilyState {
    return this.#rules!;
  }

  /**
   * The conflict warnings of this family, ordered as a full computation emits them: by
   * service, then by the order within the service.
   */
  warnings(): readonly string[] {
    if (!this.#warningsChanged) return this.#warnings;
    const losers: { claim: Claim; winner: Claim }[] = [];
    for (const key of this.#conflicts) {
      const [winner, ...rest] = this.#claims.get(key)!;
      for (const claim of rest) losers.push({ claim, winner });
    }
    losers.sort((a, b) => compareClaims(a.claim, b.claim));
    this.#warnings = losers.map(({ claim, winner }) => conflictWarning(claim.vs, winner.vs));
    this.#warningsChanged = false;
    return this.#warnings;
  }
}

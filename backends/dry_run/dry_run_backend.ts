/**
 * The dry-run recorder: a backend whose kernel is simulated in memory. It applies each
 * operation the way the kernel and the restore tools would (refusing what they refuse),
 * records what took effect, and counts the tool runs the exec backend would need. It is
 * both the `--dry-run` backend and the fake the other tests use.
 *
 * @module
 */

import type { ApplyResult, Backend } from "../backend.ts";
import type { Operation, Plan, VirtualServerKey } from "../../src/plan/types.ts";
import type { IptablesFamily, IptablesTable, KernelState } from "../../src/state/types.ts";
import { emptyKernelState } from "../../src/state/keys.ts";
import { applyPlanWith } from "../apply_driver.ts";
import type { IpOperation } from "../../src/render/ip_batch.ts";
import type { IpvsOperation } from "../../src/render/ipvsadm.ts";
import type { NodePreparationStep } from "../../src/node_prep/node_preparation.ts";
import { executeSimulatedStep } from "./simulated_steps.ts";
import { SimulatedIpsets } from "./simulated_ipsets.ts";
import { SimulatedIptables } from "./simulated_iptables_families.ts";
import { SimulatedIpvs } from "./simulated_ipvs.ts";
import { SimulatedLinks } from "./simulated_links.ts";

/** Options of {@linkcode DryRunBackend}. */
export interface DryRunOptions {
  /**
   * The kernel's state at the start.
   * @default {emptyKernelState()}
   */
  readonly initial?: KernelState;
  /**
   * What {@linkcode DryRunBackend.nodeAddresses} returns.
   * @default {[]}
   */
  readonly nodeAddresses?: readonly string[];
}

/** A backend with a simulated kernel; see the module documentation. */
export class DryRunBackend implements Backend {
  /** Always `dry-run`. */
  readonly name = "dry-run";
  readonly #nodeAddresses: readonly string[];
  readonly #families: Set<IptablesFamily>;
  readonly #ipvs: SimulatedIpvs;
  readonly #ipsets: SimulatedIpsets;
  readonly #iptables: SimulatedIptables;
  readonly #links: SimulatedLinks;
  readonly #recorded: Operation[] = [];
  readonly #preparation: NodePreparationStep[] = [];
  /** The last state read, until the simulated kernel changes. */
  #read: KernelState | undefined;

  /** A simulated kernel holding `options.initial` (empty by default). */
  constructor(options: DryRunOptions = {}) {
    const initial = options.initial ?? emptyKernelState();
    this.#nodeAddresses = [...(options.nodeAddresses ?? [])];
    this.#families = new Set(initial.families);
    this.#ipvs = new SimulatedIpvs(initial.virtualServers);
    this.#ipsets = new SimulatedIpsets(initial.ipsets);
    this.#iptables = new SimulatedIptables(initial.iptables);
    this.#links = new SimulatedLinks(initial.linkPresent, initial.addresses);
  }

  /**
   * The simulated kernel's state, every list in canonical order, deeply frozen. Until the
   * kernel changes, every read is the same object (an idle sync reads in no time), and after
   * a change the parts it did not touch are the objects of the read before.
   */
  state(): KernelState {
    const order: IptablesFamily[] = ["ipv4", "ipv6"];
    this.#read ??= Object.freeze({
      families: Object.freeze(order.filter((f) => this.#families.has(f))),
      virtualServers: this.#ipvs.state(),
      ipsets: Object.freeze(this.#ipsets.state()),
      iptables: frozenTables(this.#iptables.state()),
      linkPresent: this.#links.linkPresent,
      addresses: this.#links.addresses(),
    });
    return this.#read;
  }

  /** Every operation that took effect so far, in order. */
  recorded(): Plan {
    return [...this.#recorded];
  }

  /**
   * Records the node preparation a start carries out (`computeNodePreparation`), for the dry
   * run to print ahead of the sync plan. With `simulate`, its one effect on what a sync reads
   * is applied to the simulated kernel, as the exec backend's start applies it to the real
   * one: kube-ipvs0 then exists, and the sync plan no longer creates it.
   *
   * @internal
   */
  prepareNode(
    steps: readonly NodePreparationStep[],
    options: { readonly simulate?: boolean } = {},
  ): void {
    this.#preparation.push(...steps);
    if (!options.simulate) return;
    this.#read = undefined;
    for (const step of steps) {
      if (step.kind === "dummy-link" && !this.#links.linkPresent) {
        this.#links.apply({ op: "link.add", device: step.name });
      }
    }
  }

  /**
   * Every node-preparation step recorded by {@linkcode DryRunBackend.prepareNode}, in order.
   *
   * @internal
   */
  preparation(): NodePreparationStep[] {
    return [...this.#preparation];
  }

  /** Test hook: give a real server connection counts, as traffic would. */
  setConnections(vs: VirtualServerKey, realServer: string, active: number, inactive = 0): void {
    this.#read = undefined;
    if (!this.#ipvs.setConnections(vs, realServer, active, inactive)) {
      throw new Error(`No real server ${realServer} on virtual server ${vs.address}:${vs.port}`);
    }
  }

  /** Same as {@linkcode DryRunBackend.state}. */
  read(): Promise<KernelState> {
    return Promise.resolve(this.state());
  }

  /** The addresses given at construction. */
  nodeAddresses(): Promise<readonly string[]> {
    return Promise.resolve(this.#nodeAddresses);
  }

  /**
   * Applies the plan with the shared apply driver, each step on the simulated kernel: a
   * refused ipset or iptables step stops the later ones, exactly as on a node.
   */
  apply(plan: Plan): Promise<ApplyResult> {
    return applyPlanWith(plan, (step) =>
      Promise.resolve(
        executeSimulatedStep(step, (op, lines) => this.#run(op, lines), (op) => {
          this.#recorded.push(op);
        }),
      ));
  }

  /** One operation: sets and iptables from their restore lines, IPVS and links from the op. */
  #run(op: Operation, lines: () => readonly string[]): void {
    this.#read = undefined; // even a refused line may have changed something before it
    if (op.op === "iptables.restore") {
      this.#iptables.restore(op.family, op.table, lines(), (s) => this.#ipsets.has(s));
      this.#families.add(op.family);
    } else if (op.op.startsWith("ipset.")) {
      this.#ipsets.restore(lines(), (s) => this.#iptables.referencedSets().has(s));
    } else if (op.op.startsWith("ipvs.")) {
      this.#ipvs.apply(op as IpvsOperation);
    } else {
      this.#links.apply(op as IpOperation);
    }
  }
}

/** The iptables part of a read, frozen through (it is rebuilt on every change: it is small). */
function frozenTables(tables: KernelState["iptables"]): KernelState["iptables"] {
  const table = (t: IptablesTable) =>
    Object.freeze({
      chains: Object.freeze(
        t.chains.map((c) => Object.freeze({ name: c.name, rules: Object.freeze([...c.rules]) })),
      ),
      jumps: Object.freeze(t.jumps.map((j) => Object.freeze({ ...j }))),
    });
  const family = (f: IptablesFamily) =>
    Object.freeze({ nat: table(tables[f].nat), filter: table(tables[f].filter) });
  return Object.freeze({ ipv4: family("ipv4"), ipv6: family("ipv6") });
}

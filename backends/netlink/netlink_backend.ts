/**
 * The netlink backend: the Backend interface through the kernel's own interfaces from Deno
 * FFI. ipsets go over nfnetlink (`ipset.ts`), `kube-ipvs0` and addresses over rtnetlink
 * (`rtnetlink.ts`), UDP conntrack flows over nfnetlink conntrack (`conntrack.ts`), IPVS
 * through an injected {@linkcode IpvsClient} (generic netlink) or,
 * without one, `ipvsadm` as the exec backend runs it; iptables stays `iptables-restore` and
 * `iptables-save` (there is no sane netlink API for it), the save skipped while nf_tables'
 * generation has not moved (`iptables_read.ts`). A plan is applied through the shared
 * apply driver, each step from its operations, so both backends stop, report and count
 * alike; `read()` returns exactly the `KernelState` the exec backend reads from the tools.
 *
 * Sockets are opened on first use and kept; {@linkcode NetlinkBackend.close} releases them.
 * Operations on one socket never interleave (the socket queues them), so concurrent calls of
 * `read()` and `nodeAddresses()` are safe.
 *
 * @module
 */

import type { ApplyResult, Backend, IpvsInfo } from "../backend.ts";
import { NetlinkConntrack } from "./conntrack.ts";
import { applyPlanWith, type Step, stepLabel, type StepResult } from "../apply_driver.ts";
import type { Plan } from "../../src/plan/types.ts";
import type { IpvsOperation } from "../../src/render/ipvsadm.ts";
import type {
  IpSet,
  IptablesFamily,
  IptablesFamilyState,
  KernelState,
  VirtualServer,
} from "../../src/state/types.ts";
import { IPVS_DEVICE } from "../../src/state/types.ts";
import { emptyKernelState, sortVirtualServers } from "../../src/state/keys.ts";
import { isOurSetName } from "../../src/proxier/ownership.ts";
import { type CommandRunner, runCommand } from "../exec/command.ts";
import { type ApplyOptions, executeStep } from "../exec/apply_plan.ts";
import {
  nodeAddressesOf,
  readSavedVirtualServers,
  readVirtualServers,
} from "../exec/read_kernel.ts";
import type { IpvsClient } from "./ipvs_client.ts";
import { IpsetClient } from "./ipset.ts";
import { executeIpsetStep } from "./ipset_step.ts";
import { RtnetlinkClient } from "./rtnetlink.ts";
import { executeIpStep } from "./ip_step.ts";
import { spawnTool } from "./spawn_tool.ts";
import { IptablesReader, type RulesGeneration } from "./iptables_read.ts";
import { NftablesGeneration } from "./nftables_generation.ts";
import { DumpThread, dumpThreadAllowed } from "./dump_thread.ts";
import { NETLINK_NETFILTER } from "./socket.ts";

/** Options of {@linkcode NetlinkBackend}. */
export interface NetlinkBackendOptions {
  /**
   * The IPVS client (generic netlink). Without one, IPVS is read and written with `ipvsadm`
   * as the exec backend does it.
   */
  readonly ipvsClient?: IpvsClient;
  /**
   * Whether to read and write IPVS at all; `false` where the kernel has none (tests in a
   * network namespace on a kernel without IPVS).
   * @default {true}
   */
  readonly ipvs?: boolean;
  /**
   * Whether to read the sets; `false` where the kernel has no `ip_set` module, which iptables
   * mode does not need: the ipset socket is then not even opened by a read. A plan with set
   * operations is still sent to the kernel (and fails there without the module).
   * @default {true}
   */
  readonly ipsets?: boolean;
  /**
   * Runs `iptables-restore` (and `ipvsadm` without an IPVS client).
   * @default {runCommand}
   */
  readonly run?: CommandRunner;
  /**
   * Runs the `iptables-save` and `ip6tables-save` of every read: a process each read, on the
   * path of every sync, where `runCommand`'s guard (`sh`, `timeout`, then the tool, after
   * dax's search of PATH) costs about 10 ms against 3 ms for the tool alone.
   * @default {spawnTool}
   */
  readonly readRun?: CommandRunner;
  /**
   * The nf_tables generation, by which a read skips an `iptables-save` whose rules cannot
   * have changed (`iptables_read.ts`); tests that fake `readRun` fake it too.
   * @default {the kernel's, over nfnetlink}
   */
  readonly rulesGeneration?: RulesGeneration;
  /**
   * Whether the sets are dumped on a thread of their own (`dump_thread.ts`), beside the
   * addresses on this one.
   * @default {dumpThreadAllowed()}
   */
  readonly dumpThread?: boolean;
  /**
   * The type of `kube-ipvs0` when it is created; `veth` only for tests on kernels without
   * the dummy link type.
   * @default {"dummy"}
   */
  readonly linkType?: "dummy" | "veth";
  /**
   * The IP families this node runs; iptables is read only for these.
   * @default {["ipv4", "ipv6"]}
   */
  readonly families?: readonly IptablesFamily[];
}

const ALL_FAMILIES: readonly IptablesFamily[] = ["ipv4", "ipv6"];

/** A backend that speaks netlink to the kernel; see the module docs. */
export class NetlinkBackend implements Backend {
  /** Always `netlink`. */
  readonly name = "netlink";
  readonly #ipvsClient?: IpvsClient;
  readonly #ipvs: boolean;
  readonly #ipsets: boolean;
  readonly #run: CommandRunner;
  readonly #iptables: IptablesReader;
  readonly #linkType: "dummy" | "veth";
  readonly #families: readonly IptablesFamily[];
  #ipset?: Promise<IpsetClient>;
  readonly #ipsetLists?: DumpThread;
  #rtnetlink?: RtnetlinkClient;
  #nftables?: NftablesGeneration;
  /** UDP conntrack flows over nfnetlink conntrack (its socket opened on first use). */
  readonly udpFlows: NetlinkConntrack;

  /** A backend with the given options (every one has a default); opens nothing yet. */
  constructor(options: NetlinkBackendOptions = {}) {
    if (options.ipvsClient !== undefined) this.#ipvsClient = options.ipvsClient;
    this.#ipvs = options.ipvs ?? true;
    this.#ipsets = options.ipsets ?? true;
    this.#run = options.run ?? runCommand;
    this.#families = ALL_FAMILIES.filter((f) => (options.families ?? ALL_FAMILIES).includes(f));
    this.#iptables = new IptablesReader({
      families: this.#families,
      run: options.readRun ?? spawnTool,
      generation: options.rulesGeneration ?? (() => this.#rulesGeneration()),
    });
    this.#linkType = options.linkType ?? "dummy";
    if (options.dumpThread ?? dumpThreadAllowed()) {
      this.#ipsetLists = new DumpThread(NETLINK_NETFILTER);
    }
    this.udpFlows = new NetlinkConntrack();
  }

  /** The families the backend was opened with: those the kernel can program. */
  kernelFamilies(): readonly IptablesFamily[] {
    return this.#families;
  }

  /** The IPVS version and table size from the IPVS client (GET_INFO); none without one. */
  async ipvsInfo(): Promise<IpvsInfo | undefined> {
    if (!this.#ipvs || this.#ipvsClient?.info === undefined) return undefined;
    const { version, tableSize } = await this.#ipvsClient.info();
    return { version, tableSize };
  }

  #ipsetClient(): Promise<IpsetClient> {
    // A failed handshake is not kept: the next call tries again.
    // Without a dump thread the client lists on its own socket (IpsetClient.open's default).
    this.#ipset ??= IpsetClient.open(undefined, this.#ipsetLists).catch((error) => {
      this.#ipset = undefined;
      throw error;
    });
    return this.#ipset;
  }

  #rt(): RtnetlinkClient {
    this.#rtnetlink ??= new RtnetlinkClient();
    return this.#rtnetlink;
  }

  /**
   * Reads IPVS (when enabled), the `KUBE-` sets (when enabled), our chains and jumps of the
   * configured families, and `kube-ipvs0` with its addresses: the same state the exec backend
   * reads, in canonical order. Every part is asked of the kernel every time: decodes of
   * byte-identical replies are reused, and an `iptables-save` is not run again while the
   * kernel's nf_tables generation says its rules are those of the last one
   * (`iptables_read.ts`). Throws when a read fails (a `NetlinkError` or the tool's
   * `ToolError`).
   */
  async read(): Promise<KernelState> {
    // The tools first: their processes run on the other cores while this thread dumps the
    // sets and addresses (synchronous calls).
    const iptables = this.#readIptables();
    const virtualServers = this.#readVirtualServers();
    const ipsets = this.#readIpsets();
    const device = this.#rt().deviceAddresses(IPVS_DEVICE);
    const read = await Promise.all([virtualServers, ipsets, iptables, device]);
    return {
      families: this.#families,
      virtualServers: read[0],
      ipsets: read[1],
      iptables: read[2],
      linkPresent: read[3].linkPresent,
      addresses: read[3].addresses,
    };
  }

  async #readIpsets(): Promise<readonly IpSet[]> {
    if (!this.#ipsets) return [];
    return await (await this.#ipsetClient()).listSorted(isOurSetName);
  }

  /** The virtual servers in canonical order: the client sorts its read, the tools' is sorted. */
  async #readVirtualServers(): Promise<VirtualServer[]> {
    if (!this.#ipvs) return [];
    if (this.#ipvsClient !== undefined) return await this.#ipvsClient.readVirtualServers();
    return sortVirtualServers(await readVirtualServers(this.#run));
  }

  async #readIptables(): Promise<Record<IptablesFamily, IptablesFamilyState>> {
    return { ...emptyKernelState().iptables, ...await this.#iptables.read() };
  }

  /** The nf_tables generation, `undefined` when the kernel will not tell it. */
  async #rulesGeneration(): Promise<number | undefined> {
    try {
      this.#nftables ??= new NftablesGeneration();
      return await this.#nftables.current();
    } catch {
      // No generation is no shortcut: the tool is run, as on a node without nf_tables.
      return undefined;
    }
  }

  /** Applies `plan` through the shared driver; a refused operation is reported, never thrown. */
  apply(plan: Plan): Promise<ApplyResult> {
    return applyPlanWith(plan, (step) => this.#execute(step), {
      render: { linkType: this.#linkType },
    });
  }

  async #execute(step: Step): Promise<StepResult> {
    try {
      switch (step.tool) {
        case "ipset":
          return await executeIpsetStep(step, await this.#ipsetClient());
        case "ip":
          return await executeIpStep(step, this.#rt(), this.#linkType);
        case "ipvsadm":
          if (this.#ipvsClient !== undefined) {
            return await this.#ipvsClient.apply(step.operations as IpvsOperation[]);
          }
          return await executeStep(step, this.#execOptions());
        case "iptables":
        case "ip6tables":
          return await executeStep(step, this.#execOptions());
      }
    } catch (error) {
      // A socket that cannot be opened, or a lost reply: every operation of the step is
      // reported with why, since none is known to have taken effect.
      const message = (error as Error).message;
      const tool = stepLabel(step);
      return {
        failures: step.operations.map((operation) => ({ operation, tool, line: "", message })),
        writes: 0,
      };
    }
  }

  #execOptions(): ApplyOptions {
    return {
      run: this.#run,
      render: { linkType: this.#linkType },
      readIpsets: async () => (await this.#ipsetClient()).list(),
      readVirtualServers: () => readSavedVirtualServers(this.#run),
    };
  }

  /** Every address but those on `kube-ipvs0`, loopback and link-local, primaries first. */
  async nodeAddresses(): Promise<readonly string[]> {
    return nodeAddressesOf(await this.#rt().addressesByDevice());
  }

  /**
   * Closes the backend's sockets and the IPVS client it was given. The sockets are opened
   * again if the backend is used after this; the IPVS client is not.
   */
  async close(): Promise<void> {
    const ipset = this.#ipset;
    this.#ipset = undefined;
    if (ipset !== undefined) (await ipset.catch(() => undefined))?.close();
    this.#rtnetlink?.close();
    this.#rtnetlink = undefined;
    this.#nftables?.close();
    this.#nftables = undefined;
    this.udpFlows.close();
    await this.#ipsetLists?.close();
    this.#ipvsClient?.close();
  }
}

/**
 * The exec backend: implements the Backend interface by running the real tools through
 * dax-sh, with arguments as arrays and bulk input on stdin, never a shell string built from
 * cluster data. It reads with the tools' save formats (`read_kernel.ts`) and applies a plan
 * through the shared apply driver (`../apply_driver.ts`), one process per step
 * (`apply_plan.ts`). It touches only what is ours: `KUBE-` sets,
 * our chains and jump rules, `kube-ipvs0`, and the virtual servers the plan names.
 *
 * @module
 */

import type { ApplyResult, Backend, IpvsInfo, UdpFlowTable } from "../backend.ts";
import { conntrackTool } from "./conntrack.ts";
import { type ReadTextFile, readTextFileIfExists } from "./kernel_modules.ts";
import type { Plan } from "../../src/plan/types.ts";
import type { IptablesFamily, IptablesFamilyState, KernelState } from "../../src/state/types.ts";
import { emptyKernelState, sortKernelState } from "../../src/state/keys.ts";
import { type CommandRunner, runCommand } from "./command.ts";
import { applyPlan } from "./apply_plan.ts";
import {
  nodeAddressesOf,
  parseIpvsProcHeader,
  readAllAddresses,
  readIpsets,
  readIptablesFamily,
  readIpvsDevice,
  readSavedVirtualServers,
  readVirtualServers,
} from "./read_kernel.ts";

/** Options of {@linkcode ExecBackend}. */
export interface ExecBackendOptions {
  /**
   * Runs each tool.
   * @default {runCommand}
   */
  readonly run?: CommandRunner;
  /**
   * Whether to read and write IPVS (`ipvsadm`); `false` where the kernel has none, e.g. tests
   * in a network namespace on a kernel without IPVS.
   * @default {true}
   */
  readonly ipvs?: boolean;
  /**
   * Whether to read the sets (`ipset save`); `false` where `ipset` is not installed, which
   * iptables mode does not need. A plan with set operations is still handed to `ipset`.
   * @default {true}
   */
  readonly ipsets?: boolean;
  /**
   * The type of `kube-ipvs0` when it is created. `veth` only for tests on kernels without the
   * dummy link type (`link add kube-ipvs0 type veth peer name kube-ipvs0-peer`).
   * @default {"dummy"}
   */
  readonly linkType?: "dummy" | "veth";
  /**
   * The IP families this node runs; iptables is read only for these.
   * @default {["ipv4", "ipv6"]}
   */
  readonly families?: readonly IptablesFamily[];
  /**
   * Reads a file of `/proc` (`/proc/net/ip_vs` for {@linkcode ExecBackend.ipvsInfo}).
   * @default {readTextFileIfExists}
   */
  readonly readProcFile?: ReadTextFile;
}

const ALL_FAMILIES: readonly IptablesFamily[] = ["ipv4", "ipv6"];

/** A backend that runs `ipvsadm`, `ipset`, `iptables-restore` and `ip`; see the module docs. */
export class ExecBackend implements Backend {
  /** Always `exec`. */
  readonly name = "exec";
  readonly #run: CommandRunner;
  readonly #ipvs: boolean;
  readonly #ipsets: boolean;
  readonly #linkType: "dummy" | "veth";
  readonly #families: readonly IptablesFamily[];
  readonly #readProcFile: ReadTextFile;
  /** UDP conntrack flows through the `conntrack` tool. */
  readonly udpFlows: UdpFlowTable;

  /** A backend with the given options (every one has a default). */
  constructor(options: ExecBackendOptions = {}) {
    this.#run = options.run ?? runCommand;
    this.#ipvs = options.ipvs ?? true;
    this.#ipsets = options.ipsets ?? true;
    this.#readProcFile = options.readProcFile ?? readTextFileIfExists;
    this.udpFlows = conntrackTool(this.#run);
    this.#linkType = options.linkType ?? "dummy";
    this.#families = ALL_FAMILIES.filter((f) => (options.families ?? ALL_FAMILIES).includes(f));
  }

  /**
   * Reads IPVS and the `KUBE-` sets (each when enabled), our chains and jumps of the configured
   * families, and `kube-ipvs0`. Throws a `ToolError` naming the tool when one fails.
   */
  async read(): Promise<KernelState> {
    const run = this.#run;
    const [virtualServers, ipsets, iptables, device] = await Promise.all([
      this.#ipvs ? readVirtualServers(run) : Promise.resolve([]),
      this.#ipsets ? readIpsets(run) : Promise.resolve([]),
      this.#readIptables(),
      readIpvsDevice(run),
    ]);
    return sortKernelState({
      families: this.#families,
      virtualServers,
      ipsets,
      iptables,
      linkPresent: device.linkPresent,
      addresses: device.addresses,
    });
  }

  async #readIptables(): Promise<Record<IptablesFamily, IptablesFamilyState>> {
    const tables = { ...emptyKernelState().iptables };
    const read = await Promise.all(this.#families.map((f) => readIptablesFamily(this.#run, f)));
    this.#families.forEach((family, i) => tables[family] = read[i]);
    return tables;
  }

  /**
   * Applies `plan` with one process per tool run; a refused operation is reported, never
   * thrown. With IPVS disabled, a plan with IPVS operations is still handed to `ipvsadm`.
   */
  apply(plan: Plan): Promise<ApplyResult> {
    return applyPlan(plan, {
      run: this.#run,
      render: { linkType: this.#linkType },
      readIpsets: () => readIpsets(this.#run, false),
      readVirtualServers: () => readSavedVirtualServers(this.#run),
    });
  }

  /**
   * The IPVS version and table size from `/proc/net/ip_vs`, which is where `ipvsadm -Ln`
   * takes them; `undefined` with IPVS disabled or absent.
   */
  async ipvsInfo(): Promise<IpvsInfo | undefined> {
    if (!this.#ipvs) return undefined;
    const text = await this.#readProcFile("/proc/net/ip_vs");
    return text === undefined ? undefined : parseIpvsProcHeader(text);
  }

  /** Every address but those on `kube-ipvs0`, loopback and link-local, primaries first. */
  /** The families it was opened for: those the kernel runs (`kernelFamilies` at startup). */
  kernelFamilies(): readonly IptablesFamily[] {
    return this.#families;
  }

  async nodeAddresses(): Promise<readonly string[]> {
    return nodeAddressesOf(await readAllAddresses(this.#run));
  }
}

/**
 * What kube-proxy's IPVS mode sets on the node once at startup: the sysctls IPVS needs,
 * kube-proxy's conntrack settings (when given), the connection timeouts (`ipvsadm --set`), and
 * the dummy link `kube-ipvs0` that holds service addresses. {@link prepareNode} computes the
 * steps (`src/node_prep/`) and carries them out (`./node_preparation.ts`).
 *
 * @module
 */

import type { CommandRunner } from "./command.ts";
import { applyNodePreparation, onlineCpus } from "./node_preparation.ts";
import {
  computeNodePreparation,
  type ConntrackSetupConfig,
} from "../../src/node_prep/node_preparation.ts";

export { NodePreparationError } from "./node_preparation.ts";
export {
  DUMMY_LINK,
  requiredSysctls,
  timeoutSeconds,
} from "../../src/node_prep/node_preparation.ts";

/** The resolved configuration fields node preparation uses. */
export interface NodeSetupConfig {
  /** `ipvs.strictARP`: answer ARP only for addresses on the receiving interface. */
  readonly strictARP: boolean;
  /** `ipvs.tcpTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly tcpTimeoutMs: number;
  /** `ipvs.tcpFinTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly tcpFinTimeoutMs: number;
  /** `ipvs.udpTimeout` in milliseconds; 0 keeps the kernel's value. */
  readonly udpTimeoutMs: number;
  /**
   * kube-proxy's `conntrack` section; without it no conntrack setting is touched.
   * @default undefined
   */
  readonly conntrack?: ConntrackSetupConfig;
}

/** What {@link prepareNode} needs. */
export interface PrepareNodeOptions {
  /** The resolved IPVS (and conntrack) settings. */
  readonly config: NodeSetupConfig;
  /** Runs `ipvsadm` and `ip`. */
  readonly run: CommandRunner;
  /**
   * Writes one sysctl, key in slash form (`net/ipv4/ip_forward`).
   * @default writes `/proc/sys/<key>`
   */
  readonly writeSysctl?: (key: string, value: string) => Promise<void>;
  /**
   * Reads one sysctl; `undefined` when it does not exist.
   * @default reads `/proc/sys/<key>` when `writeSysctl` is the default too; otherwise reads
   * nothing, so that every sysctl goes through the injected writer
   */
  readonly readSysctl?: (key: string) => Promise<string | undefined>;
  /**
   * Reads a file (`/proc/mounts`, the conntrack hash size, the online CPUs).
   * @default reads the real file
   */
  readonly readFile?: (path: string) => Promise<string | undefined>;
  /**
   * Writes a file (the conntrack hash size).
   * @default writes the real file
   */
  readonly writeFile?: (path: string, text: string) => Promise<void>;
  /**
   * The CPU count that scales `conntrack.maxPerCore`.
   * @default the node's online CPUs
   */
  readonly cpus?: number;
}

/**
 * Sets the sysctls (only those whose value differs), kube-proxy's conntrack settings, applies
 * `ipvsadm --set` when a timeout is configured, and creates `kube-ipvs0` when it is missing
 * (left down, as kube-proxy does). Resolves with one log line per change; throws a
 * {@link NodePreparationError} naming every step that failed, after trying them all. Loading
 * the modules is the preflight's job, not this one's.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * import { prepareNode } from "./startup.ts";
 * const config = { strictARP: false, tcpTimeoutMs: 0, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 };
 * for (const line of await prepareNode({ config, run: runCommand })) console.log(line);
 * ```
 */
export async function prepareNode(options: PrepareNodeOptions): Promise<string[]> {
  const readSysctl = options.readSysctl ??
    (options.writeSysctl === undefined ? undefined : () => Promise.resolve(undefined));
  const needsCpus = options.cpus === undefined && (options.config.conntrack?.maxPerCore ?? 0) > 0;
  const cpus = needsCpus ? await onlineCpus(options.readFile) : options.cpus ?? 1;
  const steps = computeNodePreparation({ ...options.config, scheduler: "" }, { cpus });
  return await applyNodePreparation(steps, {
    run: options.run,
    readSysctl,
    writeSysctl: options.writeSysctl,
    readFile: options.readFile,
    writeFile: options.writeFile,
  });
}

/**
 * `NetlinkIpvs`: the IPVS client over generic netlink. It reads the virtual servers as the exec
 * backend reads them from `ipvsadm -Sn` and `-Ln` (one service dump, then the real servers from
 * the kernel's `/proc/net/ip_vs`, or one destination dump per service), applies a step's IPVS
 * operations as one batch (chunked by the socket, ACK only at each chunk's end, every refusal
 * still reported with its errno), and does what the node preparation and the preflight do with
 * `ipvsadm`: GET_INFO, the timeouts (`--set`), and the scheduler probe.
 *
 * @module
 */

import type { StepResult } from "../apply_driver.ts";
import type { OperationFailure } from "../backend.ts";
import type { PreflightCheck } from "../exec/preflight.ts";
import { PROBE_SERVICE } from "../exec/preflight.ts";
import { isSchedulerName } from "../../src/node_prep/modules.ts";
import type { VirtualServerKey } from "../../src/plan/types.ts";
import { type IpvsOperation, renderIpvsadmLine } from "../../src/render/ipvsadm.ts";
import { sortVirtualServers, virtualServerKey } from "../../src/state/keys.ts";
import type { VirtualServer } from "../../src/state/types.ts";
import { type GenlFamily, resolveFamily } from "./genl.ts";
import type { IpvsClient } from "./ipvs_client.ts";
import { EventLoopTurns } from "./ipvs_turns.ts";
import {
  describeIpvsOperation,
  describeVirtualServer,
  encodeFlush,
  encodeGetConfig,
  encodeGetDestinations,
  encodeGetInfo,
  encodeGetServices,
  encodeIpvsOperation,
  encodeSetTimeouts,
  IPVS_FAMILY_NAME,
  type IpvsTimeouts,
} from "./ipvs_messages.ts";
import {
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  type IpvsInfo,
} from "./ipvs_replies.ts";
import { type DestinationTable, IPVS_PROC_TABLE, readDestinationTable } from "./ipvs_proc_table.ts";
import { describeErrno, ERRNO } from "./libc.ts";
import type { NetlinkMessage, NetlinkRequest } from "./message.ts";
import {
  NETLINK_GENERIC,
  NetlinkError,
  NetlinkSocket,
  type NetlinkSocketOptions,
} from "./socket.ts";

/** The tool name failures are reported under. */
export const NETLINK_IPVS = "netlink ipvs";

/** What {@linkcode NetlinkIpvs.open} gives: a client, or why IPVS cannot be used here. */
export type IpvsOpenResult =
  | { readonly ok: true; readonly client: NetlinkIpvs }
  | {
    readonly ok: false;
    /** Why, e.g. `the kernel has no "IPVS" generic netlink family (ip_vs is not loaded)`. */
    readonly reason: string;
    /** What fixes it, e.g. `modprobe -- ip_vs`. */
    readonly fix: string;
  };

/**
 * Work a read does at least between two turns of the event loop, in milliseconds, unless the
 * socket options' `yieldEveryMs` says otherwise (see `ipvs_turns.ts`).
 */
const YIELD_EVERY_MS = 10;

const NO_SOCKET_TURNS = 2 ** 31;

/** Requests per socket batch: the turns of the event loop come between these slices. */
const SLICE = 512;

/** The probe virtual server kube-proxy creates to prove a scheduler works (TEST-NET-2). */
const PROBE: VirtualServerKey = (() => {
  const [address, port] = PROBE_SERVICE.split(":");
  return { protocol: "tcp", address, port: Number(port) };
})();

/** Options of {@linkcode NetlinkIpvs.open}: the socket's, and where the real servers are read. */
export interface NetlinkIpvsOptions extends NetlinkSocketOptions {
  /**
   * The kernel's table the real servers are read from in one go (`ipvs_proc_table.ts`), or
   * `false` to dump each virtual server's through netlink. When the table cannot be read, or
   * does not list exactly the virtual servers the GET_SERVICE dump gave, a read dumps them.
   * @default {"/proc/net/ip_vs"}
   */
  readonly destinationTable?: string | false;
}

/** See the module docs. Open with {@linkcode NetlinkIpvs.open}; close when done. */
export class NetlinkIpvs implements IpvsClient {
  readonly #socket: NetlinkSocket;
  readonly #yieldEveryMs: number;
  readonly #destinationTable: string | false;
  /** The IPVS family as the controller resolved it. */
  readonly family: GenlFamily;

  private constructor(socket: NetlinkSocket, family: GenlFamily, options: NetlinkIpvsOptions) {
    this.#socket = socket;
    this.family = family;
    this.#yieldEveryMs = options.yieldEveryMs ?? YIELD_EVERY_MS;
    this.#destinationTable = options.destinationTable ?? IPVS_PROC_TABLE;
  }

  /**
   * Opens a generic netlink socket and resolves the "IPVS" family. A kernel without IPVS is an
   * answer (`ok: false` with the reason and the fix), not an error, so a preflight can report
   * it; so is a socket the kernel refuses.
   *
   * @example
   * ```ts
   * import { NetlinkIpvs } from "./ipvs.ts";
   * const opened = await NetlinkIpvs.open();
   * if (!opened.ok) console.error(`IPVS: ${opened.reason}; fix: ${opened.fix}`);
   * else opened.client.close();
   * ```
   */
  static async open(options: NetlinkIpvsOptions = {}): Promise<IpvsOpenResult> {
    let socket: NetlinkSocket;
    try {
      // The client gives the event loop its turns itself (ipvs_turns.ts): the socket's fixed
      // ones (every 10 ms inside a dump or batch) cost more than the work under TCG.
      socket = NetlinkSocket.open(NETLINK_GENERIC, { ...options, yieldEveryMs: NO_SOCKET_TURNS });
    } catch (error) {
      return {
        ok: false,
        reason: `cannot open a generic netlink socket: ${(error as Error).message}`,
        fix: "run as root on a Linux kernel with generic netlink",
      };
    }
    try {
      const family = await resolveFamily(socket, IPVS_FAMILY_NAME);
      if (family !== undefined) {
        return { ok: true, client: new NetlinkIpvs(socket, family, options) };
      }
      socket.close();
      return {
        ok: false,
        reason: `the kernel has no "${IPVS_FAMILY_NAME}" generic netlink family ` +
          "(IP Virtual Server is not built in and ip_vs is not loaded)",
        fix: "modprobe -- ip_vs",
      };
    } catch (error) {
      socket.close();
      return {
        ok: false,
        reason: `cannot resolve the "${IPVS_FAMILY_NAME}" family: ${(error as Error).message}`,
        fix: "modprobe -- ip_vs",
      };
    }
  }

  #request(payload: Uint8Array): NetlinkRequest {
    return { type: this.family.id, flags: 0, payload };
  }

  /**
   * Every virtual server with its real servers, in the state's canonical order
   * (`sortVirtualServers`), as the exec backend reads them (see `decodeService`,
   * `decodeDestination`, `parseDestinationTable`): firewall-mark services are left out,
   * every real server has its connection counts. The services come
   * from one GET_SERVICE dump, their real servers from the kernel's table when it lists
   * exactly those services (see {@linkcode NetlinkIpvsOptions.destinationTable}), else from
   * one GET_DEST dump per service. Throws a `NetlinkError` (or an `IpvsDecodeError`) when
   * the kernel cannot be read.
   */
  async readVirtualServers(): Promise<VirtualServer[]> {
    const messages = await this.#socket.dump(this.#request(encodeGetServices()), {
      operation: `${NETLINK_IPVS}: dump`,
      object: "virtual servers",
    });
    const services: VirtualServer[] = [];
    for (const message of messages) {
      const vs = decodeService(message.payload);
      if (vs !== undefined) services.push(vs);
    }
    const table = await this.#readTableOf(services);
    const result = table !== undefined
      ? services.map((vs) => ({ ...vs, realServers: table.get(virtualServerKey(vs))! }))
      : await this.#dumpDestinationsOf(services);
    return sortVirtualServers(result);
  }

  /** The kernel's table, if it lists exactly `services` (no change came in between). */
  async #readTableOf(services: readonly VirtualServer[]): Promise<DestinationTable | undefined> {
    if (this.#destinationTable === false) return undefined;
    const table = await readDestinationTable(this.#destinationTable);
    if (table === undefined || table.size !== services.length) return undefined;
    return services.every((vs) => table.has(virtualServerKey(vs))) ? table : undefined;
  }

  async #dumpDestinationsOf(services: readonly VirtualServer[]): Promise<VirtualServer[]> {
    const result: VirtualServer[] = [];
    // One dump per service, each synchronous: let the health server answer in between.
    const turns = new EventLoopTurns({ minMs: this.#yieldEveryMs });
    for (const vs of services) {
      result.push({ ...vs, realServers: await this.#readDestinations(vs) });
      await turns.maybe();
    }
    return result;
  }

  async #readDestinations(vs: VirtualServer) {
    const replies = await this.#socket.dump(this.#request(encodeGetDestinations(vs)), {
      operation: `${NETLINK_IPVS}: dump real servers of`,
      object: describeVirtualServer(vs),
    });
    const isV6 = vs.address.includes(":");
    return replies.map((message) => decodeDestination(message.payload, isV6));
  }

  /**
   * Carries out the operations in order, like `ipvsadm --restore` with one line each (a
   * refused one does not stop the rest), in as few sends as the socket buffer allows. Each
   * refusal comes back once: tool `netlink ipvs`, the equivalent ipvsadm line, and e.g.
   * `add virtual server TCP 10.0.0.1:80: EEXIST (File exists)`. An operation that cannot be
   * encoded is reported without being sent. If a send itself fails or a reply never comes,
   * every operation of that slice of 512 is reported with that error (the next sync reads the
   * kernel again). The event loop gets its turns between slices (`ipvs_turns.ts`).
   */
  async apply(ops: readonly IpvsOperation[]): Promise<StepResult> {
    const failures: OperationFailure[] = [];
    const sent: IpvsOperation[] = [];
    const requests: NetlinkRequest[] = [];
    for (const op of ops) {
      try {
        requests.push(this.#request(encodeIpvsOperation(op)));
        sent.push(op);
      } catch (error) {
        failures.push(ipvsFailure(op, (error as Error).message));
      }
    }
    if (requests.length === 0) return { failures: sortedLike(ops, failures), writes: 0 };
    const turns = new EventLoopTurns({ minMs: this.#yieldEveryMs });
    let writes = 0;
    for (let start = 0; start < requests.length; start += SLICE) {
      const slice = requests.slice(start, start + SLICE);
      try {
        const result = await this.#socket.batch(slice, {
          operation: `${NETLINK_IPVS}: batch of`,
          object: `${slice.length} operations`,
        });
        writes += result.sends;
        for (const refused of result.failures) {
          const reason = describeErrno(refused.errno) + (refused.text ? `: ${refused.text}` : "");
          failures.push(ipvsFailure(sent[start + refused.index], reason));
        }
      } catch (error) {
        // The send failed or a reply never came: nothing is known about this slice.
        const message = (error as Error).message;
        writes++;
        failures.push(...sent.slice(start, start + SLICE).map((op) => ipvsFailure(op, message)));
      }
      await turns.maybe();
    }
    return { failures: sortedLike(ops, failures), writes };
  }

  /** The IPVS version and connection table size (`IP Virtual Server version 1.2.1 (size=4096)`). */
  async info(): Promise<IpvsInfo> {
    const reply = await this.#single(encodeGetInfo(), "get info", "IPVS");
    return decodeInfo(reply.payload);
  }

  /** The TCP, TCP FIN and UDP timeouts (`ipvsadm -L --timeout`). */
  async timeouts(): Promise<IpvsTimeouts> {
    const reply = await this.#single(encodeGetConfig(), "get timeouts", "IPVS");
    return decodeTimeouts(reply.payload);
  }

  /**
   * Sets the timeouts like `ipvsadm --set tcp tcpfin udp` (0 keeps a value as it is).
   * Throws a `NetlinkError` naming the errno when the kernel refuses.
   */
  async setTimeouts(timeouts: IpvsTimeouts): Promise<void> {
    await this.#socket.request(this.#request(encodeSetTimeouts(timeouts)), {
      operation: `${NETLINK_IPVS}: set timeouts`,
      object: `(tcp tcpfin udp) ${timeouts.tcp} ${timeouts.tcpFin} ${timeouts.udp}`,
    });
  }

  /** Deletes every virtual server (`ipvsadm -C`); tests use it, `--cleanup` deletes only ours. */
  async flush(): Promise<void> {
    await this.#socket.request(this.#request(encodeFlush()), {
      operation: `${NETLINK_IPVS}: flush`,
      object: "every virtual server",
    });
  }

  /**
   * kube-proxy's scheduler check, as the exec preflight runs it with ipvsadm: passes when a
   * virtual server already uses `scheduler`, else creates the probe virtual server
   * 198.51.100.0:20000/TCP with it (removing a probe left behind first) and deletes it again.
   * An unknown scheduler is refused by the kernel with ENOENT.
   */
  async probeScheduler(scheduler: string): Promise<PreflightCheck> {
    const name = `scheduler ${scheduler}`;
    const existing = await this.readVirtualServers();
    if (existing.some((vs) => vs.scheduler === scheduler)) {
      return { name, ok: true, detail: "a virtual server already uses it", fix: "" };
    }
    const probe = describeVirtualServer(PROBE);
    const isProbe = (vs: VirtualServerKey) =>
      vs.protocol === PROBE.protocol && vs.address === PROBE.address && vs.port === PROBE.port;
    if (existing.some(isProbe)) await this.#deleteProbe();
    const add = await this.apply([{
      op: "ipvs.addVirtualServer",
      virtualServer: { ...PROBE, scheduler, persistenceTimeout: 0, flags: [], service: "" },
    }]);
    if (add.failures.length > 0) {
      return {
        name,
        ok: false,
        detail: `cannot create the probe virtual server ${probe} with scheduler ${scheduler}: ` +
          add.failures[0].message,
        fix: `modprobe -- ip_vs_${scheduler}`,
      };
    }
    const failure = await this.#deleteProbe();
    if (failure !== undefined) {
      return {
        name,
        ok: false,
        detail: `the probe virtual server ${probe} could not be deleted: ${failure}`,
        fix: `ipvsadm -D -t ${PROBE_SERVICE}`,
      };
    }
    return { name, ok: true, detail: `a probe virtual server ${probe} worked`, fix: "" };
  }

  /** Deletes the probe virtual server; the failure's message, if any. */
  async #deleteProbe(): Promise<string | undefined> {
    const result = await this.apply([{ op: "ipvs.deleteVirtualServer", virtualServer: PROBE }]);
    return result.failures[0]?.message;
  }

  async #single(payload: Uint8Array, operation: string, object: string): Promise<NetlinkMessage> {
    const replies = await this.#socket.request(this.#request(payload), {
      operation: `${NETLINK_IPVS}: ${operation}`,
      object,
    });
    const reply = replies.find((m) => m.type === this.family.id);
    if (reply === undefined) {
      throw new NetlinkError(
        { operation: `${NETLINK_IPVS}: ${operation}`, object },
        ERRNO.ENODATA,
        {
          kernelText: "the kernel acknowledged without a reply",
        },
      );
    }
    return reply;
  }

  /** Releases the socket; harmless twice. */
  close(): void {
    this.#socket.close();
  }
}

/**
 * The IPVS part of kube-proxy's startup checks through netlink, as the exec preflight makes it
 * with ipvsadm: `IPVS reachable` (the "IPVS" family resolves), then `scheduler X` (a probe
 * virtual server), or why the scheduler name is no IPVS scheduler's. `""` means `rr`.
 *
 * @example
 * ```ts
 * import { ipvsPreflightChecks } from "./ipvs.ts";
 * const checks = await ipvsPreflightChecks("rr");
 * // [{ name: "IPVS reachable", ok: true, ... }, { name: "scheduler rr", ok: true, ... }]
 * ```
 */
export async function ipvsPreflightChecks(scheduler: string): Promise<PreflightCheck[]> {
  const name = scheduler === "" ? "rr" : scheduler;
  const opened = await NetlinkIpvs.open();
  if (!opened.ok) {
    return [{ name: "IPVS reachable", ok: false, detail: opened.reason, fix: opened.fix }];
  }
  const reachable: PreflightCheck = {
    name: "IPVS reachable",
    ok: true,
    detail: `generic netlink family "${IPVS_FAMILY_NAME}" (id ${opened.client.family.id})`,
    fix: "",
  };
  try {
    if (!isSchedulerName(name)) {
      return [reachable, {
        name: `scheduler ${name}`,
        ok: false,
        detail: `${JSON.stringify(name)} is not an IPVS scheduler name`,
        fix:
          "set ipvs.scheduler to an IPVS scheduler such as rr, wrr, lc, wlc, sh, dh, sed, nq or mh",
      }];
    }
    return [reachable, await opened.client.probeScheduler(name)];
  } catch (error) {
    return [reachable, {
      name: `scheduler ${name}`,
      ok: false,
      detail: `the probe failed: ${(error as Error).message}`,
      fix: `modprobe -- ip_vs_${name}`,
    }];
  } finally {
    opened.client.close();
  }
}

function ipvsadmLine(op: IpvsOperation): string {
  try {
    return renderIpvsadmLine(op);
  } catch {
    return "";
  }
}

function ipvsFailure(op: IpvsOperation, reason: string): OperationFailure {
  return {
    operation: op,
    tool: NETLINK_IPVS,
    line: ipvsadmLine(op),
    message: `${describeIpvsOperation(op)}: ${reason}`,
  };
}

/** The failures in the operations' order, each once. */
function sortedLike(
  ops: readonly IpvsOperation[],
  failures: readonly OperationFailure[],
): OperationFailure[] {
  const order = new Map<unknown, number>(ops.map((op, i) => [op, i]));
  return [...failures].sort((a, b) => order.get(a.operation)! - order.get(b.operation)!);
}

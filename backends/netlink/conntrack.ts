/**
 * UDP conntrack flows over nfnetlink conntrack, the netlink backend's {@linkcode UdpFlowTable}:
 * what the exec backend does with the `conntrack` tool, without a process per flow.
 *
 * - `list(family)` dumps the family's flows (`IPCTNL_MSG_CT_GET`, one dump) and keeps the UDP
 *   ones, as `conntrack -L -p udp -f FAMILY` lists them.
 * - `delete(flows)` deletes every UDP flow matching a flow's family, original destination and
 *   port and reply source, as `conntrack -D --orig-dst --orig-port-dst --reply-src` does: it
 *   dumps the families asked for and deletes each match by its exact tuple, zone and id
 *   (`IPCTNL_MSG_CT_DELETE`), many deletes per send through the socket's batch (an ACK only
 *   on each chunk's last message, errors still reported per message).
 *
 * @module
 */

import type { IptablesFamily, UdpFlow } from "../../src/state/types.ts";
import type { FlowDeletion, UdpFlowTable } from "../backend.ts";
import { describeErrno, ERRNO } from "./libc.ts";
import type { BatchFailure } from "./replies.ts";
import { NETLINK_NETFILTER, NetlinkSocket } from "./socket.ts";
import {
  addressBytes,
  addressText,
  type ConntrackEntry,
  deleteRequest,
  dumpRequest,
  tupleText,
  udpEntries,
  udpFlowOf,
} from "./conntrack_messages.ts";

/** What the table needs of a socket: a {@linkcode NetlinkSocket} of `NETLINK_NETFILTER`. */
export type ConntrackSocket = Pick<NetlinkSocket, "dump" | "batch" | "close">;

/** Options of {@linkcode NetlinkConntrack}. */
export interface NetlinkConntrackOptions {
  /**
   * Opens the socket, on first use (and again after {@linkcode NetlinkConntrack.close}).
   * @default {() => NetlinkSocket.open(NETLINK_NETFILTER)}
   */
  readonly open?: () => ConntrackSocket;
  /**
   * At most this many deletes are handed to the socket at once, so a batch that fails as a
   * whole (a reply that never came) leaves the outcome of only these unknown.
   * @default {1024}
   */
  readonly deletesPerBatch?: number;
}

const OPERATION = "nfnetlink conntrack";

/** The match key of a flow: family, original destination and port, reply source. */
function flowKey(flow: UdpFlow): string {
  return `${flow.family} ${flow.origDst} ${flow.origDstPort} ${flow.replySrc}`;
}

function flowText(flow: UdpFlow): string {
  return `udp flow ${flow.family} to ${flow.origDst} port ${flow.origDstPort} replied by ${flow.replySrc}`;
}

/**
 * The keys of the flows asked for, by family, with addresses in the kernel's text (so
 * `fd00:0::1` finds `fd00::1`); a flow that names no valid address is a problem, as the tool
 * refuses it.
 */
function wantedKeys(
  flows: readonly UdpFlow[],
  problems: string[],
): Map<IptablesFamily, Set<string>> {
  const wanted = new Map<IptablesFamily, Set<string>>();
  for (const flow of flows) {
    const dst = addressBytes(flow.origDst, flow.family);
    const src = addressBytes(flow.replySrc, flow.family);
    const port = flow.origDstPort;
    if (
      dst === undefined || src === undefined || !Number.isInteger(port) || port < 0 || port > 65535
    ) {
      problems.push(`${OPERATION} delete ${flowText(flow)}: not a valid ${flow.family} flow.`);
      continue;
    }
    const canonical = { ...flow, origDst: addressText(dst), replySrc: addressText(src) };
    if (!wanted.has(flow.family)) wanted.set(flow.family, new Set());
    wanted.get(flow.family)!.add(flowKey(canonical));
  }
  return wanted;
}

function entryText(entry: ConntrackEntry): string {
  const zone = entry.zone === undefined ? "" : ` zone ${entry.zone}`;
  return `udp flow ${tupleText(entry.orig)} replied by ${addressText(entry.reply.src)}${zone}`;
}

function failureText(entry: ConntrackEntry, failure: BatchFailure): string {
  const text = failure.text === undefined ? "" : `: ${failure.text}`;
  return `${OPERATION} delete ${entryText(entry)}: ${describeErrno(failure.errno)}${text}.`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The UDP conntrack flows through nfnetlink conntrack; see the module docs. The socket is
 * opened on first use; close the table when done.
 *
 * @example
 * ```ts
 * const table = new NetlinkConntrack();
 * try {
 *   const stale = (await table.list("ipv4")).filter((flow) => flow.origDstPort === 53);
 *   const { deleted, problems } = await table.delete(stale);
 *   console.log(deleted, problems);
 * } finally {
 *   table.close();
 * }
 * ```
 */
export class NetlinkConntrack implements UdpFlowTable {
  readonly #open: () => ConntrackSocket;
  readonly #deletesPerBatch: number;
  #socket?: ConntrackSocket;

  /** A table that opens nothing until it is first used. */
  constructor(options: NetlinkConntrackOptions = {}) {
    this.#open = options.open ?? (() => NetlinkSocket.open(NETLINK_NETFILTER));
    this.#deletesPerBatch = options.deletesPerBatch ?? 1024;
  }

  #connection(): ConntrackSocket {
    this.#socket ??= this.#open();
    return this.#socket;
  }

  /** The UDP flows of `family`, with their tuples; throws a `NetlinkError` when refused. */
  async #entries(family: IptablesFamily): Promise<ConntrackEntry[]> {
    const socket = this.#connection();
    const messages = await socket.dump(dumpRequest(family), {
      operation: `${OPERATION} list`,
      object: `${family} udp flows`,
    });
    return udpEntries(messages, family);
  }

  /**
   * Every UDP flow of `family`, as `conntrack -L -p udp -f FAMILY` lists them; throws (a
   * `NetlinkError` or `SyscallError` naming the operation) when they cannot be listed.
   */
  async list(family: IptablesFamily): Promise<UdpFlow[]> {
    return (await this.#entries(family)).map(udpFlowOf);
  }

  /**
   * Deletes every UDP flow that matches one of `flows` by family, original destination and
   * port and reply source. A flow gone before its delete (ENOENT) is no problem; any other
   * refusal, and a family that cannot be listed, is one sentence in `problems`. Never throws
   * for a refusal. `writes` counts the sends of deletes; the dumps that find them are reads.
   */
  async delete(flows: readonly UdpFlow[]): Promise<FlowDeletion> {
    const problems: string[] = [];
    const targets = await this.#matching(wantedKeys(flows, problems), problems);
    let deleted = 0;
    let writes = 0;
    for (let start = 0; start < targets.length; start += this.#deletesPerBatch) {
      const part = targets.slice(start, start + this.#deletesPerBatch);
      const result = await this.#deleteBatch(part, problems);
      deleted += result.deleted;
      writes += result.writes;
    }
    return { deleted, problems, writes };
  }

  /** The dumped flows that match `wanted`; a family that cannot be dumped is a problem. */
  async #matching(
    wanted: Map<IptablesFamily, Set<string>>,
    problems: string[],
  ): Promise<ConntrackEntry[]> {
    const targets: ConntrackEntry[] = [];
    for (const [family, keys] of wanted) {
      try {
        const entries = await this.#entries(family);
        targets.push(...entries.filter((entry) => keys.has(flowKey(udpFlowOf(entry)))));
      } catch (error) {
        problems.push(`${messageOf(error)}.`);
      }
    }
    return targets;
  }

  async #deleteBatch(
    entries: readonly ConntrackEntry[],
    problems: string[],
  ): Promise<{ deleted: number; writes: number }> {
    const context = { operation: `${OPERATION} delete`, object: `${entries.length} udp flows` };
    let result;
    try {
      result = await this.#connection().batch(entries.map(deleteRequest), context);
    } catch (error) {
      // The batch failed as a whole (a send refused, a reply that never came): which of its
      // deletes took effect is unknown, so none is counted.
      problems.push(`${messageOf(error)} (outcome unknown).`);
      return { deleted: 0, writes: 1 };
    }
    let refused = 0;
    for (const failure of result.failures) {
      refused++;
      if (failure.errno === ERRNO.ENOENT) continue;
      problems.push(failureText(entries[failure.index], failure));
    }
    return { deleted: entries.length - refused, writes: result.sends };
  }

  /** Closes the socket, if one is open; the next call opens a new one. Harmless twice. */
  close(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close();
  }
}

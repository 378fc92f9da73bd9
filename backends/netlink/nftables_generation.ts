/**
 * The nf_tables ruleset generation (`NFT_MSG_GETGEN`): a number the kernel increments on
 * every committed change to any nf_tables table of the network namespace, and on nothing
 * else. iptables-nft keeps its rules there, so while the generation stays the same, an
 * `iptables-save` of the nf_tables variant prints the same rules (counters aside): the
 * iptables read of a sync can reuse the last one instead of starting a process. Measured on
 * 6.1: `iptables -N` and `-A` each move it by one; `iptables-save`, an `iptables-restore`
 * that changes nothing, `ipset` and the legacy tables leave it.
 *
 * Asking for it is one small request (about 30 µs here), and it is a query: it changes
 * nothing, though on a node without nf_tables it would load the module, so it is asked only
 * where an `iptables-save` has shown the nf_tables variant in use.
 *
 * @module
 */

import { attributeMap, attrU32, type NetlinkMessage, type NetlinkRequest } from "./message.ts";
import { NETLINK_NETFILTER, NetlinkSocket } from "./socket.ts";
import { NetlinkParseError } from "./message.ts";

/** The nfnetlink subsystem of nf_tables (`NFNL_SUBSYS_NFTABLES`). */
const NFNL_SUBSYS_NFTABLES = 10;
/** `NFT_MSG_NEWGEN`: the reply (and the event) carrying the generation. */
const NFT_MSG_NEWGEN = 15;
/** `NFT_MSG_GETGEN`: the request. */
const NFT_MSG_GETGEN = 16;
/** `NFTA_GEN_ID`: the generation, a big-endian u32. */
const NFTA_GEN_ID = 1;
/** The size of `struct nfgenmsg` (family, version, resource id), the payload's first bytes. */
const NFGENMSG_SIZE = 4;

/** The `NFT_MSG_GETGEN` request: an nfgenmsg of family `AF_UNSPEC`, version 0, nothing else. */
export function generationRequest(): NetlinkRequest {
  return {
    type: (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN,
    flags: 0,
    payload: new Uint8Array(NFGENMSG_SIZE),
  };
}

/** The generation of an `NFT_MSG_NEWGEN` reply; throws a `NetlinkParseError` for anything else. */
export function parseGeneration(message: NetlinkMessage): number {
  if (message.type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
    throw new NetlinkParseError(`message type ${message.type} is not NFT_MSG_NEWGEN`);
  }
  const id = attributeMap(message.payload.subarray(NFGENMSG_SIZE)).get(NFTA_GEN_ID);
  if (id === undefined) throw new NetlinkParseError("NFT_MSG_NEWGEN without NFTA_GEN_ID");
  return attrU32(id, true);
}

/**
 * The generation of this network namespace's nf_tables, over its own nfnetlink socket.
 *
 * @example
 * ```ts ignore
 * const generation = new NftablesGeneration();
 * const before = await generation.current();
 * // ... iptables -t nat -N KUBE-TEST ...
 * console.log((await generation.current()) !== before); // true
 * generation.close();
 * ```
 */
export class NftablesGeneration {
  readonly #socket: NetlinkSocket;

  /** A client on `socket` (a new `NETLINK_NETFILTER` socket by default). */
  constructor(socket: NetlinkSocket = NetlinkSocket.open(NETLINK_NETFILTER)) {
    this.#socket = socket;
  }

  /** The generation now; throws a `NetlinkError` when the kernel refuses (no nf_tables). */
  async current(): Promise<number> {
    const replies = await this.#socket.request(generationRequest(), {
      operation: "get generation",
      object: "nf_tables",
    });
    if (replies.length !== 1) {
      throw new NetlinkParseError(`${replies.length} replies to NFT_MSG_GETGEN, not 1`);
    }
    return parseGeneration(replies[0]);
  }

  /** Closes the socket; later calls throw. */
  close(): void {
    this.#socket.close();
  }
}

/**
 * Whether this process can use the netlink backend at all: FFI allowed (`--allow-ffi`), libc
 * found, and a netlink socket opened. What the kernel then offers (IPVS, ipsets) is the
 * preflight's to check, as for the tools.
 *
 * @module
 */

import { NETLINK_ROUTE, NetlinkSocket } from "./socket.ts";

/**
 * Why the netlink backend cannot run in this process, or `undefined` when it can: opens an
 * rtnetlink socket and closes it again.
 *
 * @example
 * ```ts
 * const why = netlinkUnavailable();
 * console.log(why === undefined ? "netlink" : `exec (${why})`);
 * ```
 */
export function netlinkUnavailable(): string | undefined {
  try {
    NetlinkSocket.open(NETLINK_ROUTE).close();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

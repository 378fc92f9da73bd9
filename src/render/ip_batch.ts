/**
 * `ip -batch -` input for the link and address operations of a plan.
 *
 * @module
 */

import type { AddAddress, AddLink, DeleteAddress, DeleteLink } from "../plan/types.ts";
import { RenderError, safeToken } from "./guard.ts";

/** The operations `ip -batch -` carries out. */
export type IpOperation = AddLink | DeleteLink | AddAddress | DeleteAddress;

/** How the link of a `link.add` is made. */
export interface IpRenderOptions {
  /**
   * `dummy` is what kube-proxy creates. `veth` (with a peer named `<device>-peer`) is only for
   * tests on kernels without the dummy link type; deleting either end removes both.
   * @default {"dummy"}
   */
  readonly linkType?: "dummy" | "veth";
}

function device(name: string): string {
  safeToken(name, "device name");
  // IFNAMSIZ is 16 with the final NUL.
  if (name.length > 15) throw new RenderError("device name", name, "is longer than 15 characters");
  return name;
}

function prefixed(address: string): string {
  safeToken(address, "address");
  if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(address)) {
    throw new RenderError("address", address, "is not an address with a prefix length");
  }
  return address;
}

/**
 * The `ip -batch` line of one operation.
 *
 * @example
 * ```ts
 * renderIpLine({ op: "address.add", device: "kube-ipvs0", address: "10.0.0.1/32" });
 * // "address add 10.0.0.1/32 dev kube-ipvs0"
 * ```
 */
export function renderIpLine(op: IpOperation, options: IpRenderOptions = {}): string {
  switch (op.op) {
    case "link.add":
      if (options.linkType === "veth") {
        return `link add ${device(op.device)} type veth peer name ${device(`${op.device}-peer`)}`;
      }
      return `link add ${device(op.device)} type dummy`;
    case "link.delete":
      return `link delete ${device(op.device)}`;
    case "address.add":
      return `address add ${prefixed(op.address)} dev ${device(op.device)}`;
    case "address.delete":
      return `address del ${prefixed(op.address)} dev ${device(op.device)}`;
  }
}

/** What `ip -batch -` reads on stdin to carry out `ops`, one line each. */
export function renderIpBatch(
  ops: readonly IpOperation[],
  options: IpRenderOptions = {},
): string {
  return ops.map((op) => renderIpLine(op, options) + "\n").join("");
}

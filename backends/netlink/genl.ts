/**
 * Generic netlink: the 4-byte genl header that starts every message payload, and the
 * controller's CTRL_CMD_GETFAMILY, which turns a family name such as "IPVS" into the message
 * type to send to. Attributes are written and read with `message.ts`.
 *
 * ```
 * genlmsghdr: cmd u8 | version u8 | reserved u16, then the family's attributes
 * ```
 *
 * @module
 */

import { attributeMap, AttributeWriter, attrString, attrU16, attrU32 } from "./message.ts";
import type { NetlinkMessage, NetlinkRequest } from "./message.ts";
import { ERRNO } from "./libc.ts";
import { NetlinkError, type NetlinkSocket } from "./socket.ts";

/** The controller family's fixed message type (`GENL_ID_CTRL`). */
export const GENL_ID_CTRL = 0x10;

/** The size of the genl header in bytes (`GENL_HDRLEN`). */
export const GENL_HEADER_SIZE = 4;

/** The controller's commands (`CTRL_CMD_*`) that this module uses. */
export const CTRL_CMD = { NEWFAMILY: 1, GETFAMILY: 3 } as const;

/** The controller's attributes (`CTRL_ATTR_*`) that this module reads or writes. */
export const CTRL_ATTR = { FAMILY_ID: 1, FAMILY_NAME: 2, VERSION: 3, MAXATTR: 5 } as const;

/** A decoded genl payload: the command, its version and the attribute bytes after the header. */
export interface GenlMessage {
  /** The command, e.g. `CTRL_CMD.NEWFAMILY`. */
  readonly cmd: number;
  /** The family's interface version the sender used. */
  readonly version: number;
  /** The attributes after the header (IPVS and the controller have no family header). */
  readonly attributes: Uint8Array;
}

/** A genl payload: the header for `cmd` and `version`, then `attributes` (already encoded). */
export function encodeGenl(
  cmd: number,
  version: number,
  attributes: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(GENL_HEADER_SIZE + attributes.length);
  out[0] = cmd;
  out[1] = version;
  out.set(attributes, GENL_HEADER_SIZE);
  return out;
}

/** A genl payload too short for its header. */
export class GenlParseError extends Error {
  /** An error saying what was malformed. */
  constructor(message: string) {
    super(`Cannot parse a generic netlink message: ${message}`);
    this.name = "GenlParseError";
  }
}

/** Splits a genl payload into its header fields and its attributes. */
export function decodeGenl(payload: Uint8Array): GenlMessage {
  if (payload.length < GENL_HEADER_SIZE) {
    throw new GenlParseError(`${payload.length} bytes, the header needs ${GENL_HEADER_SIZE}`);
  }
  return { cmd: payload[0], version: payload[1], attributes: payload.subarray(GENL_HEADER_SIZE) };
}

/** What the controller says about a family (`CTRL_CMD_NEWFAMILY`, the reply to GETFAMILY). */
export interface GenlFamily {
  /** The message type to send the family's requests with, e.g. 36. */
  readonly id: number;
  /** The family's name, e.g. `IPVS`. */
  readonly name: string;
  /** The family's interface version, e.g. 1. */
  readonly version: number;
  /** The highest top-level attribute type the family knows. */
  readonly maxAttribute: number;
}

/** The controller's interface version this module speaks (libnl sends 1 too). */
const CTRL_VERSION = 1;

/**
 * The payload of `CTRL_CMD_GETFAMILY` for `name`, sent with type {@linkcode GENL_ID_CTRL}.
 * The kernel answers one `CTRL_CMD_NEWFAMILY`, or ENOENT when no such family is registered
 * (IPVS only is when `ip_vs` is loaded).
 *
 * @example
 * ```ts
 * import { encodeGetFamily } from "./genl.ts";
 * const payload = encodeGetFamily("IPVS"); // 03 01 00 00 | 09 00 02 00 "IPVS\0" + 3 pad bytes
 * ```
 */
export function encodeGetFamily(name: string): Uint8Array {
  return encodeGenl(
    CTRL_CMD.GETFAMILY,
    CTRL_VERSION,
    new AttributeWriter().string(CTRL_ATTR.FAMILY_NAME, name).bytes(),
  );
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new GenlParseError(`${what} is missing`);
  return value;
}

/** Decodes the controller's `CTRL_CMD_NEWFAMILY` reply payload. */
export function decodeFamily(payload: Uint8Array): GenlFamily {
  const message = decodeGenl(payload);
  if (message.cmd !== CTRL_CMD.NEWFAMILY) {
    throw new GenlParseError(`expected CTRL_CMD_NEWFAMILY (1), got command ${message.cmd}`);
  }
  const attrs = attributeMap(message.attributes);
  const get = (type: number, what: string) => required(attrs.get(type), what);
  return {
    id: attrU16(get(CTRL_ATTR.FAMILY_ID, "CTRL_ATTR_FAMILY_ID")),
    name: attrString(get(CTRL_ATTR.FAMILY_NAME, "CTRL_ATTR_FAMILY_NAME")),
    version: attrU32(get(CTRL_ATTR.VERSION, "CTRL_ATTR_VERSION")),
    maxAttribute: attrU32(get(CTRL_ATTR.MAXATTR, "CTRL_ATTR_MAXATTR")),
  };
}

/** The request that asks the controller for `name`. */
export function getFamilyRequest(name: string): NetlinkRequest {
  return { type: GENL_ID_CTRL, flags: 0, payload: encodeGetFamily(name) };
}

/**
 * Resolves a family by name on a generic netlink socket; `undefined` when the kernel has no
 * such family (ENOENT), e.g. IPVS without the `ip_vs` module. Other refusals throw.
 */
export async function resolveFamily(
  socket: NetlinkSocket,
  name: string,
): Promise<GenlFamily | undefined> {
  let replies: NetlinkMessage[];
  try {
    replies = await socket.request(getFamilyRequest(name), {
      operation: "genl resolve family",
      object: name,
    });
  } catch (error) {
    if (error instanceof NetlinkError && error.errno === ERRNO.ENOENT) return undefined;
    throw error;
  }
  const reply = replies.find((m) => m.type === GENL_ID_CTRL);
  if (reply === undefined) {
    throw new GenlParseError(`no CTRL_CMD_NEWFAMILY came back for ${JSON.stringify(name)}`);
  }
  return decodeFamily(reply.payload);
}

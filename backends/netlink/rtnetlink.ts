/**
 * rtnetlink for what the proxier owns and needs: the link `kube-ipvs0` (create as `dummy`,
 * or as a `veth` pair on test kernels without dummy, read, delete; it is left down as
 * kube-proxy leaves it), its addresses (add, delete in batches, dump), and every device's
 * addresses for the node's NodePort addresses. What is read is shaped as the exec backend
 * reads `ip -j addr`, so both backends see the same state.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { AddrInfo, LinkInfo } from "../exec/read_kernel.ts";
import type { BoundAddress } from "../../src/state/types.ts";
import { boundAddressSortKey, sortByKey } from "../../src/state/keys.ts";
import {
  attributeMap,
  AttributeWriter,
  attrString,
  concatBytes,
  HOST_LITTLE_ENDIAN,
  type NetlinkMessage,
  type NetlinkRequest,
  NLM_F_CREATE,
  NLM_F_EXCL,
  sameMessages,
} from "./message.ts";
import {
  type BatchResult,
  NETLINK_ROUTE,
  NetlinkError,
  NetlinkSocket,
  type RequestContext,
} from "./socket.ts";

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_GETADDR = 22;

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_INET6 = 10;
const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_LOOPBACK = 0x8;
const IFF_POINTOPOINT = 0x10;
const IFF_NOARP = 0x80;
const IFF_MULTICAST = 0x1000;
const IFF_LOWER_UP = 0x10000;

const IFLA_IFNAME = 3;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
const IFA_F_SECONDARY = 0x01;

/** Link flags as `ip -j` names them (those this project reads). */
const FLAG_NAMES: readonly [number, string][] = [
  [IFF_LOOPBACK, "LOOPBACK"],
  [IFF_BROADCAST, "BROADCAST"],
  [IFF_POINTOPOINT, "POINTOPOINT"],
  [IFF_MULTICAST, "MULTICAST"],
  [IFF_NOARP, "NOARP"],
  [IFF_UP, "UP"],
  [IFF_LOWER_UP, "LOWER_UP"],
];

const SCOPE_NAMES: Record<number, string> = { 0: "global", 200: "site", 253: "link", 254: "host" };

/** A link as read: index, name and flags. */
export interface Link {
  /** The interface index. */
  readonly index: number;
  /** The name, e.g. `kube-ipvs0`. */
  readonly name: string;
  /** The `IFF_*` flags. */
  readonly flags: number;
}

/** An address to add or delete: `10.0.0.1/32` on a device by index. */
export interface AddressSpec {
  /** The interface index. */
  readonly index: number;
  /** The address with its prefix length, e.g. `10.0.0.1/32`. */
  readonly address: string;
}

function ifinfomsg(index = 0, flags = 0, change = 0): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setInt32(4, index, HOST_LITTLE_ENDIAN);
  view.setUint32(8, flags, HOST_LITTLE_ENDIAN);
  view.setUint32(12, change, HOST_LITTLE_ENDIAN);
  return bytes;
}

function linkRequest(type: number, flags: number, fill: (w: AttributeWriter) => void) {
  const w = new AttributeWriter();
  fill(w);
  return { type, flags, payload: concatBytes([ifinfomsg(), w.bytes()]) };
}

/** `link add NAME type dummy` (or `type veth peer name PEER`), refused if it exists. */
export function newLinkRequest(
  name: string,
  kind: "dummy" | "veth",
  peer = `${name}-peer`,
): NetlinkRequest {
  return linkRequest(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, (w) => {
    w.string(IFLA_IFNAME, name).nested(IFLA_LINKINFO, (info) => {
      info.string(IFLA_INFO_KIND, kind);
      if (kind === "veth") {
        info.nested(IFLA_INFO_DATA, (data) => {
          const peerAttributes = new AttributeWriter().string(IFLA_IFNAME, peer).bytes();
          data.binary(VETH_INFO_PEER, concatBytes([ifinfomsg(), peerAttributes]));
        });
      }
    });
  });
}

/** Parses the address text `10.0.0.1/32` (or `fd00::1/128`). */
function parsePrefixed(address: string): { family: number; bytes: Uint8Array; prefix: number } {
  const [ip, prefixText] = address.split("/");
  const prefix = Number(prefixText);
  if (!ipaddr.isValid(ip ?? "") || !/^\d{1,3}$/.test(prefixText ?? "")) {
    throw new Error(`Cannot parse the address '${address}': expected an IP with /prefix`);
  }
  const parsed = ipaddr.parse(ip);
  const v6 = parsed.kind() === "ipv6";
  if (prefix > (v6 ? 128 : 32)) throw new Error(`Cannot parse the address '${address}': prefix`);
  return { family: v6 ? AF_INET6 : AF_INET, bytes: new Uint8Array(parsed.toByteArray()), prefix };
}

/**
 * `address add|del ADDRESS dev DEVICE` as `ip` sends it: IFA_LOCAL and IFA_ADDRESS both the
 * address, scope global. Throws for an address that does not parse.
 */
export function addressRequest(command: "add" | "del", spec: AddressSpec): NetlinkRequest {
  const { family, bytes, prefix } = parsePrefixed(spec.address);
  const header = new Uint8Array(8);
  header[0] = family;
  header[1] = prefix;
  new DataView(header.buffer).setUint32(4, spec.index, HOST_LITTLE_ENDIAN);
  const attributes = new AttributeWriter().binary(IFA_LOCAL, bytes).binary(IFA_ADDRESS, bytes);
  return {
    type: command === "add" ? RTM_NEWADDR : RTM_DELADDR,
    flags: command === "add" ? NLM_F_CREATE | NLM_F_EXCL : 0,
    payload: concatBytes([header, attributes.bytes()]),
  };
}

function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/** A link from an `RTM_NEWLINK` message. */
export function parseLink(message: NetlinkMessage): Link {
  const view = new DataView(message.payload.buffer, message.payload.byteOffset, 16);
  const name = attributeMap(message.payload.subarray(16)).get(IFLA_IFNAME);
  return {
    index: view.getInt32(4, HOST_LITTLE_ENDIAN),
    flags: view.getUint32(8, HOST_LITTLE_ENDIAN),
    name: name === undefined ? "" : attrString(name),
  };
}

/** The text of an address attribute's payload (IPv4 without ipaddr.js: thousands per read). */
function addressText(bytes: Uint8Array, at: number, length: number): string {
  if (length === 4) return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
  return ipaddr.fromByteArray(Array.from(bytes.subarray(at, at + length))).toString();
}

/**
 * One address from an `RTM_NEWADDR` message, with `ip -j addr`'s field names. Decoded in
 * place (a read of `kube-ipvs0` walks one message per service address).
 */
export function parseAddress(message: NetlinkMessage): {
  index: number;
  info: NonNullable<LinkInfo["addr_info"]>[number];
} {
  const p = message.payload;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const family = p[0];
  let local = "", address = "", flags = p[2];
  for (let at = 8; at + 4 <= p.length;) {
    const length = view.getUint16(at, HOST_LITTLE_ENDIAN);
    const type = view.getUint16(at + 2, HOST_LITTLE_ENDIAN) & 0x3fff;
    if (length < 4 || at + length > p.length) break;
    if (type === IFA_LOCAL) local = addressText(p, at + 4, length - 4);
    else if (type === IFA_ADDRESS) address = addressText(p, at + 4, length - 4);
    else if (type === IFA_FLAGS && length >= 8) flags = view.getUint32(at + 4, HOST_LITTLE_ENDIAN);
    at += (length + 3) & ~3;
  }
  // `ip` prints IFA_LOCAL as "local", and IFA_ADDRESS where there is no IFA_LOCAL (IPv6).
  const shown = local || address;
  return {
    index: view.getUint32(4, HOST_LITTLE_ENDIAN),
    info: {
      family: family === AF_INET6 ? "inet6" : family === AF_INET ? "inet" : String(family),
      ...(shown === "" ? {} : { local: shown }),
      prefixlen: p[1],
      scope: SCOPE_NAMES[p[3]] ?? String(p[3]),
      ...((flags & IFA_F_SECONDARY) !== 0 ? { secondary: true } : {}),
    },
  };
}

// What the exec backend's `deviceAddresses` leaves out: link and host scope, and (by range)
// IPv4 127/8 and 169.254/16, IPv6 loopback and link-local.
function isLinkLocalOrLoopback(info: AddrInfo, address: string): boolean {
  if (info.scope === "link" || info.scope === "host") return true;
  if (info.family === "inet") return address.startsWith("127.") || address.startsWith("169.254.");
  const range = ipaddr.parse(address).range();
  return range === "linkLocal" || range === "loopback";
}

/**
 * The addresses bound on `device`, exactly as the exec backend's `deviceAddresses` gives
 * them from `ip -j addr`, without parsing each IPv4 address again (the kernel's text is
 * canonical already): thousands of service addresses are read every sync.
 */
export function boundAddresses(links: readonly LinkInfo[], device: string): BoundAddress[] {
  const result: BoundAddress[] = [];
  for (const link of links) {
    if (link.ifname !== device) continue;
    for (const info of link.addr_info ?? []) {
      if ((info.family !== "inet" && info.family !== "inet6") || info.local === undefined) continue;
      const address = info.family === "inet" ? info.local : canonicalV6(info.local);
      if (address === undefined || isLinkLocalOrLoopback(info, address)) continue;
      const bits = info.prefixlen ?? (info.family === "inet6" ? 128 : 32);
      result.push({ device, address: `${address}/${bits}` });
    }
  }
  return result;
}

function canonicalV6(address: string): string | undefined {
  return ipaddr.isValid(address) ? ipaddr.parse(address).toString() : undefined;
}

/** The interface index an `RTM_NEWADDR` message is about (`ifa_index`). */
function addressIndex(message: NetlinkMessage): number {
  const p = message.payload;
  if (p.length < 8) return -1;
  // From the bytes: no DataView per message (a read walks one per service address).
  const index = HOST_LITTLE_ENDIAN
    ? p[4] | (p[5] << 8) | (p[6] << 16) | (p[7] << 24)
    : (p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7];
  return index >>> 0;
}

/** The addresses of `link` in an address dump, as `boundAddresses` gives them, sorted. */
function decodeDeviceAddresses(
  messages: readonly NetlinkMessage[],
  link: Link,
  device: string,
): BoundAddress[] {
  const addrInfo: AddrInfo[] = [];
  for (const message of messages) {
    const { index, info } = parseAddress(message);
    if (index === link.index) addrInfo.push(info);
  }
  const info: LinkInfo = { ifname: device, flags: flagNames(link.flags), addr_info: addrInfo };
  return sortByKey(boundAddresses([info], device), boundAddressSortKey);
}

function context(operation: string, object: string): RequestContext {
  return { operation: `rtnetlink ${operation}`, object };
}

/** Whether a device exists and, in canonical order (`boundAddressSortKey`), its addresses. */
export interface DeviceAddresses {
  /** Whether the device exists. */
  readonly linkPresent: boolean;
  /** Its addresses as {@linkcode boundAddresses} gives them, sorted; frozen (it is kept). */
  readonly addresses: readonly BoundAddress[];
}

/**
 * Decodes address dumps into one device's addresses as {@linkcode boundAddresses} gives them,
 * sorted by `boundAddressSortKey`, decoding again only when the device's messages differ from
 * the last dump's (a sync reads thousands of service addresses that rarely change). Other
 * devices' messages are not compared: their lifetimes (a DHCP address) change every second.
 * Only the decode is reused, keyed by the exact bytes: the dump is the kernel's every time.
 */
export class DeviceAddressesDecoder {
  #last?: {
    readonly index: number;
    readonly messages: NetlinkMessage[];
    readonly addresses: readonly BoundAddress[];
  };

  /** The addresses of `link` (named `device`) in `dumped`, a whole address dump; frozen. */
  decode(link: Link, device: string, dumped: readonly NetlinkMessage[]): readonly BoundAddress[] {
    const messages = dumped.filter((message) => addressIndex(message) === link.index);
    const last = this.#last;
    if (last !== undefined && last.index === link.index && sameMessages(last.messages, messages)) {
      return last.addresses;
    }
    const addresses = Object.freeze(decodeDeviceAddresses(messages, link, device));
    this.#last = { index: link.index, messages, addresses };
    return addresses;
  }
}

const ADDRESS_DUMP: NetlinkRequest = {
  type: RTM_GETADDR,
  flags: 0,
  payload: new Uint8Array([AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0]),
};

/** An rtnetlink client over its own socket; see the module docs. */
export class RtnetlinkClient {
  /** The socket. */
  readonly socket: NetlinkSocket;
  /** The decoders of {@linkcode RtnetlinkClient.deviceAddresses}, by device. */
  readonly #decoders = new Map<string, DeviceAddressesDecoder>();

  /** A client on `socket` (a new `NETLINK_ROUTE` socket by default). */
  constructor(socket: NetlinkSocket = NetlinkSocket.open(NETLINK_ROUTE)) {
    this.socket = socket;
  }

  /** The link named `name`, or `undefined` when there is none. */
  async link(name: string): Promise<Link | undefined> {
    const request = linkRequest(RTM_GETLINK, 0, (w) => w.string(IFLA_IFNAME, name));
    try {
      const [reply] = await this.socket.request(request, context("get link", name));
      return reply === undefined ? undefined : parseLink(reply);
    } catch (error) {
      if (error instanceof NetlinkError && error.errno === 19) return undefined; // ENODEV
      throw error;
    }
  }

  /** Every link. */
  async links(): Promise<Link[]> {
    const request = { type: RTM_GETLINK, flags: 0, payload: ifinfomsg() };
    return (await this.socket.dump(request, context("dump", "links"))).map(parseLink);
  }

  /** Creates `name` as `kind` (down, as created); throws EEXIST if it exists. */
  async addLink(name: string, kind: "dummy" | "veth"): Promise<void> {
    await this.socket.request(newLinkRequest(name, kind), context(`add link ${kind}`, name));
  }

  /** Deletes `name` (and a veth's peer with it); throws ENODEV if there is none. */
  async deleteLink(name: string): Promise<void> {
    const request = linkRequest(RTM_DELLINK, 0, (w) => w.string(IFLA_IFNAME, name));
    await this.socket.request(request, context("delete link", name));
  }

  /** Adds or deletes many addresses in batches; the refused ones come back by index. */
  addresses(command: "add" | "del", specs: readonly AddressSpec[]): Promise<BatchResult> {
    const requests = specs.map((spec) => addressRequest(command, spec));
    return this.socket.batch(requests, context(`${command} addresses`, `${specs.length}`));
  }

  /**
   * Every device with its addresses, shaped as `ip -j addr show` prints them (name, flags,
   * `addr_info` in the kernel's order), so the exec backend's readers apply unchanged.
   */
  async addressesByDevice(only?: string): Promise<LinkInfo[]> {
    const links = only === undefined ? await this.links() : await this.#one(only);
    if (links.length === 0) return [];
    const dumped = (await this.socket.dump(ADDRESS_DUMP, context("dump", "addresses"))).map(
      parseAddress,
    );
    return links.map((link) => ({
      ifname: link.name,
      flags: flagNames(link.flags),
      addr_info: dumped.filter((a) => a.index === link.index).map((a) => a.info),
    }));
  }

  /**
   * Whether `device` exists and its addresses, exactly as {@linkcode boundAddresses} gives
   * them from {@linkcode RtnetlinkClient.addressesByDevice}, sorted by `boundAddressSortKey`.
   * The link and the addresses are asked of the kernel every call; the decode of an unchanged
   * dump is reused (see {@linkcode DeviceAddressesDecoder}).
   */
  async deviceAddresses(device: string): Promise<DeviceAddresses> {
    const link = await this.link(device);
    if (link === undefined) return { linkPresent: false, addresses: [] };
    const dumped = await this.socket.dump(ADDRESS_DUMP, context("dump", "addresses"));
    let decoder = this.#decoders.get(device);
    if (decoder === undefined) this.#decoders.set(device, decoder = new DeviceAddressesDecoder());
    return { linkPresent: true, addresses: decoder.decode(link, device, dumped) };
  }

  async #one(name: string): Promise<Link[]> {
    const link = await this.link(name);
    return link === undefined ? [] : [link];
  }

  /** Closes the socket. */
  close(): void {
    this.socket.close();
  }
}

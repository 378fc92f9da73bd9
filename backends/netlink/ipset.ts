/**
 * ipset over nfnetlink (subsystem 6): the protocol handshake, create, destroy, flush, swap,
 * list, and add/del of many entries in one message (`IPSET_ATTR_ADT`), with the entry that
 * failed named by the line number the kernel writes back. Sets are created exactly as the
 * exec backend's `ipset restore` lines create them: hash sets `family inet|inet6 hashsize 1024
 * maxelem 65536`, bitmap sets `range 0-65535`, all with `-exist` (no `NLM_F_EXCL`), at the
 * newest revision of the type the kernel has (what the `ipset` tool picks too).
 *
 * @module
 */

import type { IpSetHeader } from "../../src/plan/types.ts";
import type { IpSet, IpSetType } from "../../src/state/types.ts";
import { errnoName } from "./libc.ts";
import {
  align4,
  attributeMap,
  AttributeWriter,
  attrString,
  attrU32,
  attrU8,
  concatBytes,
  HOST_LITTLE_ENDIAN,
  type NetlinkMessage,
  NetlinkParseError,
  type NetlinkRequest,
  NLA_F_NESTED,
  NLM_F_EXCL,
  parseAttributes,
  sameMessages,
} from "./message.ts";
import { sortByKey } from "../../src/state/keys.ts";
import { NETLINK_NETFILTER, NetlinkError, NetlinkSocket, type RequestContext } from "./socket.ts";
import type { Dumper } from "./dump_thread.ts";
import { entriesText, entryText, IpsetEntryError, writeDataEntry } from "./ipset_entry.ts";
import { IPSET_CMD, ipsetErrorName, ipsetErrorText } from "./ipset_errors.ts";

const NFNL_SUBSYS_IPSET = 6;
const ENOENT = 2;
const NFNETLINK_V0 = 0;
const AF_INET = 2;
const NFPROTO_UNSPEC = 0;
const NFPROTO_IPV4 = 2;
const NFPROTO_IPV6 = 10;
/** The newest ipset protocol this client speaks (the kernel's since 2014). */
const OUR_PROTOCOL = 7;

/** Top-level ipset attributes. */
const ATTR = {
  PROTOCOL: 1,
  SETNAME: 2,
  TYPENAME: 3,
  SETNAME2: 3,
  REVISION: 4,
  FAMILY: 5,
  DATA: 7,
  ADT: 8,
  LINENO: 9,
  PROTOCOL_MIN: 10,
} as const;

/** Create-only attributes inside `IPSET_ATTR_DATA`. */
const CREATE_ATTR = { PORT: 4, PORT_TO: 5, HASHSIZE: 18, MAXELEM: 19 } as const;

/** Keeps the `IPSET_ATTR_ADT` nest below its 16-bit length. */
const MAX_ADT_BYTES = 60_000;

/** One add/del message and the entries it carries, by their index in the caller's list. */
export interface AdtMessage {
  /** The request. */
  readonly request: NetlinkRequest;
  /** The index (in the entries given) of the message's first entry. */
  readonly first: number;
  /** How many entries it carries. */
  readonly count: number;
}

function familyNumber(header: Pick<IpSetHeader, "type" | "family">): number {
  if (header.type === "bitmap:port") return NFPROTO_UNSPEC;
  return header.family === "inet6" ? NFPROTO_IPV6 : NFPROTO_IPV4;
}

/** What an ipset request needs to be explained when it fails. */
export function ipsetContext(command: number, object: string, type?: string): RequestContext {
  const operation = `ipset ${commandName(command)}`;
  return {
    operation,
    object,
    explain: (errno) => {
      const text = ipsetErrorText(errno, command, type);
      if (text === undefined) return undefined;
      return `${text} (${ipsetErrorName(errno) ?? errnoName(errno)})`;
    },
  };
}

function commandName(command: number): string {
  const entry = Object.entries(IPSET_CMD).find(([, n]) => n === command);
  return entry === undefined ? `command ${command}` : entry[0].toLowerCase();
}

/** Builds ipset requests for one protocol version; pure (the tests check its bytes). */
export class IpsetMessages {
  /** The protocol version every request carries. */
  readonly protocol: number;

  /** Messages for `protocol` (the handshake's answer). */
  constructor(protocol = OUR_PROTOCOL) {
    this.protocol = protocol;
  }

  /** One request: nfgenmsg, then `IPSET_ATTR_PROTOCOL` and what `fill` writes. */
  request(command: number, fill: (w: AttributeWriter) => void, flags = 0): NetlinkRequest {
    const header = new Uint8Array([AF_INET, NFNETLINK_V0, 0, 0]);
    const w = new AttributeWriter().u8(ATTR.PROTOCOL, this.protocol);
    fill(w);
    return {
      type: (NFNL_SUBSYS_IPSET << 8) | command,
      flags,
      payload: concatBytes([header, w.bytes()]),
    };
  }

  /** `create NAME TYPE ... -exist` as the exec backend renders it, at `revision`. */
  create(header: IpSetHeader, name: string, revision: number): NetlinkRequest {
    return this.request(IPSET_CMD.CREATE, (w) => {
      w.string(ATTR.SETNAME, name).string(ATTR.TYPENAME, header.type);
      w.u8(ATTR.REVISION, revision).u8(ATTR.FAMILY, familyNumber(header));
      w.nested(ATTR.DATA, (data) => {
        if (header.type === "bitmap:port") {
          data.u16(CREATE_ATTR.PORT, 0, { order: "flagged" });
          data.u16(CREATE_ATTR.PORT_TO, 65535, { order: "flagged" });
        } else {
          data.u32(CREATE_ATTR.HASHSIZE, 1024, { order: "flagged" });
          data.u32(CREATE_ATTR.MAXELEM, 65536, { order: "flagged" });
        }
      });
    });
  }

  /**
   * A command on one set by name: destroy, flush. Without `-exist` (`NLM_F_EXCL` set, as the
   * tool sends it), so destroying a missing set fails with ENOENT as `destroy NAME` does.
   */
  named(command: number, name: string): NetlinkRequest {
    return this.request(command, (w) => w.string(ATTR.SETNAME, name), NLM_F_EXCL);
  }

  /** `swap FROM TO`. */
  swap(from: string, to: string): NetlinkRequest {
    return this.request(
      IPSET_CMD.SWAP,
      (w) => w.string(ATTR.SETNAME, from).string(ATTR.SETNAME2, to),
    );
  }

  /** The newest and oldest revision of a type the kernel has. */
  type(type: string, family: number): NetlinkRequest {
    return this.request(
      IPSET_CMD.TYPE,
      (w) => w.string(ATTR.TYPENAME, type).u8(ATTR.FAMILY, family),
    );
  }

  /**
   * `add` or `del` of many entries, with `-exist` (no `NLM_F_EXCL`), as few messages as
   * fit: each entry carries its line number (1-based in its message) so a failure names it.
   */
  adt(command: "add" | "del", set: string, entries: readonly string[]): AdtMessage[] {
    const cmd = command === "add" ? IPSET_CMD.ADD : IPSET_CMD.DEL;
    const messages: AdtMessage[] = [];
    let first = 0;
    while (first < entries.length) {
      const nest = new AttributeWriter();
      let count = 0;
      while (first + count < entries.length && nest.length < MAX_ADT_BYTES) {
        const entry = entries[first + count];
        try {
          writeDataEntry(nest, entry, count + 1);
        } catch (error) {
          if (error instanceof IpsetEntryError) error.index = first + count;
          throw error;
        }
        count++;
      }
      const request = this.request(cmd, (w) => {
        w.string(ATTR.SETNAME, set).u32(ATTR.LINENO, 0);
        w.binary(ATTR.ADT | NLA_F_NESTED, nest.bytes());
      });
      messages.push({ request, first, count });
      first += count;
    }
    return messages;
  }
}

/**
 * The line number (1-based within its message) of the entry an add/del stopped at, from the
 * request the kernel copied into its error; `undefined` when it did not say.
 */
export function failedLine(echoed: Uint8Array | undefined): number | undefined {
  if (echoed === undefined || echoed.length < 4) return undefined;
  const lineno = parseAttributes(echoed.subarray(4)).find((a) => a.type === ATTR.LINENO);
  if (lineno === undefined) return undefined;
  const line = attrU32(lineno);
  return line === 0 ? undefined : line;
}

/** Decodes one LIST reply message into (part of) a set. */
function listedPart(message: NetlinkMessage): {
  name: string;
  type?: string;
  family: number;
  entries: string[];
} {
  const a = attributeMap(message.payload.subarray(4));
  const adt = a.get(ATTR.ADT);
  const entries = adt === undefined ? [] : entriesText(adt.data);
  const name = a.get(ATTR.SETNAME);
  if (name === undefined) throw new NetlinkParseError("an ipset list reply without a set name");
  // A set too big for one message goes on in more, with only its name and entries.
  const type = a.get(ATTR.TYPENAME);
  return {
    name: attrString(name),
    ...(type === undefined ? {} : { type: attrString(type) }),
    family: a.has(ATTR.FAMILY) ? attrU8(a.get(ATTR.FAMILY)!) : NFPROTO_UNSPEC,
    entries,
  };
}

/**
 * The family as the exec backend's `ipset save` parser gives it: from the set's header, and
 * for bitmap sets (which have none) `inet6` only for kube-proxy's `KUBE-6-` names.
 */
function savedFamily(name: string, family: number): IpSet["family"] {
  if (family === NFPROTO_IPV6) return "inet6";
  if (family === NFPROTO_IPV4) return "inet";
  return name.startsWith("KUBE-6-") ? "inet6" : "inet";
}

/**
 * The sets of a LIST dump (those whose name `keep` accepts), as the exec backend reads
 * `ipset save`; a set listed over several messages is joined.
 */
export function listedSets(
  messages: readonly NetlinkMessage[],
  keep: (name: string) => boolean = () => true,
): IpSet[] {
  const sets = new Map<string, IpSet & { entries: string[] }>();
  for (const message of messages) {
    const part = listedPart(message);
    if (!keep(part.name)) continue;
    const known = sets.get(part.name);
    if (known !== undefined) {
      known.entries.push(...part.entries);
      continue;
    }
    if (part.type === undefined) {
      throw new NetlinkParseError(`the ipset list went on with set ${part.name} before its header`);
    }
    sets.set(part.name, {
      name: part.name,
      type: part.type as IpSetType,
      family: savedFamily(part.name, part.family),
      comment: "",
      entries: part.entries,
    });
  }
  return [...sets.values()];
}

/** The name of the set a LIST reply message is about. */
function setNameOf(message: NetlinkMessage): string {
  for (const attribute of parseAttributes(message.payload.subarray(4))) {
    if (attribute.type === ATTR.SETNAME) return attrString(attribute);
  }
  throw new NetlinkParseError("an ipset list reply without a set name");
}

/** The messages of a LIST dump by set name, each set's in the kernel's order. */
function messagesBySet(messages: readonly NetlinkMessage[]): Map<string, NetlinkMessage[]> {
  const bySet = new Map<string, NetlinkMessage[]>();
  for (const message of messages) {
    const name = setNameOf(message);
    const known = bySet.get(name);
    if (known === undefined) bySet.set(name, [message]);
    else known.push(message);
  }
  return bySet;
}

/**
 * Where each entry of a set's dump lies: in which message payload, and the byte range of its
 * `IPSET_ATTR_DATA` content there, in the kernel's order.
 */
interface EntryIndex {
  readonly payloads: readonly Uint8Array[];
  readonly owner: readonly number[];
  readonly start: readonly number[];
  readonly end: readonly number[];
}

/** A decoded set as kept: canonical and frozen, with where its entries lay in the dump. */
interface KnownSet {
  readonly messages: NetlinkMessage[];
  readonly set: IpSet;
  readonly index: EntryIndex;
}

/** At most this many entries added and removed are patched into the last sorted list. */
const MAX_PATCHED_ENTRIES = 256;
/** How far ahead a run of added or removed entries is looked for while matching dumps. */
const LOOKAHEAD = 8;

/** The attributes of `bytes` in `[from, to)`, as (type without flags, start, end) to `visit`. */
function eachAttribute(
  bytes: Uint8Array,
  from: number,
  to: number,
  visit: (type: number, start: number, end: number) => void,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = from; at + 4 <= to;) {
    const length = view.getUint16(at, HOST_LITTLE_ENDIAN);
    if (length < 4 || at + length > to) throw new NetlinkParseError(`ipset attribute at ${at}`);
    visit(view.getUint16(at + 2, HOST_LITTLE_ENDIAN) & 0x3fff, at + 4, at + length);
    at += align4(length);
  }
}

function entryIndex(messages: readonly NetlinkMessage[]): EntryIndex {
  const index = { payloads: messages.map((m) => m.payload), owner: [], start: [], end: [] } as {
    payloads: Uint8Array[];
    owner: number[];
    start: number[];
    end: number[];
  };
  index.payloads.forEach((payload, m) =>
    eachAttribute(payload, 4, payload.length, (type, from, to) => {
      if (type !== ATTR.ADT) return;
      eachAttribute(payload, from, to, (inner, start, end) => {
        if (inner !== ATTR.DATA) return;
        index.owner.push(m);
        index.start.push(start);
        index.end.push(end);
      });
    })
  );
  return index;
}

/** Whether entry `i` of `a` and entry `j` of `b` are the same bytes. */
function sameEntry(a: EntryIndex, i: number, b: EntryIndex, j: number): boolean {
  const length = a.end[i] - a.start[i];
  if (length !== b.end[j] - b.start[j]) return false;
  const x = a.payloads[a.owner[i]], y = b.payloads[b.owner[j]];
  for (let k = 0, p = a.start[i], q = b.start[j]; k < length; k++) {
    if (x[p + k] !== y[q + k]) return false;
  }
  return true;
}

/** The first entry of `a` from `i` on (at most LOOKAHEAD) equal to entry `j` of `b`, or -1. */
function ahead(a: EntryIndex, i: number, b: EntryIndex, j: number): number {
  for (let k = i; k < Math.min(a.start.length, i + LOOKAHEAD); k++) {
    if (sameEntry(a, k, b, j)) return k;
  }
  return -1;
}

/**
 * The entries of `last` and of `next` that do not pair up byte for byte, walking both in the
 * kernel's order (a hash set lists its other entries where they were), or undefined when
 * more than MAX_PATCHED_ENTRIES differ.
 */
function unpaired(last: EntryIndex, next: EntryIndex) {
  const removed: number[] = [], added: number[] = [];
  let i = 0, j = 0;
  while (i < last.start.length && j < next.start.length) {
    if (removed.length + added.length > MAX_PATCHED_ENTRIES) return undefined;
    if (sameEntry(last, i, next, j)) {
      i++, j++;
      continue;
    }
    const skipLast = ahead(last, i + 1, next, j);
    const skipNext = ahead(next, j + 1, last, i);
    if (skipLast >= 0 && (skipNext < 0 || skipLast - i <= skipNext - j)) {
      while (i < skipLast) removed.push(i++);
    } else if (skipNext >= 0) {
      while (j < skipNext) added.push(j++);
    } else removed.push(i++), added.push(j++);
  }
  while (i < last.start.length) removed.push(i++);
  while (j < next.start.length) added.push(j++);
  return removed.length + added.length > MAX_PATCHED_ENTRIES ? undefined : { removed, added };
}

function entryAt(index: EntryIndex, i: number): string {
  return entryText(index.payloads[index.owner[i]], index.start[i], index.end[i]);
}

/** The index of the first entry of `sorted` not before `entry` (plain string order). */
function lowerBound(sorted: readonly string[], entry: string): number {
  let low = 0, high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < entry) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * `last`'s sorted entries with the unpaired ones of its dump removed and those of the next
 * dump inserted, each where a sort puts it; undefined when too many differ, or when the
 * entries would not be distinct (a kernel lists each once): then the set is decoded whole.
 */
function patchedEntries(last: KnownSet, next: EntryIndex): string[] | undefined {
  const changes = unpaired(last.index, next);
  if (changes === undefined) return undefined;
  const gone = changes.removed.map((i) => entryAt(last.index, i));
  const come = changes.added.map((j) => entryAt(next, j));
  // An entry that only moved in the kernel's order is in both: it stays.
  const goneSet = new Set(gone), comeSet = new Set(come);
  const patched = [...last.set.entries];
  for (const entry of gone) {
    if (comeSet.has(entry)) continue;
    const at = lowerBound(patched, entry);
    if (patched[at] !== entry) return undefined;
    patched.splice(at, 1);
  }
  for (const entry of come) {
    if (goneSet.has(entry)) continue;
    const at = lowerBound(patched, entry);
    if (patched[at] === entry) return undefined;
    patched.splice(at, 0, entry);
  }
  return patched;
}

/** The type and family a set's first message names, when it names them. */
function headerOf(messages: readonly NetlinkMessage[]) {
  const a = attributeMap(messages[0].payload.subarray(4));
  const type = a.get(ATTR.TYPENAME), family = a.get(ATTR.FAMILY);
  return { type: type && attrString(type), family: family && attrU8(family) };
}

/**
 * One set's messages decoded as `listedSets` does, in canonical order (`sortIpSets`), and
 * frozen, as it is kept. When the set was known with the same header, only the entries that
 * differ from the last dump's are decoded and patched into its sorted entries (one changed
 * endpoint adds and removes one or two of thousands); otherwise it is decoded and sorted.
 */
function knownSet(messages: NetlinkMessage[], last: KnownSet | undefined): KnownSet {
  const index = entryIndex(messages);
  if (last !== undefined) {
    const lastHeader = headerOf(last.messages), header = headerOf(messages);
    const patched = header.type !== undefined && header.type === lastHeader.type &&
        header.family === lastHeader.family
      ? patchedEntries(last, index)
      : undefined;
    if (patched !== undefined) {
      const set = Object.freeze({ ...last.set, entries: Object.freeze(patched) });
      return { messages, set, index };
    }
  }
  const [listed] = listedSets(messages);
  // The default sort orders strings by UTF-16 code units, as compareStrings does.
  const entries = Object.freeze([...listed.entries].sort());
  return { messages, set: Object.freeze({ ...listed, entries }), index };
}

/**
 * Decodes LIST dumps into sets in canonical order (`sortIpSets`: by name, entries in plain
 * string order), each set decoded and sorted again only when its messages differ from the
 * last dump's. Most syncs change no set or one: the others' tens of thousands of entries
 * are then neither decoded nor sorted twice. Only the decode is reused, keyed by the exact
 * bytes the kernel sent: every read still dumps the kernel, so a set changed or removed
 * behind our back shows in the next read. The sets returned are frozen, as they are kept.
 */
export class ListedSetsDecoder {
  #last = new Map<string, KnownSet>();

  /** The sets of `messages` (a whole LIST dump) whose name `keep` accepts, in canonical order. */
  decode(
    messages: readonly NetlinkMessage[],
    keep: (name: string) => boolean = () => true,
  ): IpSet[] {
    const next = new Map<string, KnownSet>();
    for (const [name, parts] of messagesBySet(messages)) {
      if (!keep(name)) continue;
      const last = this.#last.get(name);
      const same = last !== undefined && sameMessages(last.messages, parts);
      next.set(name, same ? last : knownSet(parts, last));
    }
    this.#last = next;
    return sortByKey([...next.values()].map((known) => known.set), (set) => set.name);
  }
}

/** What an add/del of many entries did: all applied, or where it stopped and why. */
export type AdtResult =
  | { readonly sends: number }
  | { readonly index: number; readonly error: Error; readonly sends: number };

/** An ipset client over its own nfnetlink socket; see the module docs. */
export class IpsetClient {
  /** The socket, for callers that batch (and for its port id in logs). */
  readonly socket: NetlinkSocket;
  /** The message builder, at the protocol the kernel agreed to. */
  readonly messages: IpsetMessages;
  readonly #revisions = new Map<string, number>();
  readonly #decoder = new ListedSetsDecoder();
  readonly #lists: Dumper;

  private constructor(socket: NetlinkSocket, messages: IpsetMessages, lists: Dumper) {
    this.socket = socket;
    this.messages = messages;
    this.#lists = lists;
  }

  /**
   * Opens a socket and agrees on the protocol (the kernel's, at most ours). Throws a
   * {@linkcode NetlinkError} when the kernel has no ipset or speaks no common protocol.
   * The lists are dumped by `lists`: the socket itself, or a `DumpThread` of
   * `NETLINK_NETFILTER` that runs them on another thread.
   */
  static async open(
    socket: NetlinkSocket = NetlinkSocket.open(NETLINK_NETFILTER),
    lists: Dumper = socket,
  ): Promise<IpsetClient> {
    try {
      const probe = new IpsetMessages();
      const context = ipsetContext(IPSET_CMD.PROTOCOL, "handshake");
      const [reply] = await socket.request(probe.request(IPSET_CMD.PROTOCOL, () => {}), context);
      const a = attributeMap(reply?.payload.subarray(4) ?? new Uint8Array());
      const kernel = a.has(ATTR.PROTOCOL) ? attrU8(a.get(ATTR.PROTOCOL)!) : OUR_PROTOCOL;
      const minimum = a.has(ATTR.PROTOCOL_MIN) ? attrU8(a.get(ATTR.PROTOCOL_MIN)!) : kernel;
      const protocol = Math.min(kernel, OUR_PROTOCOL);
      if (protocol < minimum) {
        throw new NetlinkError(context, 71, {
          kernelText: `the kernel speaks ipset protocol ${minimum}-${kernel}, this client 7`,
        });
      }
      return new IpsetClient(socket, new IpsetMessages(protocol), lists);
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  /** The newest revision of `type` the kernel has, asked once per type and family. */
  async revision(header: Pick<IpSetHeader, "type" | "family">): Promise<number> {
    const family = familyNumber(header);
    const key = `${header.type}/${family}`;
    const known = this.#revisions.get(key);
    if (known !== undefined) return known;
    const context = ipsetContext(IPSET_CMD.TYPE, header.type, header.type);
    const replies = await this.socket.request(this.messages.type(header.type, family), context);
    const revision = replies.map((r) => attributeMap(r.payload.subarray(4)).get(ATTR.REVISION))
      .find((a) => a !== undefined);
    if (revision === undefined) {
      throw new NetlinkError(context, 61, { kernelText: "the kernel named no revision" });
    }
    this.#revisions.set(key, attrU8(revision));
    return attrU8(revision);
  }

  /** `create NAME ... -exist`; `name` defaults to the header's (a temporary set's differs). */
  async create(header: IpSetHeader, name = header.name): Promise<void> {
    const request = this.messages.create(header, name, await this.revision(header));
    await this.socket.request(request, ipsetContext(IPSET_CMD.CREATE, name, header.type));
  }

  /** `destroy NAME`; fails with ENOENT for a missing set. */
  async destroy(name: string): Promise<void> {
    const request = this.messages.named(IPSET_CMD.DESTROY, name);
    await this.socket.request(request, ipsetContext(IPSET_CMD.DESTROY, name));
  }

  /** `flush NAME`. */
  async flush(name: string): Promise<void> {
    const request = this.messages.named(IPSET_CMD.FLUSH, name);
    await this.socket.request(request, ipsetContext(IPSET_CMD.FLUSH, name));
  }

  /** `swap FROM TO`: the two sets exchange names (same type and family only). */
  async swap(from: string, to: string): Promise<void> {
    await this.socket.request(
      this.messages.swap(from, to),
      ipsetContext(IPSET_CMD.SWAP, `${from} ${to}`),
    );
  }

  /**
   * `add` or `del` of many entries with `-exist`. Resolves with the index of the first entry
   * that was refused (by the kernel, or as malformed before sending) and why, if one was;
   * entries before it took effect, those after it did not (the kernel stops at the first).
   */
  async adt(
    command: "add" | "del",
    set: string,
    entries: readonly string[],
  ): Promise<AdtResult> {
    const cmd = command === "add" ? IPSET_CMD.ADD : IPSET_CMD.DEL;
    const { messages, invalid } = this.#adtMessages(command, set, entries);
    let sends = 0;
    for (const message of messages) {
      sends++;
      try {
        await this.socket.request(message.request, ipsetContext(cmd, set));
      } catch (error) {
        if (!(error instanceof NetlinkError)) throw error;
        const found = await this.#locate(command, set, entries, message, error);
        return { ...found, sends: sends + found.sends };
      }
      await this.socket.yieldIfDue();
    }
    return invalid === undefined ? { sends } : { index: invalid.index!, error: invalid, sends };
  }

  /**
   * The entry a refused add/del message stopped at: the line the kernel wrote back, or, when
   * it refused the message before reaching an entry's own check (a malformed attribute), the
   * first of its entries that fails on its own. Sending them again one by one is safe: with
   * `-exist`, adding what is there and deleting what is not are no-ops.
   */
  async #locate(
    command: "add" | "del",
    set: string,
    entries: readonly string[],
    message: AdtMessage,
    error: NetlinkError,
  ): Promise<{ index: number; error: NetlinkError; sends: number }> {
    const cmd = command === "add" ? IPSET_CMD.ADD : IPSET_CMD.DEL;
    const named = (index: number, cause: NetlinkError) =>
      new NetlinkError(ipsetContext(cmd, `${set} ${entries[index]}`), cause.errno, { cause });
    const line = failedLine(error.echoed);
    if (line !== undefined) {
      const index = message.first + line - 1;
      return { index, error: named(index, error), sends: 0 };
    }
    // A missing set (ENOENT) refuses every entry alike, and a single entry is the one.
    if (message.count === 1 || error.errno === ENOENT) {
      return { index: message.first, error: named(message.first, error), sends: 0 };
    }
    let sends = 0;
    for (let index = message.first; index < message.first + message.count; index++) {
      const [single] = this.messages.adt(command, set, [entries[index]]);
      sends++;
      try {
        await this.socket.request(single.request, ipsetContext(cmd, set));
      } catch (retryError) {
        if (!(retryError instanceof NetlinkError)) throw retryError;
        return { index, error: named(index, retryError), sends };
      }
    }
    return { index: message.first, error: named(message.first, error), sends };
  }

  /** The messages for `entries`, up to the first malformed one (then also returned). */
  #adtMessages(command: "add" | "del", set: string, entries: readonly string[]) {
    try {
      return { messages: this.messages.adt(command, set, entries) };
    } catch (error) {
      if (!(error instanceof IpsetEntryError) || error.index === undefined) throw error;
      return {
        messages: this.messages.adt(command, set, entries.slice(0, error.index)),
        invalid: error,
      };
    }
  }

  /**
   * Every set the kernel lists (or those whose name `keep` accepts), decoded as the exec
   * backend reads `ipset save`: comment "", entries as `ipset save` prints them, in the
   * kernel's order. A set listed over several messages is joined.
   */
  async list(keep: (name: string) => boolean = () => true): Promise<IpSet[]> {
    const request = this.messages.request(IPSET_CMD.LIST, () => {});
    const messages = await this.#lists.dump(request, ipsetContext(IPSET_CMD.LIST, "all sets"));
    return listedSets(messages, keep);
  }

  /**
   * The sets of {@linkcode IpsetClient.list} in canonical order (`sortIpSets`), from a new
   * dump every call; a set whose bytes are those of the last call's dump is not decoded
   * again (see {@linkcode ListedSetsDecoder}). The sets are frozen.
   */
  async listSorted(keep: (name: string) => boolean = () => true): Promise<IpSet[]> {
    const request = this.messages.request(IPSET_CMD.LIST, () => {});
    const messages = await this.#lists.dump(request, ipsetContext(IPSET_CMD.LIST, "all sets"));
    return this.#decoder.decode(messages, keep);
  }

  /** Closes the socket. */
  close(): void {
    this.socket.close();
  }
}

/**
 * Whether the kernel answers ipset's nfnetlink protocol (the `ip_set` module loaded or
 * loadable): iptables mode reads the sets, another mode's leftovers, only where it does.
 *
 * @example
 * ```ts
 * if (await ipsetSubsystemAvailable()) console.log("the sets can be read");
 * ```
 */
export async function ipsetSubsystemAvailable(): Promise<boolean> {
  try {
    (await IpsetClient.open()).close();
    return true;
  } catch {
    return false;
  }
}

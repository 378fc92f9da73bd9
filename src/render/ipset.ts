/**
 * `ipset restore` input for the set operations of a plan, and a parser for `ipset save`.
 *
 * @module
 */

import type {
  AddIpSetEntry,
  CreateIpSet,
  DeleteIpSetEntry,
  DestroyIpSet,
  IpSetHeader,
  ReplaceIpSet,
} from "../plan/types.ts";
import type { IpSet, IpSetType } from "../state/types.ts";
import { RenderError, safeToken } from "./guard.ts";
import { numberedLines, ParseError } from "./parse_error.ts";

/** The operations `ipset restore` carries out. */
export type IpsetOperation =
  | CreateIpSet
  | AddIpSetEntry
  | DeleteIpSetEntry
  | ReplaceIpSet
  | DestroyIpSet;

/** The longest set name the kernel takes (IPSET_MAXNAMELEN 32, with the final NUL). */
export const MAX_SET_NAME_LENGTH = 31;

/** Returns `name` if it is a safe token the kernel accepts as a set name. */
export function safeSetName(name: string): string {
  safeToken(name, "ipset name");
  if (name.length > MAX_SET_NAME_LENGTH) {
    throw new RenderError("ipset name", name, `is longer than ${MAX_SET_NAME_LENGTH} characters`);
  }
  return name;
}

// FNV-1a, 32 bits: a short, stable tag that keeps truncated temporary names apart.
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0").slice(0, 4).toUpperCase();
}

/**
 * The temporary set `ipset.replace` fills before swapping it in: `<name>-TMP`, or, when that
 * would pass 31 characters, the name cut short with a hash of the full name
 * (`KUBE-LOAD-BALANCER-SOUR-1A2B-TMP`), so it stays unique and `KUBE-` prefixed.
 */
export function temporarySetName(name: string): string {
  const plain = `${name}-TMP`;
  if (plain.length <= MAX_SET_NAME_LENGTH) return plain;
  const tail = `-${shortHash(name)}-TMP`;
  return name.slice(0, MAX_SET_NAME_LENGTH - tail.length) + tail;
}

/** The `create` line of a set header, with `-exist` so an identical set is no error. */
export function createLine(header: IpSetHeader, name = header.name): string {
  const setName = safeSetName(name);
  const type = safeToken(header.type, "ipset type");
  if (header.type === "bitmap:port") return `create ${setName} ${type} range 0-65535 -exist`;
  const family = safeToken(header.family, "ipset family");
  return `create ${setName} ${type} family ${family} hashsize 1024 maxelem 65536 -exist`;
}

function entryLine(command: "add" | "del", set: string, entry: string): string {
  return `${command} ${safeSetName(set)} ${safeToken(entry, `entry of ipset ${set}`)} -exist`;
}

/**
 * The `ipset restore` lines of one operation. `ipset.replace` fills a temporary set and
 * swaps it in, so the set is never empty in between:
 * `create T ... -exist`, `flush T` (a leftover T may hold entries), `add T ...`,
 * `swap T NAME`, `destroy T`.
 */
export function renderIpsetLines(op: IpsetOperation): string[] {
  switch (op.op) {
    case "ipset.create":
      return [createLine(op.set)];
    case "ipset.add":
      return [entryLine("add", op.set, op.entry)];
    case "ipset.del":
      return [entryLine("del", op.set, op.entry)];
    case "ipset.destroy":
      return [`destroy ${safeSetName(op.set)}`];
    case "ipset.replace": {
      const name = safeSetName(op.set.name);
      const temporary = temporarySetName(name);
      return [
        createLine(op.set, temporary),
        `flush ${temporary}`,
        ...op.entries.map((entry) => entryLine("add", temporary, entry)),
        `swap ${temporary} ${name}`,
        `destroy ${temporary}`,
      ];
    }
  }
}

/** What `ipset restore` reads on stdin to carry out `ops`. */
export function renderIpsetRestore(ops: readonly IpsetOperation[]): string {
  return ops.flatMap(renderIpsetLines).map((line) => line + "\n").join("");
}

const KNOWN_TYPES: readonly string[] = [
  "hash:ip",
  "hash:ip,port",
  "hash:ip,port,ip",
  "hash:ip,port,net",
  "bitmap:port",
];

/** True for the set types this proxier creates. */
export function isKnownSetType(type: string): type is IpSetType {
  return KNOWN_TYPES.includes(type);
}

type SetBuilder = { -readonly [K in keyof IpSet]: IpSet[K] } & { entries: string[] };

function parseCreate(words: string[], fail: (e: string) => never): SetBuilder {
  const [, name, type, ...options] = words;
  if (name === undefined || type === undefined) fail("create NAME TYPE ...");
  const familyAt = options.indexOf("family");
  let family: IpSet["family"] = "inet";
  if (familyAt >= 0) {
    const value = options[familyAt + 1];
    if (value !== "inet" && value !== "inet6") fail("family inet or inet6");
    family = value;
  } else if (name.startsWith("KUBE-6-")) {
    // bitmap sets have no family; kube-proxy's IPv6 sets carry the KUBE-6- prefix
    family = "inet6";
  }
  // A type we never create is kept as read, so the diff sees it differ from ours.
  return { name, type: type as IpSetType, family, comment: "", entries: [] };
}

/**
 * Parses `ipset save` output into sets (comment "", entries as printed).
 *
 * @example
 * ```ts
 * import { parseIpsetSave } from "./ipset.ts";
 *
 * // ipset save prints, for sets created as kube-proxy creates them:
 * //   create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x6d5d2a1e
 * //   add KUBE-CLUSTER-IP 10.0.0.1,tcp:443
 * //   create KUBE-NODE-PORT-TCP bitmap:port range 0-65535
 * parseIpsetSave("create KUBE-NODE-PORT-TCP bitmap:port range 0-65535\nadd KUBE-NODE-PORT-TCP 30080\n");
 * ```
 */
export function parseIpsetSave(text: string): IpSet[] {
  const sets = new Map<string, SetBuilder>();
  for (const { line, lineNumber } of numberedLines(text)) {
    const fail = (expected: string): never => {
      throw new ParseError("ipset save", lineNumber, line, expected);
    };
    const words = line.trim().split(/\s+/);
    if (words[0] === "create") {
      const set = parseCreate(words, fail);
      sets.set(set.name, set);
    } else if (words[0] === "add") {
      const set = sets.get(words[1]) ?? fail(`an entry of a set created above (${words[1]})`);
      set.entries.push(words[2] ?? fail("add NAME ENTRY"));
    } else {
      fail("a line starting with create or add");
    }
  }
  return [...sets.values()];
}

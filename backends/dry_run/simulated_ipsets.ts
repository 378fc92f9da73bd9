/**
 * Simulated ipsets that run `ipset restore` lines the way ipset does: `-exist` makes
 * creating an identical set and adding or deleting an entry idempotent; a missing set, a
 * header clash, an entry of the wrong shape or family, swapping incompatible sets, and
 * destroying a set a rule still uses are refused.
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import type { IpSet } from "../../src/state/types.ts";
import { parseIpsetSave } from "../../src/render/ipset.ts";
import { Rejected } from "./rejected.ts";
import { isCanonicalIpv4 } from "../../src/net/ip.ts";
import { compareStrings } from "../../src/state/keys.ts";

const MISSING = "The set with the given name does not exist";

function isIp(text: string, family: IpSet["family"]): boolean {
  // The canonical IPv4 form (what the proxier writes) checked cheaply; anything else the slow way.
  if (isCanonicalIpv4(text)) return family === "inet";
  return ipaddr.isValid(text) &&
    ipaddr.parse(text).kind() === (family === "inet" ? "ipv4" : "ipv6");
}

function isProtoPort(text: string): boolean {
  const m = /^(?:(tcp|udp|sctp):)?(\d{1,5})$/.exec(text);
  return m !== null && Number(m[2]) <= 65535;
}

function isNet(text: string, family: IpSet["family"]): boolean {
  const [ip, bits, ...rest] = text.split("/");
  const max = family === "inet" ? 32 : 128;
  return rest.length === 0 && isIp(ip, family) &&
    (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max));
}

/** Whether `entry` has the shape `ipset add` accepts for the set's type and family. */
export function validEntry(set: IpSet, entry: string): boolean {
  const parts = entry.split(",");
  const f = set.family;
  switch (set.type) {
    case "bitmap:port":
      return /^\d{1,5}$/.test(entry) && Number(entry) <= 65535;
    case "hash:ip":
      return parts.length === 1 && isIp(parts[0], f);
    case "hash:ip,port":
      return parts.length === 2 && isIp(parts[0], f) && isProtoPort(parts[1]);
    case "hash:ip,port,ip":
      return parts.length === 3 && isIp(parts[0], f) && isProtoPort(parts[1]) && isIp(parts[2], f);
    case "hash:ip,port,net":
      return parts.length === 3 && isIp(parts[0], f) && isProtoPort(parts[1]) && isNet(parts[2], f);
    default:
      return true; // a type we never create: take its entries as they come
  }
}

// The kernel swaps only sets with the same features (dimensions) and family.
function swappable(a: Omit<IpSet, "entries">, b: Omit<IpSet, "entries">): boolean {
  return a.type === b.type && (a.type === "bitmap:port" || a.family === b.family);
}

type SetBuilder = Omit<IpSet, "entries"> & { entries: Set<string> };

/**
 * The simulated sets of the whole kernel (sets are not per family). Each set's listing is
 * kept, frozen, until a line changes that set.
 */
export class SimulatedIpsets {
  #sets = new Map<string, SetBuilder>();
  #listed = new Map<string, IpSet>();

  /** Starts with the sets of `initial`. */
  constructor(initial: readonly IpSet[]) {
    for (const s of initial) {
      this.#sets.set(s.name, { ...s, comment: "", entries: new Set(s.entries) });
    }
  }

  /** Whether a set of that name exists. */
  has(name: string): boolean {
    return this.#sets.has(name);
  }

  /**
   * Every set with its entries, as `ipset save` would list them, in canonical order (sets by
   * name, entries sorted), each frozen.
   */
  state(): IpSet[] {
    return [...this.#sets.keys()].sort(compareStrings).map((name) => this.#listing(name));
  }

  #listing(name: string): IpSet {
    const cached = this.#listed.get(name);
    if (cached) return cached;
    const set = this.#sets.get(name)!;
    const entries = Object.freeze([...set.entries].sort(compareStrings));
    const listing = Object.freeze({ ...set, entries });
    this.#listed.set(name, listing);
    return listing;
  }

  /** Test hook: a set's entries as they are. */
  entriesOf(name: string): string[] | undefined {
    const set = this.#sets.get(name);
    return set && [...set.entries];
  }

  /**
   * Runs `ipset restore` lines in order; the first refused line throws {@linkcode Rejected}
   * with its index (earlier lines keep their effect, as with `ipset restore`).
   */
  restore(lines: readonly string[], inUse: (name: string) => boolean): void {
    lines.forEach((line, index) => {
      try {
        this.#run(line.split(" "), line, inUse);
      } catch (e) {
        if (e instanceof Rejected) throw new Rejected(e.message, index);
        throw e;
      }
    });
  }

  #get(name: string): SetBuilder {
    const set = this.#sets.get(name);
    if (!set) throw new Rejected(`${MISSING}: ${name}`);
    return set;
  }

  #run(words: string[], line: string, inUse: (name: string) => boolean): void {
    const [command, name, arg] = words;
    // Whatever the line does, only the sets it names can change.
    this.#listed.delete(name);
    if (command === "swap") this.#listed.delete(arg);
    if (command === "create") {
      const [header] = parseIpsetSave(line);
      const old = this.#sets.get(name);
      if (old && !(words.includes("-exist") && swappable(old, header))) {
        throw new Rejected("Set cannot be created: set with the same name already exists");
      }
      if (!old) this.#sets.set(name, { ...header, entries: new Set() });
    } else if (command === "add" || command === "del") {
      const set = this.#get(name);
      if (!validEntry({ ...set, entries: [] }, arg)) {
        throw new Rejected(`Syntax error: "${arg}" is not a valid ${set.type} ${set.family} entry`);
      }
      const present = set.entries.has(arg);
      if (!words.includes("-exist") && present === (command === "add")) {
        throw new Rejected(
          command === "add"
            ? "Element cannot be added: it's already added"
            : "Element cannot be deleted: it's not added",
        );
      }
      if (command === "add") set.entries.add(arg);
      else set.entries.delete(arg);
    } else if (command === "flush") {
      this.#get(name).entries.clear();
    } else if (command === "swap") {
      const a = this.#get(name);
      const b = this.#get(arg);
      if (!swappable(a, b)) {
        throw new Rejected("The sets cannot be swapped: their type does not match");
      }
      this.#sets.set(name, { ...b, name });
      this.#sets.set(arg, { ...a, name: arg });
    } else if (command === "destroy") {
      this.#get(name);
      if (inUse(name)) {
        throw new Rejected("Set cannot be destroyed: it is in use by a kernel component");
      }
      this.#sets.delete(name);
    } else {
      throw new Rejected(`Unknown command ${command}`);
    }
  }
}

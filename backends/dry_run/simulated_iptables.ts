/**
 * One simulated iptables table that runs `iptables-restore --noflush` input the way the
 * kernel would: all of a table's lines take effect at COMMIT or none do, and a line that
 * the real tool rejects (deleting a missing rule, removing a chain still in use, jumping to
 * a missing chain, matching a missing set) fails the whole input.
 *
 * @module
 */

import type { IptablesTable, TableName } from "../../src/state/types.ts";
import { ruleTarget, ruleWords } from "../../src/render/iptables.ts";
import { Rejected } from "./rejected.ts";

const BUILTIN: Record<TableName, readonly string[]> = {
  nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
  filter: ["INPUT", "FORWARD", "OUTPUT"],
};

type Chains = Map<string, string[]>;

function clone(chains: Chains): Chains {
  return new Map([...chains].map(([name, rules]) => [name, [...rules]]));
}

function matchedSets(rule: string): string[] {
  const words = ruleWords(rule);
  return words.flatMap((w, i) => w === "--match-set" && words[i + 1] ? [words[i + 1]] : []);
}

/** A table's built-in and user chains, changed only by whole restore inputs. */
export class SimulatedTable {
  #builtin: Chains;
  #user: Chains = new Map();

  /** Starts with empty built-in chains plus what `initial` holds. */
  constructor(readonly table: TableName, initial: IptablesTable) {
    this.#builtin = new Map(BUILTIN[table].map((name) => [name, []]));
    for (const c of initial.chains) this.#user.set(c.name, [...c.rules]);
    for (const j of initial.jumps) (this.#builtin.get(j.chain) ?? []).push(j.rule);
  }

  /** Our part of the table: user chains and the built-in rules that jump into them. */
  state(): IptablesTable {
    const jumps = [...this.#builtin].flatMap(([chain, rules]) =>
      rules.filter((r) => this.#user.has(ruleTarget(r) ?? "")).map((rule) => ({ chain, rule }))
    );
    return { chains: [...this.#user].map(([name, rules]) => ({ name, rules: [...rules] })), jumps };
  }

  /** The sets some rule of this table matches on (`--match-set NAME`). */
  referencedSets(): Set<string> {
    const all = [...this.#builtin.values(), ...this.#user.values()].flat();
    return new Set(all.flatMap(matchedSets));
  }

  /**
   * Runs one restore input (`*table` ... `COMMIT`). Throws {@linkcode Rejected} with the
   * failing line's index, leaving the table as it was.
   */
  restore(lines: readonly string[], setExists: (name: string) => boolean): void {
    const builtin = clone(this.#builtin);
    const user = clone(this.#user);
    lines.forEach((line, index) => {
      const fail = (why: string): never => {
        throw new Rejected(`line ${index + 1} failed: ${why}`, index);
      };
      if (line === `*${this.table}`) return;
      if (line === "COMMIT") return this.#check(builtin, user, setExists, fail);
      const chainOf = (name: string) => builtin.get(name) ?? user.get(name);
      let m: RegExpExecArray | null;
      if ((m = /^:(\S+) - \[0:0\]$/.exec(line))) {
        if (builtin.has(m[1])) fail(`${m[1]} is a built-in chain`);
        user.set(m[1], []); // with --noflush, declaring a chain creates or flushes it
      } else if ((m = /^-A (\S+) (.+)$/.exec(line))) {
        (chainOf(m[1]) ?? fail(`chain ${m[1]} does not exist`)).push(m[2]);
      } else if ((m = /^-I (\S+) (\d+) (.+)$/.exec(line))) {
        const rules = chainOf(m[1]) ?? fail(`chain ${m[1]} does not exist`);
        const at = Number(m[2]);
        if (at < 1 || at > rules.length + 1) fail("Index of insertion too big");
        rules.splice(at - 1, 0, m[3]);
      } else if ((m = /^-D (\S+) (.+)$/.exec(line))) {
        const rules = chainOf(m[1]) ?? fail(`chain ${m[1]} does not exist`);
        const at = rules.indexOf(m[2]);
        if (at < 0) fail("Bad rule (does a matching rule exist in that chain?)");
        rules.splice(at, 1);
      } else if ((m = /^-X (\S+)$/.exec(line))) {
        this.#deleteChain(m[1], builtin, user, fail);
      } else {
        fail("unknown command");
      }
    });
    this.#builtin = builtin;
    this.#user = user;
  }

  #deleteChain(name: string, builtin: Chains, user: Chains, fail: (why: string) => never): void {
    const rules = user.get(name) ?? fail(`chain ${name} does not exist`);
    if (rules.length > 0) fail(`chain ${name} is not empty`);
    const all = [...builtin.values(), ...user.values()].flat();
    if (all.some((r) => ruleTarget(r) === name)) fail(`chain ${name} is still referenced`);
    user.delete(name);
  }

  #check(
    builtin: Chains,
    user: Chains,
    setExists: (n: string) => boolean,
    fail: (w: string) => never,
  ) {
    for (const rule of [...builtin.values(), ...user.values()].flat()) {
      const target = ruleTarget(rule);
      if (target?.startsWith("KUBE-") && !user.has(target)) {
        fail(`Couldn't load target \`${target}'`);
      }
      for (const set of matchedSets(rule)) {
        if (!setExists(set)) fail(`Set ${set} doesn't exist.`);
      }
    }
  }
}

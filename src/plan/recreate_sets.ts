/**
 * Sets of ours that exist with another header (type or family) than the desired one, left by
 * an older version or another tool. The kernel swaps only sets of the same type and family
 * ("The sets cannot be swapped: their type does not match") and destroys no set that a rule
 * uses ("Set cannot be destroyed: it is in use by a kernel component"), so such a set is
 * recreated in an order the kernel accepts:
 *
 * 1. one `iptables.restore` per table whose chains or jumps use it, rewriting those chains
 *    without the rules that match on it (and deleting such jumps);
 * 2. `ipset.destroy`, then the normal diff against the state after 1 and 2: `ipset.create`
 *    with the right header, its `ipset.add`s, and the full `iptables.restore` that puts the
 *    rules back.
 *
 * @module
 */

import type {
  IpSet,
  IptablesFamily,
  IptablesTable,
  KernelState,
  TableName,
} from "../state/types.ts";
import { ruleWords } from "../render/iptables.ts";
import type { Operation } from "./types.ts";

// bitmap:port sets have no family in the kernel, so only hash sets can differ in it.
/** Whether two sets have the same header as far as the kernel tells them apart. */
export function sameHeader(a: IpSet, b: IpSet): boolean {
  return a.type === b.type && (a.type === "bitmap:port" || a.family === b.family);
}

/** The names of `current`'s sets that `desired` has under the same name with another header. */
export function wrongHeaderSets(current: readonly IpSet[], desired: readonly IpSet[]): Set<string> {
  const want = new Map(desired.map((s) => [s.name, s]));
  return new Set(
    current.filter((s) => want.has(s.name) && !sameHeader(s, want.get(s.name)!)).map((
      s,
    ) => s.name),
  );
}

function usesAny(rule: string, sets: ReadonlySet<string>): boolean {
  const words = ruleWords(rule);
  return words.some((w, i) => w === "--match-set" && sets.has(words[i + 1] ?? ""));
}

/** The restore that stops one table using `sets`, and the table after it; none if unused. */
function unreference(
  family: IptablesFamily,
  table: TableName,
  current: IptablesTable,
  sets: ReadonlySet<string>,
): { op?: Operation; after: IptablesTable } {
  const chains = current.chains.filter((c) => c.rules.some((r) => usesAny(r, sets)));
  const deleteJumps = current.jumps.filter((j) => usesAny(j.rule, sets));
  if (chains.length === 0 && deleteJumps.length === 0) return { after: current };
  const rewritten = chains.map((c) => ({ ...c, rules: c.rules.filter((r) => !usesAny(r, sets)) }));
  const byName = new Map(rewritten.map((c) => [c.name, c]));
  const op: Operation = {
    op: "iptables.restore",
    family,
    table,
    chains: rewritten,
    addJumps: [],
    deleteJumps,
    deleteChains: [],
  };
  return {
    op,
    after: {
      chains: current.chains.map((c) => byName.get(c.name) ?? c),
      jumps: current.jumps.filter((j) => !usesAny(j.rule, sets)),
    },
  };
}

/**
 * The operations that stop our rules using the sets in `wrong` and destroy those sets, and
 * the kernel state after them (against which the rest of the diff is computed).
 */
export function recreateFirst(
  current: KernelState,
  wrong: ReadonlySet<string>,
  families: readonly IptablesFamily[],
): { ops: Operation[]; after: KernelState } {
  if (wrong.size === 0) return { ops: [], after: current };
  const ops: Operation[] = [];
  const iptables = { ...current.iptables };
  for (const family of families) {
    const nat = unreference(family, "nat", current.iptables[family].nat, wrong);
    const filter = unreference(family, "filter", current.iptables[family].filter, wrong);
    for (const { op } of [nat, filter]) if (op) ops.push(op);
    iptables[family] = { nat: nat.after, filter: filter.after };
  }
  for (const name of wrong) ops.push({ op: "ipset.destroy", set: name });
  return {
    ops,
    after: { ...current, iptables, ipsets: current.ipsets.filter((s) => !wrong.has(s.name)) },
  };
}

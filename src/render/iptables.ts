/**
 * `iptables-restore --noflush -w` input for one table's operation, the same table's state in
 * `iptables-save` form (for JSON output), and a parser for `iptables-save` output.
 *
 * @module
 */

import type { RestoreIptablesTable } from "../plan/types.ts";
import type { IptablesTable, JumpRule, TableName } from "../state/types.ts";
import { safeRule, safeToken } from "./guard.ts";
import { numberedLines, ParseError } from "./parse_error.ts";

/** The built-in chains of the nat and filter tables (where our jump rules live). */
export const BUILTIN_CHAINS: readonly string[] = [
  "PREROUTING",
  "INPUT",
  "FORWARD",
  "OUTPUT",
  "POSTROUTING",
];

function chain(name: string): string {
  return safeToken(name, "iptables chain name");
}

function rule(text: string, chainName: string): string {
  return safeRule(text, `iptables rule in ${chainName}`);
}

/**
 * Our part of one table as `iptables-save` would show it: chain declarations, their rules,
 * then the jump rules from built-in chains, then `COMMIT`.
 *
 * @example
 * ```ts
 * renderTableState("nat", { chains: [{ name: "KUBE-MARK-MASQ", rules: ["-j MARK --set-xmark 0x4000/0x4000"] }], jumps: [] });
 * // "*nat\n:KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\nCOMMIT\n"
 * ```
 */
export function renderTableState(tableName: TableName, table: IptablesTable): string {
  const lines = [`*${safeToken(tableName, "iptables table")}`];
  for (const c of table.chains) lines.push(`:${chain(c.name)} - [0:0]`);
  for (const c of table.chains) {
    for (const r of c.rules) lines.push(`-A ${chain(c.name)} ${rule(r, c.name)}`);
  }
  for (const j of table.jumps) lines.push(`-A ${chain(j.chain)} ${rule(j.rule, j.chain)}`);
  lines.push("COMMIT");
  return lines.map((line) => line + "\n").join("");
}

/**
 * The lines `iptables-restore --noflush -w` reads for one `iptables.restore` operation:
 * every chain of `op.chains` and `op.deleteChains` is declared (which flushes it under
 * `--noflush`), `op.chains` are refilled, `deleteJumps` are deleted one copy each, the
 * missing jumps are inserted at the top of their built-in chain, the unwanted chains
 * removed (`-X`, after the flush so they reference nothing), then `COMMIT`.
 */
export function renderIptablesRestoreLines(op: RestoreIptablesTable): string[] {
  const lines = [`*${safeToken(op.table, "iptables table")}`];
  for (const c of op.chains) lines.push(`:${chain(c.name)} - [0:0]`);
  for (const name of op.deleteChains) lines.push(`:${chain(name)} - [0:0]`);
  for (const c of op.chains) {
    for (const r of c.rules) lines.push(`-A ${chain(c.name)} ${rule(r, c.name)}`);
  }
  for (const j of op.deleteJumps) lines.push(`-D ${chain(j.chain)} ${rule(j.rule, j.chain)}`);
  // Each `-I CHAIN 1` lands above the previous one: insert in reverse to keep their order.
  for (const j of [...op.addJumps].reverse()) {
    lines.push(`-I ${chain(j.chain)} 1 ${rule(j.rule, j.chain)}`);
  }
  for (const name of op.deleteChains) lines.push(`-X ${chain(name)}`);
  lines.push("COMMIT");
  return lines;
}

/** What `iptables-restore --noflush -w` (or `ip6tables-restore`) reads for `op`. */
export function renderIptablesRestore(op: RestoreIptablesTable): string {
  return renderIptablesRestoreLines(op).map((line) => line + "\n").join("");
}

/** The same renderer as {@linkcode renderIptablesRestore}, by the name the CLI uses. */
export const renderRestoreInput: (op: RestoreIptablesTable) => string = renderIptablesRestore;

/** Splits an `iptables-save` rule into words, keeping a quoted argument as one word. */
export function ruleWords(text: string): string[] {
  return text.match(/"[^"]*"|\S+/g) ?? [];
}

/** The chain a rule jumps or goes to (`-j X`, `-g X`), or undefined. */
export function ruleTarget(text: string): string | undefined {
  const words = ruleWords(text);
  const at = words.findIndex((w) => w === "-j" || w === "--jump" || w === "-g" || w === "--goto");
  return at >= 0 ? words[at + 1] : undefined;
}

function tableLines(text: string, table: TableName | undefined) {
  const all = numberedLines(text).filter(({ line }) => !line.startsWith("#"));
  const starts = all.filter(({ line }) => line.startsWith("*"));
  if (table === undefined) {
    if (starts.length > 1) {
      const { line, lineNumber } = starts[1];
      throw new ParseError("iptables-save", lineNumber, line, "one table (name it to pick one)");
    }
    return all.filter(({ line }) => !line.startsWith("*") && line !== "COMMIT");
  }
  const from = all.findIndex(({ line }) => line === `*${table}`);
  if (from < 0) return [];
  const to = all.findIndex(({ line }, i) => i > from && line === "COMMIT");
  return all.slice(from + 1, to < 0 ? all.length : to);
}

/**
 * Parses `iptables-save` output into our part of one table: the chains named in
 * `ourChainNames` (a list, or a test such as `isOurChain`) with their rules (`-A NAME `
 * stripped), and the rules of built-in chains that jump to one of them. `table` picks a table
 * when the text holds several.
 *
 * @example
 * ```ts
 * // iptables-save -t nat prints, among others:
 * //   :KUBE-SERVICES - [0:0]
 * //   -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
 * parseIptablesSave("*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n", ["KUBE-SERVICES"]);
 * ```
 */
export function parseIptablesSave(
  text: string,
  ourChainNames: readonly string[] | ((name: string) => boolean),
  table?: TableName,
): IptablesTable {
  const ours = typeof ourChainNames === "function"
    ? { has: ourChainNames }
    : new Set(ourChainNames);
  const chains = new Map<string, string[]>();
  const jumps: JumpRule[] = [];
  for (const { line, lineNumber } of tableLines(text, table)) {
    const declared = /^:(\S+) /.exec(line);
    const appended = /^-A (\S+) (.*)$/.exec(line);
    if (declared) {
      if (ours.has(declared[1])) chains.set(declared[1], []);
    } else if (appended) {
      const [, name, ruleText] = appended;
      if (ours.has(name)) {
        (chains.get(name) ?? chains.set(name, []).get(name)!).push(ruleText);
      } else if (BUILTIN_CHAINS.includes(name) && ours.has(ruleTarget(ruleText) ?? "")) {
        jumps.push({ chain: name, rule: ruleText });
      }
    } else {
      throw new ParseError("iptables-save", lineNumber, line, "a ':CHAIN' or '-A CHAIN' line");
    }
  }
  return { chains: [...chains].map(([name, rules]) => ({ name, rules })), jumps };
}

/**
 * The strict grammar of the restore inputs this project renders, for tests that must notice a
 * line that is not ours: every iptables line is one of the renderer's forms (`*table`,
 * `:CHAIN - [0:0]` and `-A CHAIN rule` for our chains only, our jump rules as `-I BUILTIN 1` or
 * `-D BUILTIN`, `-X` of our chains, `COMMIT`), and each tool run has exactly as many lines as
 * its operations imply, counted here without the renderers.
 *
 * @module
 */

import type { Operation } from "../src/plan/types.ts";
import type { JumpRule, TableName } from "../src/state/types.ts";
import {
  FILTER_CHAINS,
  FILTER_JUMPS,
  NAT_CHAINS,
  NAT_JUMPS,
} from "../src/proxier/iptables_rules.ts";

/** The line grammars of the tools whose lines carry no table context. */
export const LINE_GRAMMAR: Readonly<Record<string, RegExp>> = {
  "ipset restore": /^(create|add|del|destroy|swap|flush) KUBE-[A-Z0-9-]+( [a-z0-9:.,/-]+)*$/,
  "ipvsadm --restore":
    /^-[AaEeDd] (-t|-u|--sctp-service) [0-9a-f.:[\]]+( -[a-z] [0-9a-z.:[\]-]+| -m)*$/,
  "ip -batch -": /^(link|address) (add|del|delete) [0-9a-f.:/]*( ?dev)? ?kube-ipvs0( type dummy)?$/,
};

const CHAINS: Record<TableName, readonly string[]> = { nat: NAT_CHAINS, filter: FILTER_CHAINS };
const JUMPS: Record<TableName, readonly JumpRule[]> = { nat: NAT_JUMPS, filter: FILTER_JUMPS };

const CIDR = String.raw`[0-9a-f.:]+/\d{1,3}`;
// kube-proxy's comment texts: words, spaces, + : = , . and escaped quotes; never a bare quote.
const COMMENT = String.raw`"(?:[A-Za-z0-9 +:=,.-]|\\')*"`;
const MATCHES = [
  `-m comment --comment ${COMMENT}`,
  String.raw`-m set --match-set KUBE-[A-Z0-9-]+ (?:src|dst)(?:,(?:src|dst)){0,2}`,
  "-m addrtype (?:! )?--(?:src|dst)-type LOCAL",
  "-m physdev ! --physdev-is-in",
  "-m mark (?:! )?--mark 0x[0-9a-f]+/0x[0-9a-f]+",
  "-m conntrack --ctstate (?:NEW|RELATED,ESTABLISHED)",
];
const TARGETS = [
  "ACCEPT",
  "RETURN",
  "DROP",
  "MASQUERADE(?: --random-fully)?",
  "MARK --set-xmark 0x[0-9a-f]+/0x[0-9a-f]+",
  "REJECT --reject-with icmp6?-port-unreachable",
  "(?<chain>KUBE-[A-Z-]+)",
];

/** Our rule shapes: an optional source, an optional protocol, our matches, one target. */
const RULE = new RegExp(
  `^(?:(?:! )?-s ${CIDR} )?(?:-p (?:tcp|udp|sctp) )?(?:(?:${MATCHES.join("|")}) )*` +
    `-j (?:${TARGETS.join("|")})$`,
);

/** Why `rule` in one of our chains of `table` is not one of our rule shapes, or undefined. */
function ruleProblem(table: TableName, rule: string): string | undefined {
  const match = RULE.exec(rule);
  if (!match) return "not one of our rule shapes";
  const target = match.groups?.chain;
  if (target !== undefined && !CHAINS[table].includes(target)) {
    return `jumps to ${target}, not one of our ${table} chains`;
  }
  return undefined;
}

function isOurJump(table: TableName, chain: string, rule: string): boolean {
  return JUMPS[table].some((j) => j.chain === chain && j.rule === rule);
}

/** Why one line of an iptables section of `table` is not ours, or undefined when it is. */
function lineProblem(table: TableName, line: string): string | undefined {
  const ours = CHAINS[table];
  let m: RegExpExecArray | null;
  if ((m = /^:(\S+) - \[0:0\]$/.exec(line))) {
    return ours.includes(m[1]) ? undefined : `declares ${m[1]}, not one of our chains`;
  }
  if ((m = /^-A (\S+) (.+)$/.exec(line))) {
    if (!ours.includes(m[1])) return `appends to ${m[1]}, not one of our chains`;
    return ruleProblem(table, m[2]);
  }
  if ((m = /^-I (\S+) 1 (.+)$/.exec(line)) ?? (m = /^-D (\S+) (.+)$/.exec(line))) {
    return isOurJump(table, m[1], m[2]) ? undefined : "not one of our jump rules";
  }
  if ((m = /^-X (\S+)$/.exec(line))) {
    return ours.includes(m[1]) ? undefined : `deletes ${m[1]}, not one of our chains`;
  }
  return "not a line our renderer writes";
}

/**
 * Every problem of one `iptables-restore` / `ip6tables-restore` input for `table`, as
 * `line N: "text": why`; empty when each line is one our renderer writes, `*table` first and
 * `COMMIT` last, once each.
 */
export function iptablesSectionProblems(table: TableName, lines: readonly string[]): string[] {
  const problems: string[] = [];
  const report = (index: number, why: string) =>
    problems.push(`line ${index + 1}: ${JSON.stringify(lines[index])}: ${why}`);
  if (lines[0] !== `*${table}`) report(0, `expected *${table} first`);
  if (lines.at(-1) !== "COMMIT") report(lines.length - 1, "expected COMMIT last");
  for (let i = 1; i < lines.length - 1; i++) {
    const why = lineProblem(table, lines[i]);
    if (why !== undefined) report(i, why);
  }
  return problems;
}

/**
 * How many stdin lines one tool run of `operations` has, from the operations alone: one per
 * ipset, ipvsadm or ip operation, but `ipset.replace` (create, flush, one add per entry, swap,
 * destroy); an iptables table is `*table`, one declaration per chain (deleted ones too), its
 * rules, its jump changes, one `-X` per deleted chain, and `COMMIT`.
 */
export function impliedLineCount(operations: readonly Operation[]): number {
  let count = 0;
  for (const op of operations) {
    if (op.op === "ipset.replace") count += 4 + op.entries.length;
    else if (op.op === "iptables.restore") {
      const rules = op.chains.reduce((n, c) => n + c.rules.length, 0);
      count += 2 + op.chains.length + 2 * op.deleteChains.length + rules +
        op.addJumps.length + op.deleteJumps.length;
    } else count += 1;
  }
  return count;
}

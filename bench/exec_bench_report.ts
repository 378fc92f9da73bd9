/**
 * The exec benchmark's report: the figures one run hands back, their medians over the runs, a
 * one-line summary per run and the Markdown table printed at the end.
 *
 * @module
 */

import type { NaiveAddressFigures, NaiveIpsetFigures } from "./exec_bench_naive.ts";
import type { ColdApplyFigures, NoopResyncFigures, OneChangeFigures } from "./exec_bench_steps.ts";

/**
 * The figures of one run, all times in milliseconds: what the copy inside the namespace prints
 * as one JSON line for the parent to read.
 */
export interface RunFigures {
  cold: ColdApplyFigures;
  noop: NoopResyncFigures;
  oneChange: OneChangeFigures;
  /** Bare `Deno.Command` per entry (as kube-proxy's Go exec), through `runCommand`, batched. */
  naiveIpset: NaiveIpsetFigures;
  naiveAddresses: NaiveAddressFigures;
}

/** The median of every number; strings from the first run. */
export function medianFigures(all: readonly RunFigures[]): RunFigures {
  const merge = (items: readonly unknown[]): unknown => {
    const first = items[0];
    if (typeof first === "number") return median(items as number[]);
    if (typeof first !== "object" || first === null) return first;
    return Object.fromEntries(
      Object.keys(first).map((
        k,
      ) => [k, merge(items.map((it) => (it as Record<string, unknown>)[k]))]),
    );
  };
  return merge(all) as RunFigures;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One run on one line (for stderr while the runs go on), with each read command's time. */
export function runSummary(f: RunFigures): string {
  return `  cold ${ms(f.cold.ms)} (ipset ${ms(f.cold.ipsetMs)}), no-op ${ms(f.noop.ms)} ` +
    `(read ${ms(f.noop.readMs)}: ${
      Object.entries(f.noop.readCalls).map(([argv, t]) => `${argv} ${ms(t)}`).join(", ")
    }), one change ${ms(f.oneChange.ms)}, ` +
    `naive ipset ${ms(f.naiveIpset.perEntryMs)} vs ${ms(f.naiveIpset.batchedMs)}, ` +
    `naive addresses ${ms(f.naiveAddresses.perAddressMs)} vs ${ms(f.naiveAddresses.batchedMs)}`;
}

/** The table of `f` (the medians of `runs` runs), its columns padded to line up as text too. */
export function markdownTable(f: RunFigures, runs: number): string {
  const rows: string[][] = [
    ["step", "time", "processes (writes)", "naive way: one process per entry", "ratio"],
    ...coldApplyRows(f),
    ...resyncRows(f),
    ...naiveSampleRows(f),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length), 3));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [
    `Median of ${runs} runs:`,
    "",
    line(rows[0]),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

/** The cold apply, then its share per batched tool against the naive samples' rates. */
function coldApplyRows({ cold, naiveIpset: ni, naiveAddresses: na }: RunFigures): string[][] {
  // Per-item times, as the samples hold fewer items than the cold apply.
  const ipsetRatio = ratio(ni.perEntryMs / ni.entries, cold.ipsetMs / cold.ipsetEntries);
  const addressRatio = ratio(na.perAddressMs / na.addresses, cold.addressMs / cold.addresses);
  return [
    [
      `cold apply: ${cold.ipsetSets} sets, ${int(cold.ipsetEntries)} entries, nat + filter ` +
      `(${cold.iptablesRules} rules), ${int(cold.addresses)} addresses: ` +
      `${int(cold.operations)} operations`,
      `${ms(cold.ms)} (the read ${ms(cold.readMs)}), ${
        rate(cold.operations, cold.ms)
      } operations/s`,
      `${cold.processes} (${cold.writes})`,
      "",
      "",
    ],
    [
      `- of which \`ipset restore\` (${int(cold.ipsetEntries)} entries)`,
      `${ms(cold.ipsetMs)}, ${rate(cold.ipsetEntries, cold.ipsetMs)} entries/s`,
      "1 (1)",
      `\`ipset add\`: ${rate(ni.entries, ni.perEntryMs)} entries/s`,
      ipsetRatio,
    ],
    [
      "- of which `iptables-restore` (nat, filter)",
      ms(cold.iptablesMs),
      "2 (2)",
      "",
      "",
    ],
    [
      `- of which \`ip -batch\` (${int(cold.addresses)} addresses)`,
      `${ms(cold.addressMs)}, ${rate(cold.addresses, cold.addressMs)} addresses/s`,
      "1 (1)",
      `\`ip addr add\`: ${rate(na.addresses, na.perAddressMs)} addresses/s`,
      addressRatio,
    ],
  ];
}

/** The no-op resync and the one-endpoint change. */
function resyncRows({ noop, oneChange: one }: RunFigures): string[][] {
  return [
    [
      "no-op resync: read + diff + apply of the empty plan",
      `${ms(noop.ms)} (the read alone ${ms(noop.readMs)})`,
      `${noop.processes} (${noop.writes})`,
      "",
      "",
    ],
    [
      `one endpoint changed (a local one): ${one.what} ` +
      `(stripped here, IPVS: ${one.ipvsOperations})`,
      `${ms(one.ms)} (the read ${ms(one.readMs)})`,
      `${one.processes} (${one.writes})`,
      "",
      "",
    ],
  ];
}

/** The naive samples: one batched run against one process per entry, bare and via `runCommand`. */
function naiveSampleRows({ naiveIpset: ni, naiveAddresses: na }: RunFigures): string[][] {
  return [
    [
      `same ${int(ni.entries)} entries (${int(ni.entries / 2)} each of KUBE-CLUSTER-IP, ` +
      "KUBE-LOOP-BACK) into fresh sets",
      `${ms(ni.batchedMs)}, one \`ipset restore\``,
      "1 (1)",
      `${ms(ni.perEntryMs)} (through \`runCommand\`: ${ms(ni.perEntryRunCommandMs)})`,
      `${ratio(ni.perEntryMs, ni.batchedMs)} (${ratio(ni.perEntryRunCommandMs, ni.batchedMs)})`,
    ],
    [
      `same ${int(na.addresses)} addresses onto a fresh link`,
      `${ms(na.batchedMs)}, one \`ip -batch\``,
      "1 (1)",
      `${ms(na.perAddressMs)} (through \`runCommand\`: ${ms(na.perAddressRunCommandMs)})`,
      `${ratio(na.perAddressMs, na.batchedMs)} (${ratio(na.perAddressRunCommandMs, na.batchedMs)})`,
    ],
  ];
}

function ms(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${Math.round(value)} ms`;
  return `${value.toFixed(1)} ms`;
}

function int(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** A rate, three significant digits: `131,000/s`. */
function rate(count: number, millis: number): string {
  const perSecond = count / (millis / 1000);
  const digits = Math.max(0, Math.floor(Math.log10(perSecond)) - 2);
  return int(Math.round(perSecond / 10 ** digits) * 10 ** digits);
}

function ratio(naiveMs: number, batchedMs: number): string {
  const r = naiveMs / batchedMs;
  return r >= 10 ? `${Math.round(r)}x` : `${r.toFixed(1)}x`;
}

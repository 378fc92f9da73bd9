/**
 * The exec backend against a real kernel, in a private network namespace: 10,000 services x 10
 * endpoints (`LARGE_CLUSTER`), this node `node-0`. Measures the cold apply (empty kernel -> every
 * set and entry, the iptables `nat` and `filter` tables, the addresses on `kube-ipvs0`), a
 * no-op resync (read + diff + apply of the empty plan; asserts 0 write commands), one endpoint
 * changed (the median of 5 syncs each), and, on the same data, the batched tools against one
 * process per entry: kube-proxy's one `ipset add` per entry (2,000 entries of KUBE-CLUSTER-IP and
 * KUBE-LOOP-BACK into fresh sets) and one `ip addr add` per address (1,000 onto a fresh link),
 * each started with a bare `Deno.Command` (as kube-proxy's Go exec starts it) and, again, through
 * this project's `runCommand`.
 *
 * Run as root: `deno run -A bench/exec_bench.ts [--runs N]` (default 5). Each run re-executes
 * this file inside a fresh `unshare -n` namespace (the host's network is never written); the
 * table printed at the end holds the median of the runs. The kernel here has no IPVS, so the
 * virtual servers are stripped from the desired state (`ipvsadm --restore` batches them the
 * same way) and `kube-ipvs0` is a veth (no dummy link type either).
 *
 * Not a `Deno.bench` file: under `deno bench` (where `import.meta.main` is false) it does nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CommandRunner, countingRunner, runCommand } from "../backends/exec/command.ts";
import { ExecBackend } from "../backends/exec/exec_backend.ts";
import { diffStates } from "../src/plan/diff.ts";
import type { Plan } from "../src/plan/types.ts";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import type { IpSet, KernelState } from "../src/state/types.ts";
import { IPVS_DEVICE } from "../src/state/types.ts";
import { generateCluster, LARGE_CLUSTER, withOneEndpointChanged } from "./generate_cluster.ts";

/** Set (to `1`) in the environment of the copy that runs inside the namespace. */
const INSIDE_MARKER = "IPVS_PROXY_EXEC_BENCH_IN_NETNS";
const NODE_NAME = "node-0";
const NODE_DEVICE = "node0";
const NODE_IP = "192.168.0.10";
/** Entries taken from each of KUBE-CLUSTER-IP and KUBE-LOOP-BACK for the naive ipset sample. */
const IPSET_SAMPLE_PER_SET = 1_000;
/** Addresses for the naive `ip addr add` sample. */
const ADDRESS_SAMPLE = 1_000;
/** No-op resyncs per run, and one-endpoint changes (odd ones change it back). */
const REPEATS = 5;

/** The figures of one run, all times in milliseconds. */
interface RunFigures {
  cold: {
    ms: number;
    readMs: number;
    processes: number;
    writes: number;
    operations: number;
    ipsetEntries: number;
    ipsetSets: number;
    ipsetMs: number;
    iptablesMs: number;
    iptablesRules: number;
    addresses: number;
    addressMs: number;
  };
  noop: {
    ms: number;
    readMs: number;
    processes: number;
    writes: number;
    operations: number;
    /** Each read command of the median no-op resync and its time. */
    readCalls: Record<string, number>;
  };
  oneChange: {
    ms: number;
    readMs: number;
    processes: number;
    writes: number;
    operations: number;
    what: string;
    /** The IPVS operations the same change needs, stripped here (no IPVS in this kernel). */
    ipvsOperations: string;
  };
  /** Bare `Deno.Command` per entry (as kube-proxy's Go exec), through `runCommand`, batched. */
  naiveIpset: {
    entries: number;
    perEntryMs: number;
    perEntryRunCommandMs: number;
    batchedMs: number;
  };
  naiveAddresses: {
    addresses: number;
    perAddressMs: number;
    perAddressRunCommandMs: number;
    batchedMs: number;
  };
}

// ---------------------------------------------------------------------------------------------
// Inside the namespace

/** One finished tool run, timed. */
interface TimedCall {
  readonly argv: readonly string[];
  readonly ms: number;
  /** Lines of stdin. */
  readonly lines: number;
}

function timedRunner(inner: CommandRunner, log: TimedCall[]): CommandRunner {
  return async (argv, options) => {
    const start = performance.now();
    const result = await inner(argv, options);
    const lines = options?.stdin?.split("\n").filter((l) => l !== "").length ?? 0;
    log.push({ argv: [...argv], ms: performance.now() - start, lines });
    return result;
  };
}

function fail(message: string): never {
  console.error(`exec_bench: ${message}`);
  Deno.exit(1);
}

async function must(argv: string[], stdin?: string): Promise<string> {
  const result = await runCommand(argv, stdin === undefined ? {} : { stdin });
  if (result.code !== 0) fail(`${argv.join(" ")} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Refuses to go on unless this is a fresh network namespace of its own (never the host's): not
 * the namespace of the process that started it nor of pid 1 (when readable), only `lo`, no sets.
 */
async function assertFreshNamespace(): Promise<void> {
  const namespaceOf = (pid: string) => Deno.readLink(`/proc/${pid}/ns/net`).catch(() => "");
  const mine = await namespaceOf("self");
  for (const pid of [String(Deno.ppid), "1"]) {
    if (mine === "" || mine === await namespaceOf(pid)) {
      fail(`refusing to run: not in a network namespace of its own (same as pid ${pid})`);
    }
  }
  const links = (await must(["ip", "-o", "link", "show"])).trim().split("\n");
  if (links.length !== 1 || !/^\d+: lo:/.test(links[0])) {
    fail(`refusing to run: the namespace is not fresh (links: ${links.length})`);
  }
  if ((await must(["ipset", "list", "-n"])).trim() !== "") {
    fail("refusing to run: the namespace already has ipsets");
  }
}

function withoutIpvs(state: KernelState): KernelState {
  return { ...state, virtualServers: [] };
}

function setOf(state: KernelState, name: string): IpSet {
  const set = state.ipsets.find((s) => s.name === name);
  if (set === undefined) fail(`the desired state has no set ${name}`);
  return set;
}

/** What a plan does, e.g. `ipset.del x1, ipset.add x1 in KUBE-LOOP-BACK`. */
function describePlan(plan: Plan): string {
  const counts = new Map<string, number>();
  const sets = new Set<string>();
  for (const op of plan) {
    counts.set(op.op, (counts.get(op.op) ?? 0) + 1);
    if (op.op === "ipset.add" || op.op === "ipset.del") sets.add(op.set);
  }
  const ops = [...counts].map(([op, n]) => `${op} x${n}`).join(", ");
  return sets.size === 0 ? ops : `${ops} in ${[...sets].join(", ")}`;
}

function isRun(call: TimedCall, program: string, firstArgument: string): boolean {
  return call.argv[0] === program && call.argv[1] === firstArgument;
}

async function timeIt<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await work();
  return [value, performance.now() - start];
}

async function inside(): Promise<void> {
  await assertFreshNamespace();
  await must(["ip", "link", "set", "lo", "up"]);
  await must(
    ["ip", "-batch", "-"],
    [
      `link add ${NODE_DEVICE} type veth peer name ${NODE_DEVICE}-peer`,
      `address add ${NODE_IP}/24 dev ${NODE_DEVICE}`,
      `link set ${NODE_DEVICE} up`,
      `link set ${NODE_DEVICE}-peer up`,
    ].join("\n") + "\n",
  );

  const log: TimedCall[] = [];
  const run = countingRunner(timedRunner(runCommand, log));
  const config = testConfig({ clusterCIDRs: ["10.128.0.0/9"] });
  const nodeIPs = await new ExecBackend({ ipvs: false, linkType: "veth" }).nodeAddresses();
  if (nodeIPs.join() !== NODE_IP) fail(`node addresses ${nodeIPs.join()}, expected ${NODE_IP}`);
  const cluster = generateCluster(LARGE_CLUSTER);
  const input = { config, snapshot: cluster, nodeName: NODE_NAME, nodeIPs };
  const fullDesired = computeDesiredState(input).state;
  const fullChanged = computeDesiredState({ ...input, snapshot: withOneEndpointChanged(cluster) })
    .state;
  const desired = withoutIpvs(fullDesired);
  const changed = withoutIpvs(fullChanged);
  const backend = new ExecBackend({
    ipvs: false,
    linkType: "veth",
    families: desired.families,
    run,
  });
  const diffOptions = { excludeCIDRs: config.ipvs.excludeCIDRs };

  /** read + diff + apply towards `want`, with its processes and timings. */
  async function sync(want: KernelState) {
    const [callsBefore, writesBefore, logBefore] = [run.calls.length, run.writes(), log.length];
    const start = performance.now();
    const current = await backend.read();
    const readMs = performance.now() - start;
    const plan = diffStates(current, want, diffOptions);
    const result = await backend.apply(plan);
    const ms = performance.now() - start;
    if (result.failures.length > 0) {
      fail(`apply failed: ${JSON.stringify(result.failures.slice(0, 3), null, 1)}`);
    }
    return {
      plan,
      ms,
      readMs,
      processes: run.calls.length - callsBefore,
      writes: run.writes() - writesBefore,
      calls: log.slice(logBefore),
    };
  }

  console.error("cold apply ...");
  const cold = await sync(desired);
  const ipsetMs = sum(cold.calls.filter((c) => isRun(c, "ipset", "restore")));
  const iptablesMs = sum(cold.calls.filter((c) => isRun(c, "iptables-restore", "--noflush")));
  const addresses = cold.plan.filter((op) => op.op === "address.add").length;
  // The link has its own `ip -batch` run before the sets; the addresses' run comes last.
  const addressMs = sum(
    cold.calls.filter((c) => isRun(c, "ip", "-batch") && c.lines === addresses),
  );
  const coldFigures: RunFigures["cold"] = {
    ms: cold.ms,
    readMs: cold.readMs,
    processes: cold.processes,
    writes: cold.writes,
    operations: cold.plan.length,
    ipsetEntries: cold.plan.filter((op) => op.op === "ipset.add").length,
    ipsetSets: cold.plan.filter((op) => op.op === "ipset.create").length,
    ipsetMs,
    iptablesMs,
    iptablesRules: cold.plan.reduce(
      (n, op) =>
        op.op === "iptables.restore"
          ? n + op.chains.reduce((r, c) => r + c.rules.length, 0) + op.addJumps.length
          : n,
      0,
    ),
    addresses,
    addressMs,
  };

  console.error(`no-op resync x${REPEATS} ...`);
  const noops = [];
  for (let i = 0; i < REPEATS; i++) {
    const noop = await sync(desired);
    if (noop.plan.length !== 0) fail(`the no-op resync planned ${describePlan(noop.plan)}`);
    if (noop.writes !== 0) fail(`the no-op resync ran ${noop.writes} write commands`);
    noops.push(noop);
  }
  const noop = middle(noops);
  const readCalls = Object.fromEntries(noop.calls.map((c) => [c.argv.join(" "), c.ms]));

  // One endpoint changed, then changed back, in turns: each sync is a one-endpoint change.
  console.error(`one endpoint changed x${REPEATS} ...`);
  const ones = [];
  for (let i = 0; i < REPEATS; i++) {
    const want = i % 2 === 0 ? changed : desired;
    const one = await sync(want);
    const after = diffStates(await backend.read(), want, diffOptions);
    if (after.length !== 0) fail(`after the one-endpoint sync still: ${describePlan(after)}`);
    if (i > 0 && one.plan.length !== ones[0].plan.length) {
      fail(`the change back planned ${describePlan(one.plan)}, not ${describePlan(ones[0].plan)}`);
    }
    ones.push(one);
  }
  const one = middle(ones);

  console.error(`naive ipset: ${2 * IPSET_SAMPLE_PER_SET} ipset add processes ...`);
  const naiveIpset = await naiveIpsetSample(desired);
  console.error(`naive addresses: ${ADDRESS_SAMPLE} ip addr add processes ...`);
  const naiveAddresses = await naiveAddressSample(desired);

  const figures: RunFigures = {
    cold: coldFigures,
    noop: {
      ms: noop.ms,
      readMs: noop.readMs,
      processes: noop.processes,
      writes: noop.writes,
      operations: noop.plan.length,
      readCalls,
    },
    oneChange: {
      ms: one.ms,
      readMs: one.readMs,
      processes: one.processes,
      writes: one.writes,
      operations: one.plan.length,
      what: describePlan(ones[0].plan),
      ipvsOperations: describePlan(
        diffStates(fullDesired, fullChanged, diffOptions).filter((op) => op.op.startsWith("ipvs.")),
      ),
    },
    naiveIpset,
    naiveAddresses,
  };
  console.log(JSON.stringify(figures));
}

/** The run with the median time. */
function middle<T extends { ms: number }>(runs: readonly T[]): T {
  return [...runs].sort((a, b) => a.ms - b.ms)[runs.length >> 1];
}

function sum(calls: readonly TimedCall[]): number {
  return calls.reduce((n, c) => n + c.ms, 0);
}

/** One process per command, each awaited before the next, as kube-proxy runs them. */
async function onePerProcess(commands: readonly string[][], bare: boolean): Promise<number> {
  const [, millis] = await timeIt(async () => {
    for (const argv of commands) {
      if (!bare) {
        await must(argv);
        continue;
      }
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) fail(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  });
  return millis;
}

/**
 * The same entries into fresh sets (not `KUBE-`, so no sync touches them) three ways: one
 * `ipset add` process each (bare `Deno.Command`, then through `runCommand`), and one
 * `ipset restore` of the lines the backend renders (`add SET ENTRY -exist`).
 */
async function naiveIpsetSample(desired: KernelState): Promise<RunFigures["naiveIpset"]> {
  const sources = [setOf(desired, "KUBE-CLUSTER-IP"), setOf(desired, "KUBE-LOOP-BACK")];
  const sample = sources.map((set) => ({
    name: `NAIVE-${set.name.slice("KUBE-".length)}`,
    header: `${set.type} family ${set.family} hashsize 1024 maxelem 65536`,
    entries: set.entries.slice(0, IPSET_SAMPLE_PER_SET),
  }));
  const entries = sample.reduce((n, s) => n + s.entries.length, 0);
  const adds = sample.flatMap((set) =>
    set.entries.map((entry) => ["ipset", "add", set.name, entry])
  );
  const restore = adds.map(([, , set, entry]) => `add ${set} ${entry} -exist\n`).join("");

  /** Runs `fill` on freshly created sets, checks they hold the sample, destroys them. */
  async function onFreshSets(fill: () => Promise<number>): Promise<number> {
    for (const set of sample) await must(["ipset", "create", set.name, ...set.header.split(" ")]);
    const millis = await fill();
    let held = 0;
    for (const set of sample) {
      const saved = await must(["ipset", "save", set.name]);
      held += saved.split("\n").filter((l) => l.startsWith("add ")).length;
      await must(["ipset", "destroy", set.name]);
    }
    if (held !== entries) fail(`the sample sets hold ${held} entries, expected ${entries}`);
    return millis;
  }

  return {
    entries,
    perEntryMs: await onFreshSets(() => onePerProcess(adds, true)),
    perEntryRunCommandMs: await onFreshSets(() => onePerProcess(adds, false)),
    batchedMs: await onFreshSets(async () =>
      (await timeIt(() => must(["ipset", "restore"], restore)))[1]
    ),
  };
}

/** The same addresses onto a fresh veth: one `ip addr add` process each, or one `ip -batch`. */
async function naiveAddressSample(desired: KernelState): Promise<RunFigures["naiveAddresses"]> {
  const device = "naive0";
  const addresses = desired.addresses.filter((a) => a.device === IPVS_DEVICE)
    .slice(0, ADDRESS_SAMPLE).map((a) => a.address);
  const adds = addresses.map((address) => ["ip", "addr", "add", address, "dev", device]);
  const batch = addresses.map((a) => `address add ${a} dev ${device}\n`).join("");

  /** Runs `fill` on a fresh link, checks it holds the sample, deletes it. */
  async function onFreshLink(fill: () => Promise<number>): Promise<number> {
    await must(["ip", "link", "add", device, "type", "veth", "peer", "name", `${device}-peer`]);
    const millis = await fill();
    const shown = (await must(["ip", "-o", "-4", "addr", "show", "dev", device])).trim();
    const held = shown === "" ? 0 : shown.split("\n").length;
    await must(["ip", "link", "delete", device]);
    if (held !== addresses.length) fail(`${device} held ${held}, not ${addresses.length}`);
    return millis;
  }

  return {
    addresses: addresses.length,
    perAddressMs: await onFreshLink(() => onePerProcess(adds, true)),
    perAddressRunCommandMs: await onFreshLink(() => onePerProcess(adds, false)),
    batchedMs: await onFreshLink(async () =>
      (await timeIt(() => must(["ip", "-batch", "-"], batch)))[1]
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Outside: one fresh namespace per run, then the medians

async function outside(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { runs: { type: "string", default: "5" } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive integer`);
  if (Deno.uid() !== 0) fail("needs root: it runs `unshare -n`, ipset, iptables-restore and ip");
  const config = new URL("../deno.json", import.meta.url).pathname;
  const self = new URL(import.meta.url).pathname;
  const all: RunFigures[] = [];
  for (let i = 1; i <= runs; i++) {
    console.error(`run ${i}/${runs} in a fresh network namespace`);
    const child = await new Deno.Command("unshare", {
      args: ["-n", Deno.execPath(), "run", "-A", "--config", config, self],
      env: { [INSIDE_MARKER]: "1" },
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const text = new TextDecoder().decode(child.stdout).trim();
    if (!child.success) fail(`run ${i} failed (exit code ${child.code})`);
    const figures = JSON.parse(text.split("\n").pop()!) as RunFigures;
    console.error(summary(figures));
    all.push(figures);
  }
  console.log(markdownTable(medianFigures(all), runs));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median of every number; strings from the first run. */
function medianFigures(all: readonly RunFigures[]): RunFigures {
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

function summary(f: RunFigures): string {
  return `  cold ${ms(f.cold.ms)} (ipset ${ms(f.cold.ipsetMs)}), no-op ${ms(f.noop.ms)} ` +
    `(read ${ms(f.noop.readMs)}: ${
      Object.entries(f.noop.readCalls).map(([argv, t]) => `${argv} ${ms(t)}`).join(", ")
    }), one change ${ms(f.oneChange.ms)}, ` +
    `naive ipset ${ms(f.naiveIpset.perEntryMs)} vs ${ms(f.naiveIpset.batchedMs)}, ` +
    `naive addresses ${ms(f.naiveAddresses.perAddressMs)} vs ${ms(f.naiveAddresses.batchedMs)}`;
}

function markdownTable(f: RunFigures, runs: number): string {
  const { cold, noop, oneChange: one, naiveIpset: ni, naiveAddresses: na } = f;
  // Per-item times: the cold apply's batched runs against the naive samples.
  const ipsetRatio = ratio(ni.perEntryMs / ni.entries, cold.ipsetMs / cold.ipsetEntries);
  const addressRatio = ratio(na.perAddressMs / na.addresses, cold.addressMs / cold.addresses);
  const rows: string[][] = [
    ["step", "time", "processes (writes)", "naive way: one process per entry", "ratio"],
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

if (import.meta.main) {
  if (Deno.env.get(INSIDE_MARKER) === "1") await inside();
  else await outside(Deno.args);
}

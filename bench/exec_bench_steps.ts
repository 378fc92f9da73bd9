/**
 * The measured steps of the exec benchmark: the cold apply, the no-op resync and one endpoint
 * changed, each a read + diff + apply through the exec backend, its tool runs counted and timed.
 * Also the two helpers every part of the benchmark shares: {@link fail} and {@link must}.
 *
 * Runs only inside the benchmark's own network namespace (see `exec_bench.ts`).
 *
 * @module
 */

import {
  type CommandRunner,
  type CountingRunner,
  countingRunner,
  runCommand,
} from "../backends/exec/command.ts";
import { ExecBackend } from "../backends/exec/exec_backend.ts";
import { type DiffOptions, diffStates } from "../src/plan/diff.ts";
import type { Plan } from "../src/plan/types.ts";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import type { KernelState } from "../src/state/types.ts";
import { generateCluster, LARGE_CLUSTER, withOneEndpointChanged } from "./generate_cluster.ts";

/** No-op resyncs per run, and one-endpoint changes (odd ones change it back). */
const REPEATS = 5;

/** The cold apply's figures, times in milliseconds. */
export interface ColdApplyFigures {
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
}

/** The median no-op resync's figures, times in milliseconds. */
export interface NoopResyncFigures {
  ms: number;
  readMs: number;
  processes: number;
  writes: number;
  operations: number;
  /** Each read command of the median no-op resync and its time. */
  readCalls: Record<string, number>;
}

/** The median one-endpoint change's figures, times in milliseconds. */
export interface OneChangeFigures {
  ms: number;
  readMs: number;
  processes: number;
  writes: number;
  operations: number;
  what: string;
  /** The IPVS operations the same change needs, stripped here (no IPVS in this kernel). */
  ipvsOperations: string;
}

/** Prints `exec_bench: <message>` and exits with status 1: a benchmark that went wrong is void. */
export function fail(message: string): never {
  console.error(`exec_bench: ${message}`);
  Deno.exit(1);
}

/** Runs a setup or check command (not counted), failing the benchmark if it fails. */
export async function must(argv: string[], stdin?: string): Promise<string> {
  const result = await runCommand(argv, stdin === undefined ? {} : { stdin });
  if (result.code !== 0) fail(`${argv.join(" ")} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** The states the steps sync towards, computed once per run before any step is timed. */
export interface Workload {
  /** `LARGE_CLUSTER` on this node, without the virtual servers (this kernel has no IPVS). */
  readonly desired: KernelState;
  /** The same after `withOneEndpointChanged`, without the virtual servers. */
  readonly changed: KernelState;
  /** `desired` with its virtual servers, for the IPVS operations the table names. */
  readonly fullDesired: KernelState;
  /** `changed` with its virtual servers. */
  readonly fullChanged: KernelState;
  readonly diffOptions: DiffOptions;
}

/** Computes {@link Workload} for the node `nodeName` with the addresses `nodeIPs`. */
export function computeWorkload(nodeName: string, nodeIPs: readonly string[]): Workload {
  const config = testConfig({ clusterCIDRs: ["10.128.0.0/9"] });
  const cluster = generateCluster(LARGE_CLUSTER);
  const input = { config, snapshot: cluster, nodeName, nodeIPs };
  const fullDesired = computeDesiredState(input).state;
  const fullChanged = computeDesiredState({ ...input, snapshot: withOneEndpointChanged(cluster) })
    .state;
  return {
    desired: withoutIpvs(fullDesired),
    changed: withoutIpvs(fullChanged),
    fullDesired,
    fullChanged,
    diffOptions: { excludeCIDRs: config.ipvs.excludeCIDRs },
  };
}

function withoutIpvs(state: KernelState): KernelState {
  return { ...state, virtualServers: [] };
}

/** One finished tool run, timed. */
export interface TimedCall {
  readonly argv: readonly string[];
  readonly ms: number;
  /** Lines of stdin. */
  readonly lines: number;
}

/** One read + diff + apply: its plan, times, and the tool runs it started. */
export interface SyncRun {
  readonly plan: Plan;
  readonly ms: number;
  readonly readMs: number;
  readonly processes: number;
  readonly writes: number;
  readonly calls: readonly TimedCall[];
}

/** The exec backend under test and the workload, for the steps below. */
export interface Bench {
  readonly workload: Workload;
  readonly backend: ExecBackend;
  /** Reads the kernel, diffs it against `want`, applies the plan; fails the run on a failure. */
  sync(want: KernelState): Promise<SyncRun>;
}

/**
 * An exec backend (no IPVS, `kube-ipvs0` a veth) whose every tool run is counted, to tell reads
 * from writes, and timed, to split the cold apply between the tools.
 */
export function createBench(workload: Workload): Bench {
  const log: TimedCall[] = [];
  const run = countingRunner(timedRunner(runCommand, log));
  const backend = new ExecBackend({
    ipvs: false,
    linkType: "veth",
    families: workload.desired.families,
    run,
  });
  return {
    workload,
    backend,
    sync: (want) => timedSync(backend, run, log, want, workload.diffOptions),
  };
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

async function timedSync(
  backend: ExecBackend,
  run: CountingRunner,
  log: readonly TimedCall[],
  want: KernelState,
  diffOptions: DiffOptions,
): Promise<SyncRun> {
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

/** Empty kernel -> the whole desired state, with each batched tool's share of the time. */
export async function coldApply(bench: Bench): Promise<ColdApplyFigures> {
  console.error("cold apply ...");
  const cold = await bench.sync(bench.workload.desired);
  const addresses = cold.plan.filter((op) => op.op === "address.add").length;
  return {
    ms: cold.ms,
    readMs: cold.readMs,
    processes: cold.processes,
    writes: cold.writes,
    operations: cold.plan.length,
    ipsetEntries: cold.plan.filter((op) => op.op === "ipset.add").length,
    ipsetSets: cold.plan.filter((op) => op.op === "ipset.create").length,
    ipsetMs: sum(cold.calls.filter((c) => isRun(c, "ipset", "restore"))),
    iptablesMs: sum(cold.calls.filter((c) => isRun(c, "iptables-restore", "--noflush"))),
    iptablesRules: cold.plan.reduce(
      (n, op) =>
        op.op === "iptables.restore"
          ? n + op.chains.reduce((r, c) => r + c.rules.length, 0) + op.addJumps.length
          : n,
      0,
    ),
    addresses,
    // The link has its own `ip -batch` run before the sets; the addresses' run comes last.
    addressMs: sum(cold.calls.filter((c) => isRun(c, "ip", "-batch") && c.lines === addresses)),
  };
}

/** The median of {@link REPEATS} resyncs of an unchanged state; fails unless each wrote nothing. */
export async function noopResync(bench: Bench): Promise<NoopResyncFigures> {
  console.error(`no-op resync x${REPEATS} ...`);
  const noops: SyncRun[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const noop = await bench.sync(bench.workload.desired);
    if (noop.plan.length !== 0) fail(`the no-op resync planned ${describePlan(noop.plan)}`);
    if (noop.writes !== 0) fail(`the no-op resync ran ${noop.writes} write commands`);
    noops.push(noop);
  }
  const noop = middle(noops);
  return {
    ms: noop.ms,
    readMs: noop.readMs,
    processes: noop.processes,
    writes: noop.writes,
    operations: noop.plan.length,
    readCalls: Object.fromEntries(noop.calls.map((c) => [c.argv.join(" "), c.ms])),
  };
}

/** The median of {@link REPEATS} syncs that each change one endpoint, checked by a re-read. */
export async function oneEndpointChanged(bench: Bench): Promise<OneChangeFigures> {
  const { desired, changed, fullDesired, fullChanged, diffOptions } = bench.workload;
  console.error(`one endpoint changed x${REPEATS} ...`);
  // Changed, then changed back, in turns: each sync is a one-endpoint change.
  const ones: SyncRun[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const want = i % 2 === 0 ? changed : desired;
    const one = await bench.sync(want);
    const after = diffStates(await bench.backend.read(), want, diffOptions);
    if (after.length !== 0) fail(`after the one-endpoint sync still: ${describePlan(after)}`);
    if (i > 0 && one.plan.length !== ones[0].plan.length) {
      fail(`the change back planned ${describePlan(one.plan)}, not ${describePlan(ones[0].plan)}`);
    }
    ones.push(one);
  }
  const one = middle(ones);
  return {
    ms: one.ms,
    readMs: one.readMs,
    processes: one.processes,
    writes: one.writes,
    operations: one.plan.length,
    what: describePlan(ones[0].plan),
    ipvsOperations: describePlan(
      diffStates(fullDesired, fullChanged, diffOptions).filter((op) => op.op.startsWith("ipvs.")),
    ),
  };
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

/** The run with the median time. */
function middle<T extends { ms: number }>(runs: readonly T[]): T {
  return [...runs].sort((a, b) => a.ms - b.ms)[runs.length >> 1];
}

function sum(calls: readonly TimedCall[]): number {
  return calls.reduce((n, c) => n + c.ms, 0);
}

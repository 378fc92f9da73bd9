/**
 * The whole sync, exec backend against netlink backend, on a kernel with IPVS (the project's
 * qemu VM, `tests/vm/`): a cluster of 2,000 services x 10 endpoints (`bench/generate_cluster.ts`,
 * 20% NodePort, 5% LoadBalancer) on a node `node0` (192.168.50.10, a dummy link), IPv4 only.
 *
 * - cold sync: read + diff + apply into a fresh network namespace (nothing of ours, nothing
 *   at all);
 * - no-op sync: read + diff + apply of the synced node; it must plan nothing and write nothing
 *   (no write command, no netlink send), or the run fails.
 *
 * One uncounted warm-up round, then `--repeats` rounds (default 3); a round runs, for each
 * backend in turn, one cold sync and `--noops` no-op syncs (default 2), so load that changes
 * during the run hits both backends alike. Each figure is the median of its samples. The
 * netlink backend is built as `src/cli/backend_factory.ts` builds it (`NetlinkBackend` with
 * the generic netlink `NetlinkIpvs` client).
 *
 * Each backend's turn is a child process (this file with `--sample KIND`) in a network
 * namespace of its own (`unshare -n`), its node link made there. A cold sync after a cleanup
 * in the same namespace would measure the kernel's trash of deleted real servers instead:
 * IPVS keeps each deleted destination in a list for a while (`dest_trash`), and every add
 * walks that list, so the 25,000 adds of a cold sync right after the cleanup of 25,000 took
 * 52-130 s in one VM where the same sync into a fresh namespace takes 17 s.
 *
 * Run from the repository root (about 10 minutes under TCG):
 *
 * ```sh
 * deno task bench:netlink-vm
 * # which is
 * deno run -A tests/vm/vm.ts --timeout 1800 -- deno run -A --no-check bench/netlink_vm_bench.ts
 * ```
 *
 * Options: `--repeats N`, `--noops N`, `--services N` (default 2000), `--backends exec,netlink`
 * (one of them only, to iterate on it). Outside a kernel with IPVS it refuses to run. Not a
 * `Deno.bench` file: under `deno bench` (where `import.meta.main` is false) it does nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Backend } from "../backends/backend.ts";
import { ExecBackend } from "../backends/exec/exec_backend.ts";
import { countingRunner, runCommand } from "../backends/exec/command.ts";
import { NetlinkIpvs } from "../backends/netlink/ipvs.ts";
import { NetlinkBackend } from "../backends/netlink/netlink_backend.ts";
import { diffStates } from "../src/plan/diff.ts";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import type { KernelState } from "../src/state/types.ts";
import { fail, must } from "./exec_bench_steps.ts";
import { generateCluster, LARGE_CLUSTER } from "./generate_cluster.ts";

const NODE_LINK = "node0";
const NODE_IP = "192.168.50.10";

type Kind = "exec" | "netlink";

/** One backend under test, with what tells its writes. */
interface Subject {
  readonly kind: Kind;
  readonly backend: Backend;
  /** Write commands run so far (the tools' writes; netlink sends are counted by `apply`). */
  readonly commandWrites: () => number;
}

/** One timed sync. */
interface Sample {
  readonly ms: number;
  readonly readMs: number;
  readonly operations: number;
  readonly writes: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function sync(
  subject: Subject,
  want: KernelState,
  options: { excludeCIDRs: string[] },
): Promise<Sample> {
  const writesBefore = subject.commandWrites();
  const start = performance.now();
  const current = await subject.backend.read();
  const readMs = performance.now() - start;
  const plan = diffStates(current, want, options);
  const result = await subject.backend.apply(plan);
  const ms = performance.now() - start;
  if (result.failures.length > 0) {
    fail(
      `${subject.kind}: ${result.failures.length} failures, first: ${result.failures[0].message}`,
    );
  }
  // The exec backend counts one write per tool run; the netlink backend one per send, and
  // its iptables writes are tool runs too.
  const writes = subject.kind === "exec"
    ? subject.commandWrites() - writesBefore
    : result.writes + (subject.commandWrites() - writesBefore);
  return { ms, readMs, operations: plan.length, writes };
}

function load(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      repeats: { type: "string", default: "3" },
      noops: { type: "string", default: "2" },
      services: { type: "string", default: "2000" },
      backends: { type: "string", default: "exec,netlink" },
    },
  });
  const repeats = Number(values.repeats);
  const noops = Number(values.noops);
  const services = Number(values.services);
  const kinds = values.backends.split(",") as Kind[];
  for (const [name, n] of [["repeats", repeats], ["noops", noops], ["services", services]]) {
    if (!Number.isInteger(n) || (n as number) < 1) fail(`--${name} must be a positive integer`);
  }
  if (kinds.some((k) => k !== "exec" && k !== "netlink")) fail("--backends: exec and/or netlink");

  if (Deno.env.get("IPVS_PROXY_VM") !== "1") {
    fail("this makes network namespaces with IPVS, sets, iptables and links: only in the VM");
  }
  const cold: Record<Kind, Sample[]> = { exec: [], netlink: [] };
  const noop: Record<Kind, Sample[]> = { exec: [], netlink: [] };
  const loads: string[] = [load()];
  let shape = "";
  for (let round = 0; round <= repeats; round++) {
    for (const kind of kinds) {
      const turn = await sampleInFreshNamespace(kind, noops, services);
      shape = turn.shape;
      const label = round === 0 ? "warm-up" : `round ${round}`;
      const c = turn.cold;
      console.error(
        `${label} ${kind}: cold ${c.ms.toFixed(0)} ms (read ${c.readMs.toFixed(0)}, ` +
          `${c.operations} operations, ${c.writes} writes), no-op ` +
          turn.noops.map((n) => `${n.ms.toFixed(0)} ms (read ${n.readMs.toFixed(0)})`)
            .join(", ") +
          `; load ${load()}`,
      );
      if (round === 0) continue;
      cold[kind].push(c);
      noop[kind].push(...turn.noops);
    }
    loads.push(load());
  }

  const ms = (samples: Sample[], key: "ms" | "readMs") =>
    samples.length === 0 ? NaN : median(samples.map((s) => s[key]));
  const cell = (v: number) => Number.isNaN(v) ? "-" : `${Math.round(v).toLocaleString("en")} ms`;
  const ratio = (n: number, e: number) =>
    Number.isNaN(n) || Number.isNaN(e) ? "-" : `${(n / e).toFixed(2)}x`;
  const rows: [string, Sample[], Sample[], string][] = [
    ["cold sync (read+diff+apply)", cold.exec, cold.netlink, "<= 0.5x"],
    ["  its read", cold.exec, cold.netlink, ""],
    ["no-op sync (0 writes)", noop.exec, noop.netlink, "<= 0.3x"],
    ["  its read", noop.exec, noop.netlink, ""],
  ];
  const lines = [
    `${shape}; median of ${repeats} cold and ${repeats * noops} no-op syncs after a ` +
    `warm-up, each backend's turn in a fresh network namespace; load ${loads.join(" | ")}`,
    "",
    "| what | exec | netlink | netlink / exec | target |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map(([what, e, n, target]) => {
      const key = what.startsWith("  ") ? "readMs" : "ms";
      const [em, nm] = [ms(e, key), ms(n, key)];
      return `| ${what} | ${cell(em)} | ${cell(nm)} | ${ratio(nm, em)} | ${target} |`;
    }),
  ];
  console.log(lines.join("\n"));
}

/** What one backend's turn measured, as the child prints it. */
interface Turn {
  readonly shape: string;
  readonly cold: Sample;
  readonly noops: Sample[];
}

/** One backend's turn: this file as a child with `--sample`, in a new network namespace. */
async function sampleInFreshNamespace(kind: Kind, noops: number, services: number) {
  const self = new URL(import.meta.url).pathname;
  const output = await new Deno.Command("unshare", {
    args: [
      "-n",
      Deno.execPath(),
      "run",
      "-A",
      "--no-check",
      self,
      `--sample=${kind}`,
      `--noops=${noops}`,
      `--services=${services}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) fail(`the ${kind} turn failed (exit code ${output.code})`);
  const text = new TextDecoder().decode(output.stdout).trim();
  return JSON.parse(text.split("\n").pop()!) as Turn;
}

/**
 * The child's part (`--sample KIND`, in its own network namespace): the node link, then one
 * cold sync and `noops` no-op syncs through the one backend, printed as one JSON line.
 */
async function sample(kind: Kind, noops: number, services: number): Promise<void> {
  const opened = await NetlinkIpvs.open();
  if (!opened.ok) {
    fail(
      `no IPVS here (${opened.reason}): run it in the VM, ` +
        "deno run -A tests/vm/vm.ts --timeout 1800 -- deno run -A bench/netlink_vm_bench.ts",
    );
  }
  await must(
    ["ip", "-batch", "-"],
    [
      "link set lo up",
      `link add ${NODE_LINK} type dummy`,
      `address add ${NODE_IP}/24 dev ${NODE_LINK}`,
      `link set ${NODE_LINK} up`,
    ].join("\n") + "\n",
  );
  const config = testConfig({ clusterCIDRs: ["10.128.0.0/9"] });
  const snapshot = generateCluster({ ...LARGE_CLUSTER, services });
  const want = computeDesiredState({ config, snapshot, nodeName: "node-0", nodeIPs: [NODE_IP] })
    .state;
  const options = { excludeCIDRs: [...config.ipvs.excludeCIDRs] };
  const realServers = want.virtualServers.reduce((n, vs) => n + vs.realServers.length, 0);
  const families = ["ipv4" as const];
  const run = countingRunner(runCommand);
  const netlink = kind === "netlink"
    ? new NetlinkBackend({ ipvsClient: opened.client, families, run })
    : undefined;
  if (netlink === undefined) opened.client.close();
  const subject: Subject = {
    kind,
    backend: netlink ?? new ExecBackend({ families, run }),
    commandWrites: () => run.writes(),
  };
  const cold = await sync(subject, want, options);
  const samples: Sample[] = [];
  for (let i = 0; i < noops; i++) {
    const n = await sync(subject, want, options);
    if (n.operations !== 0) fail(`${kind}: the no-op sync planned ${n.operations}`);
    if (n.writes !== 0) fail(`${kind}: the no-op sync wrote ${n.writes} times`);
    samples.push(n);
  }
  await netlink?.close();
  const shape = `${services} services x 10 endpoints: ${want.virtualServers.length} virtual ` +
    `servers, ${realServers} real servers, ${cold.operations} operations cold`;
  console.log(JSON.stringify({ shape, cold, noops: samples }));
}

if (import.meta.main) {
  const kind = parseArgs({
    args: Deno.args,
    options: { sample: { type: "string" } },
    strict: false,
  }).values.sample;
  if (kind === undefined) await run(Deno.args);
  else {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        sample: { type: "string" },
        noops: { type: "string", default: "2" },
        services: { type: "string", default: "2000" },
      },
    });
    if (kind !== "exec" && kind !== "netlink") fail("--sample: exec or netlink");
    await sample(kind, Number(values.noops), Number(values.services));
  }
}

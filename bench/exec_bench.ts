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
 * This file is the entry point: it re-executes itself under `unshare -n` and, inside, prepares the
 * namespace and runs the parts in order. The measured steps are in `exec_bench_steps.ts`, the
 * one-process-per-entry samples in `exec_bench_naive.ts`, the medians and the table in
 * `exec_bench_report.ts`.
 *
 * Not a `Deno.bench` file: under `deno bench` (where `import.meta.main` is false) it does nothing.
 *
 * @module
 */

import { notPrivateNamespace } from "../tests/exec/private_namespace.ts";
import { parseArgs } from "node:util";
import { ExecBackend } from "../backends/exec/exec_backend.ts";
import { naiveAddressSample, naiveIpsetSample } from "./exec_bench_naive.ts";
import { markdownTable, medianFigures, type RunFigures, runSummary } from "./exec_bench_report.ts";
import {
  coldApply,
  computeWorkload,
  createBench,
  fail,
  must,
  noopResync,
  oneEndpointChanged,
} from "./exec_bench_steps.ts";

/** Set (to `1`) in the environment of the copy that runs inside the namespace. */
const INSIDE_MARKER = "IPVS_PROXY_EXEC_BENCH_IN_NETNS";
const NODE_NAME = "node-0";
const NODE_DEVICE = "node0";
const NODE_IP = "192.168.0.10";

// ---------------------------------------------------------------------------------------------
// Inside the namespace: one run, its figures printed as one JSON line for the parent

async function inside(): Promise<void> {
  await assertFreshNamespace();
  await addNodeLink();
  const nodeIPs = await new ExecBackend({ ipvs: false, linkType: "veth" }).nodeAddresses();
  if (nodeIPs.join() !== NODE_IP) fail(`node addresses ${nodeIPs.join()}, expected ${NODE_IP}`);
  const workload = computeWorkload(NODE_NAME, nodeIPs);
  const bench = createBench(workload);

  // The resyncs start from the state the cold apply leaves; the samples clean up after
  // themselves but still go last, so nothing of theirs can lengthen a step's read.
  const cold = await coldApply(bench);
  const noop = await noopResync(bench);
  const oneChange = await oneEndpointChanged(bench);
  const naiveIpset = await naiveIpsetSample(workload.desired);
  const naiveAddresses = await naiveAddressSample(workload.desired);

  const figures: RunFigures = { cold, noop, oneChange, naiveIpset, naiveAddresses };
  console.log(JSON.stringify(figures));
}

/**
 * Refuses to go on unless this is a fresh network namespace of its own (never the host's): not
 * the namespace of the process that started it nor of pid 1 (when readable), only `lo`, no sets.
 */
async function assertFreshNamespace(): Promise<void> {
  const why = await notPrivateNamespace();
  if (why !== undefined) fail(`refusing to run: ${why}`);
  const links = (await must(["ip", "-o", "link", "show"])).trim().split("\n");
  if (links.length !== 1 || !/^\d+: lo:/.test(links[0])) {
    fail(`refusing to run: the namespace is not fresh (links: ${links.length})`);
  }
  if ((await must(["ipset", "list", "-n"])).trim() !== "") {
    fail("refusing to run: the namespace already has ipsets");
  }
}

/** The node's own link and address, which the backend reads back as the node IP. */
async function addNodeLink(): Promise<void> {
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
    console.error(runSummary(figures));
    all.push(figures);
  }
  console.log(markdownTable(medianFigures(all), runs));
}

if (import.meta.main) {
  if (Deno.env.get(INSIDE_MARKER) === "1") await inside();
  else await outside(Deno.args);
}

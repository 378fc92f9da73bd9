/**
 * The netlink backend against the tools, on a real kernel in a private network namespace:
 *
 * 1. 10,000 `hash:ip,port` entries into a fresh set: netlink (ADT messages) vs `ipset restore`;
 * 2. 10,000 addresses onto a fresh `kube-ipvs0` (a veth): netlink batches vs `ip -batch -`;
 * 3. on `LARGE_CLUSTER` (10,000 services x 10 endpoints, without IPVS: this kernel has none),
 *    the cold apply, the read of the applied state (a no-op resync's read), the whole no-op
 *    resync and one endpoint changed (read + diff + apply), netlink vs exec.
 *
 * Each figure is the median of `--repeats` (default 5), after one uncounted warm-up run (a
 * running proxy's code is warm; the tools are new processes each time anyway). Run as root:
 * `deno run -A bench/netlink_bench.ts`; it re-executes itself inside a fresh `unshare -n`
 * namespace, so the host's network is never written. Not a `Deno.bench` file: under
 * `deno bench` (where `import.meta.main` is false) it does nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Backend } from "../backends/backend.ts";
import { ExecBackend } from "../backends/exec/exec_backend.ts";
import { runCommand } from "../backends/exec/command.ts";
import { IpsetClient } from "../backends/netlink/ipset.ts";
import { NetlinkBackend } from "../backends/netlink/netlink_backend.ts";
import { RtnetlinkClient } from "../backends/netlink/rtnetlink.ts";
import { cleanupPlan, type DiffOptions, diffStates, SettledPairs } from "../src/plan/diff.ts";
import { IncrementalProxier } from "../src/proxier/incremental.ts";
import { testConfig } from "../src/proxier/testing.ts";
import type { KernelState } from "../src/state/types.ts";
import { fail, must } from "./exec_bench_steps.ts";
import { generateCluster, LARGE_CLUSTER, withOneEndpointChanged } from "./generate_cluster.ts";

const INSIDE_MARKER = "IPVS_PROXY_NETLINK_BENCH_IN_NETNS";
const ENTRIES = 10_000;
const NODE_IP = "192.168.0.10";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/** The median of `times` runs, after one run that is not counted (the JIT warms up on it). */
async function repeat(times: number, run: () => Promise<number>): Promise<number> {
  await run();
  const samples: number[] = [];
  for (let i = 0; i < times; i++) samples.push(await run());
  return median(samples);
}

const entries = Array.from(
  { length: ENTRIES },
  (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255},tcp:80`,
);
const HEADER = { name: "KUBE-BENCH", type: "hash:ip,port", family: "inet" } as const;

async function ipsetByNetlink(client: IpsetClient): Promise<number> {
  await must(["ipset", "destroy"]);
  return await timed(async () => {
    await client.create(HEADER);
    const result = await client.adt("add", HEADER.name, entries);
    if ("index" in result) fail(`netlink add failed: ${result.error.message}`);
  });
}

async function ipsetByRestore(): Promise<number> {
  await must(["ipset", "destroy"]);
  const stdin = [
    `create ${HEADER.name} hash:ip,port family inet hashsize 1024 maxelem 65536 -exist`,
    ...entries.map((e) => `add ${HEADER.name} ${e} -exist`),
  ].join("\n") + "\n";
  return await timed(() => must(["ipset", "restore"], stdin));
}

const addresses = Array.from({ length: ENTRIES }, (_, i) => `10.200.${i >> 8}.${i & 255}/32`);

async function freshLink(): Promise<number> {
  await runCommand(["ip", "link", "delete", "kube-ipvs0"]); // none the first time
  const rt = new RtnetlinkClient();
  try {
    await rt.addLink("kube-ipvs0", "veth");
    return (await rt.link("kube-ipvs0"))!.index;
  } finally {
    rt.close();
  }
}

async function addressesByNetlink(rt: RtnetlinkClient): Promise<number> {
  const index = await freshLink();
  return await timed(async () => {
    const result = await rt.addresses("add", addresses.map((address) => ({ index, address })));
    if (result.failures.length > 0) {
      fail(`netlink address add: ${JSON.stringify(result.failures[0])}`);
    }
  });
}

async function addressesByIpBatch(): Promise<number> {
  await freshLink();
  const stdin = addresses.map((a) => `address add ${a} dev kube-ipvs0`).join("\n") + "\n";
  return await timed(() => must(["ip", "-batch", "-"], stdin));
}

/**
 * The states the sync loop hands to the diff, as it makes them: from one incremental
 * proxier, so a state after one change shares every unchanged set, address list and
 * virtual server with the one before (IPVS left out: this kernel has none).
 */
function loopStates() {
  const config = testConfig({ clusterCIDRs: ["10.128.0.0/9"] });
  const proxier = new IncrementalProxier(config, "node-0");
  const cluster = generateCluster(LARGE_CLUSTER);
  const changedCluster = withOneEndpointChanged(cluster);
  const withoutIpvs = (state: KernelState): KernelState => ({ ...state, virtualServers: [] });
  const desired = withoutIpvs(proxier.update(cluster, [NODE_IP]).state);
  const changed = withoutIpvs(proxier.update(changedCluster, [NODE_IP]).state);
  return { desired, changed, excludeCIDRs: [...config.ipvs.excludeCIDRs] };
}

async function sync(backend: Backend, want: KernelState, options: DiffOptions) {
  const start = performance.now();
  const plan = diffStates(await backend.read(), want, options);
  const result = await backend.apply(plan);
  if (result.failures.length > 0) fail(`${backend.name}: ${result.failures[0].message}`);
  return { ms: performance.now() - start, operations: plan.length, writes: result.writes };
}

async function clean(backend: Backend): Promise<void> {
  const result = await backend.apply(cleanupPlan(await backend.read()));
  if (result.failures.length > 0) fail(`cleanup: ${result.failures[0].message}`);
}

/**
 * Cold apply, read, no-op resync and one change on the large cluster with one backend, each
 * sync diffed as the sync loop diffs (one `SettledPairs` for the backend's life).
 */
async function clusterFigures(backend: Backend, repeats: number) {
  const workload = loopStates();
  const options = { excludeCIDRs: workload.excludeCIDRs, settled: new SettledPairs() };
  await clean(backend);
  const cold = await sync(backend, workload.desired, options);
  const readMs = await repeat(repeats, () => timed(() => backend.read()));
  const noopMs = await repeat(repeats, async () => {
    const noop = await sync(backend, workload.desired, options);
    if (noop.operations !== 0) fail(`${backend.name}: the no-op resync planned ${noop.operations}`);
    return noop.ms;
  });
  let turn = 0;
  const oneMs = await repeat(repeats, async () => {
    const want = turn++ % 2 === 0 ? workload.changed : workload.desired;
    return (await sync(backend, want, options)).ms;
  });
  await clean(backend);
  return { coldMs: cold.ms, coldOperations: cold.operations, readMs, noopMs, oneMs };
}

async function inside(repeats: number): Promise<void> {
  await must(["ip", "link", "set", "lo", "up"]);
  await must(
    ["ip", "-batch", "-"],
    [
      "link add node0 type veth peer name node0-peer",
      `address add ${NODE_IP}/24 dev node0`,
      "link set node0 up",
    ].join("\n") + "\n",
  );
  const ipset = await IpsetClient.open();
  const rt = new RtnetlinkClient();
  const ipsetNetlink = await repeat(repeats, () => ipsetByNetlink(ipset));
  const ipsetRestore = await repeat(repeats, ipsetByRestore);
  const addressNetlink = await repeat(repeats, () => addressesByNetlink(rt));
  const addressBatch = await repeat(repeats, addressesByIpBatch);
  ipset.close();
  rt.close();
  await must(["ipset", "destroy"]);
  await must(["ip", "link", "delete", "kube-ipvs0"]);
  const families = ["ipv4" as const];
  const netlink = new NetlinkBackend({ ipvs: false, linkType: "veth", families });
  const exec = new ExecBackend({ ipvs: false, linkType: "veth", families });
  const clusterNetlink = await clusterFigures(netlink, repeats);
  const clusterExec = await clusterFigures(exec, repeats);
  await netlink.close();
  console.log(JSON.stringify({
    ipset: { netlinkMs: ipsetNetlink, restoreMs: ipsetRestore },
    addresses: { netlinkMs: addressNetlink, ipBatchMs: addressBatch },
    cluster: { netlink: clusterNetlink, exec: clusterExec },
  }));
}

function report(figures: {
  ipset: { netlinkMs: number; restoreMs: number };
  addresses: { netlinkMs: number; ipBatchMs: number };
  cluster: Record<"netlink" | "exec", Record<string, number>>;
}): string {
  const rate = (ms: number) => `${Math.round(ENTRIES / ms * 1000).toLocaleString("en")}/s`;
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  const { netlink, exec } = figures.cluster;
  const rows = [
    [
      "10,000 hash:ip,port entries",
      figures.ipset.netlinkMs,
      figures.ipset.restoreMs,
      "ipset restore",
    ],
    ["10,000 addresses", figures.addresses.netlinkMs, figures.addresses.ipBatchMs, "ip -batch"],
    ["cold apply, 10,000 services", netlink.coldMs, exec.coldMs, "exec backend"],
    ["read (no-op resync's read)", netlink.readMs, exec.readMs, "exec backend"],
    ["no-op resync", netlink.noopMs, exec.noopMs, "exec backend"],
    ["one endpoint changed", netlink.oneMs, exec.oneMs, "exec backend"],
  ] as const;
  const lines = [
    "| what | netlink | tools | against | netlink / tools |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map(([what, n, t, against], i) =>
      `| ${what} | ${ms(n)}${i < 2 ? ` (${rate(n)})` : ""} | ${ms(t)}${
        i < 2 ? ` (${rate(t)})` : ""
      } | ${against} | ${(n / t).toFixed(2)}x |`
    ),
  ];
  return lines.join("\n");
}

async function outside(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { repeats: { type: "string", default: "5" } } });
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) fail("--repeats must be a positive integer");
  if (Deno.uid() !== 0) fail("needs root: it runs `unshare -n`, ipset, iptables-restore and ip");
  const config = new URL("../deno.json", import.meta.url).pathname;
  const self = new URL(import.meta.url).pathname;
  const child = await new Deno.Command("unshare", {
    args: ["-n", Deno.execPath(), "run", "-A", "--config", config, self, `--repeats=${repeats}`],
    env: { [INSIDE_MARKER]: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!child.success) fail(`the run failed (exit code ${child.code})`);
  const text = new TextDecoder().decode(child.stdout).trim();
  console.log(report(JSON.parse(text.split("\n").pop()!)));
}

if (import.meta.main) {
  if (Deno.env.get(INSIDE_MARKER) === "1") {
    const { values } = parseArgs({
      args: Deno.args,
      options: { repeats: { type: "string", default: "5" } },
    });
    await inside(Number(values.repeats));
  } else await outside(Deno.args);
}

/**
 * Crash safety on the real kernel: the proxy (the CLI as a child process, exec backend) is
 * killed with SIGKILL at a random moment of a cold sync of a large cluster (uniform over the
 * span a cold run takes from `Using ipvs Proxier.` to its exit; a run that ended before its
 * kill gives the next span), restarted, and
 * the restart must converge in one sync (a following sync has an empty plan) with the foreign
 * state byte-identical. Each trial starts from a kernel with nothing of ours.
 *
 * The kill goes to the proxy's whole process group, as a service manager or the kubelet kills
 * a unit or a container (a tool it started dies with it). `CRASH_TRIALS` (default 1, for CI),
 * `CRASH_SERVICES` (default 200) and `CRASH_SEED` (default: the clock) set the run; the README's
 * figure is a run by hand with `CRASH_TRIALS=20 CRASH_SERVICES=200`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { kernelTest, run, sh } from "./harness.ts";
import { cli, createNode, endpointSlice, savedIpvs, service, syncFlags } from "./cluster.ts";

const TRIALS = Number(Deno.env.get("CRASH_TRIALS") ?? 1);
const SERVICES = Number(Deno.env.get("CRASH_SERVICES") ?? 200);
const SEED = Number(Deno.env.get("CRASH_SEED") ?? Date.now() % 1_000_000);
const EXCLUDE = "--ipvs-exclude-cidrs=198.51.100.0/24";
const MOD = decodeURIComponent(new URL("../../mod.ts", import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/** `n` services of two TCP endpoints each; every fifth one a NodePort. */
function largeCluster(n: number): object[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `svc-${i}`;
    const ip = (base: number) => `10.${base}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    return [
      service({
        name,
        type: i % 5 === 0 ? "NodePort" : "ClusterIP",
        clusterIP: ip(96),
        ports: [{
          port: 80,
          targetPort: 8080,
          ...(i % 5 === 0 ? { nodePort: 30000 + i / 5 } : {}),
        }],
      }),
      endpointSlice({
        service: name,
        endpoints: [{ ip: ip(244) }, { ip: ip(245), node: "node-b" }],
        ports: [{ port: 8080 }],
      }),
    ];
  }).flat();
}

/** A small deterministic generator (mulberry32), so a run can be repeated from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FOREIGN_VS = "198.51.100.78:8080";

async function createForeignState(): Promise<void> {
  await sh(["ipvsadm", "-A", "-t", FOREIGN_VS, "-s", "wrr"]);
  await sh(["ipvsadm", "-a", "-t", FOREIGN_VS, "-r", "10.9.9.8:8080", "-m", "-w", "3"]);
  await sh(
    ["ipset", "restore"],
    "create CRASH-FOREIGN hash:ip family inet\nadd CRASH-FOREIGN 10.1.2.4\n",
  );
  await sh(
    ["iptables-restore", "--noflush"],
    [
      "*filter",
      ":CRASH-CHAIN - [0:0]",
      "-A CRASH-CHAIN -s 10.9.9.8/32 -j DROP",
      "-A INPUT -m set --match-set CRASH-FOREIGN src -j CRASH-CHAIN",
      "COMMIT",
      "",
    ].join("\n"),
  );
  await sh(["ip", "link", "add", "crash0", "type", "dummy"]);
  await sh(["ip", "addr", "add", "10.5.5.6/24", "dev", "crash0"]);
}

async function removeForeignState(): Promise<void> {
  await run(["ipvsadm", "-D", "-t", FOREIGN_VS]);
  await run([
    "iptables",
    "-D",
    "INPUT",
    "-m",
    "set",
    "--match-set",
    "CRASH-FOREIGN",
    "src",
    "-j",
    "CRASH-CHAIN",
  ]);
  await run(["iptables", "-F", "CRASH-CHAIN"]);
  await run(["iptables", "-X", "CRASH-CHAIN"]);
  await run(["ipset", "destroy", "CRASH-FOREIGN"]);
  await run(["ip", "link", "delete", "crash0"]);
}

/**
 * The foreign objects as the tools print them: for iptables, the user chains and rules that
 * are not ours (a table our sync loads for the first time adds only built-in chains).
 */
async function foreignSnapshot() {
  const lines = async (argv: string[]) =>
    (await sh(argv)).split("\n").filter((l) =>
      /^(-A |:(?!(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ))/.test(l) && !l.includes("KUBE-")
    );
  return {
    ipset: await sh(["ipset", "save", "CRASH-FOREIGN"]),
    iptables: await lines(["iptables-save"]),
    ipvs: (await savedIpvs()).filter((l) => l.includes(FOREIGN_VS)),
    address: await sh(["ip", "addr", "show", "dev", "crash0"]),
  };
}

/** Starts the proxy as its own process group (`setsid`), so SIGKILL reaches its tools too. */
function startProxy(dir: string): Deno.ChildProcess {
  return new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "-A", "--no-check", MOD, ...syncFlags(dir), EXCLUDE],
    cwd: REPO,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** What the proxy logs once its startup is done, right before the first sync. */
const READY = "Using ipvs Proxier.";

/** One proxy run: exit code, log, and when it was ready (ms after the start) and done. */
interface ProxyRun {
  readonly code: number;
  readonly stderr: string;
  readonly readyMs: number;
  readonly totalMs: number;
  readonly killed: boolean;
}

/**
 * Runs the proxy once; with `killAfterReadyMs`, kills its process group that long after the
 * startup is done (so the kill lands in the sync: reading, computing, applying).
 */
async function proxyRun(dir: string, killAfterReadyMs?: number): Promise<ProxyRun> {
  const started = performance.now();
  const child = startProxy(dir);
  let readyMs = NaN;
  let killed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stderr = "";
  const kill = () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
      killed = true;
    } catch { /* it had exited */ }
  };
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      if (Number.isNaN(readyMs) && stderr.includes(READY)) {
        readyMs = performance.now() - started;
        if (killAfterReadyMs !== undefined) timer = setTimeout(kill, killAfterReadyMs);
      }
    }
  })();
  const status = await child.status;
  clearTimeout(timer);
  await reading;
  return { code: status.code, stderr, readyMs, totalMs: performance.now() - started, killed };
}

/** How many virtual servers of ours (all but the foreign one) the kernel holds. */
async function ourVirtualServers(): Promise<number> {
  return (await savedIpvs()).filter((l) => l.startsWith("-A ") && !l.includes(FOREIGN_VS)).length;
}

async function cleanUp(): Promise<void> {
  const result = await cli(["--cleanup", EXCLUDE]);
  assert.equal(result.code, 0, `--cleanup failed:\n${result.stderr}`);
}

interface Trial {
  /** When the kill was sent, in seconds after the startup was done. */
  readonly killS: number;
  readonly killed: boolean;
  readonly virtualServersAtKill: number;
  /** The restart: all of it, and its sync (after the startup). */
  readonly restartS: number;
  readonly restartSyncS: number;
  readonly converged: boolean;
}

const s = (ms: number) => Number((ms / 1000).toFixed(1));

kernelTest(
  "a proxy killed with SIGKILL during a cold apply converges on restart in one sync, foreign state intact",
  async () => {
    await using node = await createNode();
    await using _foreign = { [Symbol.asyncDispose]: removeForeignState };
    await createForeignState();
    const before = await foreignSnapshot();
    await node.write(largeCluster(SERVICES));
    // An unkilled cold run: how long its sync takes is the span the kills are drawn from.
    const cold = await proxyRun(node.dir);
    assert.equal(cold.code, 0, cold.stderr);
    const coldSyncMs = cold.totalMs - cold.readyMs;
    const total = await ourVirtualServers();
    console.log(
      `crash safety: seed ${SEED}; cold run ${s(cold.totalMs)} s, its sync ${s(coldSyncMs)} s, ` +
        `${total} virtual servers`,
    );
    await cleanUp();
    const next = random(SEED);
    const trials: Trial[] = [];
    // The machine's speed drifts (TCG, other load): each kill is drawn from the span of the
    // latest full sync seen, so it keeps landing inside the sync.
    let spanMs = coldSyncMs;
    for (let i = 0; i < TRIALS; i++) {
      const killMs = spanMs * next();
      const killedRun = await proxyRun(node.dir, killMs);
      const atKill = await ourVirtualServers();
      const restart = await proxyRun(node.dir);
      assert.equal(restart.code, 0, `trial ${i}: the restart failed:\n${restart.stderr}`);
      if (!killedRun.killed) spanMs = killedRun.totalMs - killedRun.readyMs;
      const check = await cli([...syncFlags(node.dir), EXCLUDE, "--output", "json"]);
      assert.equal(check.code, 0, check.stderr);
      const plan = JSON.parse(check.stdout).plan as unknown[];
      trials.push({
        killS: s(killMs),
        killed: killedRun.killed,
        virtualServersAtKill: atKill,
        restartS: s(restart.totalMs),
        restartSyncS: s(restart.totalMs - restart.readyMs),
        converged: plan.length === 0,
      });
      console.log(`  trial ${i}: ${JSON.stringify(trials.at(-1))}`);
      assert.deepEqual(plan, [], `trial ${i}: the sync after the restart had work left`);
      assert.deepEqual(await foreignSnapshot(), before, `trial ${i}: foreign state changed`);
      await cleanUp();
    }
    report(total, trials);
  },
);

function report(total: number, trials: readonly Trial[]): void {
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  const restarts = sorted(trials.map((t) => t.restartS));
  const syncs = sorted(trials.map((t) => t.restartSyncS));
  const median = (xs: number[]) => xs[Math.floor(xs.length / 2)];
  const mid =
    trials.filter((t) => t.killed && t.virtualServersAtKill > 0 && t.virtualServersAtKill < total)
      .length;
  console.log(
    `crash safety: ${trials.length} trials, ${trials.filter((t) => t.killed).length} killed ` +
      `(${mid} with IPVS half-written), ${trials.filter((t) => t.converged).length} converged ` +
      `in one sync; restart ${restarts[0]}-${restarts.at(-1)} s (median ${median(restarts)} s), ` +
      `its sync ${syncs[0]}-${syncs.at(-1)} s (median ${median(syncs)} s)`,
  );
}

/**
 * The real preflight and node preparation against this machine's kernel. Each runs in a child
 * `deno` inside a fresh network namespace (`unshare -n`), so sysctls written and virtual servers
 * probed never touch the host's own network. On the development machines the kernel has no IPVS
 * and no dummy link type, so both must fail, clearly.
 */
import assert from "node:assert/strict";
import { runCommand } from "../../backends/exec/command.ts";
import { cacheForChild, CONFIG_FLAGS } from "./child_deno.ts";
import { canRunKernelTests } from "./requirements.ts";

const REPO = new URL("../../", import.meta.url);
const TOOLS = [["ipset", "--version"], ["iptables", "--version"], ["ip", "-V"], [
  "unshare",
  "--version",
]];

/** The modules the children below import (cached on the host: the namespace has no network). */
const CHILD_MODULES = [
  "backends/exec/command.ts",
  "backends/exec/kernel_modules.ts",
  "backends/exec/preflight.ts",
  "backends/exec/startup.ts",
];

/** Runs `code` (an ES module body) in a child deno inside a new network namespace. */
async function runInNamespace(code: string): Promise<unknown> {
  await cacheForChild(CONFIG_FLAGS, CHILD_MODULES);
  const result = await runCommand([
    "unshare",
    "-n",
    Deno.execPath(),
    "eval",
    "--quiet",
    ...CONFIG_FLAGS,
    "--cached-only",
    code,
  ]);
  assert.equal(result.code, 0, `child failed (exit code ${result.code}):\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

function moduleUrl(path: string): string {
  return new URL(path, REPO).href;
}

async function hostHasIpvs(): Promise<boolean> {
  return await Deno.stat("/proc/net/ip_vs").then(() => true, () => false);
}

Deno.test("the real preflight on this kernel fails without IPVS and names ip_vs", async () => {
  if (!await canRunKernelTests(TOOLS)) return;
  const report = await runInNamespace(`
    import { runCommand } from ${JSON.stringify(moduleUrl("backends/exec/command.ts"))};
    import { readTextFileIfExists } from ${
    JSON.stringify(moduleUrl("backends/exec/kernel_modules.ts"))
  };
    import { formatPreflightFailure, preflight } from ${
    JSON.stringify(moduleUrl("backends/exec/preflight.ts"))
  };
    const report = await preflight({ scheduler: "rr", run: runCommand, readTextFile: readTextFileIfExists });
    console.log(JSON.stringify({ ok: report.ok, checks: report.checks, text: formatPreflightFailure(report) }));
  `) as { ok: boolean; checks: { name: string; ok: boolean }[]; text: string };
  const ipset = report.checks.find((c) => c.name === "ipset version");
  assert.equal(ipset?.ok, true, report.text);
  if (await hostHasIpvs()) {
    // A kernel with IPVS (the test VM): every IPVS check must pass.
    assert.equal(report.ok, true, report.text);
    return;
  }
  assert.equal(report.ok, false);
  assert.match(report.text, /^ {2}- kernel module ip_vs: /m);
  assert.match(report.text, /^ {4}fix: modprobe -- ip_vs$/m);
});

Deno.test("the real prepareNode in a fresh network namespace sets ip_forward and reports missing IPVS", async () => {
  if (!await canRunKernelTests(TOOLS)) return;
  const hostBefore = await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward");
  const outcome = await runInNamespace(`
    import { runCommand } from ${JSON.stringify(moduleUrl("backends/exec/command.ts"))};
    import { NodePreparationError, prepareNode } from ${
    JSON.stringify(moduleUrl("backends/exec/startup.ts"))
  };
    const before = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward")).trim();
    const config = { strictARP: true, tcpTimeoutMs: 900000, tcpFinTimeoutMs: 0, udpTimeoutMs: 0 };
    let result;
    try {
      result = { ok: true, log: await prepareNode({ config, run: runCommand }) };
    } catch (error) {
      if (!(error instanceof NodePreparationError)) throw error;
      result = { ok: false, log: error.log, problems: error.problems, message: error.message };
    }
    const after = (await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward")).trim();
    const arpAnnounce = (await Deno.readTextFile("/proc/sys/net/ipv4/conf/all/arp_announce")).trim();
    console.log(JSON.stringify({ ...result, before, after, arpAnnounce }));
  `) as {
    ok: boolean;
    log: string[];
    problems?: string[];
    message?: string;
    before: string;
    after: string;
    arpAnnounce: string;
  };
  assert.equal(outcome.before, "0", "a fresh network namespace starts with ip_forward=0");
  assert.equal(outcome.after, "1");
  assert.equal(outcome.arpAnnounce, "2");
  assert.ok(
    outcome.log.includes("Set sysctl net/ipv4/ip_forward=1 (was 0)"),
    outcome.log.join("\n"),
  );
  assert.equal(await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward"), hostBefore);
  if (await hostHasIpvs()) {
    assert.equal(outcome.ok, true, outcome.message);
    return;
  }
  assert.equal(outcome.ok, false);
  assert.match(outcome.message ?? "", /the kernel has no IPVS/);
  assert.match(outcome.message ?? "", /modprobe -- ip_vs/);
});

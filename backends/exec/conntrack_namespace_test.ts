/**
 * The conntrack settings written for real: a child Deno inside a fresh network namespace
 * (`unshare -n`) carries out kube-proxy's conntrack steps against its own
 * `/proc/sys/net/netfilter`, whose timeout and `be_liberal` keys are per namespace. The global
 * ones (`nf_conntrack_max`, read-only outside the initial namespace, and the hash size under
 * /sys) go to fakes: they are never written here. The host's values are checked unchanged.
 */
import assert from "node:assert/strict";
import { runCommand } from "./command.ts";
import { readTextFileIfExists } from "./kernel_modules.ts";
import { canRunKernelTests } from "../../tests/exec/requirements.ts";

const PER_NAMESPACE = [
  "nf_conntrack_tcp_timeout_established",
  "nf_conntrack_tcp_timeout_close_wait",
  "nf_conntrack_tcp_be_liberal",
  "nf_conntrack_udp_timeout",
  "nf_conntrack_udp_timeout_stream",
];

async function hostValues(): Promise<Record<string, string | undefined>> {
  const entries = await Promise.all(
    [...PER_NAMESPACE, "nf_conntrack_max"].map(async (key) =>
      [key, (await readTextFileIfExists(`/proc/sys/net/netfilter/${key}`))?.trim()] as const
    ),
  );
  return Object.fromEntries(entries);
}

/** Runs in the namespace: applies the steps, prints what the kernel then holds. */
const CHILD = `
import { applyNodePreparation } from "${new URL("./node_preparation.ts", import.meta.url)}";
import { conntrackSteps } from "${new URL("../../src/node_prep/conntrack.ts", import.meta.url)}";
import { readTextFileIfExists } from "${new URL("./kernel_modules.ts", import.meta.url)}";
const fakes = { max: "65536", hashsize: "16384" };
const config = { maxPerCore: 32768, min: 131072, tcpEstablishedTimeoutMs: 86_400_000,
  tcpCloseWaitTimeoutMs: 3_600_000, tcpBeLiberal: true, udpTimeoutMs: 31_000, udpStreamTimeoutMs: 121_000 };
const log = await applyNodePreparation(conntrackSteps(config, 2), {
  run: () => { throw new Error("no command expected"); },
  readSysctl: (key) => key.endsWith("nf_conntrack_max")
    ? Promise.resolve(fakes.max) : readTextFileIfExists("/proc/sys/" + key),
  writeSysctl: (key, value) => {
    if (key.endsWith("nf_conntrack_max")) { fakes.max = value; return Promise.resolve(); }
    return Deno.writeTextFile("/proc/sys/" + key, value + "\\n");
  },
  readFile: (path) => path.startsWith("/sys/module/") ? Promise.resolve(fakes.hashsize)
    : readTextFileIfExists(path),
  writeFile: (path, text) => { if (path.startsWith("/sys/module/")) fakes.hashsize = text;
    else throw new Error("unexpected write " + path); return Promise.resolve(); },
});
const kernel = {};
for (const key of ${JSON.stringify(PER_NAMESPACE)}) {
  kernel[key] = (await Deno.readTextFile("/proc/sys/net/netfilter/" + key)).trim();
}
console.log(JSON.stringify({ log, fakes, kernel }));
`;

Deno.test("kube-proxy's conntrack timeouts and be_liberal are written for real in a network namespace", async () => {
  if (!await canRunKernelTests([["unshare", "--version"]])) return;
  const before = await hostValues();
  if (before.nf_conntrack_tcp_timeout_established === undefined) {
    assert.fail(
      "this kernel has no conntrack sysctls (/proc/sys/net/netfilter): modprobe -- nf_conntrack",
    );
  }
  const result = await runCommand([
    "unshare",
    "-n",
    Deno.execPath(),
    "eval",
    "--no-config",
    "--import-map",
    new URL("../../deno.json", import.meta.url).pathname,
    CHILD,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const out = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(out.kernel, {
    nf_conntrack_tcp_timeout_established: "86400",
    nf_conntrack_tcp_timeout_close_wait: "3600",
    nf_conntrack_tcp_be_liberal: "1",
    nf_conntrack_udp_timeout: "31",
    nf_conntrack_udp_timeout_stream: "121",
  });
  assert.deepEqual(out.fakes, { max: "131072", hashsize: "32768" });
  assert.deepEqual(await hostValues(), before, "the host's own values must not change");
});

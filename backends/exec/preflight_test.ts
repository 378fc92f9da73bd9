import assert from "node:assert/strict";
import { type ScriptedAnswer, scriptedRunner } from "./command.ts";
import type { ReadTextFile } from "./kernel_modules.ts";
import {
  formatPreflightFailure,
  parseIpsetVersion,
  parseVirtualServers,
  preflight,
  type PreflightReport,
} from "./preflight.ts";

const RELEASE = "6.1.0-18-amd64";
const BUILTIN_PATH = `/lib/modules/${RELEASE}/modules.builtin`;
const IPVS_BUILTIN = [
  "kernel/net/netfilter/ipvs/ip_vs.ko",
  "kernel/net/netfilter/ipvs/ip_vs_rr.ko",
  "kernel/net/netfilter/ipvs/ip_vs_wrr.ko",
  "kernel/net/netfilter/ipvs/ip_vs_sh.ko",
  "kernel/net/netfilter/nf_conntrack.ko",
].join("\n");

const MODPROBE_NOT_FOUND = (name: string): ScriptedAnswer => ({
  code: 1,
  stderr: `modprobe: FATAL: Module ${name} not found in directory /lib/modules/${RELEASE}\n`,
});

/**
 * A fake node where everything works (IPVS built in, ipset 7.17, ipvsadm 1.31, an empty table)
 * unless `files` or `commands` say otherwise. `modprobe` fails unless `loadable` lists the
 * module, in which case it appears in /proc/modules.
 */
function fakeNode(
  overrides: {
    files?: Record<string, string | undefined>;
    commands?: Record<string, ScriptedAnswer | undefined>;
    loadable?: string[];
  } = {},
) {
  const files: Record<string, string | undefined> = {
    "/proc/sys/kernel/osrelease": `${RELEASE}\n`,
    [BUILTIN_PATH]: IPVS_BUILTIN,
    "/proc/modules": "",
    ...overrides.files,
  };
  const commands: Record<string, ScriptedAnswer | undefined> = {
    "ipset --version": { stdout: "ipset v7.17, protocol version: 7\n" },
    "ipvsadm --version": {
      stdout: "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n",
    },
    "ipvsadm -Sn": { stdout: "" },
    "ipvsadm -A -t 198.51.100.0:20000 -s rr": {},
    "ipvsadm -D -t 198.51.100.0:20000": {},
    ...overrides.commands,
  };
  const run = scriptedRunner((argv) => {
    if (argv[0] !== "modprobe") return commands[argv.join(" ")];
    const name = argv[2];
    if (!overrides.loadable?.includes(name)) return MODPROBE_NOT_FOUND(name);
    files["/proc/modules"] += `${name} 16384 0 - Live 0x0000000000000000\n`;
    return {};
  });
  const readTextFile: ReadTextFile = (path) => Promise.resolve(files[path]);
  return { run, readTextFile };
}

/** `name -> fix` of each failed check. */
function failures(report: PreflightReport): string[] {
  return report.checks.filter((c) => !c.ok).map((c) => `${c.name} -> ${c.fix}`);
}

const NO_IPVS: ScriptedAnswer = {
  code: 2,
  stderr: "Can't initialize ipvs: Protocol not available\n" +
    "Are you sure that IP Virtual Server is built in the kernel or as module?\n",
};

Deno.test({
  name: "preflight() passes on a node with IPVS built in, ipset 7.17 and a working scheduler",
  permissions: "none",
  async fn() {
    const node = fakeNode();
    const report = await preflight({ scheduler: "rr", ...node });
    assert.deepEqual(failures(report), []);
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => c.name), [
      "kernel module ip_vs",
      "kernel module ip_vs_rr",
      "kernel module ip_vs_wrr",
      "kernel module ip_vs_sh",
      "kernel module nf_conntrack",
      "ipset version",
      "ipvsadm installed",
      "IPVS reachable",
      "scheduler rr",
    ]);
    assert.equal(report.checks[0].detail, "built into the kernel (modules.builtin)");
    assert.deepEqual(node.run.calls.filter((argv) => argv[0] === "modprobe"), []);
    assert.equal(formatPreflightFailure(report), "All IPVS requirements are met.");
  },
});

Deno.test({
  name: "preflight() creates and deletes the probe virtual server to test the scheduler",
  permissions: "none",
  async fn() {
    const node = fakeNode();
    await preflight({ scheduler: "", ...node });
    assert.deepEqual(node.run.calls.filter((argv) => argv[0] === "ipvsadm"), [
      ["ipvsadm", "--version"],
      ["ipvsadm", "-Sn"],
      ["ipvsadm", "-A", "-t", "198.51.100.0:20000", "-s", "rr"],
      ["ipvsadm", "-D", "-t", "198.51.100.0:20000"],
    ]);
  },
});

Deno.test({
  name: "preflight() skips the probe when a virtual server already uses the scheduler",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      commands: { "ipvsadm -Sn": { stdout: "-A -t 10.96.0.1:443 -s rr -p 10800\n" } },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.equal(report.ok, true);
    assert.equal(node.run.writes(), 0);
    assert.equal(report.checks.at(-1)?.detail, "a virtual server already uses it");
  },
});

Deno.test({
  name: "preflight() removes a probe virtual server left by an earlier run before probing",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      commands: { "ipvsadm -Sn": { stdout: "-A -t 198.51.100.0:20000 -s wrr\n" } },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.equal(report.ok, true);
    assert.deepEqual(node.run.calls.slice(-3).map((argv) => argv.join(" ")), [
      "ipvsadm -D -t 198.51.100.0:20000",
      "ipvsadm -A -t 198.51.100.0:20000 -s rr",
      "ipvsadm -D -t 198.51.100.0:20000",
    ]);
  },
});

Deno.test({
  name: "preflight() accepts modules listed as loaded in /proc/modules",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      files: {
        [BUILTIN_PATH]: undefined,
        "/proc/modules": [
          "ip_vs_sh 16384 0 - Live 0x0000000000000000",
          "ip_vs_wrr 16384 0 - Live 0x0000000000000000",
          "ip_vs_rr 16384 0 - Live 0x0000000000000000",
          "ip_vs 188416 6 ip_vs_rr,ip_vs_wrr,ip_vs_sh, Live 0x0000000000000000",
          "nf_conntrack 172032 1 ip_vs, Live 0x0000000000000000",
        ].join("\n"),
      },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.equal(report.ok, true);
    assert.equal(report.checks[0].detail, "loaded (/proc/modules)");
  },
});

Deno.test({
  name: "preflight() loads missing modules with modprobe and passes",
  permissions: "none",
  async fn() {
    const modules = ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"];
    const node = fakeNode({ files: { [BUILTIN_PATH]: undefined }, loadable: modules });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.deepEqual(failures(report), []);
    assert.deepEqual(
      node.run.calls.filter((argv) => argv[0] === "modprobe").map((argv) => argv.join(" ")),
      modules.map((name) => `modprobe -- ${name}`),
    );
    assert.equal(report.checks[0].detail, "loaded just now with 'modprobe -- ip_vs'");
  },
});

Deno.test({
  name: "preflight() requires nf_conntrack_ipv4 on a kernel older than 4.19",
  permissions: "none",
  async fn() {
    const old = "4.14.0-1-amd64";
    const node = fakeNode({
      files: {
        "/proc/sys/kernel/osrelease": `${old}\n`,
        [`/lib/modules/${old}/modules.builtin`]: IPVS_BUILTIN,
      },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.deepEqual(failures(report), [
      "kernel module nf_conntrack_ipv4 -> modprobe -- nf_conntrack_ipv4",
    ]);
  },
});

Deno.test({
  name: "preflight() requires the configured scheduler's module too",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      commands: {
        "ipvsadm -A -t 198.51.100.0:20000 -s lc": { code: 2, stderr: "Scheduler not found\n" },
      },
    });
    const report = await preflight({ scheduler: "lc", ...node });
    assert.deepEqual(failures(report), [
      "kernel module ip_vs_lc -> modprobe -- ip_vs_lc",
      "scheduler lc -> modprobe -- ip_vs_lc",
    ]);
    const scheduler = report.checks.find((c) => c.name === "scheduler lc");
    assert.equal(
      scheduler?.detail,
      "cannot create the probe virtual server 198.51.100.0:20000/TCP with scheduler lc: " +
        "Scheduler not found",
    );
  },
});

Deno.test({
  name: "preflight() takes a working scheduler probe as proof its module is in the kernel",
  permissions: "none",
  async fn() {
    const node = fakeNode({ commands: { "ipvsadm -A -t 198.51.100.0:20000 -s mh": {} } });
    const report = await preflight({ scheduler: "mh", ...node });
    assert.equal(report.ok, true);
    const module = report.checks.find((c) => c.name === "kernel module ip_vs_mh");
    assert.equal(module?.detail, "in the kernel (its scheduler works)");
  },
});

Deno.test({
  name: "preflight() fails when IPVS is missing and names ip_vs and its fix",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      files: {
        [BUILTIN_PATH]: "kernel/drivers/net/dummy.ko\nkernel/net/netfilter/nf_conntrack.ko",
      },
      commands: { "ipvsadm --version": NO_IPVS, "ipvsadm -Sn": NO_IPVS },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.equal(report.ok, false);
    assert.deepEqual(failures(report), [
      "kernel module ip_vs -> modprobe -- ip_vs",
      "kernel module ip_vs_rr -> modprobe -- ip_vs_rr",
      "kernel module ip_vs_wrr -> modprobe -- ip_vs_wrr",
      "kernel module ip_vs_sh -> modprobe -- ip_vs_sh",
      "IPVS reachable -> modprobe -- ip_vs",
    ]);
    const text = formatPreflightFailure(report);
    assert.match(text, /^Can't use the IPVS proxier: 5 requirements are not met\.$/m);
    assert.match(
      text,
      /^ {2}- kernel module ip_vs: not built in \(\/lib\/modules\/6\.1\.0-18-amd64\/modules\.builtin\) nor loaded \(\/proc\/modules\); 'modprobe -- ip_vs' failed: modprobe: FATAL: Module ip_vs not found/m,
    );
    assert.match(text, /^ {4}fix: modprobe -- ip_vs$/m);
    assert.match(
      text,
      /IPVS reachable: 'ipvsadm -Sn' failed: Can't initialize ipvs: Protocol not available Are you sure/,
    );
  },
});

Deno.test({
  name: "preflight() fails when ipset is older than 6.0",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      commands: { "ipset --version": { stdout: "ipset v5.4, protocol version: 5\n" } },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.deepEqual(failures(report), [
      "ipset version -> upgrade the ipset package to v6.0 or later: apt-get install ipset",
    ]);
    assert.match(formatPreflightFailure(report), /ipset v5\.4 is older than the required v6\.0/);
  },
});

Deno.test({
  name: "preflight() fails when ipset is not installed or prints no version",
  permissions: "none",
  async fn() {
    const missing = fakeNode({
      commands: { "ipset --version": { code: 127, stderr: "ipset: command not found\n" } },
    });
    assert.deepEqual(failures(await preflight({ scheduler: "rr", ...missing })), [
      "ipset version -> install the ipset package: apt-get install ipset",
    ]);
    const garbled = fakeNode({ commands: { "ipset --version": { code: 1, stderr: "boom\n" } } });
    const report = await preflight({ scheduler: "rr", ...garbled });
    assert.match(report.checks.find((c) => !c.ok)?.detail ?? "", /cannot read the version/);
  },
});

Deno.test({
  name: "preflight() fails when ipvsadm is not installed and skips the checks that need it",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      commands: { "ipvsadm --version": { code: 127, stderr: "ipvsadm: command not found\n" } },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.deepEqual(failures(report), [
      "ipvsadm installed -> install the ipvsadm package: apt-get install ipvsadm",
    ]);
    assert.equal(report.checks.some((c) => c.name === "IPVS reachable"), false);
    assert.deepEqual(node.run.calls.filter((argv) => argv[0] === "ipvsadm").length, 1);
  },
});

Deno.test({
  name: "preflight() counts ipvsadm as installed even though --version fails without IPVS",
  permissions: "none",
  async fn() {
    const node = fakeNode({ commands: { "ipvsadm --version": NO_IPVS } });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.equal(report.checks.find((c) => c.name === "ipvsadm installed")?.ok, true);
  },
});

Deno.test({
  name: "preflight() reports a probe virtual server that cannot be deleted",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      commands: { "ipvsadm -D -t 198.51.100.0:20000": { code: 2, stderr: "No such service\n" } },
    });
    const report = await preflight({ scheduler: "rr", ...node });
    assert.deepEqual(failures(report), ["scheduler rr -> ipvsadm -D -t 198.51.100.0:20000"]);
  },
});

Deno.test({
  name: "preflight() rejects a scheduler name that is not a word without probing it",
  permissions: "none",
  async fn() {
    const node = fakeNode();
    const report = await preflight({ scheduler: "rr; reboot", ...node });
    assert.equal(report.ok, false);
    assert.deepEqual(failures(report), [
      "scheduler rr; reboot -> set ipvs.scheduler to an IPVS scheduler such as rr, wrr, lc, wlc, " +
      "sh, dh, sed, nq or mh",
    ]);
    assert.equal(report.checks.find((c) => c.name === "IPVS reachable")?.ok, true);
    assert.equal(node.run.writes(), 0);
  },
});

Deno.test({
  name: "parseIpsetVersion() reads the version ipset --version prints",
  permissions: "none",
  fn() {
    assert.deepEqual(parseIpsetVersion("ipset v7.17, protocol version: 7\n"), {
      major: 7,
      minor: 17,
    });
    assert.deepEqual(parseIpsetVersion("ipset v6.38, protocol version: 6"), {
      major: 6,
      minor: 38,
    });
    assert.equal(parseIpsetVersion("ipset: command not found"), undefined);
  },
});

Deno.test({
  name: "parseVirtualServers() reads each service line of ipvsadm -Sn",
  permissions: "none",
  fn() {
    const save = "-A -t 10.96.0.1:443 -s rr -p 10800\n" +
      "-a -t 10.96.0.1:443 -r 192.168.0.1:6443 -m -w 1\n" +
      "-A -u [fd00::a]:53 -s wrr\n" +
      "-A -f 10 -s sh\n";
    assert.deepEqual(parseVirtualServers(save), [
      { service: "-t 10.96.0.1:443", scheduler: "rr" },
      { service: "-u [fd00::a]:53", scheduler: "wrr" },
      { service: "-f 10", scheduler: "sh" },
    ]);
  },
});

Deno.test({
  name: "formatPreflightFailure() names every failed requirement and its fix",
  permissions: "none",
  fn() {
    const text = formatPreflightFailure({
      ok: false,
      checks: [
        { name: "kernel module ip_vs", ok: false, detail: "not loaded", fix: "modprobe -- ip_vs" },
        { name: "ipset version", ok: true, detail: "ipset v7.17", fix: "" },
        {
          name: "ipvsadm installed",
          ok: false,
          detail: "ipvsadm is not installed",
          fix: "install the ipvsadm package: apt-get install ipvsadm",
        },
      ],
    });
    assert.equal(
      text,
      [
        "Can't use the IPVS proxier: 2 requirements are not met.",
        "  - kernel module ip_vs: not loaded",
        "    fix: modprobe -- ip_vs",
        "  - ipvsadm installed: ipvsadm is not installed",
        "    fix: install the ipvsadm package: apt-get install ipvsadm",
        "IPVS mode needs the ip_vs, ip_vs_rr, ip_vs_wrr, ip_vs_sh and nf_conntrack kernel modules " +
        "(built in, or loaded with modprobe) and the ipset and ipvsadm packages.",
      ].join("\n"),
    );
  },
});

Deno.test({
  name: "preflight() with the netlink backend's IPVS checks runs neither ipset nor ipvsadm",
  permissions: "none",
  async fn() {
    const node = fakeNode();
    const asked: string[] = [];
    const report = await preflight({
      scheduler: "wlc",
      ...node,
      modules: ["ip_vs", "ip_vs_wlc"],
      ipvsChecks: (scheduler) => {
        asked.push(scheduler);
        return Promise.resolve([
          { name: "IPVS reachable", ok: true, detail: 'family "IPVS"', fix: "" },
          { name: "scheduler wlc", ok: false, detail: "EINVAL", fix: "modprobe -- ip_vs_wlc" },
        ]);
      },
    });
    assert.deepEqual(asked, ["wlc"]);
    assert.deepEqual(node.run.calls.filter((argv) => argv[0] !== "modprobe"), []);
    assert.equal(report.ok, false);
    // ip_vs_wlc is neither built in nor loadable here, and the netlink probe failed too.
    assert.deepEqual(failures(report), [
      "kernel module ip_vs_wlc -> modprobe -- ip_vs_wlc",
      "scheduler wlc -> modprobe -- ip_vs_wlc",
    ]);
    assert.deepEqual(report.checks.map((c) => c.name), [
      "kernel module ip_vs",
      "kernel module ip_vs_wlc",
      "IPVS reachable",
      "scheduler wlc",
    ]);
  },
});

import assert from "node:assert/strict";
import { scriptedRunner } from "./command.ts";
import {
  conntrackModule,
  ensureModules,
  kernelRelease,
  parseKernelRelease,
  parseModulesBuiltin,
  parseProcModules,
  type ReadTextFile,
  requiredModules,
} from "./kernel_modules.ts";

/** A file reader over a fixed set of files; `files` may be changed by the test. */
function fakeFiles(files: Record<string, string>): ReadTextFile {
  return (path) => Promise.resolve(Object.hasOwn(files, path) ? files[path] : undefined);
}

const BUILTIN_PATH = "/lib/modules/6.1.0-18-amd64/modules.builtin";

Deno.test({
  name: "parseKernelRelease() reads the numbers at the start of a release",
  permissions: "none",
  fn() {
    assert.deepEqual(parseKernelRelease("6.1.0-18-amd64"), { major: 6, minor: 1, patch: 0 });
    assert.deepEqual(parseKernelRelease("4.19.0-16-amd64\n"), { major: 4, minor: 19, patch: 0 });
    assert.deepEqual(parseKernelRelease("3.10"), { major: 3, minor: 10, patch: 0 });
    assert.equal(parseKernelRelease("unknown"), undefined);
  },
});

Deno.test({
  name: "conntrackModule() is nf_conntrack_ipv4 before Linux 4.19 and nf_conntrack since",
  permissions: "none",
  fn() {
    assert.equal(conntrackModule(parseKernelRelease("4.18.20")), "nf_conntrack_ipv4");
    assert.equal(
      conntrackModule(parseKernelRelease("3.10.0-1160.el7.x86_64")),
      "nf_conntrack_ipv4",
    );
    assert.equal(conntrackModule(parseKernelRelease("4.19.0")), "nf_conntrack");
    assert.equal(conntrackModule(parseKernelRelease("5.4.0")), "nf_conntrack");
    assert.equal(conntrackModule(undefined), "nf_conntrack");
  },
});

Deno.test({
  name: "requiredModules() adds the configured scheduler's module once",
  permissions: "none",
  fn() {
    const v6 = parseKernelRelease("6.1.0");
    assert.deepEqual(requiredModules(v6, "rr"), [
      "ip_vs",
      "ip_vs_rr",
      "ip_vs_wrr",
      "ip_vs_sh",
      "nf_conntrack",
    ]);
    assert.deepEqual(requiredModules(parseKernelRelease("4.14.0"), "lc"), [
      "ip_vs",
      "ip_vs_rr",
      "ip_vs_wrr",
      "ip_vs_sh",
      "nf_conntrack_ipv4",
      "ip_vs_lc",
    ]);
    assert.equal(requiredModules(v6, "../evil").length, 5);
  },
});

Deno.test({
  name: "parseModulesBuiltin() takes the file names of modules.builtin",
  permissions: "none",
  fn() {
    const text = "kernel/net/ipv4/netfilter/nf_conntrack_ipv4.ko\n" +
      "kernel/net/netfilter/ipvs/ip_vs.ko\n" +
      "kernel/net/netfilter/ipvs/ip_vs_rr.ko\n" +
      "kernel/drivers/net/dummy.ko\n" +
      "kernel/fs/some-thing.ko\n\n";
    assert.deepEqual(
      parseModulesBuiltin(text),
      new Set(["nf_conntrack_ipv4", "ip_vs", "ip_vs_rr", "dummy", "some_thing"]),
    );
  },
});

Deno.test({
  name: "parseProcModules() takes the first column of /proc/modules",
  permissions: "none",
  fn() {
    const text = "ip_vs_sh 16384 0 - Live 0x0000000000000000\n" +
      "ip_vs 188416 6 ip_vs_rr,ip_vs_wrr,ip_vs_sh, Live 0x0000000000000000\n" +
      "nf_conntrack 172032 1 ip_vs, Live 0x0000000000000000\n";
    assert.deepEqual(parseProcModules(text), new Set(["ip_vs_sh", "ip_vs", "nf_conntrack"]));
  },
});

Deno.test({
  name: "kernelRelease() reads /proc first and falls back to uname -r",
  permissions: "none",
  async fn() {
    const run = scriptedRunner({ "uname -r": { stdout: "5.10.0-28-amd64\n" } });
    const proc = fakeFiles({ "/proc/sys/kernel/osrelease": "6.1.0-18-amd64\n" });
    assert.equal(await kernelRelease(run, proc), "6.1.0-18-amd64");
    assert.equal(run.calls.length, 0);
    assert.equal(await kernelRelease(run, fakeFiles({})), "5.10.0-28-amd64");
    assert.equal(await kernelRelease(scriptedRunner({}), fakeFiles({})), undefined);
  },
});

Deno.test({
  name: "ensureModules() finds built-in and loaded modules without running modprobe",
  permissions: "none",
  async fn() {
    const run = scriptedRunner({});
    const statuses = await ensureModules({
      modules: ["ip_vs", "ip_vs_rr", "nf_conntrack"],
      release: "6.1.0-18-amd64",
      run,
      readTextFile: fakeFiles({
        [BUILTIN_PATH]:
          "kernel/net/netfilter/ipvs/ip_vs.ko\nkernel/net/netfilter/ipvs/ip_vs_rr.ko\n",
        "/proc/modules": "nf_conntrack 172032 1 ip_vs, Live 0x0000000000000000\n",
      }),
    });
    assert.deepEqual(statuses.map((s) => [s.name, s.state]), [
      ["ip_vs", "builtin"],
      ["ip_vs_rr", "builtin"],
      ["nf_conntrack", "loaded"],
    ]);
    assert.deepEqual(run.calls, []);
  },
});

Deno.test({
  name: "ensureModules() counts a module whose /proc file exists as present",
  permissions: "none",
  async fn() {
    const statuses = await ensureModules({
      modules: ["ip_vs", "nf_conntrack"],
      release: "6.1.0-18-amd64",
      run: scriptedRunner({}),
      readTextFile: fakeFiles({
        "/proc/net/ip_vs": "IP Virtual Server version 1.2.1 (size=4096)\n",
        "/proc/sys/net/netfilter/nf_conntrack_max": "262144\n",
      }),
    });
    assert.deepEqual(statuses.map((s) => s.state), ["present", "present"]);
    assert.match(statuses[0].detail, /\/proc\/net\/ip_vs/);
  },
});

Deno.test({
  name: "ensureModules() loads a missing module with modprobe and checks again",
  permissions: "none",
  async fn() {
    const files: Record<string, string> = { "/proc/modules": "" };
    const run = scriptedRunner((argv) => {
      if (argv.join(" ") !== "modprobe -- ip_vs_sh") return undefined;
      files["/proc/modules"] = "ip_vs_sh 16384 0 - Live 0x0000000000000000\n";
      return {};
    });
    const statuses = await ensureModules({
      modules: ["ip_vs_sh"],
      release: "6.1.0-18-amd64",
      run,
      readTextFile: fakeFiles(files),
    });
    assert.deepEqual(statuses, [{
      name: "ip_vs_sh",
      state: "modprobed",
      detail: "loaded just now with 'modprobe -- ip_vs_sh'",
    }]);
    assert.equal(run.writes(), 1);
  },
});

Deno.test({
  name: "ensureModules() reports a module that modprobe cannot load, with modprobe's words",
  permissions: "none",
  async fn() {
    const run = scriptedRunner({
      "modprobe -- ip_vs": {
        code: 1,
        stderr:
          "modprobe: FATAL: Module ip_vs not found in directory /lib/modules/6.1.0-18-amd64\n",
      },
    });
    const [status] = await ensureModules({
      modules: ["ip_vs"],
      release: "6.1.0-18-amd64",
      run,
      readTextFile: fakeFiles({ [BUILTIN_PATH]: "kernel/drivers/net/dummy.ko\n" }),
    });
    assert.equal(status.state, "missing");
    assert.equal(
      status.detail,
      `not built in (${BUILTIN_PATH}) nor loaded (/proc/modules); 'modprobe -- ip_vs' failed: ` +
        "modprobe: FATAL: Module ip_vs not found in directory /lib/modules/6.1.0-18-amd64",
    );
  },
});

Deno.test({
  name: "ensureModules() reports a module that modprobe says it loaded but that is not listed",
  permissions: "none",
  async fn() {
    const [status] = await ensureModules({
      modules: ["ip_vs_wrr"],
      release: undefined,
      run: scriptedRunner({ "modprobe -- ip_vs_wrr": {} }),
      readTextFile: fakeFiles({}),
    });
    assert.equal(status.state, "missing");
    assert.match(status.detail, /kernel release unknown/);
    assert.match(status.detail, /'modprobe -- ip_vs_wrr' succeeded but it is still not listed/);
  },
});

import assert from "node:assert/strict";
import { type CommandRunner, scriptedRunner } from "./command.ts";
import {
  applyNodePreparation,
  NodePreparationError,
  onlineCpus,
  sysfsReadOnly,
} from "./node_preparation.ts";
import type { NodePreparationStep } from "../../src/node_prep/node_preparation.ts";
import { conntrackSteps, DEFAULT_CONNTRACK, HASHSIZE_PATH } from "../../src/node_prep/conntrack.ts";

const RW_SYS = "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n";
const RO_SYS = "sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0\n";

/** A fake node: sysctls and files in maps, writes recorded; a missing key refuses writes. */
function fakeNode(sysctls: Record<string, string>, files: Record<string, string>) {
  const writes: string[] = [];
  return {
    writes,
    sysctls,
    files,
    options: {
      run: scriptedRunner({}) as CommandRunner,
      readSysctl: (key: string) => Promise.resolve(sysctls[key]),
      writeSysctl: (key: string, value: string) => {
        if (!Object.hasOwn(sysctls, key)) return Promise.reject(new Deno.errors.NotFound(key));
        sysctls[key] = `${value}\n`;
        writes.push(`${key}=${value}`);
        return Promise.resolve();
      },
      readFile: (path: string) => Promise.resolve(files[path]),
      writeFile: (path: string, text: string) => {
        files[path] = text;
        writes.push(`${path}=${text}`);
        return Promise.resolve();
      },
    },
  };
}

const CONNTRACK_DEFAULTS_ON_A_FRESH_NODE = {
  "net/netfilter/nf_conntrack_max": "65536\n",
  "net/netfilter/nf_conntrack_tcp_timeout_established": "432000\n",
  "net/netfilter/nf_conntrack_tcp_timeout_close_wait": "60\n",
};

Deno.test({
  name: "applyNodePreparation() raises nf_conntrack_max and the hash size and sets the timeouts",
  permissions: "none",
  async fn() {
    const node = fakeNode({ ...CONNTRACK_DEFAULTS_ON_A_FRESH_NODE }, {
      [HASHSIZE_PATH]: "16384\n",
      "/proc/mounts": RW_SYS,
    });
    const log = await applyNodePreparation(conntrackSteps(DEFAULT_CONNTRACK, 2), node.options);
    assert.deepEqual(node.writes, [
      "net/netfilter/nf_conntrack_max=131072",
      `${HASHSIZE_PATH}=32768`,
      "net/netfilter/nf_conntrack_tcp_timeout_established=86400",
      "net/netfilter/nf_conntrack_tcp_timeout_close_wait=3600",
    ]);
    assert.match(log[0], /nf_conntrack_max=131072 \(32768 per core x 2 CPUs = 65536, below min/);
    // A second start changes nothing.
    node.writes.length = 0;
    assert.deepEqual(
      await applyNodePreparation(conntrackSteps(DEFAULT_CONNTRACK, 2), node.options),
      [],
    );
    assert.deepEqual(node.writes, []);
  },
});

Deno.test({
  name: "applyNodePreparation() never lowers nf_conntrack_max or shrinks the hash table",
  permissions: "none",
  async fn() {
    const node = fakeNode({
      ...CONNTRACK_DEFAULTS_ON_A_FRESH_NODE,
      "net/netfilter/nf_conntrack_max": "262144\n",
    }, {
      [HASHSIZE_PATH]: "65536\n",
      "/proc/mounts": RW_SYS,
    });
    await applyNodePreparation(conntrackSteps(DEFAULT_CONNTRACK, 2), node.options);
    assert.ok(!node.writes.some((w) => w.includes("nf_conntrack_max") || w.includes("hashsize")));
  },
});

Deno.test({
  name: "applyNodePreparation() leaves the hash size alone with a warning on a read-only /sys",
  permissions: "none",
  async fn() {
    const node = fakeNode({ ...CONNTRACK_DEFAULTS_ON_A_FRESH_NODE }, {
      [HASHSIZE_PATH]: "16384\n",
      "/proc/mounts": RO_SYS,
    });
    const log = await applyNodePreparation(conntrackSteps(DEFAULT_CONNTRACK, 2), node.options);
    assert.ok(!node.writes.some((w) => w.startsWith(HASHSIZE_PATH)));
    assert.ok(
      log.some((line) => /^warning: \/sys is read-only: cannot grow .* 16384 to 32768/.test(line)),
      log.join("\n"),
    );
  },
});

Deno.test({
  name:
    "applyNodePreparation() reports a refused nf_conntrack_max with what to do, after the other steps",
  permissions: "none",
  async fn() {
    const node = fakeNode({ ...CONNTRACK_DEFAULTS_ON_A_FRESH_NODE }, {
      [HASHSIZE_PATH]: "65536\n",
      "/proc/mounts": RW_SYS,
    });
    node.options.writeSysctl = (key: string, value: string) => {
      if (key.endsWith("nf_conntrack_max")) {
        return Promise.reject(new Deno.errors.PermissionDenied("Permission denied (os error 13)"));
      }
      node.writes.push(`${key}=${value}`);
      return Promise.resolve();
    };
    const error = await applyNodePreparation(conntrackSteps(DEFAULT_CONNTRACK, 2), node.options)
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof NodePreparationError, String(error));
    const problems = error.problems;
    assert.equal(problems.length, 1);
    assert.match(
      problems[0],
      /cannot raise net\/netfilter\/nf_conntrack_max to 131072 .*conntrack\.maxPerCore: 0/,
    );
    assert.equal(node.writes.length, 2, "the timeouts were still set");
  },
});

Deno.test({
  name:
    "applyNodePreparation() leaves modprobe to the preflight and runs ipvsadm --set and ip link",
  permissions: "none",
  async fn() {
    const calls: string[] = [];
    const steps: NodePreparationStep[] = [
      { kind: "modprobe", module: "ip_vs" },
      { kind: "ipvs-timeouts", seconds: [900, 120, 300] },
      { kind: "dummy-link", name: "kube-ipvs0" },
    ];
    const log = await applyNodePreparation(steps, {
      run: (argv) => {
        calls.push(argv.join(" "));
        const missing = argv[2] === "link" && argv[3] === "show";
        return Promise.resolve({
          code: missing ? 1 : 0,
          stdout: "",
          stderr: missing ? 'Device "kube-ipvs0" does not exist.\n' : "",
        });
      },
    });
    assert.deepEqual(calls, [
      "ipvsadm --set 900 120 300",
      "ip -j link show kube-ipvs0",
      "ip link add kube-ipvs0 type dummy",
    ]);
    assert.equal(log.length, 2);
  },
});

Deno.test({
  name: "sysfsReadOnly() reads the options of the sysfs mounted on /sys",
  permissions: "none",
  fn() {
    assert.equal(sysfsReadOnly(`proc /proc proc rw 0 0\n${RW_SYS}`), false);
    assert.equal(sysfsReadOnly(RO_SYS), true);
    assert.equal(sysfsReadOnly("proc /proc proc rw 0 0\n"), true);
  },
});

Deno.test({
  name: "onlineCpus() counts /sys/devices/system/cpu/online and falls back to Deno's count",
  permissions: "none",
  async fn() {
    assert.equal(await onlineCpus(() => Promise.resolve("0-5\n")), 6);
    assert.equal(await onlineCpus(() => Promise.resolve(undefined)), navigator.hardwareConcurrency);
  },
});

Deno.test({
  name: "applyNodePreparation() says to load nf_conntrack when its sysctls do not exist",
  permissions: "none",
  async fn() {
    const node = fakeNode({}, { "/proc/mounts": RW_SYS });
    const error = await applyNodePreparation(conntrackSteps(DEFAULT_CONNTRACK, 2), node.options)
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof NodePreparationError, String(error));
    assert.ok(error.problems.length >= 2);
    for (const problem of error.problems) assert.match(problem, /modprobe -- nf_conntrack/);
  },
});

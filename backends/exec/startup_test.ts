import assert from "node:assert/strict";
import { type ScriptedAnswer, scriptedRunner, ToolError } from "./command.ts";
import {
  NodePreparationError,
  type NodeSetupConfig,
  prepareNode,
  requiredSysctls,
  timeoutSeconds,
} from "./startup.ts";

const DEFAULTS: NodeSetupConfig = {
  strictARP: false,
  tcpTimeoutMs: 0,
  tcpFinTimeoutMs: 0,
  udpTimeoutMs: 0,
};

const IPVS_SYSCTLS = {
  "net/ipv4/vs/conntrack": "0\n",
  "net/ipv4/vs/expire_nodest_conn": "0\n",
  "net/ipv4/vs/expire_quiescent_template": "0\n",
};

/** A fake /proc/sys: reads give `undefined` and writes throw NotFound for absent keys. */
function fakeSysctls(initial: Record<string, string>) {
  const values = { ...initial };
  const writes: string[] = [];
  return {
    values,
    writes,
    readSysctl: (key: string) => Promise.resolve(values[key]),
    writeSysctl: (key: string, value: string) => {
      if (!Object.hasOwn(values, key)) {
        return Promise.reject(new Deno.errors.NotFound(`No such file or directory: ${key}`));
      }
      values[key] = `${value}\n`;
      writes.push(`${key}=${value}`);
      return Promise.resolve();
    },
  };
}

const LINK_EXISTS: ScriptedAnswer = {
  stdout:
    '[{"ifindex":5,"ifname":"kube-ipvs0","flags":["BROADCAST","NOARP"],"link_type":"ether"}]\n',
};
const LINK_MISSING: ScriptedAnswer = { code: 1, stderr: 'Device "kube-ipvs0" does not exist.\n' };

Deno.test({
  name: "requiredSysctls() adds the ARP settings only with strictARP",
  permissions: "none",
  fn() {
    assert.deepEqual(requiredSysctls(false), [
      ["net/ipv4/ip_forward", "1"],
      ["net/ipv4/vs/conntrack", "1"],
      ["net/ipv4/vs/expire_nodest_conn", "1"],
      ["net/ipv4/vs/expire_quiescent_template", "1"],
    ]);
    assert.deepEqual(requiredSysctls(true).slice(1, 3), [
      ["net/ipv4/conf/all/arp_ignore", "1"],
      ["net/ipv4/conf/all/arp_announce", "2"],
    ]);
  },
});

Deno.test({
  name: "timeoutSeconds() truncates milliseconds to whole seconds",
  permissions: "none",
  fn() {
    assert.deepEqual(
      timeoutSeconds({ ...DEFAULTS, tcpTimeoutMs: 900_000, tcpFinTimeoutMs: 120_500 }),
      [900, 120, 0],
    );
  },
});

Deno.test({
  name: "prepareNode() sets the sysctls that differ and creates kube-ipvs0 when missing",
  permissions: "none",
  async fn() {
    const sysctls = fakeSysctls({ "net/ipv4/ip_forward": "0\n", ...IPVS_SYSCTLS });
    const run = scriptedRunner({
      "ip -j link show kube-ipvs0": LINK_MISSING,
      "ip link add kube-ipvs0 type dummy": {},
    });
    const log = await prepareNode({ config: DEFAULTS, run, ...sysctls });
    assert.deepEqual(sysctls.writes, [
      "net/ipv4/ip_forward=1",
      "net/ipv4/vs/conntrack=1",
      "net/ipv4/vs/expire_nodest_conn=1",
      "net/ipv4/vs/expire_quiescent_template=1",
    ]);
    assert.deepEqual(log, [
      "Set sysctl net/ipv4/ip_forward=1 (was 0)",
      "Set sysctl net/ipv4/vs/conntrack=1 (was 0)",
      "Set sysctl net/ipv4/vs/expire_nodest_conn=1 (was 0)",
      "Set sysctl net/ipv4/vs/expire_quiescent_template=1 (was 0)",
      "Created the dummy link kube-ipvs0 (left down)",
    ]);
    assert.deepEqual(run.calls.map((argv) => argv.join(" ")), [
      "ip -j link show kube-ipvs0",
      "ip link add kube-ipvs0 type dummy",
    ]);
  },
});

Deno.test({
  name: "prepareNode() changes nothing on a node that is already prepared",
  permissions: "none",
  async fn() {
    const sysctls = fakeSysctls({
      "net/ipv4/ip_forward": "1\n",
      "net/ipv4/conf/all/arp_ignore": "1\n",
      "net/ipv4/conf/all/arp_announce": "2\n",
      "net/ipv4/vs/conntrack": "1\n",
      "net/ipv4/vs/expire_nodest_conn": "1\n",
      "net/ipv4/vs/expire_quiescent_template": "1\n",
    });
    const run = scriptedRunner({ "ip -j link show kube-ipvs0": LINK_EXISTS });
    const log = await prepareNode({ config: { ...DEFAULTS, strictARP: true }, run, ...sysctls });
    assert.deepEqual(log, []);
    assert.deepEqual(sysctls.writes, []);
    assert.equal(run.writes(), 0);
  },
});

Deno.test({
  name: "prepareNode() sets arp_ignore and arp_announce with strictARP",
  permissions: "none",
  async fn() {
    const sysctls = fakeSysctls({
      "net/ipv4/ip_forward": "1\n",
      "net/ipv4/conf/all/arp_ignore": "0\n",
      "net/ipv4/conf/all/arp_announce": "0\n",
      ...IPVS_SYSCTLS,
    });
    const run = scriptedRunner({ "ip -j link show kube-ipvs0": LINK_EXISTS });
    await prepareNode({ config: { ...DEFAULTS, strictARP: true }, run, ...sysctls });
    assert.deepEqual(sysctls.writes.slice(0, 2), [
      "net/ipv4/conf/all/arp_ignore=1",
      "net/ipv4/conf/all/arp_announce=2",
    ]);
  },
});

Deno.test({
  name: "prepareNode() writes every sysctl through an injected writer when no reader is given",
  permissions: "none",
  async fn() {
    const written: string[] = [];
    const writeSysctl = (key: string, value: string) => {
      written.push(`${key}=${value}`);
      return Promise.resolve();
    };
    const run = scriptedRunner({ "ip -j link show kube-ipvs0": LINK_EXISTS });
    const log = await prepareNode({ config: DEFAULTS, run, writeSysctl });
    assert.equal(written.length, 4);
    assert.equal(log[0], "Set sysctl net/ipv4/ip_forward=1");
  },
});

Deno.test({
  name: "prepareNode() applies ipvsadm --set only when a timeout is configured",
  permissions: "none",
  async fn() {
    const config = { ...DEFAULTS, tcpTimeoutMs: 900_000, udpTimeoutMs: 300_000 };
    const run = scriptedRunner({
      "ip -j link show kube-ipvs0": LINK_EXISTS,
      "ipvsadm --set 900 0 300": {},
    });
    const sysctls = fakeSysctls({ "net/ipv4/ip_forward": "1", ...IPVS_SYSCTLS });
    const log = await prepareNode({ config, run, ...sysctls });
    assert.equal(log.at(-1), "Set IPVS timeouts (tcp tcpfin udp): 900 0 300 seconds");
    assert.deepEqual(run.calls[0], ["ipvsadm", "--set", "900", "0", "300"]);

    const quiet = scriptedRunner({ "ip -j link show kube-ipvs0": LINK_EXISTS });
    await prepareNode({ config: DEFAULTS, run: quiet, ...fakeSysctls({ ...sysctls.values }) });
    assert.equal(quiet.calls.some((argv) => argv[0] === "ipvsadm"), false);
  },
});

Deno.test({
  name: "prepareNode() reports a kernel without IPVS after setting everything else",
  permissions: "none",
  async fn() {
    const sysctls = fakeSysctls({ "net/ipv4/ip_forward": "0\n" });
    const run = scriptedRunner({
      "ip -j link show kube-ipvs0": LINK_MISSING,
      "ip link add kube-ipvs0 type dummy": {},
    });
    const config = { ...DEFAULTS, tcpTimeoutMs: 900_000 };
    const error = await prepareNode({ config, run, ...sysctls }).then(
      () => assert.fail("expected a NodePreparationError"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof NodePreparationError);
    assert.equal(error.problems.length, 1);
    assert.equal(
      error.problems[0],
      "/proc/sys/net/ipv4/vs/conntrack does not exist: the kernel has no IPVS (the ip_vs module " +
        "is not loaded); fix: modprobe -- ip_vs",
    );
    assert.match(error.message, /^Cannot prepare this node for IPVS \(1 step failed\):\n {2}- /);
    assert.ok(error.cause instanceof Deno.errors.NotFound);
    assert.equal(sysctls.values["net/ipv4/ip_forward"], "1\n");
    assert.deepEqual(error.log, [
      "Set sysctl net/ipv4/ip_forward=1 (was 0)",
      "Created the dummy link kube-ipvs0 (left down)",
    ]);
    assert.deepEqual(sysctls.writes, ["net/ipv4/ip_forward=1"]);
    // Without IPVS, ipvsadm --set would only fail the same way.
    assert.equal(run.calls.some((argv) => argv[0] === "ipvsadm"), false);
  },
});

Deno.test({
  name: "prepareNode() reports a sysctl it may not write, with the command that sets it",
  permissions: "none",
  async fn() {
    const writeSysctl = (key: string) =>
      key === "net/ipv4/ip_forward"
        ? Promise.reject(new Deno.errors.PermissionDenied("Permission denied (os error 13)"))
        : Promise.resolve();
    const run = scriptedRunner({ "ip -j link show kube-ipvs0": LINK_EXISTS });
    const error = await prepareNode({ config: DEFAULTS, run, writeSysctl }).catch((e) => e);
    assert.ok(error instanceof NodePreparationError);
    assert.deepEqual(error.problems, [
      "cannot set sysctl net/ipv4/ip_forward=1: Permission denied (os error 13); fix: run as " +
      "root, or sysctl -w net.ipv4.ip_forward=1",
    ]);
  },
});

Deno.test({
  name: "prepareNode() reports a kernel without the dummy link type",
  permissions: "none",
  async fn() {
    const run = scriptedRunner({
      "ip -j link show kube-ipvs0": LINK_MISSING,
      "ip link add kube-ipvs0 type dummy": { code: 2, stderr: "Error: Unknown device type.\n" },
    });
    const sysctls = fakeSysctls({ "net/ipv4/ip_forward": "1", ...IPVS_SYSCTLS });
    const error = await prepareNode({ config: DEFAULTS, run, ...sysctls }).catch((e) => e);
    assert.ok(error instanceof NodePreparationError);
    assert.deepEqual(error.problems, [
      "cannot create the kube-ipvs0 link (the kernel has no dummy link type; fix: modprobe -- " +
      "dummy): 'ip link' failed with exit code 2: Error: Unknown device type.",
    ]);
    assert.ok(error.cause instanceof ToolError);
  },
});

Deno.test({
  name: "prepareNode() reports an ip failure other than a missing link without creating one",
  permissions: "none",
  async fn() {
    const run = scriptedRunner({
      "ip -j link show kube-ipvs0": { code: 127, stderr: "ip: command not found\n" },
    });
    const sysctls = fakeSysctls({ "net/ipv4/ip_forward": "1", ...IPVS_SYSCTLS });
    const error = await prepareNode({ config: DEFAULTS, run, ...sysctls }).catch((e) => e);
    assert.ok(error instanceof NodePreparationError);
    assert.deepEqual(error.problems, ["cannot look up the kube-ipvs0 link: ip: command not found"]);
    assert.equal(run.writes(), 0);
  },
});

Deno.test({
  name: "prepareNode() applies kube-proxy's conntrack settings when the config has them",
  permissions: "none",
  async fn() {
    const sysctls = fakeSysctls({
      "net/ipv4/ip_forward": "1\n",
      ...IPVS_SYSCTLS,
      "net/netfilter/nf_conntrack_max": "65536\n",
      "net/netfilter/nf_conntrack_tcp_timeout_established": "432000\n",
      "net/netfilter/nf_conntrack_tcp_timeout_close_wait": "3600\n",
    });
    const files: Record<string, string> = {
      "/sys/module/nf_conntrack/parameters/hashsize": "65536\n",
      "/sys/devices/system/cpu/online": "0-7\n",
    };
    const conntrack = {
      maxPerCore: 32768,
      min: 131072,
      tcpEstablishedTimeoutMs: 86_400_000,
      tcpCloseWaitTimeoutMs: 3_600_000,
      tcpBeLiberal: false,
      udpTimeoutMs: 0,
      udpStreamTimeoutMs: 0,
    };
    await prepareNode({
      config: { ...DEFAULTS, conntrack },
      run: scriptedRunner({ "ip -j link show kube-ipvs0": LINK_EXISTS }),
      ...sysctls,
      readFile: (path) => Promise.resolve(files[path]),
      writeFile: () => Promise.reject(new Error("the hash size is large enough")),
    });
    // 8 online CPUs x 32768 = 262144; the close-wait timeout already holds its value.
    assert.deepEqual(sysctls.writes.filter((w) => w.startsWith("net/netfilter/")), [
      "net/netfilter/nf_conntrack_max=262144",
      "net/netfilter/nf_conntrack_tcp_timeout_established=86400",
    ]);
  },
});

import assert from "node:assert/strict";
import {
  computeIptablesNodePreparation,
  computeNodePreparation,
  DEFAULT_CONNTRACK,
  modulesOf,
  type NodePreparationConfig,
} from "./node_preparation.ts";
import { conntrackMax, conntrackSteps, parseCpuList } from "./conntrack.ts";

const IPVS: NodePreparationConfig = {
  scheduler: "",
  strictARP: false,
  tcpTimeoutMs: 0,
  tcpFinTimeoutMs: 0,
  udpTimeoutMs: 0,
};

Deno.test({
  name:
    "computeNodePreparation() lists modprobe, sysctl, conntrack, ipvsadm --set and ip link in order",
  permissions: "none",
  fn() {
    const steps = computeNodePreparation(
      { ...IPVS, scheduler: "wlc", tcpTimeoutMs: 900_000, conntrack: DEFAULT_CONNTRACK },
      { cpus: 2, kernelRelease: "6.1.0-18-amd64" },
    );
    const kinds = [...new Set(steps.map((s) => s.kind))];
    assert.deepEqual(kinds, [
      "modprobe",
      "sysctl",
      "conntrack-max",
      "conntrack-hashsize",
      "conntrack-sysctl",
      "ipvs-timeouts",
      "dummy-link",
    ]);
    assert.deepEqual(modulesOf(steps), [
      "ip_vs",
      "ip_vs_rr",
      "ip_vs_wrr",
      "ip_vs_sh",
      "nf_conntrack",
      "ip_vs_wlc",
    ]);
    assert.deepEqual(steps.find((s) => s.kind === "ipvs-timeouts"), {
      kind: "ipvs-timeouts",
      seconds: [900, 0, 0],
    });
  },
});

Deno.test({
  name:
    "computeNodePreparation() loads nf_conntrack_ipv4 before Linux 4.19 and has no ipvsadm --set without timeouts",
  permissions: "none",
  fn() {
    const steps = computeNodePreparation(IPVS, { cpus: 1, kernelRelease: "4.15.0-20-generic" });
    assert.ok(modulesOf(steps).includes("nf_conntrack_ipv4"));
    assert.ok(!steps.some((s) => s.kind === "ipvs-timeouts"));
    assert.ok(!steps.some((s) => s.kind.startsWith("conntrack")));
    assert.deepEqual(steps.at(-1), { kind: "dummy-link", name: "kube-ipvs0" });
  },
});

Deno.test({
  name: "conntrackMax() scales by CPUs, keeps the minimum and caps at 1048576 as kube-proxy does",
  permissions: "none",
  fn() {
    assert.equal(conntrackMax(DEFAULT_CONNTRACK, 2)?.value, 131072);
    assert.equal(conntrackMax(DEFAULT_CONNTRACK, 8)?.value, 262144);
    assert.equal(conntrackMax(DEFAULT_CONNTRACK, 64)?.value, 1048576);
    assert.equal(conntrackMax({ maxPerCore: 0, min: 131072 }, 8), undefined);
    assert.match(
      conntrackMax(DEFAULT_CONNTRACK, 2)!.reason,
      /32768 per core x 2 CPUs = 65536, below min 131072/,
    );
  },
});

Deno.test({
  name:
    "conntrackSteps() writes kube-proxy's defaults and leaves zero timeouts and be_liberal false alone",
  permissions: "none",
  fn() {
    assert.deepEqual(
      conntrackSteps(DEFAULT_CONNTRACK, 8).map((s) => [s.kind, "value" in s ? s.value : ""]),
      [
        ["conntrack-max", 262144],
        ["conntrack-hashsize", 65536],
        ["conntrack-sysctl", "86400"],
        ["conntrack-sysctl", "3600"],
      ],
    );
    const all = conntrackSteps(
      {
        ...DEFAULT_CONNTRACK,
        maxPerCore: 0,
        tcpBeLiberal: true,
        udpTimeoutMs: 30_000,
        udpStreamTimeoutMs: 120_500,
      },
      8,
    );
    assert.deepEqual(
      all.map((s) => s.kind === "conntrack-sysctl" ? `${s.key}=${s.value}` : s.kind),
      [
        "net/netfilter/nf_conntrack_tcp_timeout_established=86400",
        "net/netfilter/nf_conntrack_tcp_timeout_close_wait=3600",
        "net/netfilter/nf_conntrack_tcp_be_liberal=1",
        "net/netfilter/nf_conntrack_udp_timeout=30",
        "net/netfilter/nf_conntrack_udp_timeout_stream=120",
      ],
    );
  },
});

Deno.test({
  name: "parseCpuList() counts the CPUs of a kernel CPU list",
  permissions: "none",
  fn() {
    assert.equal(parseCpuList("0-1\n"), 2);
    assert.equal(parseCpuList("0-3,8,10-11"), 7);
    assert.equal(parseCpuList(""), undefined);
    assert.equal(parseCpuList("3-1"), undefined);
  },
});

Deno.test({
  name:
    "computeIptablesNodePreparation() keeps only the conntrack settings: no IPVS module, sysctl or link",
  permissions: "none",
  fn() {
    const config = {
      ...IPVS,
      tcpTimeoutMs: 900_000,
      strictARP: true,
      conntrack: DEFAULT_CONNTRACK,
    };
    const steps = computeIptablesNodePreparation(config, { cpus: 2 });
    const ipvsSteps = computeNodePreparation(config, { cpus: 2 });
    assert.ok(steps.length > 0);
    assert.ok(steps.every((s) => s.kind.startsWith("conntrack")));
    assert.deepEqual(steps, ipvsSteps.filter((s) => s.kind.startsWith("conntrack")));
    assert.deepEqual(computeIptablesNodePreparation(IPVS, { cpus: 2 }), []);
  },
});

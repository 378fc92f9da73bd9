import { assertEquals, assertThrows, YAML_PERMISSIONS } from "./test_helpers.ts";
import { ConfigError, type ProxyFlagOverrides, resolveConfig } from "./load.ts";

const HEADER = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
`;

/** What a failing case must produce. */
interface Expected {
  readonly file?: string;
  readonly field: string;
  readonly value: string;
  /** Text the message must contain besides file, field and value. */
  readonly says?: readonly string[];
}

/**
 * Asserts that resolving fails with a ConfigError whose fields and message name the file
 * (or command line / environment), the field and the value.
 */
function assertRejects(
  text: string | undefined,
  flags: ProxyFlagOverrides,
  env: Record<string, string>,
  expected: Expected,
): ConfigError {
  const file = text === undefined ? "" : "x.yaml";
  const error = assertThrows(
    () => resolveConfig({ file, text, flags, env }),
    ConfigError,
    expected.field,
    expected.value,
    ...(expected.says ?? []),
  );
  const expectedFile = expected.file ?? (expected.field.startsWith("--") ? "" : file);
  assertEquals(
    { file: error.file, field: error.field, value: error.value },
    { file: expectedFile, field: expected.field, value: expected.value },
  );
  if (expectedFile !== "") assertEquals(error.message.startsWith(`${expectedFile}`), true);
  if (expected.field.startsWith("--")) {
    assertEquals(error.message.startsWith("command line: "), true, error.message);
  }
  return error;
}

/** A file that is a KubeProxyConfiguration in IPVS mode plus `body`. */
function ipvsFile(body: string): string {
  return `${HEADER}mode: ipvs\n${body}`;
}

function test(name: string, fn: () => void): void {
  Deno.test({ name, permissions: YAML_PERMISSIONS, fn });
}

test("resolveConfig() reports a YAML syntax error with file, line and column", () => {
  const error = assertRejects(`${HEADER}mode: ipvs\nipvs:\n  syncPeriod: [30s\n`, {}, {}, {
    field: "",
    value: "",
    says: ["x.yaml:6:1: invalid YAML"],
  });
  assertEquals([error.line, error.column], [6, 1]);
  assertEquals(error.cause !== undefined, true);
});

test("resolveConfig() reports a tab-indented line with its position", () => {
  assertRejects(`${HEADER}ipvs:\n\tscheduler: rr\n`, {}, {}, {
    field: "",
    value: "",
    says: ["x.yaml:4:1: invalid YAML", "Tabs"],
  });
});

test("resolveConfig() rejects mode nftables from the file, naming the modes it runs", () => {
  assertRejects(`${HEADER}mode: nftables\n`, {}, {}, {
    field: "mode",
    value: "nftables",
    says: ["x.yaml:3:7: unsupported 'mode' \"nftables\"", "in the file", '"ipvs" and "iptables"'],
  });
});

test("resolveConfig() rejects an unknown mode from --proxy-mode", () => {
  assertRejects(undefined, { proxyMode: "userspace" }, {}, {
    field: "--proxy-mode",
    value: "userspace",
    says: ["'mode'", "pass --proxy-mode=ipvs"],
  });
});

test("resolveConfig() rejects an unknown mode from KUBE_PROXY_MODE", () => {
  assertRejects(undefined, {}, { KUBE_PROXY_MODE: "kernelspace" }, {
    field: "KUBE_PROXY_MODE",
    value: "kernelspace",
    says: ["environment: unsupported 'mode'", "export KUBE_PROXY_MODE=ipvs"],
  });
});

test("resolveConfig() rejects an unknown mode in a 2018 MasterConfiguration", () => {
  const text = `apiVersion: kubeadm.k8s.io/v1alpha1
kind: MasterConfiguration
kubeProxy:
  config:
    mode: nftables
`;
  assertRejects(text, {}, {}, { field: "kubeProxy.config.mode", value: "nftables" });
});

test("resolveConfig() rejects a bad duration in the file with its position", () => {
  assertRejects(ipvsFile("ipvs:\n  syncPeriod: soon\n"), {}, {}, {
    field: "ipvs.syncPeriod",
    value: "soon",
    says: [`x.yaml:5:15: cannot parse 'ipvs.syncPeriod': expected a duration like "30s"`],
  });
});

test("resolveConfig() rejects a bad duration given by a flag, naming the flag", () => {
  assertRejects(undefined, { proxyMode: "ipvs", ipvsSyncPeriod: "soon" }, {}, {
    field: "--ipvs-sync-period",
    value: "soon",
  });
  assertRejects(undefined, { proxyMode: "ipvs", ipvsUdpTimeout: "30" }, {}, {
    field: "--ipvs-udp-timeout",
    value: "30",
    says: [`like "30s"`],
  });
});

test("resolveConfig() rejects a duration written as a number", () => {
  assertRejects(ipvsFile("ipvs:\n  tcpTimeout: 30\n"), {}, {}, {
    field: "ipvs.tcpTimeout",
    value: "30",
    says: [`e.g. "30s"`],
  });
});

test("resolveConfig() requires a flag's syncPeriod > 0 and minSyncPeriod >= 0", () => {
  // In the file, "0s" is kube-proxy's "unset" (kubeadm writes it): the default applies.
  assertRejects(undefined, { proxyMode: "ipvs", ipvsSyncPeriod: "0s" }, {}, {
    field: "--ipvs-sync-period",
    value: "0s",
    says: ["greater than 0"],
  });
  assertRejects(ipvsFile("ipvs:\n  minSyncPeriod: -1s\n"), {}, {}, {
    field: "ipvs.minSyncPeriod",
    value: "-1s",
    says: ["negative"],
  });
  assertRejects(ipvsFile("iptables:\n  syncPeriod: 0\n"), {}, {}, {
    field: "iptables.syncPeriod",
    value: "0",
  });
});

test("resolveConfig() rejects a minSyncPeriod longer than the syncPeriod", () => {
  assertRejects(ipvsFile("ipvs:\n  syncPeriod: 10s\n  minSyncPeriod: 1m\n"), {}, {}, {
    field: "ipvs.minSyncPeriod",
    value: "1m",
    says: ["ipvs.syncPeriod (10s)"],
  });
});

test("resolveConfig() rejects bad CIDRs in clusterCIDR, excludeCIDRs and nodePortAddresses", () => {
  assertRejects(ipvsFile("clusterCIDR: 10.244.0.0/33\n"), {}, {}, {
    field: "clusterCIDR",
    value: "10.244.0.0/33",
    says: ["x.yaml:4:14", "expected CIDRs like"],
  });
  assertRejects(ipvsFile("ipvs:\n  excludeCIDRs: [192.0.2.0/24, nowhere]\n"), {}, {}, {
    field: "ipvs.excludeCIDRs",
    value: "nowhere",
    says: ['got "nowhere"'],
  });
  assertRejects(ipvsFile("nodePortAddresses: [10.0.0.1]\n"), {}, {}, {
    field: "nodePortAddresses",
    value: "10.0.0.1",
  });
  assertRejects(undefined, { proxyMode: "ipvs", clusterCidr: "10.244.0.0" }, {}, {
    field: "--cluster-cidr",
    value: "10.244.0.0",
  });
  assertRejects(undefined, { proxyMode: "ipvs", ipvsExcludeCidrs: "10.0.0.0/8,300.0.0.0/8" }, {}, {
    field: "--ipvs-exclude-cidrs",
    value: "300.0.0.0/8",
  });
});

test("resolveConfig() rejects a bad podSubnet, naming the ClusterConfiguration field", () => {
  const text = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
networking:
  podSubnet: 10.244.0.0/99
---
${HEADER}mode: ipvs
`;
  assertRejects(text, {}, {}, {
    field: "networking.podSubnet",
    value: "10.244.0.0/99",
    says: ["x.yaml:4:14"],
  });
});

test("resolveConfig() allows one clusterCIDR per IP family only", () => {
  assertRejects(ipvsFile("clusterCIDR: 10.244.0.0/16,10.245.0.0/16\n"), {}, {}, {
    field: "clusterCIDR",
    value: "10.244.0.0/16,10.245.0.0/16",
    says: ["at most one IPv4 and one IPv6"],
  });
});

test("resolveConfig() rejects 'primary' mixed with CIDRs in nodePortAddresses", () => {
  assertRejects(undefined, { proxyMode: "ipvs", nodeportAddresses: "primary,10.0.0.0/8" }, {}, {
    field: "--nodeport-addresses",
    value: "primary,10.0.0.0/8",
  });
});

test("resolveConfig() rejects an unknown scheduler and lists the known ones", () => {
  assertRejects(ipvsFile("ipvs:\n  scheduler: fastest\n"), {}, {}, {
    field: "ipvs.scheduler",
    value: "fastest",
    says: ["rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos"],
  });
  assertRejects(undefined, { proxyMode: "ipvs", ipvsScheduler: "RR" }, {}, {
    field: "--ipvs-scheduler",
    value: "RR",
  });
});

test("resolveConfig() rejects masqueradeBit 32, -1, 1.5 and a quoted number", () => {
  for (const [bit, value] of [["32", "32"], ["-1", "-1"], ["1.5", "1.5"], ['"14"', "14"]]) {
    assertRejects(ipvsFile(`iptables:\n  masqueradeBit: ${bit}\n`), {}, {}, {
      field: "iptables.masqueradeBit",
      value,
      says: ["an integer from 0 to 31"],
    });
  }
  assertRejects(undefined, { proxyMode: "ipvs", iptablesMasqueradeBit: "32" }, {}, {
    field: "--iptables-masquerade-bit",
    value: "32",
  });
  assertRejects(undefined, { proxyMode: "ipvs", iptablesMasqueradeBit: "-1" }, {}, {
    field: "--iptables-masquerade-bit",
    value: "-1",
  });
});

test("resolveConfig() rejects values of the wrong type", () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['iptables:\n  masqueradeAll: "yes"\n', "iptables.masqueradeAll", "yes"],
    ["ipvs:\n  strictARP: 1\n", "ipvs.strictARP", "1"],
    ["ipvs:\n  scheduler: 5\n", "ipvs.scheduler", "5"],
    ["ipvs:\n  excludeCIDRs: 10.0.0.0/8\n", "ipvs.excludeCIDRs", "10.0.0.0/8"],
    ["ipvs: fast\n", "ipvs", "fast"],
    ["hostnameOverride: 12\n", "hostnameOverride", "12"],
    ["clusterCIDR: [10.244.0.0/16]\n", "clusterCIDR", '["10.244.0.0/16"]'],
    ["clientConnection:\n  kubeconfig: true\n", "clientConnection.kubeconfig", "true"],
    ["healthzBindAddress: somewhere:80\n", "healthzBindAddress", "somewhere:80"],
    ["metricsBindAddress: 127.0.0.1:99999\n", "metricsBindAddress", "127.0.0.1:99999"],
    ["detectLocalMode: Magic\n", "detectLocalMode", "Magic"],
  ];
  for (const [body, field, value] of cases) {
    assertRejects(ipvsFile(body), {}, {}, { field, value });
  }
});

test("resolveConfig() rejects SupportIPVSProxyMode: false, since IPVS mode needs it", () => {
  assertRejects(ipvsFile("featureGates:\n  SupportIPVSProxyMode: false\n"), {}, {}, {
    field: "featureGates.SupportIPVSProxyMode",
    value: "false",
    says: ["x.yaml:5:25", "IPVS mode needs"],
  });
  assertRejects(undefined, { proxyMode: "ipvs", featureGates: "SupportIPVSProxyMode=false" }, {}, {
    field: "--feature-gates",
    value: "SupportIPVSProxyMode=false",
  });
});

test("resolveConfig() rejects bad featureGates values", () => {
  assertRejects(ipvsFile("featureGates:\n  SupportIPVSProxyMode: maybe\n"), {}, {}, {
    field: "featureGates.SupportIPVSProxyMode",
    value: "maybe",
  });
  assertRejects(ipvsFile("featureGates: [SupportIPVSProxyMode]\n"), {}, {}, {
    field: "featureGates",
    value: '["SupportIPVSProxyMode"]',
  });
  assertRejects(ipvsFile("featureGates: SupportIPVSProxyMode=maybe\n"), {}, {}, {
    field: "featureGates",
    value: "SupportIPVSProxyMode=maybe",
  });
  assertRejects(undefined, { proxyMode: "ipvs", featureGates: "SupportIPVSProxyMode" }, {}, {
    field: "--feature-gates",
    value: "SupportIPVSProxyMode",
  });
});

test("resolveConfig() rejects a file that holds no kube-proxy configuration", () => {
  const kubelet = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
  assertRejects(kubelet, {}, {}, { field: "kind", value: "", says: ["KubeProxyConfiguration"] });
  assertRejects("", {}, {}, { field: "kind", value: "" });
  assertRejects("# nothing here\n", {}, {}, { field: "kind", value: "" });
});

test("resolveConfig() rejects documents without kind, or of a known kind at an unknown version", () => {
  assertRejects("mode: ipvs\n", {}, {}, { field: "kind", value: "", says: ["has no kind"] });
  assertRejects(
    "apiVersion: kubeproxy.config.k8s.io/v1beta9\nkind: KubeProxyConfiguration\n",
    {},
    {},
    {
      field: "apiVersion",
      value: "kubeproxy.config.k8s.io/v1beta9",
      says: ["use kubeproxy.config.k8s.io/v1alpha1"],
    },
  );
  assertRejects("- a\n- b\n", {}, {}, { field: "", value: '["a","b"]', says: ["mapping"] });
});

test("resolveConfig() rejects two kube-proxy configurations in one file", () => {
  assertRejects(`${ipvsFile("")}---\n${ipvsFile("")}`, {}, {}, {
    field: "kind",
    value: "KubeProxyConfiguration",
    says: ["a second kube-proxy configuration"],
  });
});

test("resolveConfig() turns an unresolved YAML alias into a ConfigError", () => {
  assertRejects(ipvsFile("clusterCIDR: *nowhere\n"), {}, {}, {
    field: "",
    value: "",
    says: ["x.yaml: invalid YAML"],
  });
});

test("resolveConfig() rejects a bridge interface name that could add an iptables argument", () => {
  assertRejects(
    `${HEADER}mode: ipvs\ndetectLocalMode: BridgeInterface\ndetectLocal:\n  bridgeInterface: "cbr0 -j ACCEPT"\n`,
    {},
    {},
    { field: "detectLocal.bridgeInterface", value: "cbr0 -j ACCEPT", says: ["interface name"] },
  );
});

import { assertEquals, YAML_PERMISSIONS } from "./test_helpers.ts";
import { type ProxyFlagOverrides, resolveConfig } from "./load.ts";

/** Resolves `text` as file "x.yaml". */
function resolve(
  text: string | undefined,
  flags: ProxyFlagOverrides = {},
  env: Record<string, string> = {},
) {
  return resolveConfig({ file: text === undefined ? "" : "x.yaml", text, flags, env });
}

const PROXY_HEADER = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
`;

function test(name: string, fn: () => void): void {
  Deno.test({ name, permissions: YAML_PERMISSIONS, fn });
}

test("resolveConfig() fills every default for a file that only sets mode", () => {
  const { config, warnings } = resolve(`${PROXY_HEADER}mode: ipvs\n`);
  assertEquals(warnings, []);
  assertEquals(config, {
    mode: "ipvs",
    clusterCIDRs: [],
    detectLocalMode: "ClusterCIDR",
    nodePortAddresses: [],
    hostnameOverride: "",
    healthzBindAddress: "0.0.0.0:10256",
    metricsBindAddress: "127.0.0.1:10249",
    clientConnection: {
      kubeconfig: "",
      qps: 5,
      burst: 10,
      contentType: "application/vnd.kubernetes.protobuf",
      acceptContentTypes: "",
    },
    bindAddress: "0.0.0.0",
    bindAddressHardFail: false,
    enableProfiling: false,
    showHiddenMetricsForVersion: "",
    oomScoreAdj: -999,
    portRange: "",
    configSyncPeriodMs: 900_000,
    conntrack: {
      maxPerCore: 32768,
      min: 131072,
      tcpEstablishedTimeout: 86_400_000,
      tcpCloseWaitTimeout: 3_600_000,
      tcpBeLiberal: false,
      udpTimeout: 0,
      udpStreamTimeout: 0,
    },
    detectLocal: { bridgeInterface: "", interfaceNamePrefix: "" },
    logging: {
      format: "text",
      verbosity: 0,
      vmodule: [],
      flushFrequencyMs: 5_000,
      splitStream: false,
    },
    featureGates: {},
    ipvs: {
      scheduler: "rr",
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 0,
      excludeCIDRs: [],
      strictARP: false,
      tcpTimeoutMs: 0,
      tcpFinTimeoutMs: 0,
      udpTimeoutMs: 0,
    },
    iptables: {
      masqueradeAll: false,
      masqueradeBit: 14,
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 1_000,
      localhostNodePorts: true,
    },
    source: "x.yaml",
  });
});

test("resolveConfig() reads every IPVS-mode field of a KubeProxyConfiguration", () => {
  const { config, warnings } = resolve(`${PROXY_HEADER}mode: ipvs
clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
detectLocalMode: NodeCIDR
nodePortAddresses: [192.168.0.0/24, "FD00:0:0:0::/64"]
hostnameOverride: "  Node-A "
healthzBindAddress: 0.0.0.0
metricsBindAddress: "[::1]:9999"
clientConnection:
  kubeconfig: /etc/kube-proxy.conf
  qps: 5
featureGates:
  SupportIPVSProxyMode: true
ipvs:
  scheduler: wlc
  syncPeriod: 1m30s
  minSyncPeriod: 500ms
  excludeCIDRs: [10.1.2.3/8]
  strictARP: true
  tcpTimeout: 15m
  tcpFinTimeout: 2m
  udpTimeout: 300s
iptables:
  masqueradeAll: true
  masqueradeBit: 13
  syncPeriod: 1m
  minSyncPeriod: 2s
conntrack:
  maxPerCore: 32768
`);
  // NodeCIDR is implemented (from the Node's podCIDRs): no warning.
  assertEquals(warnings, []);
  assertEquals(config.conntrack.maxPerCore, 32768);
  assertEquals(config.clusterCIDRs, ["10.244.0.0/16", "fd00:10:244::/56"]);
  assertEquals(config.detectLocalMode, "NodeCIDR");
  assertEquals(config.nodePortAddresses, ["192.168.0.0/24", "fd00::/64"]);
  assertEquals(config.hostnameOverride, "node-a");
  assertEquals(config.healthzBindAddress, "0.0.0.0:10256");
  assertEquals(config.metricsBindAddress, "[::1]:9999");
  assertEquals(config.clientConnection.kubeconfig, "/etc/kube-proxy.conf");
  assertEquals(config.featureGates, { SupportIPVSProxyMode: true });
  assertEquals(config.ipvs, {
    scheduler: "wlc",
    syncPeriodMs: 90_000,
    minSyncPeriodMs: 500,
    excludeCIDRs: ["10.0.0.0/8"],
    strictARP: true,
    tcpTimeoutMs: 900_000,
    tcpFinTimeoutMs: 120_000,
    udpTimeoutMs: 300_000,
  });
  assertEquals(config.iptables, {
    masqueradeAll: true,
    masqueradeBit: 13,
    syncPeriodMs: 60_000,
    minSyncPeriodMs: 2_000,
    localhostNodePorts: true,
  });
});

test("resolveConfig() freezes the configuration deeply", () => {
  const { config } = resolve(`${PROXY_HEADER}mode: ipvs\nipvs: {excludeCIDRs: [10.0.0.0/8]}\n`);
  assertEquals(Object.isFrozen(config), true);
  assertEquals(Object.isFrozen(config.ipvs), true);
  assertEquals(Object.isFrozen(config.ipvs.excludeCIDRs), true);
  assertEquals(Object.isFrozen(config.featureGates), true);
});

test("resolveConfig() reads an empty scheduler as rr and null fields as defaults", () => {
  const { config } = resolve(`${PROXY_HEADER}mode: ipvs
clusterCIDR:
ipvs:
  scheduler: ""
  syncPeriod: null
iptables:
`);
  assertEquals(config.ipvs.scheduler, "rr");
  assertEquals(config.ipvs.syncPeriodMs, 30_000);
  assertEquals(config.clusterCIDRs, []);
});

test("resolveConfig() takes clusterCIDR from the kubeadm podSubnet when it is empty", () => {
  const text = `apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
networking:
  podSubnet: 10.244.0.0/16,fd00:10:244::/56
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
---
${PROXY_HEADER}mode: ipvs
clusterCIDR: ""
---
`;
  const { config, warnings } = resolve(text);
  assertEquals(warnings, []);
  assertEquals(config.clusterCIDRs, ["10.244.0.0/16", "fd00:10:244::/56"]);
});

test("resolveConfig() prefers the proxy document's clusterCIDR over the podSubnet", () => {
  const text = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
networking: {podSubnet: 10.244.0.0/16}
---
${PROXY_HEADER}mode: ipvs
clusterCIDR: 10.244.16.0/24
`;
  assertEquals(resolve(text).config.clusterCIDRs, ["10.244.16.0/24"]);
});

test("resolveConfig() accepts a ClusterConfiguration alone with a warning", () => {
  const text = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
networking: {podSubnet: 10.244.0.0/16}
`;
  const { config, warnings } = resolve(text, {}, { KUBE_PROXY_MODE: "ipvs" });
  assertEquals(config.clusterCIDRs, ["10.244.0.0/16"]);
  assertEquals(warnings.length, 1);
  assertEquals(warnings[0].includes("no KubeProxyConfiguration"), true);
});

test("resolveConfig() reads the 2018 MasterConfiguration with a feature gate map", () => {
  const text = `apiVersion: kubeadm.k8s.io/v1alpha1
kind: MasterConfiguration
networking:
  podSubnet: 10.244.0.0/16
kubeProxy:
  config:
    featureGates:
      SupportIPVSProxyMode: true
    mode: ipvs
`;
  const { config, warnings } = resolve(text);
  assertEquals(warnings, []);
  assertEquals(config.mode, "ipvs");
  assertEquals(config.featureGates, { SupportIPVSProxyMode: true });
  assertEquals(config.clusterCIDRs, ["10.244.0.0/16"]);
});

test("resolveConfig() reads the 2018 MasterConfiguration with a feature gate string", () => {
  const text = `apiVersion: kubeadm.k8s.io/v1alpha2
kind: MasterConfiguration
kubeProxy:
  config:
    featureGates: SupportIPVSProxyMode=true,OtherGate=false
    mode: ipvs
    clusterCIDR: 10.244.16.0/24
`;
  const { config } = resolve(text);
  assertEquals(config.featureGates, { SupportIPVSProxyMode: true, OtherGate: false });
  assertEquals(config.clusterCIDRs, ["10.244.16.0/24"]);
});

const ALL_FLAGS: ProxyFlagOverrides = {
  ipvsScheduler: "lc",
  ipvsSyncPeriod: "10s",
  ipvsMinSyncPeriod: "2s",
  ipvsStrictArp: false,
  ipvsExcludeCidrs: "198.51.100.0/24, 203.0.113.0/24",
  ipvsTcpTimeout: "1h",
  ipvsTcpfinTimeout: "1m",
  ipvsUdpTimeout: "5s",
  masqueradeAll: false,
  iptablesMasqueradeBit: "15",
  clusterCidr: "10.96.0.0/12",
  nodeportAddresses: "primary",
  hostnameOverride: "Node-B",
  healthzBindAddress: "127.0.0.1:10256",
  metricsBindAddress: "0.0.0.0:10249",
  kubeconfig: "/root/.kube/config",
  featureGates: "A=false",
};

const FILE_FOR_FLAGS = `${PROXY_HEADER}mode: ipvs
clusterCIDR: 10.244.0.0/16
hostnameOverride: from-file
clientConnection: {kubeconfig: /var/lib/kube-proxy/kubeconfig.conf}
ipvs: {scheduler: rr, syncPeriod: 30s, strictARP: true, excludeCIDRs: [192.0.2.0/24]}
iptables: {masqueradeAll: true, masqueradeBit: 14}
featureGates: {SupportIPVSProxyMode: true, A: true}
`;

test("resolveConfig() lets the flags set every field when there is no config file", () => {
  const { config, warnings } = resolve(undefined, { proxyMode: "ipvs", ...ALL_FLAGS });
  assertEquals(warnings, []);
  assertEquals(config.ipvs, {
    scheduler: "lc",
    syncPeriodMs: 10_000,
    minSyncPeriodMs: 2_000,
    excludeCIDRs: ["198.51.100.0/24", "203.0.113.0/24"],
    strictARP: false,
    tcpTimeoutMs: 3_600_000,
    tcpFinTimeoutMs: 60_000,
    udpTimeoutMs: 5_000,
  });
  assertEquals(config.iptables.masqueradeAll, false);
  assertEquals(config.iptables.masqueradeBit, 15);
  assertEquals(config.clusterCIDRs, ["10.96.0.0/12"]);
  assertEquals(config.nodePortAddresses, ["primary"]);
  assertEquals(config.hostnameOverride, "node-b");
  assertEquals(config.healthzBindAddress, "127.0.0.1:10256");
  assertEquals(config.metricsBindAddress, "0.0.0.0:10249");
  assertEquals(config.clientConnection.kubeconfig, "/root/.kube/config");
  assertEquals(config.featureGates, { A: false });
});

test("resolveConfig() ignores the configuration flags when a config file is given, one warning each", () => {
  const { config, warnings } = resolve(FILE_FOR_FLAGS, { proxyMode: "iptables", ...ALL_FLAGS });
  assertEquals(config.ipvs.scheduler, "rr");
  assertEquals(config.ipvs.strictARP, true);
  assertEquals(config.ipvs.excludeCIDRs, ["192.0.2.0/24"]);
  assertEquals(config.iptables.masqueradeAll, true);
  assertEquals(config.clusterCIDRs, ["10.244.0.0/16"]);
  assertEquals(config.featureGates, { SupportIPVSProxyMode: true, A: true });
  assertEquals(config.mode, "ipvs");
  // 18 flags given, 16 ignored: all but --hostname-override and --kubeconfig.
  assertEquals(warnings.length, 16);
  assertEquals(
    warnings[0],
    "command line: --proxy-mode is ignored because --config is given, as kube-proxy ignores " +
      "it; set 'mode' in x.yaml instead",
  );
  assertEquals(warnings.some((w) => w.includes("--ipvs-scheduler is ignored")), true);
  assertEquals(warnings.some((w) => w.includes("'ipvs.excludeCIDRs' in x.yaml")), true);
});

test("resolveConfig() applies --hostname-override and --kubeconfig over the file's", () => {
  const { config } = resolve(FILE_FOR_FLAGS, ALL_FLAGS);
  assertEquals(config.hostnameOverride, "node-b");
  assertEquals(config.clientConnection.kubeconfig, "/root/.kube/config");
  assertEquals(resolve(FILE_FOR_FLAGS).config.hostnameOverride, "from-file");
  assertEquals(
    resolve(FILE_FOR_FLAGS).config.clientConnection.kubeconfig,
    "/var/lib/kube-proxy/kubeconfig.conf",
  );
});

test("resolveConfig() lets the logging flags win over the file's logging section", () => {
  const text = `${PROXY_HEADER}mode: ipvs
logging: {format: json, verbosity: 1, vmodule: [{filePattern: main, verbosity: 3}]}
`;
  const { config, warnings } = resolve(text, { v: "4", vmodule: "sync_*=5" });
  assertEquals(warnings, []);
  assertEquals(config.logging.format, "json");
  assertEquals(config.logging.verbosity, 4);
  assertEquals(config.logging.vmodule, [
    { filePattern: "sync_*", verbosity: 5 },
    { filePattern: "main", verbosity: 3 },
  ]);
  assertEquals(resolve(text, { loggingFormat: "text" }).config.logging.format, "text");
});

test("resolveConfig() works from flags alone, with source set to empty", () => {
  const { config, warnings } = resolve(undefined, {
    proxyMode: "ipvs",
    featureGates: "SupportIPVSProxyMode=true",
  });
  assertEquals(warnings, []);
  assertEquals(config.source, "");
  assertEquals(config.featureGates, { SupportIPVSProxyMode: true });
});

test("resolveConfig() uses KUBE_PROXY_MODE when neither flags nor file set mode", () => {
  const { config } = resolve(`${PROXY_HEADER}mode: ""\n`, {}, { KUBE_PROXY_MODE: "ipvs" });
  assertEquals(config.mode, "ipvs");
  assertEquals(resolve(undefined, {}, { KUBE_PROXY_MODE: "ipvs" }).config.mode, "ipvs");
});

test("resolveConfig() ignores KUBE_PROXY_MODE when the file or a flag sets mode", () => {
  const fromFile = resolve(`${PROXY_HEADER}mode: ipvs\n`, {}, { KUBE_PROXY_MODE: "iptables" });
  assertEquals(fromFile.config.mode, "ipvs");
  const fromFlag = resolve(undefined, { proxyMode: "ipvs" }, { KUBE_PROXY_MODE: "iptables" });
  assertEquals(fromFlag.config.mode, "ipvs");
});

test("resolveConfig() takes the mode from the file, not --proxy-mode, when both are given", () => {
  const { config, warnings } = resolve(`${PROXY_HEADER}mode: ipvs\n`, { proxyMode: "iptables" });
  assertEquals(config.mode, "ipvs");
  assertEquals(warnings.length, 1);
});

test("resolveConfig() warns about unknown fields with their path and position", () => {
  const { warnings } = resolve(`${PROXY_HEADER}mode: ipvs
ipvs:
  sheduler: wrr
colour: blue
`);
  assertEquals(warnings, [
    "x.yaml:5:3: unknown field 'ipvs.sheduler' is ignored; check its spelling against " +
    "KubeProxyConfiguration v1alpha1",
    "x.yaml:6:1: unknown field 'colour' is ignored; check its spelling against " +
    "KubeProxyConfiguration v1alpha1",
  ]);
});

test("resolveConfig() warns about documents of an unknown kind and ignores them", () => {
  const { warnings } = resolve(`${PROXY_HEADER}mode: ipvs
---
apiVersion: v1
kind: ConfigMap
`);
  assertEquals(warnings, ['x.yaml:6:7: document 2 of kind "ConfigMap" is ignored']);
});

test("resolveConfig() canonicalises CIDRs and bind addresses", () => {
  const { config } = resolve(undefined, {
    proxyMode: "ipvs",
    clusterCidr: "10.244.1.5/16",
    ipvsExcludeCidrs: "FD00:0000::1/64",
    healthzBindAddress: "::",
  });
  assertEquals(config.clusterCIDRs, ["10.244.0.0/16"]);
  assertEquals(config.ipvs.excludeCIDRs, ["fd00::/64"]);
  assertEquals(config.healthzBindAddress, "[::]:10256");
});

test("resolveConfig() warns once, naming them, about set settings that are not implemented yet", () => {
  const { warnings } = resolve(`${PROXY_HEADER}mode: ipvs
oomScoreAdj: -998
enableProfiling: true
conntrack: {maxPerCore: 0, tcpBeLiberal: true}
`);
  assertEquals(warnings, [
    "not implemented yet, so this proxy does not do what kube-proxy would with: " +
    "oomScoreAdj -998 " +
    "(/proc/self/oom_score_adj), enableProfiling true (/debug/pprof); apply them on the " +
    "node yourself if you rely on them",
  ]);
  // Settings that do nothing in IPVS mode (other modes' sections) are accepted silently.
  const quiet = resolve(`${PROXY_HEADER}mode: ipvs
nftables: {masqueradeAll: true, syncPeriod: 10s}
winkernel: {enableDSR: true}
iptables: {localhostNodePorts: false}
`);
  assertEquals(quiet.warnings, []);
});

test("resolveConfig() reads --healthz-port and --metrics-port as kube-proxy does without --config", () => {
  const ports = (flags: ProxyFlagOverrides) => {
    const { config, warnings } = resolve(undefined, { proxyMode: "ipvs", ...flags });
    return [config.healthzBindAddress, config.metricsBindAddress, warnings.length];
  };
  assertEquals(ports({ healthzPort: "0", metricsPort: "0" }), ["", "", 0]);
  assertEquals(ports({ healthzBindAddress: "127.0.0.1", healthzPort: "12345" }), [
    "127.0.0.1:12345",
    "127.0.0.1:10249",
    0,
  ]);
  // An address with a port keeps it, as kube-proxy's AppendPortIfNeeded does: said once.
  assertEquals(ports({ healthzPort: "12345" }), ["0.0.0.0:10256", "127.0.0.1:10249", 1]);
  assertEquals(ports({ metricsBindAddress: "" }), ["0.0.0.0:10256", "", 0]);
  assertEquals(ports({ bindAddress: "::" }), ["[::]:10256", "[::1]:10249", 0]);
});

test("resolveConfig() with requireMode false (for --cleanup) reads a file whatever its mode", () => {
  const text = `${PROXY_HEADER}mode: ""\nipvs: {excludeCIDRs: [192.0.2.0/24]}\n`;
  const { config } = resolveConfig({
    file: "x.yaml",
    text,
    flags: {},
    env: {},
    requireMode: false,
  });
  assertEquals(config.ipvs.excludeCIDRs, ["192.0.2.0/24"]);
});

test("resolveConfig() leaves the file's hostnameOverride to an empty --hostname-override", () => {
  const text = `${PROXY_HEADER}mode: ipvs\nhostnameOverride: from-file\n`;
  assertEquals(resolve(text, { hostnameOverride: "" }).config.hostnameOverride, "from-file");
});

test("resolveConfig() warns that split log streams are not implemented", () => {
  const { config, warnings } = resolve(undefined, { proxyMode: "ipvs", logTextSplitStream: true });
  assertEquals(config.logging.splitStream, true);
  assertEquals(warnings.length, 1);
  assertEquals(warnings[0].includes("logging.options.text.splitStream true"), true);
});

test("resolveConfig() leaves an unset or empty mode empty: kube-proxy's iptables mode", () => {
  assertEquals(resolve(`${PROXY_HEADER}clusterCIDR: 10.244.0.0/16\n`).config.mode, "");
  assertEquals(resolve(`${PROXY_HEADER}mode: ""\n`).config.mode, "");
  assertEquals(resolve(undefined).config.mode, "");
});

test("resolveConfig() takes mode iptables from the file, --proxy-mode and KUBE_PROXY_MODE", () => {
  assertEquals(resolve(`${PROXY_HEADER}mode: iptables\n`).config.mode, "iptables");
  assertEquals(resolve(undefined, { proxyMode: "iptables" }).config.mode, "iptables");
  assertEquals(resolve(undefined, {}, { KUBE_PROXY_MODE: "iptables" }).config.mode, "iptables");
  // An empty mode in the file falls through to the environment, as before.
  assertEquals(
    resolve(`${PROXY_HEADER}mode: ""\n`, {}, { KUBE_PROXY_MODE: "ipvs" }).config.mode,
    "ipvs",
  );
});

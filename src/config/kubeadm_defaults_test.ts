import { assertEquals, YAML_PERMISSIONS } from "./test_helpers.ts";
import { type ProxyFlagOverrides, resolveConfig } from "./load.ts";
import { renderKubeProxyConfiguration, toKubeProxyConfiguration } from "./serialize.ts";
import type { ProxyConfig } from "./types.ts";

const TESTDATA = new URL("./testdata/", import.meta.url);
const PERMISSIONS: Deno.PermissionOptionsObject = { ...YAML_PERMISSIONS, read: [TESTDATA] };

function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, permissions: PERMISSIONS, fn });
}

async function resolveFixture(name: string, flags: ProxyFlagOverrides = {}) {
  const text = await Deno.readTextFile(new URL(name, TESTDATA));
  return resolveConfig({ file: name, text, flags, env: {} });
}

test("kubeadm's printed defaults with mode: ipvs load without a warning, defaulted as kube-proxy does", async () => {
  const { config, warnings, details } = await resolveFixture("kubeadm-init-defaults-ipvs.yaml");
  // Every field of today's v1alpha1 is known and every set value has kube-proxy's effect here;
  // only the defaults this proxy does not apply yet are named, at V(2).
  assertEquals(warnings, []);
  assertEquals(details.length, 1);
  assertEquals(details[0].startsWith("kube-proxy's defaults not applied"), true);
  assertEquals(config.ipvs.syncPeriodMs, 30_000); // syncPeriod: 0s
  assertEquals(config.ipvs.scheduler, "rr"); // scheduler: ""
  assertEquals(config.iptables.masqueradeBit, 14); // masqueradeBit: null
  assertEquals(config.iptables.syncPeriodMs, 30_000);
  assertEquals(config.iptables.minSyncPeriodMs, 1_000);
  assertEquals(config.iptables.localhostNodePorts, true);
  assertEquals(config.healthzBindAddress, "0.0.0.0:10256"); // ""
  assertEquals(config.metricsBindAddress, "127.0.0.1:10249"); // ""
  assertEquals(config.configSyncPeriodMs, 15 * 60_000); // 0s
  assertEquals(config.clientConnection, {
    kubeconfig: "/var/lib/kube-proxy/kubeconfig.conf",
    qps: 5, // 0
    burst: 10, // 0
    contentType: "application/vnd.kubernetes.protobuf", // ""
    acceptContentTypes: "",
  });
  assertEquals(config.conntrack, {
    maxPerCore: 32768,
    min: 131072,
    tcpEstablishedTimeout: 24 * 3600_000,
    tcpCloseWaitTimeout: 3600_000,
    tcpBeLiberal: false,
    udpTimeout: 0,
    udpStreamTimeout: 0,
  });
  assertEquals(config.oomScoreAdj, -999);
  assertEquals(config.logging, {
    format: "text",
    verbosity: 0,
    vmodule: [],
    flushFrequencyMs: 5_000, // flushFrequency: 0
    splitStream: false,
  });
  assertEquals(config.detectLocalMode, "ClusterCIDR");
  assertEquals(config.clusterCIDRs, []);
});

test("hack/local-up-cluster.sh's file and command line load; --healthz-port and --metrics-port are ignored with --config, as kube-proxy does", async () => {
  const { config, warnings } = await resolveFixture("local-up-cluster-kube-proxy.yaml", {
    v: "3",
    healthzPort: "10256",
    metricsPort: "10249",
  });
  assertEquals(config.logging.verbosity, 3);
  assertEquals(config.hostnameOverride, "127.0.0.1");
  assertEquals(config.clientConnection.kubeconfig, "/var/run/kubernetes/kube-proxy.kubeconfig");
  // maxPerCore: 0 and the 0s timeouts leave the sysctls alone: nothing is missing.
  assertEquals(config.conntrack.maxPerCore, 0);
  assertEquals(config.conntrack.tcpEstablishedTimeout, 0);
  assertEquals(warnings, [
    "command line: --healthz-port is ignored because --config is given, as kube-proxy ignores " +
    "it; set the port of healthzBindAddress in local-up-cluster-kube-proxy.yaml instead",
    "command line: --metrics-port is ignored because --config is given, as kube-proxy ignores " +
    "it; set the port of metricsBindAddress in local-up-cluster-kube-proxy.yaml instead",
  ]);
});

/** Writes the config as --write-config-to does and reads it back. */
function roundTrip(config: ProxyConfig): ProxyConfig {
  const text = renderKubeProxyConfiguration(config);
  return resolveConfig({ file: "written.yaml", text, flags: {}, env: {} }).config;
}

test("the written KubeProxyConfiguration reads back to the same configuration", async () => {
  const kubeadm = (await resolveFixture("kubeadm-init-defaults-ipvs.yaml")).config;
  const flags = resolveConfig({
    file: "",
    text: undefined,
    env: {},
    flags: {
      proxyMode: "ipvs",
      ipvsScheduler: "wlc",
      ipvsSyncPeriod: "1m30s",
      ipvsMinSyncPeriod: "500ms",
      ipvsExcludeCidrs: "192.0.2.0/24",
      ipvsStrictArp: true,
      masqueradeAll: true,
      clusterCidr: "10.244.0.0/16,fd00:10:244::/56",
      nodeportAddresses: "192.168.0.0/24",
      hostnameOverride: "node-a",
      healthzBindAddress: "[::]:10256",
      kubeconfig: "/etc/kubernetes/proxy.conf",
      kubeApiQps: "20.5",
      kubeApiBurst: "40",
      featureGates: "SupportIPVSProxyMode=true",
      conntrackMaxPerCore: "0",
      conntrackTcpTimeoutEstablished: "2h",
      oomScoreAdj: "-500",
      detectLocalMode: "InterfaceNamePrefix",
      podInterfaceNamePrefix: "veth",
      configSyncPeriod: "1m",
      v: "4",
      vmodule: "sync_*=5",
      loggingFormat: "json",
    },
  }).config;
  for (const config of [kubeadm, flags]) {
    const { source: _, ...expected } = config;
    const { source: __, ...actual } = roundTrip(config);
    assertEquals(actual, expected);
  }
});

test("the written KubeProxyConfiguration has kube-proxy's shape and sorted keys", () => {
  const { config } = resolveConfig({
    file: "",
    text: undefined,
    flags: { proxyMode: "ipvs" },
    env: {},
  });
  const object = toKubeProxyConfiguration(config);
  assertEquals(Object.keys(object), [...Object.keys(object)].sort());
  assertEquals(object.apiVersion, "kubeproxy.config.k8s.io/v1alpha1");
  assertEquals(object.kind, "KubeProxyConfiguration");
  assertEquals(object.ipvs, {
    excludeCIDRs: null,
    minSyncPeriod: "0s",
    scheduler: "rr",
    strictARP: false,
    syncPeriod: "30s",
    tcpFinTimeout: "0s",
    tcpTimeout: "0s",
    udpTimeout: "0s",
  });
  assertEquals((object.conntrack as Record<string, unknown>).tcpEstablishedTimeout, "24h0m0s");
  assertEquals(object.configSyncPeriod, "15m0s");
});

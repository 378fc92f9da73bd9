import { assertEquals, YAML_PERMISSIONS } from "./test_helpers.ts";
import { resolveConfig } from "./load.ts";
import { readConfigFile } from "./read_config_file.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url);

/** Reads and resolves one example file with no flags and an empty environment. */
async function resolveExample(name: string) {
  const path = new URL(name, EXAMPLES).pathname;
  const text = await readConfigFile(path);
  return resolveConfig({ file: `examples/${name}`, text, flags: {}, env: {} });
}

const PERMISSIONS: Deno.PermissionOptionsObject = {
  ...YAML_PERMISSIONS,
  read: [EXAMPLES],
};

Deno.test({
  name: "examples/kubeadm.yaml resolves to IPVS mode with clusterCIDR from podSubnet",
  permissions: PERMISSIONS,
  async fn() {
    const { config, warnings } = await resolveExample("kubeadm.yaml");
    assertEquals(warnings, []);
    assertEquals(config.mode, "ipvs");
    assertEquals(config.clusterCIDRs, ["10.244.0.0/16"]);
    assertEquals(config.ipvs, {
      scheduler: "rr",
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 1_000,
      excludeCIDRs: ["192.0.2.0/24"],
      strictARP: true,
      tcpTimeoutMs: 0,
      tcpFinTimeoutMs: 0,
      udpTimeoutMs: 0,
    });
    assertEquals(config.iptables.masqueradeAll, false);
    assertEquals(config.iptables.masqueradeBit, 14);
    assertEquals(config.source, "examples/kubeadm.yaml");
  },
});

Deno.test({
  name: "examples/kubeadm-2018.yaml resolves the nested kubeProxy.config with its feature gate",
  permissions: PERMISSIONS,
  async fn() {
    const { config, warnings } = await resolveExample("kubeadm-2018.yaml");
    assertEquals(warnings, []);
    assertEquals(config.mode, "ipvs");
    assertEquals(config.featureGates, { SupportIPVSProxyMode: true });
    assertEquals(config.clusterCIDRs, ["10.244.0.0/16"]);
    assertEquals(config.ipvs.scheduler, "rr");
  },
});

Deno.test({
  name:
    "examples/kube-proxy-config.yaml resolves with masqueradeAll and clusterCIDR 10.244.16.0/24",
  permissions: PERMISSIONS,
  async fn() {
    const { config, warnings } = await resolveExample("kube-proxy-config.yaml");
    assertEquals(warnings, []);
    assertEquals(config.mode, "ipvs");
    assertEquals(config.iptables.masqueradeAll, true);
    assertEquals(config.clusterCIDRs, ["10.244.16.0/24"]);
    assertEquals(config.clientConnection.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  },
});

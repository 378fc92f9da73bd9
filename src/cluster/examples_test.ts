import { loadManifests } from "./manifest_source.ts";
import { assertEquals } from "./test_helpers.ts";
import type { ClusterSnapshot, EndpointSlice, Service } from "./types.ts";

const EXAMPLES = decodeURIComponent(new URL("../../examples/cluster", import.meta.url).pathname);

const PERMISSIONS: Deno.PermissionOptionsObject = {
  read: true,
  env: ["LOG_TOKENS", "LOG_STREAM"],
};

function svc(snapshot: ClusterSnapshot, key: string): Service {
  const found = snapshot.services.find((s) => `${s.namespace}/${s.name}` === key);
  if (!found) throw new Error(`no service ${key}`);
  return found;
}

function slicesOf(snapshot: ClusterSnapshot, key: string): EndpointSlice[] {
  return snapshot.endpointSlices.filter((s) => `${s.namespace}/${s.serviceName}` === key);
}

Deno.test({
  name:
    "examples/cluster loads 16 services, 15 slices, 2 nodes and two warnings: the Endpoints and the broken port",
  permissions: PERMISSIONS,
  async fn() {
    const { snapshot, warnings } = await loadManifests([EXAMPLES]);
    assertEquals(
      [snapshot.services.length, snapshot.endpointSlices.length, snapshot.nodes.length],
      [16, 14, 2],
    );
    assertEquals(warnings.map((w) => [w.source, w.object, w.field]), [
      [`${EXAMPLES}/default.yaml`, "Endpoints default/kubernetes", "kind"],
      [`${EXAMPLES}/invalid.yaml`, "Service default/broken", "spec.ports[0].port"],
    ]);
    assertEquals(warnings[1].message, "must be a port number from 1 to 65535, got 70000");
  },
});

Deno.test({
  name: "the examples hold the seed's debug example and the kube-dns service",
  permissions: PERMISSIONS,
  async fn() {
    const { snapshot } = await loadManifests([EXAMPLES]);
    const k = svc(snapshot, "default/kubernetes");
    assertEquals([k.clusterIPs, k.sessionAffinity, k.sessionAffinityTimeoutSeconds], [
      ["10.0.0.1"],
      "ClientIP",
      10800,
    ]);
    assertEquals(k.ports, [{
      name: "https",
      protocol: "tcp",
      port: 443,
      targetPort: 6443,
      nodePort: 0,
    }]);
    assertEquals(slicesOf(snapshot, "default/kubernetes")[0].endpoints[0].addresses, [
      "192.168.0.1",
    ]);
    const dns = svc(snapshot, "kube-system/kube-dns");
    assertEquals(dns.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`), [
      "dns 53/udp",
      "dns-tcp 53/tcp",
    ]);
    assertEquals(slicesOf(snapshot, "kube-system/kube-dns")[0].ports.length, 2);
    assertEquals(snapshot.nodes.map((n) => n.addresses.filter((a) => a.type === "InternalIP")), [
      [{ type: "InternalIP", address: "192.168.0.10" }, {
        type: "InternalIP",
        address: "fd00:192:168::10",
      }],
      [{ type: "InternalIP", address: "192.168.0.11" }],
    ]);
  },
});

Deno.test({
  name: "the examples cover every service shape the proxier handles",
  permissions: PERMISSIONS,
  async fn() {
    const { snapshot } = await loadManifests([EXAMPLES]);
    const s = (key: string) => svc(snapshot, key);
    assertEquals([s("default/web").type, s("default/web").externalTrafficPolicy], [
      "NodePort",
      "Cluster",
    ]);
    assertEquals(slicesOf(snapshot, "default/web")[0].endpoints.map((e) => e.nodeName), [
      "node-a",
      "node-b",
    ]);
    assertEquals([s("default/web-local").type, s("default/web-local").externalTrafficPolicy], [
      "NodePort",
      "Local",
    ]);
    const shop = s("default/shop");
    assertEquals([shop.type, shop.externalTrafficPolicy, shop.healthCheckNodePort], [
      "LoadBalancer",
      "Local",
      32000,
    ]);
    assertEquals(shop.loadBalancerIngress, [{ ip: "203.0.113.10", ipMode: "VIP" }]);
    assertEquals(shop.loadBalancerSourceRanges, ["198.51.100.0/24", "192.168.0.0/16"]);
    assertEquals(s("default/proxied").loadBalancerIngress, [{
      ip: "203.0.113.20",
      ipMode: "Proxy",
    }]);
    assertEquals(s("default/external-web").externalIPs, ["192.0.2.50"]);
    assertEquals(s("default/syslog").ports[0].protocol, "udp");
    assertEquals(s("default/signaling").ports[0].protocol, "sctp");
    // Headless: no cluster IP, and its slice (labelled headless) is left out as kube-proxy does.
    assertEquals([s("default/db").clusterIPs, slicesOf(snapshot, "default/db").length], [[], 0]);
    assertEquals(slicesOf(snapshot, "default/no-endpoints"), []);
    assertEquals(
      slicesOf(snapshot, "default/draining")[0].endpoints.map((e) => e.conditions),
      Array(2).fill({ ready: false, serving: true, terminating: true }),
    );
    assertEquals(s("default/node-cache").internalTrafficPolicy, "Local");
    assertEquals(s("default/api").ports[0].targetPort, "http");
    assertEquals(slicesOf(snapshot, "default/api")[0].ports, [{
      name: "http",
      protocol: "tcp",
      port: 8080,
    }]);
    assertEquals(s("default/dual").clusterIPs, ["10.0.5.5", "fd00:10:96::5"]);
    assertEquals(slicesOf(snapshot, "default/dual").map((e) => e.addressType).sort(), [
      "IPv4",
      "IPv6",
    ]);
    assertEquals([s("default/external-db").type, s("default/external-db").clusterIPs], [
      "ExternalName",
      [],
    ]);
  },
});

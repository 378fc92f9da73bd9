import { ManifestSnapshots } from "./manifest_snapshots.ts";
import assert from "node:assert/strict";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { testConfig } from "../proxier/testing.ts";
import type { ProxyConfig } from "../config/types.ts";
import { runLoop, syncPeriods } from "./run_loop.ts";

const SERVICE = (clusterIP: string) => `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: ${clusterIP}
  ports: [{name: http, port: 80}]
`;

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A loop over the manifests in `dir` with a dry-run backend and no HTTP servers. */
function startLoop(dir: string, ipvs: Partial<ProxyConfig["ipvs"]> = {}) {
  const log: string[] = [];
  const output = { stdout: "", chunks: 0 };
  const controller = new AbortController();
  const backend = new DryRunBackend();
  const loop = runLoop({
    config: testConfig({ healthzBindAddress: "", metricsBindAddress: "", ipvs }),
    backend,
    nodeName: "node-a",
    nodeIPFlags: ["192.168.0.10"],
    source: new ManifestSnapshots([dir], () => {}),
    printPlans: true,
    stdout: (text) => {
      output.chunks++;
      output.stdout += text;
    },
    log: (line) => log.push(line),
    signal: controller.signal,
  });
  const syncs = () => log.filter((l) => l.startsWith("sync:"));
  return { loop, log, output, controller, backend, syncs };
}

Deno.test("the loop syncs at start, re-syncs on a manifest edit and stops on abort", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/web.yaml`;
  await Deno.writeTextFile(file, SERVICE("10.0.0.5"));
  const { loop, output, controller, backend, syncs } = startLoop(dir);
  try {
    await until(() => syncs().length === 1, "the first sync");
    assert.match(output.stdout, /-A -t 10\.0\.0\.5:80 -s rr/);
    // Streamed one tool run at a time (sets, nat, filter, ipvsadm, ip), not as one string.
    assert.ok(output.chunks > 1, `${output.chunks} chunk(s)`);

    await Deno.writeTextFile(file, SERVICE("10.0.0.6"));
    await until(() => syncs().length === 2, "the sync after the edit");
    assert.match(syncs()[1], /ipvs\.addVirtualServer 1/);
    assert.match(syncs()[1], /ipvs\.deleteVirtualServer 1/);
    assert.deepEqual((await backend.read()).virtualServers.map((vs) => vs.address), ["10.0.0.6"]);

    controller.abort();
    assert.equal(await loop, 0);
  } finally {
    controller.abort();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a minSyncPeriod longer than a minute (a valid config) does not stop the loop from starting", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/web.yaml`, SERVICE("10.0.0.5"));
  const { loop, syncs, controller } = startLoop(dir, {
    syncPeriodMs: 300_000,
    minSyncPeriodMs: 120_000,
  });
  try {
    let failed: Error | undefined;
    loop.catch((error: Error) => failed = error);
    await until(() => failed !== undefined || syncs().length > 0, "a sync");
    assert.equal(failed, undefined);
    controller.abort();
    assert.equal(await loop, 0);
  } finally {
    controller.abort();
    await Deno.remove(dir, { recursive: true });
  }
});

const LOCAL_LB = (healthPort: number) => `
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.0.0.7
  externalTrafficPolicy: Local
  healthCheckNodePort: ${healthPort}
  ports: [{name: http, port: 80, nodePort: 30080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: shop-1, namespace: default, labels: {kubernetes.io/service-name: shop}}
addressType: IPv4
endpoints:
  - {addresses: [10.244.1.5], nodeName: node-a}
  - {addresses: [10.244.2.5], nodeName: node-b}
ports: [{name: http, port: 80}]
`;

Deno.test("the loop serves each Local LoadBalancer's health check node port with its local count", async () => {
  const dir = await Deno.makeTempDir();
  // A free port: bind to port 0, note it, release it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const healthPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await Deno.writeTextFile(`${dir}/shop.yaml`, LOCAL_LB(healthPort));
  const { loop, syncs, controller } = startLoop(dir);
  try {
    await until(() => syncs().length > 0, "the first sync");
    const response = await fetch(`http://127.0.0.1:${healthPort}/`);
    const body = await response.json();
    assert.equal(response.status, 200);
    assert.deepEqual(body.service, { namespace: "default", name: "shop" });
    assert.equal(body.localEndpoints, 1);
    controller.abort();
    assert.equal(await loop, 0);
    await assert.rejects(fetch(`http://127.0.0.1:${healthPort}/`));
  } finally {
    controller.abort();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the loop's periods are the chosen mode's: ipvs.* capped at the draining check, or iptables.*", () => {
  const config = testConfig({
    ipvs: { syncPeriodMs: 300_000, minSyncPeriodMs: 2_000 },
    iptables: { syncPeriodMs: 120_000, minSyncPeriodMs: 5_000 },
  });
  assert.deepEqual(syncPeriods(config, "ipvs"), { syncPeriodMs: 60_000, minSyncPeriodMs: 2_000 });
  assert.deepEqual(syncPeriods(config, "iptables"), {
    syncPeriodMs: 120_000,
    minSyncPeriodMs: 5_000,
  });
});

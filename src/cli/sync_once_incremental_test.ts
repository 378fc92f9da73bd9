import assert from "node:assert/strict";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { IncrementalProxier } from "../proxier/incremental.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "../proxier/testing.ts";
import { type SyncContext, syncOnce } from "./sync_once.ts";

Deno.test({
  name: "a sync with a proxier in its context computes through it and plans only the change",
  permissions: "none",
  async fn() {
    const config = testConfig();
    const proxier = new IncrementalProxier(config, "node-a");
    const context: SyncContext = {
      config,
      backend: new DryRunBackend(),
      nodeName: "node-a",
      nodeIPFlags: ["192.168.0.10"],
      proxier,
    };
    const web = service("web", "10.96.0.10", [port("http", 80)]);
    const before = slice("web", [endpoint("10.244.0.5")], [{ name: "http", port: 8080 }]);
    await syncOnce(context, snapshot([web], [before]));
    const after = { ...before, endpoints: [endpoint("10.244.0.6")] };
    const report = await syncOnce(context, snapshot([web], [after]));
    assert.deepStrictEqual(proxier.lastUpdate, { full: false, recomputedServices: 1 });
    assert.deepStrictEqual(report.plan.map((op) => op.op), [
      "ipvs.addRealServer",
      "ipvs.deleteRealServer",
    ]);
  },
});

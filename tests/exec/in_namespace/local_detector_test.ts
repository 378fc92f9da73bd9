/**
 * The local traffic detector's rules (`detectLocalMode` NodeCIDR, BridgeInterface and
 * InterfaceNamePrefix) in both modes, loaded into the real kernel by `iptables-restore` and
 * read back by `iptables-save` exactly as the proxiers write them: the text is in the form the
 * tools print, so a later sync finds nothing to change. Runs in the private network namespace
 * `tests/exec/namespace_test.ts` starts; everything is removed at the end.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ProxyConfig } from "../../../src/config/types.ts";
import { computeDesiredStateFor, type ProxierKind } from "../../../src/proxier/mode.ts";
import { isOurChain } from "../../../src/proxier/ownership.ts";
import { createLine } from "../../../src/render/ipset.ts";
import { parseIptablesSave, renderTableState } from "../../../src/render/iptables.ts";
import {
  endpoint,
  port,
  service,
  slice,
  snapshot,
  testConfig,
} from "../../../src/proxier/testing.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";

const NODE = {
  name: "node-a",
  addresses: [{ type: "InternalIP", address: "192.168.0.10" }],
  podCIDRs: ["10.244.1.0/24"],
  source: "test.yaml",
};

const CLUSTER = snapshot(
  [
    service("web", "10.96.0.10", [port("http", 80, { nodePort: 30080, targetPort: 8080 })], {
      type: "NodePort",
      externalTrafficPolicy: "Local",
    }),
  ],
  [slice("web", [endpoint("10.244.1.5", "node-a")], [{ name: "http", port: 8080 }])],
  [NODE],
);

const MODES: readonly [string, Partial<ProxyConfig["detectLocal"]>][] = [
  ["NodeCIDR", {}],
  ["BridgeInterface", { bridgeInterface: "cbr0" }],
  ["InterfaceNamePrefix", { interfaceNamePrefix: "veth" }],
];

function config(mode: string, detectLocal: Partial<ProxyConfig["detectLocal"]>): ProxyConfig {
  return testConfig({
    detectLocalMode: mode,
    detectLocal: { bridgeInterface: "", interfaceNamePrefix: "", ...detectLocal },
  });
}

for (const kind of ["ipvs", "iptables"] as ProxierKind[]) {
  for (const [mode, detectLocal] of MODES) {
    Deno.test(`${kind} mode's ${mode} rules come back from iptables-save as written`, async () => {
      await prepareNamespace();
      const { state } = computeDesiredStateFor(kind, {
        config: config(mode, detectLocal),
        snapshot: CLUSTER,
        nodeName: "node-a",
        nodeIPs: ["192.168.0.10"],
      });
      const backend = namespaceBackend({ families: ["ipv4"] });
      try {
        // The IPVS rules match our sets: they must exist for the rules to load.
        const sets = state.ipsets.filter((s) => s.family === "inet").map((s) => createLine(s));
        if (sets.length > 0) await tool(["ipset", "restore"], sets.join("\n") + "\n");
        for (const table of ["nat", "filter"] as const) {
          const wanted = state.iptables.ipv4[table];
          await tool(["iptables-restore", "--noflush", "-w"], renderTableState(table, wanted));
          const read = parseIptablesSave(
            await tool(["iptables-save", "-t", table]),
            (chain) => isOurChain(table, chain),
            table,
          );
          const byName = (chains: typeof wanted.chains) =>
            Object.fromEntries(chains.map((c) => [c.name, c.rules]));
          assert.deepEqual(byName(read.chains), byName(wanted.chains), `${table} table`);
        }
      } finally {
        await cleanUp(backend);
      }
    });
  }
}

import assert from "node:assert/strict";
import { cleanStaleUdpFlows } from "./udp_flow_cleanup.ts";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import type { Backend, UdpFlowTable } from "../../backends/backend.ts";
import type { IptablesFamily, UdpFlow } from "../state/types.ts";
import { endpoint, port, service, slice, snapshot } from "../proxier/testing.ts";

const DNS = snapshot(
  [service("dns", "10.96.0.10", [port("dns", 53, { protocol: "udp" })])],
  [slice("dns", [endpoint("10.244.1.2")], [{ name: "dns", port: 5353, protocol: "udp" }])],
);

function flow(replySrc: string): UdpFlow {
  return { family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc };
}

/** A backend whose kernel holds `flows`; records what it was asked to delete. */
function backendWith(flows: UdpFlow[] | Error) {
  const listed: IptablesFamily[] = [];
  const deletedFlows: UdpFlow[] = [];
  const udpFlows: UdpFlowTable = {
    list: (family) => {
      listed.push(family);
      return flows instanceof Error ? Promise.reject(flows) : Promise.resolve(flows);
    },
    delete: (stale) => {
      deletedFlows.push(...stale);
      return Promise.resolve({ deleted: stale.length, problems: [], writes: stale.length });
    },
  };
  const backend = Object.assign(new DryRunBackend(), { udpFlows }) as Backend;
  return { backend, listed, deletedFlows };
}

Deno.test("after a sync only the UDP flows no serving endpoint answers are deleted", async () => {
  const { backend, deletedFlows } = backendWith([flow("10.244.1.2"), flow("10.244.7.7")]);
  const result = await cleanStaleUdpFlows(backend, DNS, [], ["ipv4"]);
  assert.deepEqual(result, { deleted: 1, problems: [], writes: 1 });
  assert.deepEqual(deletedFlows, [flow("10.244.7.7")]);
});

Deno.test("flows are not even listed for a family without UDP services, nor by the dry run", async () => {
  const { backend, listed } = backendWith([flow("10.244.7.7")]);
  assert.deepEqual(await cleanStaleUdpFlows(backend, DNS, [], ["ipv6"]), {
    deleted: 0,
    problems: [],
    writes: 0,
  });
  assert.deepEqual(listed, []);
  const dryRun = await cleanStaleUdpFlows(new DryRunBackend(), DNS, [], ["ipv4"]);
  assert.deepEqual(dryRun, { deleted: 0, problems: [], writes: 0 });
});

Deno.test("flows that cannot be listed are a problem reported, not a failed sync", async () => {
  const { backend } = backendWith(new Error("conntrack -L: conntrack is not installed"));
  const result = await cleanStaleUdpFlows(backend, DNS, [], ["ipv4"]);
  assert.deepEqual(result.problems, ["conntrack -L: conntrack is not installed"]);
  assert.equal(result.deleted, 0);
});

/**
 * `CategorizeEndpoints` cases translated from kube-proxy's `TestCategorizeEndpoints`
 * (pkg/proxy/topology_test.go); those about the retired hints annotation are left out, as
 * kube-proxy now reads the hints alone.
 */

import assert from "node:assert/strict";
import type { Candidate } from "./endpoints.ts";
import { categorizeWithTopology, type NodeTopology, type PortPolicy } from "./topology.ts";

interface Case {
  name: string;
  zone?: string;
  preferSameNode?: boolean;
  policy?: Partial<PortPolicy>;
  endpoints: Partial<Candidate>[];
  cluster: string[];
  local: string[];
  hasAny?: boolean;
}

const CLUSTER: PortPolicy = {
  internalLocal: false,
  externalLocal: false,
  accessible: false,
  usesCluster: true,
  usesLocal: false,
};
/** externalTrafficPolicy Local with a node port. */
const ETP_LOCAL: Partial<PortPolicy> = { externalLocal: true, accessible: true, usesLocal: true };
/** internalTrafficPolicy Local, no external traffic. */
const ITP_LOCAL: Partial<PortPolicy> = { internalLocal: true, usesCluster: false, usesLocal: true };

function ep(
  address: string,
  zoneHints?: string[],
  more: Partial<Candidate> = {},
): Partial<Candidate> {
  return { address, zoneHints, ...more };
}

const CASES: Case[] = [
  {
    name: "normal endpoint filtering",
    zone: "zone-a",
    endpoints: [
      ep("10.1.2.3", ["zone-a"]),
      ep("10.1.2.4", ["zone-b"]),
      ep("10.1.2.5", ["zone-c"]),
      ep("10.1.2.6", ["zone-a"]),
    ],
    cluster: ["10.1.2.3", "10.1.2.6"],
    local: [],
  },
  {
    name: "empty node labels",
    zone: "",
    endpoints: [ep("10.1.2.3", ["zone-a"])],
    cluster: ["10.1.2.3"],
    local: [],
  },
  {
    name: "node in different zone, no endpoint filtering",
    zone: "zone-b",
    endpoints: [ep("10.1.2.3", ["zone-a"])],
    cluster: ["10.1.2.3"],
    local: [],
  },
  {
    name: "unready endpoint",
    zone: "zone-a",
    endpoints: [
      ep("10.1.2.3", ["zone-a"]),
      ep("10.1.2.4", ["zone-b"]),
      ep("10.1.2.5", ["zone-c"]),
      ep("10.1.2.6", ["zone-a"], { ready: false }),
    ],
    cluster: ["10.1.2.3"],
    local: [],
  },
  {
    name: "only unready endpoints in same zone (should not filter)",
    zone: "zone-a",
    endpoints: [
      ep("10.1.2.3", ["zone-a"], { ready: false }),
      ep("10.1.2.4", ["zone-b"]),
      ep("10.1.2.5", ["zone-c"]),
      ep("10.1.2.6", ["zone-a"], { ready: false }),
    ],
    cluster: ["10.1.2.4", "10.1.2.5"],
    local: [],
  },
  {
    name: "missing hints, no filtering applied",
    zone: "zone-a",
    endpoints: [
      ep("10.1.2.3", ["zone-a"]),
      ep("10.1.2.4", ["zone-b"]),
      ep("10.1.2.5"),
      ep("10.1.2.6", ["zone-a"]),
    ],
    cluster: ["10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"],
    local: [],
  },
  {
    name: "multiple hints per endpoint, filtering includes any endpoint with zone included",
    zone: "zone-c",
    endpoints: [
      ep("10.1.2.3", ["zone-a", "zone-b", "zone-c"]),
      ep("10.1.2.4", ["zone-b", "zone-c"]),
      ep("10.1.2.5", ["zone-b", "zone-d"]),
      ep("10.1.2.6", ["zone-c"]),
    ],
    cluster: ["10.1.2.3", "10.1.2.4", "10.1.2.6"],
    local: [],
  },
  {
    name: "externalTrafficPolicy: Local, topology ignored for Local endpoints",
    zone: "zone-a",
    policy: ETP_LOCAL,
    endpoints: [
      ep("10.1.2.3", ["zone-a"], { local: true }),
      ep("10.1.2.4", ["zone-b"], { local: true }),
      ep("10.1.2.5", ["zone-c"]),
      ep("10.1.2.6", ["zone-a"]),
    ],
    cluster: ["10.1.2.3", "10.1.2.6"],
    local: ["10.1.2.3", "10.1.2.4"],
  },
  {
    name: "internalTrafficPolicy: Local, but all endpoints are remote",
    policy: ITP_LOCAL,
    endpoints: [ep("10.0.0.0"), ep("10.0.0.1")],
    cluster: [],
    local: [],
    hasAny: true,
  },
  {
    name: "internalTrafficPolicy: Local, with empty endpoints",
    policy: ITP_LOCAL,
    endpoints: [],
    cluster: [],
    local: [],
    hasAny: false,
  },
  {
    name: "only terminating endpoints: the serving ones, topology not applied",
    zone: "zone-a",
    endpoints: [
      ep("10.1.2.3", ["zone-b"], { ready: false, servingTerminating: true, terminating: true }),
      ep("10.1.2.4", ["zone-a"], { ready: false, servingTerminating: false, terminating: true }),
    ],
    cluster: ["10.1.2.3"],
    local: [],
  },
  // pkg/proxy/topology_test.go, PreferSameTrafficDistribution cases.
  {
    name: "prefer same node: only the endpoints hinted for this node",
    zone: "zone-a",
    endpoints: [
      ep("10.1.2.3", ["zone-a"], { nodeHints: ["node-a"] }),
      ep("10.1.2.4", ["zone-a"], { nodeHints: ["node-b"] }),
      ep("10.1.2.5", ["zone-b"], { nodeHints: ["node-c"] }),
    ],
    cluster: ["10.1.2.3"],
    local: [],
  },
  {
    name: "prefer same node, but no endpoint for this node: the zone hints",
    zone: "zone-a",
    endpoints: [
      ep("10.1.2.4", ["zone-a"], { nodeHints: ["node-b"] }),
      ep("10.1.2.5", ["zone-b"], { nodeHints: ["node-c"] }),
    ],
    cluster: ["10.1.2.4"],
    local: [],
  },
  {
    name: "node hints ignored when the PreferSameTrafficDistribution gate is off",
    zone: "zone-a",
    preferSameNode: false,
    endpoints: [
      ep("10.1.2.3", ["zone-a"], { nodeHints: ["node-a"] }),
      ep("10.1.2.4", ["zone-a"], { nodeHints: ["node-b"] }),
      ep("10.1.2.5", ["zone-b"], { nodeHints: ["node-c"] }),
    ],
    cluster: ["10.1.2.3", "10.1.2.4"],
    local: [],
  },
];

function candidate(partial: Partial<Candidate>): Candidate {
  return {
    address: "",
    port: 80,
    local: false,
    ready: true,
    terminating: false,
    servingTerminating: false,
    zoneHints: undefined,
    nodeHints: undefined,
    ...partial,
  };
}

for (const c of CASES) {
  Deno.test({
    name: `CategorizeEndpoints: ${c.name}`,
    permissions: "none",
    fn() {
      const topology: NodeTopology = {
        nodeName: "node-a",
        zone: c.zone ?? "",
        preferSameNode: c.preferSameNode ?? true,
      };
      const got = categorizeWithTopology(
        c.endpoints.map(candidate),
        { ...CLUSTER, ...c.policy },
        topology,
      );
      assert.deepEqual(got.cluster.map((e) => e.address), c.cluster);
      assert.deepEqual(got.local.map((e) => e.address), c.local);
      assert.equal(got.hasAny, c.hasAny ?? (c.cluster.length + c.local.length > 0));
    },
  });
}

/**
 * The contract every backend must pass (dry-run here; exec and netlink against real
 * kernels): reconcile an empty kernel to a desired state and read it back, converge so a
 * second diff is empty, handle an endpoint and a set entry changing, clean up everything,
 * report a refused operation instead of throwing, and follow the apply driver's shared rules
 * (a refused ipset step stops the rest; a refused IPVS line does not).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Backend } from "./backend.ts";
import type { Operation, Plan } from "../src/plan/types.ts";
import type {
  IpSet,
  IptablesFamily,
  IptablesFamilyState,
  IptablesTable,
  KernelState,
  VirtualServer,
} from "../src/state/types.ts";
import { IPVS_DEVICE } from "../src/state/types.ts";
import { emptyKernelState, sortByKey, sortKernelState } from "../src/state/keys.ts";
import { cleanupPlan, diffStates } from "../src/plan/diff.ts";
import { NOT_APPLIED_EARLIER } from "./apply_driver.ts";

/** What a backend under test can do. */
export interface ContractOptions {
  /** Whether the kernel has IPVS (virtual servers are tested only then). */
  readonly ipvs: boolean;
  /** Whether the `kube-ipvs0` link and its addresses can be managed. */
  readonly addresses: boolean;
  /** The families to test. */
  readonly families: ("ipv4" | "ipv6")[];
  /**
   * The permissions the tests run with.
   * @default {"inherit"}
   */
  readonly permissions?: Deno.TestDefinition["permissions"];
}

/** A backend made for one test, with a way to release what it holds. */
export interface BackendUnderTest {
  /** The backend, on a kernel that holds nothing of ours. */
  readonly backend: Backend;
  /** Releases what the backend holds (a network namespace, a VM); called after each test. */
  close(): Promise<void>;
}

const NO_EXCLUDES = { excludeCIDRs: [] };

interface FamilyNames {
  readonly prefix: string;
  readonly vip: string;
  readonly dns: string;
  readonly endpoints: readonly [string, string];
  readonly api: string;
  readonly bits: number;
}

const NAMES: Record<IptablesFamily, FamilyNames> = {
  ipv4: {
    prefix: "KUBE-",
    vip: "10.96.0.1",
    dns: "10.96.0.10",
    endpoints: ["10.244.1.2", "10.244.1.3"],
    api: "192.168.0.1",
    bits: 32,
  },
  ipv6: {
    prefix: "KUBE-6-",
    vip: "fd00::1",
    dns: "fd00::10",
    endpoints: ["fd01::2", "fd01::3"],
    api: "fd02::1",
    bits: 128,
  },
};

function virtualServers(n: FamilyNames): VirtualServer[] {
  const base = { scheduler: "rr", persistenceTimeout: 0, flags: [] as string[] };
  const dns = n.endpoints.map((
    address,
  ) => ({ address, port: 53, forward: "masq", weight: 1 } as const));
  return [
    {
      ...base,
      protocol: "tcp",
      address: n.vip,
      port: 443,
      persistenceTimeout: 10800,
      service: "default/kubernetes:https",
      realServers: [{ address: n.api, port: 6443, forward: "masq", weight: 1 }],
    },
    {
      ...base,
      protocol: "tcp",
      address: n.dns,
      port: 53,
      service: "kube-system/kube-dns:dns-tcp",
      realServers: dns,
    },
    {
      ...base,
      protocol: "udp",
      address: n.dns,
      port: 53,
      service: "kube-system/kube-dns:dns",
      realServers: dns,
    },
  ];
}

function ipsets(n: FamilyNames, family: IpSet["family"]): IpSet[] {
  const ep = n.endpoints[0];
  return [
    {
      name: `${n.prefix}CLUSTER-IP`,
      type: "hash:ip,port",
      family,
      comment: "Kubernetes service cluster ip + port for masquerade purpose",
      entries: [`${n.vip},tcp:443`, `${n.dns},tcp:53`, `${n.dns},udp:53`],
    },
    {
      name: `${n.prefix}LOOP-BACK`,
      type: "hash:ip,port,ip",
      family,
      comment: "",
      entries: [`${ep},udp:53,${ep}`],
    },
    {
      name: `${n.prefix}NODE-PORT-TCP`,
      type: "bitmap:port",
      family,
      comment: "",
      entries: ["30080"],
    },
  ];
}

function iptables(n: FamilyNames): IptablesFamilyState {
  const comment = (text: string) => `-m comment --comment "${text}"`;
  const portals = `${comment("kubernetes service portals")} -j KUBE-SERVICES`;
  return {
    nat: {
      chains: [
        {
          name: "KUBE-SERVICES",
          rules: [`-m set --match-set ${n.prefix}CLUSTER-IP dst,dst -j KUBE-MARK-MASQ`],
        },
        {
          name: "KUBE-POSTROUTING",
          rules: [`-m set --match-set ${n.prefix}LOOP-BACK dst,dst,src -j MASQUERADE`],
        },
        { name: "KUBE-MARK-MASQ", rules: ["-j MARK --set-xmark 0x4000/0x4000"] },
      ],
      jumps: [
        { chain: "PREROUTING", rule: portals },
        { chain: "OUTPUT", rule: portals },
        {
          chain: "POSTROUTING",
          rule: `${comment("kubernetes postrouting rules")} -j KUBE-POSTROUTING`,
        },
      ],
    },
    filter: {
      chains: [{ name: "KUBE-FORWARD", rules: ["-m mark --mark 0x4000/0x4000 -j ACCEPT"] }],
      jumps: [{
        chain: "FORWARD",
        rule: `${comment("kubernetes forwarding rules")} -j KUBE-FORWARD`,
      }],
    },
  };
}

/**
 * A small desired state for the contract: per family, kubernetes (TCP, persistent) and
 * kube-dns (TCP and UDP) with three sets, nat and filter chains, and bound addresses;
 * virtual servers and addresses only where the backend can hold them.
 */
export function contractDesiredState(options: ContractOptions): KernelState {
  const empty = emptyKernelState();
  const families = (["ipv4", "ipv6"] as const).filter((f) => options.families.includes(f));
  const tables = { ...empty.iptables };
  for (const f of families) tables[f] = iptables(NAMES[f]);
  return {
    families,
    virtualServers: options.ipvs ? families.flatMap((f) => virtualServers(NAMES[f])) : [],
    ipsets: families.flatMap((f) => ipsets(NAMES[f], f === "ipv4" ? "inet" : "inet6")),
    iptables: tables,
    linkPresent: options.addresses,
    addresses: options.addresses
      ? families.flatMap((f) =>
        [NAMES[f].vip, NAMES[f].dns].map((a) => ({
          device: IPVS_DEVICE,
          address: `${a}/${NAMES[f].bits}`,
        }))
      )
      : [],
  };
}

function comparableTable(t: IptablesTable) {
  return {
    chains: sortByKey(t.chains, (c) => c.name),
    jumps: sortByKey(t.jumps, (j) => `${j.chain} ${j.rule}`),
  };
}

/**
 * What the contract compares: the state sorted, without service names, set comments and
 * connection counts, restricted to what the backend manages (`KUBE-` sets, `kube-ipvs0`).
 */
export function comparableState(state: KernelState, options: ContractOptions): unknown {
  const s = sortKernelState(state);
  return {
    virtualServers: options.ipvs
      ? s.virtualServers.map((vs) => ({
        ...vs,
        service: "",
        realServers: vs.realServers.map((
          { activeConnections: _a, inactiveConnections: _i, ...rs },
        ) => rs),
      }))
      : [],
    ipsets: s.ipsets.filter((set) => set.name.startsWith("KUBE-")).map((set) => ({
      ...set,
      comment: "",
    })),
    iptables: options.families.map((f) => ({
      family: f,
      nat: comparableTable(s.iptables[f].nat),
      filter: comparableTable(s.iptables[f].filter),
    })),
    linkPresent: options.addresses && s.linkPresent,
    addresses: options.addresses ? s.addresses.filter((a) => a.device === IPVS_DEVICE) : [],
  };
}

async function withBackend(
  make: () => Promise<BackendUnderTest>,
  body: (backend: Backend) => Promise<void>,
): Promise<void> {
  const { backend, close } = await make();
  try {
    await body(backend);
  } finally {
    await close();
  }
}

async function reconcile(backend: Backend, desired: KernelState): Promise<Plan> {
  const plan = diffStates(await backend.read(), desired, NO_EXCLUDES);
  const result = await backend.apply(plan);
  assert.deepEqual(result.failures, [], `${backend.name}: the plan was not applied whole`);
  assert.equal(result.applied, plan.length);
  return plan;
}

async function assertMatches(backend: Backend, desired: KernelState, options: ContractOptions) {
  assert.deepEqual(
    comparableState(await backend.read(), options),
    comparableState(desired, options),
  );
}

function withoutLastDnsEndpoint(state: KernelState): KernelState {
  const first = state.virtualServers.findIndex((vs) => vs.protocol === "tcp" && vs.port === 53);
  return {
    ...state,
    virtualServers: state.virtualServers.map((vs, i) =>
      i === first ? { ...vs, realServers: vs.realServers.slice(0, -1) } : vs
    ),
  };
}

function withChangedClusterIpEntry(state: KernelState): { state: KernelState; set: IpSet } {
  const set = state.ipsets.find((s) => s.name.endsWith("CLUSTER-IP"))!;
  const changed = { ...set, entries: set.entries.map((e) => e.replace(/,udp:53$/, ",udp:5353")) };
  return {
    state: { ...state, ipsets: state.ipsets.map((s) => s === set ? changed : s) },
    set,
  };
}

interface ContractCase {
  readonly title: string;
  /** Whether the case applies to a backend with these options. */
  readonly applies?: (options: ContractOptions) => boolean;
  readonly run: (b: Backend, desired: KernelState, options: ContractOptions) => Promise<void>;
}

function nothingOfOurs(desired: KernelState): KernelState {
  return { ...emptyKernelState(), families: desired.families };
}

const MISSING_SET = "KUBE-CONTRACT-MISSING";

/** A plan whose first line the kernel refuses, followed by more set lines and later steps. */
function refusedIpsetPlan(desired: KernelState, options: ContractOptions): Operation[] {
  const family = desired.families[0];
  return [
    { op: "ipset.add", set: MISSING_SET, entry: "10.0.0.1" },
    { op: "ipset.create", set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } },
    {
      op: "iptables.restore",
      family,
      table: "filter",
      chains: desired.iptables[family].filter.chains,
      addJumps: [],
      deleteJumps: [],
      deleteChains: [],
    },
    ...(options.addresses ? [{ op: "link.add", device: IPVS_DEVICE } as const] : []),
  ];
}

const RULE_CASES: readonly ContractCase[] = [
  {
    title: "a refused ipset line stops its step and every later step, with one write",
    async run(b, desired, options) {
      const plan = refusedIpsetPlan(desired, options);
      const result = await b.apply(plan);
      assert.equal(result.applied, 0);
      assert.equal(result.writes, 1);
      assert.deepEqual(result.failures.map((f) => f.operation), plan);
      assert.equal(result.failures[0].tool, "ipset restore");
      assert.match(result.failures[0].line, new RegExp(`^add ${MISSING_SET} 10\\.0\\.0\\.1`));
      assert.equal(result.failures[1].message, "not applied: ipset restore stopped at line 1");
      for (const f of result.failures.slice(2)) assert.equal(f.message, NOT_APPLIED_EARLIER);
      await assertMatches(b, nothingOfOurs(desired), options);
    },
  },
  {
    title: "a refused IPVS line does not stop the later steps",
    applies: (options) => options.ipvs && options.addresses,
    async run(b, desired, options) {
      const plan: Operation[] = [
        {
          op: "ipvs.deleteVirtualServer",
          virtualServer: { protocol: "tcp", address: "198.51.100.1", port: 20000 },
        },
        { op: "link.add", device: IPVS_DEVICE },
      ];
      const result = await b.apply(plan);
      assert.deepEqual(result.failures.map((f) => f.operation), [plan[0]]);
      assert.equal(result.applied, 1);
      assert.equal(result.writes, 2);
      await assertMatches(b, { ...nothingOfOurs(desired), linkPresent: true }, options);
    },
  },
];

const CASES: readonly ContractCase[] = [
  {
    title: "applying the diff from an empty kernel makes read() return the desired state",
    async run(b, desired, options) {
      assert.ok((await reconcile(b, desired)).length > 0);
      await assertMatches(b, desired, options);
    },
  },
  {
    title: "a second diff is empty and applying it writes nothing",
    async run(b, desired) {
      await reconcile(b, desired);
      const again = diffStates(await b.read(), desired, NO_EXCLUDES);
      assert.deepEqual(again, []);
      assert.deepEqual(await b.apply(again), { applied: 0, failures: [], writes: 0 });
    },
  },
  {
    title: "removing one endpoint is one operation and the kernel then matches",
    applies: (options) => options.ipvs,
    async run(b, desired, options) {
      await reconcile(b, desired);
      const fewer = withoutLastDnsEndpoint(desired);
      const plan = await reconcile(b, fewer);
      assert.deepEqual(plan.map((op) => op.op), ["ipvs.deleteRealServer"]);
      await assertMatches(b, fewer, options);
    },
  },
  {
    title: "changing one set entry is one delete and one add and the kernel then matches",
    async run(b, desired, options) {
      await reconcile(b, desired);
      const { state: changed, set } = withChangedClusterIpEntry(desired);
      const old = set.entries.find((e) => e.endsWith(",udp:53"))!;
      assert.deepEqual(await reconcile(b, changed), [
        { op: "ipset.del", set: set.name, entry: old },
        { op: "ipset.add", set: set.name, entry: old.replace(/53$/, "5353") },
      ]);
      await assertMatches(b, changed, options);
    },
  },
  {
    title: "cleanupPlan() leaves nothing of ours",
    async run(b, desired, options) {
      await reconcile(b, desired);
      const result = await b.apply(cleanupPlan(await b.read()));
      assert.deepEqual(result.failures, []);
      await assertMatches(b, nothingOfOurs(desired), options);
      assert.deepEqual(cleanupPlan(await b.read()), []);
    },
  },
  {
    title: "an operation the kernel refuses is reported as a failure, not thrown",
    async run(b, desired, options) {
      const refused: Operation[] = [{ op: "ipset.destroy", set: "KUBE-CONTRACT-MISSING" }];
      if (options.ipvs) {
        refused.push({
          op: "ipvs.deleteVirtualServer",
          virtualServer: { protocol: "tcp", address: "198.51.100.1", port: 20000 },
        });
      }
      for (const op of refused) {
        const result = await b.apply([op]);
        assert.equal(result.applied, 0);
        assert.equal(result.failures.length, 1);
        assert.deepEqual(result.failures[0].operation, op);
        assert.ok(result.failures[0].tool !== "" && result.failures[0].message !== "");
      }
      await assertMatches(b, nothingOfOurs(desired), options);
    },
  },
];

/**
 * Registers the contract's tests for one backend. `makeBackend` must give a backend on an
 * empty kernel (as far as our objects go) for each test, and `close` must release it.
 *
 * @example
 * ```ts
 * import { DryRunBackend } from "./dry_run/dry_run_backend.ts";
 * backendContract("dry-run", () => Promise.resolve({
 *   backend: new DryRunBackend(),
 *   close: () => Promise.resolve(),
 * }), { ipvs: true, addresses: true, families: ["ipv4", "ipv6"], permissions: "none" });
 * ```
 */
export function backendContract(
  name: string,
  makeBackend: () => Promise<BackendUnderTest>,
  options: ContractOptions,
): void {
  const desired = contractDesiredState(options);
  for (const c of [...CASES, ...RULE_CASES]) {
    if (c.applies && !c.applies(options)) continue;
    Deno.test({
      name: `${name} backend: ${c.title}`,
      permissions: options.permissions ?? "inherit",
      fn: () => withBackend(makeBackend, (backend) => c.run(backend, desired, options)),
    });
  }
}

// IPVS over generic netlink on the real kernel: each golden plan's IPVS operations applied through
// `NetlinkIpvs` leave exactly what `ipvsadm --restore` of the same operations leaves (`ipvsadm -Sn`
// compared as text), and `readVirtualServers` reads what the exec backend reads; edits, deletes,
// the kernel's refusals by errno name, GET_INFO, the timeouts and the scheduler probe. With
// IPVS_CAPTURE_FIXTURES=1 the kernel's replies are written to backends/netlink/testdata/.
import assert from "node:assert/strict";
import { ipvsPreflightChecks, NetlinkIpvs } from "../../backends/netlink/ipvs.ts";
import { readVirtualServers } from "../../backends/exec/read_kernel.ts";
import { runCommand } from "../../backends/exec/command.ts";
import type { VirtualServerKey, VirtualServerSpec } from "../../src/plan/types.ts";
import { type IpvsOperation, renderIpvsadmRestore } from "../../src/render/ipvsadm.ts";
import { sortVirtualServers } from "../../src/state/keys.ts";
import { goldenJson, goldenScenarios } from "../golden_plans.ts";
import { kernelTest, sh } from "./harness.ts";
import { createNetns } from "./netns.ts";
import { lineClient, startLineServer } from "./servers.ts";

function ipvsOperations(plan: readonly { op: string }[]): IpvsOperation[] {
  return plan.filter((op) => op.op.startsWith("ipvs.")) as IpvsOperation[];
}

/**
 * Both reads, in one order: ipvsadm sorts with `ntohl(a) - ntohl(b)` in an int, which wraps for
 * addresses 2^31 apart (192.168.x before 10.96.x), and that quirk is not worth copying.
 */
async function assertSameRead(ipvs: NetlinkIpvs): Promise<void> {
  assert.deepEqual(
    sortVirtualServers(await ipvs.readVirtualServers()),
    sortVirtualServers(await readVirtualServers(runCommand)),
  );
}

async function openIpvs(): Promise<NetlinkIpvs> {
  const opened = await NetlinkIpvs.open();
  if (!opened.ok) throw new Error(`IPVS over netlink: ${opened.reason}`);
  return opened.client;
}

/** Runs `fn` with a client on an empty IPVS table, and empties it again after. */
async function withEmptyTable(fn: (ipvs: NetlinkIpvs) => Promise<void>): Promise<void> {
  await sh(["ipvsadm", "-C"]);
  const ipvs = await openIpvs();
  try {
    await fn(ipvs);
  } finally {
    ipvs.close();
    await sh(["ipvsadm", "-C"]);
  }
}

/** The table after `ops` through ipvsadm, from an empty one: what netlink must match. */
async function throughIpvsadm(ops: readonly IpvsOperation[]): Promise<string> {
  await sh(["ipvsadm", "-C"]);
  await sh(["ipvsadm", "--restore"], renderIpvsadmRestore(ops));
  const saved = await sh(["ipvsadm", "-Sn"]);
  await sh(["ipvsadm", "-C"]);
  return saved;
}

for (const scenario of goldenScenarios()) {
  kernelTest(
    `the ${scenario} golden's IPVS operations through netlink leave what ipvsadm --restore leaves`,
    async () => {
      const ops = ipvsOperations((await goldenJson(scenario)).plan);
      assert.ok(ops.length > 0, "the golden has IPVS operations");
      const expected = await throughIpvsadm(ops);
      await withEmptyTable(async (ipvs) => {
        const result = await ipvs.apply(ops);
        assert.deepEqual(result.failures, []);
        assert.equal(result.writes, 1, "one send for a small step");
        assert.equal(await sh(["ipvsadm", "-Sn"]), expected);
        await assertSameRead(ipvs);
      });
    },
  );
}

const web: VirtualServerSpec = {
  protocol: "tcp",
  address: "10.96.0.10",
  port: 80,
  scheduler: "rr",
  persistenceTimeout: 0,
  flags: [],
  service: "",
};
const dns: VirtualServerSpec = {
  ...web,
  protocol: "udp",
  address: "fd00:10:96::a",
  port: 53,
  scheduler: "mh",
  flags: ["mh-port"],
};
const rs = (address: string, port: number, weight = 1) => ({
  address,
  port,
  forward: "masq" as const,
  weight,
});

const setup: IpvsOperation[] = [
  { op: "ipvs.addVirtualServer", virtualServer: web },
  { op: "ipvs.addRealServer", virtualServer: web, realServer: rs("10.244.1.5", 8080) },
  { op: "ipvs.addRealServer", virtualServer: web, realServer: rs("10.244.2.7", 8080) },
  { op: "ipvs.addVirtualServer", virtualServer: dns },
  { op: "ipvs.addRealServer", virtualServer: dns, realServer: rs("fd00:10:244::5", 53) },
  { op: "ipvs.addRealServer", virtualServer: dns, realServer: rs("fd00:10:244::6", 53) },
];

const edits: IpvsOperation[] = [
  {
    op: "ipvs.editVirtualServer",
    virtualServer: { ...web, scheduler: "wrr", persistenceTimeout: 10800 },
  },
  { op: "ipvs.editRealServer", virtualServer: web, realServer: rs("10.244.1.5", 8080, 0) },
  {
    op: "ipvs.deleteRealServer",
    virtualServer: web,
    realServer: { address: "10.244.2.7", port: 8080 },
  },
  { op: "ipvs.editVirtualServer", virtualServer: { ...dns, scheduler: "rr", flags: [] } },
  { op: "ipvs.deleteVirtualServer", virtualServer: dns },
  {
    op: "ipvs.addVirtualServer",
    virtualServer: { ...dns, protocol: "sctp", persistenceTimeout: 60 },
  },
];

kernelTest("edits and deletes through netlink leave what ipvsadm leaves", async () => {
  const expected = await throughIpvsadm([...setup, ...edits]);
  await withEmptyTable(async (ipvs) => {
    assert.deepEqual((await ipvs.apply(setup)).failures, []);
    assert.deepEqual((await ipvs.apply(edits)).failures, []);
    assert.equal(await sh(["ipvsadm", "-Sn"]), expected);
    await assertSameRead(ipvs);
  });
});

const missing: VirtualServerKey = { protocol: "tcp", address: "10.96.0.99", port: 443 };

kernelTest("the kernel's refusals come back per operation with the errno's name", async () => {
  await withEmptyTable(async (ipvs) => {
    assert.deepEqual((await ipvs.apply(setup)).failures, []);
    const refused: IpvsOperation[] = [
      { op: "ipvs.addVirtualServer", virtualServer: web },
      { op: "ipvs.editVirtualServer", virtualServer: { ...web, ...missing } },
      { op: "ipvs.addRealServer", virtualServer: web, realServer: rs("10.244.1.5", 8080) },
      {
        op: "ipvs.deleteRealServer",
        virtualServer: web,
        realServer: { address: "10.1.1.1", port: 1 },
      },
      { op: "ipvs.addVirtualServer", virtualServer: { ...web, port: 81, scheduler: "nosuch" } },
    ];
    // An operation that works in the middle of refused ones still takes effect.
    const works: IpvsOperation = {
      op: "ipvs.addRealServer",
      virtualServer: web,
      realServer: rs("10.244.3.9", 8080),
    };
    const result = await ipvs.apply([...refused.slice(0, 2), works, ...refused.slice(2)]);
    assert.deepEqual(result.failures.map((f) => [f.operation, f.tool, f.message]), [
      [refused[0], "netlink ipvs", "add virtual server TCP 10.96.0.10:80: EEXIST (File exists)"],
      [
        refused[1],
        "netlink ipvs",
        "edit virtual server TCP 10.96.0.99:443: ESRCH (No such process)",
      ],
      [
        refused[2],
        "netlink ipvs",
        "add real server 10.244.1.5:8080 to TCP 10.96.0.10:80: EEXIST (File exists)",
      ],
      [
        refused[3],
        "netlink ipvs",
        "delete real server 10.1.1.1:1 of TCP 10.96.0.10:80: ENOENT (No such file or directory)",
      ],
      [
        refused[4],
        "netlink ipvs",
        "add virtual server TCP 10.96.0.10:81: ENOENT (No such file or directory)",
      ],
    ]);
    assert.equal(result.failures[0].line, "-A -t 10.96.0.10:80 -s rr");
    const read = await ipvs.readVirtualServers();
    const webRead = read.find((vs) => vs.address === web.address && vs.port === web.port)!;
    assert.deepEqual(webRead.realServers.map((r) => r.address), [
      "10.244.1.5",
      "10.244.2.7",
      "10.244.3.9",
    ]);
  });
});

kernelTest("GET_INFO gives the version and table size ipvsadm -Ln prints", async () => {
  await withEmptyTable(async (ipvs) => {
    const info = await ipvs.info();
    const title = (await sh(["ipvsadm", "-Ln"])).split("\n")[0];
    assert.equal(title, `IP Virtual Server version ${info.version} (size=${info.tableSize})`);
  });
});

kernelTest("the timeouts set through netlink are what ipvsadm -L --timeout shows", async () => {
  await withEmptyTable(async (ipvs) => {
    const before = await ipvs.timeouts();
    try {
      await ipvs.setTimeouts({ tcp: 901, tcpFin: 121, udp: 0 });
      assert.equal(
        (await sh(["ipvsadm", "-L", "--timeout"])).trim(),
        `Timeout (tcp tcpfin udp): 901 121 ${before.udp}`,
      );
      assert.deepEqual(await ipvs.timeouts(), { tcp: 901, tcpFin: 121, udp: before.udp });
    } finally {
      await ipvs.setTimeouts(before);
    }
  });
});

kernelTest("the scheduler probe passes for rr and names the errno for a missing one", async () => {
  await withEmptyTable(async (ipvs) => {
    const rr = await ipvs.probeScheduler("rr");
    assert.deepEqual([rr.ok, rr.detail], [
      true,
      "a probe virtual server TCP 198.51.100.0:20000 worked",
    ]);
    assert.equal(await sh(["ipvsadm", "-Sn"]), "", "the probe is gone");
    const none = await ipvs.probeScheduler("nosuch");
    assert.equal(none.ok, false);
    assert.match(none.detail, /with scheduler nosuch: .*ENOENT \(No such file or directory\)/);
    assert.equal(none.fix, "modprobe -- ip_vs_nosuch");
    assert.deepEqual((await ipvs.apply(setup.slice(0, 1))).failures, []);
    assert.equal((await ipvs.probeScheduler("rr")).detail, "a virtual server already uses it");
  });
});

kernelTest(
  "the preflight's IPVS checks pass for rr and refuse a name no scheduler has",
  async () => {
    await withEmptyTable(async () => {
      const rr = await ipvsPreflightChecks("");
      assert.deepEqual(rr.map((c) => [c.name, c.ok]), [["IPVS reachable", true], [
        "scheduler rr",
        true,
      ]]);
      const bad = await ipvsPreflightChecks("r r");
      assert.deepEqual(bad.map((c) => [c.name, c.ok]), [
        ["IPVS reachable", true],
        ["scheduler r r", false],
      ]);
      assert.equal(await sh(["ipvsadm", "-Sn"]), "", "no probe is left behind");
    });
  },
);

kernelTest(
  "an operation that cannot be encoded is reported and the others still apply",
  async () => {
    await withEmptyTable(async (ipvs) => {
      const bad: IpvsOperation = {
        op: "ipvs.addVirtualServer",
        virtualServer: { ...web, address: "10.0.0" },
      };
      const result = await ipvs.apply([bad, setup[0]]);
      assert.deepEqual(result.failures.map((f) => [f.operation, f.message]), [[
        bad,
        'add virtual server TCP 10.0.0:80: virtual server address "10.0.0" is not an IP address',
      ]]);
      assert.equal(await sh(["ipvsadm", "-Sn"]), "-A -t 10.96.0.10:80 -s rr\n");
    });
  },
);

kernelTest(
  "a held connection shows in the read as ActiveConn, as ipvsadm -Ln counts it",
  async () => {
    const vip = "10.96.50.1";
    await using backend = await createNetns({
      name: "nlstat",
      hostAddress: "10.250.0.1",
      nsAddress: "10.250.0.2",
      pointToPoint: true,
    });
    await using _server = await startLineServer(backend, { port: 9000 });
    await sh(["ip", "link", "add", "nlvip0", "type", "dummy"]);
    try {
      await sh(["ip", "addr", "add", `${vip}/32`, "dev", "nlvip0"]);
      const vs: VirtualServerSpec = { ...web, address: vip, port: 9000 };
      await withEmptyTable(async (ipvs) => {
        const ops: IpvsOperation[] = [
          { op: "ipvs.addVirtualServer", virtualServer: vs },
          { op: "ipvs.addRealServer", virtualServer: vs, realServer: rs(backend.nsAddress, 9000) },
        ];
        assert.deepEqual((await ipvs.apply(ops)).failures, []);
        using held = await lineClient(vip, 9000);
        assert.equal(await held.ask("hello"), "got hello");
        const [read] = await ipvs.readVirtualServers();
        assert.deepEqual(
          [read.realServers[0].activeConnections, read.realServers[0].inactiveConnections],
          [1, 0],
        );
        await assertSameRead(ipvs);
      });
    } finally {
      await sh(["ip", "link", "delete", "nlvip0"]);
    }
  },
);

/** 300 virtual servers with 5 real servers each: several chunks of a batch (about 590 each). */
function manyOperations(): IpvsOperation[] {
  const ops: IpvsOperation[] = [];
  for (let i = 0; i < 300; i++) {
    const vs: VirtualServerSpec = {
      ...web,
      address: `10.97.${i >> 8}.${i & 255}`,
      persistenceTimeout: i % 3 === 0 ? 10800 : 0,
    };
    ops.push({ op: "ipvs.addVirtualServer", virtualServer: vs });
    for (let j = 1; j <= 5; j++) {
      ops.push({
        op: "ipvs.addRealServer",
        virtualServer: vs,
        realServer: rs(`10.245.${i >> 8}.${i & 255}`, 8000 + j),
      });
    }
  }
  return ops;
}

kernelTest("1,800 operations go in chunks and leave what ipvsadm --restore leaves", async () => {
  const ops = manyOperations();
  let started = performance.now();
  const expected = await throughIpvsadm(ops);
  const ipvsadmMs = performance.now() - started;
  await withEmptyTable(async (ipvs) => {
    started = performance.now();
    const result = await ipvs.apply(ops);
    const netlinkMs = performance.now() - started;
    assert.deepEqual(result.failures, []);
    assert.ok(result.writes > 1, `${result.writes} sends`);
    started = performance.now();
    const read = await ipvs.readVirtualServers();
    const readMs = performance.now() - started;
    started = performance.now();
    const execRead = await readVirtualServers(runCommand);
    const execReadMs = performance.now() - started;
    console.log(
      `1,800 operations: ipvsadm --restore (with -Sn) ${ipvsadmMs.toFixed(0)} ms, netlink ` +
        `${netlinkMs.toFixed(0)} ms in ${result.writes} sends; read: netlink ` +
        `${readMs.toFixed(0)} ms, ipvsadm -Sn and -Ln ${execReadMs.toFixed(0)} ms (under TCG)`,
    );
    assert.equal(await sh(["ipvsadm", "-Sn"]), expected);
    assert.deepEqual(sortVirtualServers(read), sortVirtualServers(execRead));
  });
});

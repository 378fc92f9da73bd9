// The proxier over time on a real kernel: graceful termination of a removed endpoint with a
// connection still open, a repeated sync that writes nothing, and --cleanup next to state that
// is not ours.
import assert from "node:assert/strict";
import { run, sh } from "./harness.ts";
import { lineClient, startLineServer } from "./servers.ts";
import {
  backendFlags,
  cli,
  connectionsOf,
  createNode,
  createPod,
  e2eTest,
  endpointSlice,
  NODE_IP,
  NODE_NAME,
  realServersOf,
  savedIpvs,
  service,
  syncInputs,
  waitFor,
} from "./cluster.ts";
import { countingRunner, runCommand } from "../../backends/exec/command.ts";
import { ExecBackend } from "../../backends/exec/exec_backend.ts";
import { syncOnce } from "../../src/cli/sync_once.ts";
import { NO_CHANGES } from "../../src/render/plan_text.ts";

const DRAIN_VIP = "10.96.0.60";
const DRAIN_VS = `${DRAIN_VIP}:9000`;

function drainManifests(endpoints: string[]): object[] {
  return [
    service({ name: "drain", clusterIP: DRAIN_VIP, ports: [{ port: 9000 }] }),
    endpointSlice({
      service: "drain",
      endpoints: endpoints.map((ip) => ({ ip })),
      ports: [{ port: 9000 }],
    }),
  ];
}

e2eTest(
  "a removed endpoint drains: its open connection keeps working until it ends, then the real server goes",
  async () => {
    await using node = await createNode();
    await using podA = await createPod("gt-a", "10.244.1.61");
    await using podB = await createPod("gt-b", "10.244.1.62");
    await using _a = await startLineServer(podA, { port: 9000 });
    await using _b = await startLineServer(podB, { port: 9000 });
    // IPVS keeps a connection the backend closed for ipvs.tcpFinTimeout: 1 s keeps this short.
    const flags = ["--ipvs-tcpfin-timeout=1s"];
    await node.write(drainManifests([podA.nsAddress, podB.nsAddress]));
    await node.sync(flags);

    using held = await lineClient(DRAIN_VIP, 9000);
    const [drained, kept] = held.greeting === podA.name ? [podA, podB] : [podB, podA];
    assert.equal(held.greeting, drained.name);
    assert.equal(await held.ask("before"), "got before");

    // Remove the endpoint that holds the connection: it stays, with weight 0.
    await node.write(drainManifests([kept.nsAddress]));
    const removal = await node.sync(flags);
    assert.match(
      removal.stdout,
      new RegExp(`^-e -t ${DRAIN_VS} -r ${drained.nsAddress}:9000 -m -w 0$`, "m"),
    );
    assert.deepEqual(
      await realServersOf(DRAIN_VS),
      [
        `${drained.nsAddress}:9000 -w 0`,
        `${kept.nsAddress}:9000 -w 1`,
      ].sort(),
    );
    assert.equal(await connectionsOf(DRAIN_VS, `${drained.nsAddress}:9000`), 1);
    assert.equal(await held.ask("after"), "got after", "the open connection still works");
    for (let i = 0; i < 3; i++) {
      using fresh = await lineClient(DRAIN_VIP, 9000);
      assert.equal(fresh.greeting, kept.name, "new connections go to the other endpoint");
    }

    // A sync while the connection is open changes nothing.
    assert.equal((await node.sync(flags)).stdout, NO_CHANGES);

    // The backend ends the connection; IPVS forgets it after tcpFinTimeout.
    await held.bye();
    await waitFor(
      `ActiveConn + InActConn of ${drained.nsAddress}:9000 reach 0`,
      async () => await connectionsOf(DRAIN_VS, `${drained.nsAddress}:9000`) === 0,
    );
    held.close();
    const last = await node.sync(flags);
    assert.match(last.stdout, new RegExp(`^-d -t ${DRAIN_VS} -r ${drained.nsAddress}:9000$`, "m"));
    assert.deepEqual(await realServersOf(DRAIN_VS), [`${kept.nsAddress}:9000 -w 1`]);
  },
);

/** Every kind of service with no backends to reach: what a sync writes, not what it carries. */
function everyKind(): object[] {
  const ep = (name: string, ips: { ip: string; node?: string }[], protocol?: "UDP") =>
    endpointSlice({ service: name, endpoints: ips, ports: [{ port: 8080, protocol }] });
  return [
    service({
      name: "api",
      clusterIP: "10.96.0.70",
      ports: [{ port: 443, targetPort: 8080 }],
      affinitySeconds: 10800,
    }),
    ep("api", [{ ip: "10.244.1.70" }]),
    service({
      name: "dns",
      clusterIP: "10.96.0.71",
      ports: [{ protocol: "UDP", port: 53, targetPort: 8080 }],
    }),
    ep("dns", [{ ip: "10.244.1.71" }, { ip: "10.244.2.71", node: "node-b" }], "UDP"),
    service({
      name: "local",
      type: "NodePort",
      clusterIP: "10.96.0.72",
      ports: [{ port: 80, targetPort: 8080, nodePort: 30072 }],
      externalTrafficPolicy: "Local",
    }),
    ep("local", [{ ip: "10.244.1.72" }, { ip: "10.244.2.72", node: "node-b" }]),
    service({
      name: "lb",
      type: "LoadBalancer",
      clusterIP: "10.96.0.73",
      ports: [{ port: 80, targetPort: 8080, nodePort: 30073 }],
      loadBalancerSourceRanges: ["10.50.0.0/16"],
      ingress: ["203.0.113.73"],
    }),
    ep("lb", [{ ip: "10.244.1.73" }]),
  ];
}

e2eTest("a second sync of unchanged manifests writes nothing", async () => {
  await using node = await createNode();
  await node.write(everyKind());
  const first = await node.sync();
  assert.notEqual(first.stdout, NO_CHANGES);

  const second = await node.sync();
  assert.equal(second.stdout, NO_CHANGES);
  assert.match(second.stderr, /^sync: [\d.]+ ms, no changes$/m);

  // The same sync below the CLI, counting every tool run that could change the kernel.
  const runner = countingRunner(runCommand);
  const { config, snapshot } = await syncInputs(node.dir);
  const report = await syncOnce({
    config,
    backend: new ExecBackend({ run: runner }),
    nodeName: NODE_NAME,
    nodeIPFlags: [NODE_IP],
  }, snapshot);
  assert.deepEqual(report.plan, []);
  assert.ok(runner.calls.length > 0, "the sync read the kernel");
  assert.equal(runner.writes(), 0, `writes among ${JSON.stringify(runner.calls)}`);
});

const FOREIGN_VS = "198.51.100.77:8080";

async function createForeignState(): Promise<void> {
  await sh(["ipvsadm", "-A", "-t", FOREIGN_VS, "-s", "wrr"]);
  await sh(["ipvsadm", "-a", "-t", FOREIGN_VS, "-r", "10.9.9.9:8080", "-m", "-w", "3"]);
  await sh(
    ["ipset", "restore"],
    "create FOREIGN-SET hash:ip family inet\nadd FOREIGN-SET 10.1.2.3\n",
  );
  await sh(
    ["iptables-restore", "--noflush"],
    [
      "*filter",
      ":FOREIGN-CHAIN - [0:0]",
      "-A FOREIGN-CHAIN -s 10.9.9.9/32 -j DROP",
      "-A INPUT -m set --match-set FOREIGN-SET src -j FOREIGN-CHAIN",
      "COMMIT",
      "*nat",
      ":FOREIGN-NAT - [0:0]",
      "-A FOREIGN-NAT -p tcp -m tcp --dport 8080 -j RETURN",
      "-A PREROUTING -j FOREIGN-NAT",
      "COMMIT",
      "",
    ].join("\n"),
  );
  await sh(["ip", "link", "add", "foreign0", "type", "dummy"]);
  await sh(["ip", "addr", "add", "10.5.5.5/24", "dev", "foreign0"]);
}

async function removeForeignState(): Promise<void> {
  await run(["ipvsadm", "-D", "-t", FOREIGN_VS]);
  await run([
    "iptables",
    "-D",
    "INPUT",
    "-m",
    "set",
    "--match-set",
    "FOREIGN-SET",
    "src",
    "-j",
    "FOREIGN-CHAIN",
  ]);
  await run(["iptables", "-F", "FOREIGN-CHAIN"]);
  await run(["iptables", "-X", "FOREIGN-CHAIN"]);
  await run(["iptables", "-t", "nat", "-D", "PREROUTING", "-j", "FOREIGN-NAT"]);
  await run(["iptables", "-t", "nat", "-F", "FOREIGN-NAT"]);
  await run(["iptables", "-t", "nat", "-X", "FOREIGN-NAT"]);
  await run(["ipset", "destroy", "FOREIGN-SET"]);
  await run(["ip", "link", "delete", "foreign0"]);
}

/** iptables-save without its `#` lines and without our own (KUBE-) lines. */
async function foreignRules(program: "iptables-save" | "ip6tables-save"): Promise<string[]> {
  return (await sh([program])).split("\n")
    .filter((line) => !line.startsWith("#") && !line.includes("KUBE-"));
}

/** Everything foreign but the virtual server, as the tools print it. */
async function foreignSnapshot() {
  return {
    ipset: await sh(["ipset", "save", "FOREIGN-SET"]),
    iptables: await foreignRules("iptables-save"),
    ip6tables: await foreignRules("ip6tables-save"),
    address: await sh(["ip", "addr", "show", "dev", "foreign0"]),
  };
}

e2eTest(
  "--cleanup removes every virtual server and all of ours, and leaves foreign sets, chains and addresses byte-identical",
  async () => {
    await using node = await createNode();
    await using _foreign = {
      [Symbol.asyncDispose]: removeForeignState,
    };
    await createForeignState();
    const before = await foreignSnapshot();
    const foreignVs = (await savedIpvs()).filter((l) => l.includes(FOREIGN_VS));
    assert.equal(foreignVs.length, 2);

    // A sync keeps a foreign virtual server only inside ipvs.excludeCIDRs.
    await node.write(everyKind());
    await node.sync(["--ipvs-exclude-cidrs=198.51.100.0/24"]);
    assert.deepEqual((await savedIpvs()).filter((l) => l.includes(FOREIGN_VS)), foreignVs);
    assert.deepEqual(await foreignSnapshot(), before, "after the sync");
    assert.match(await sh(["iptables-save"]), /KUBE-SERVICES/);

    const cleanup = await cli(["--cleanup", ...backendFlags()]);
    assert.equal(cleanup.code, 0, cleanup.stderr);
    // Like kube-proxy's cleanup (it flushes IPVS), no virtual server is left, the foreign too.
    assert.deepEqual(await savedIpvs(), []);
    assert.deepEqual(
      (await sh(["ipset", "list", "-n"])).split("\n").filter((n) => n.startsWith("KUBE-")),
      [],
    );
    assert.doesNotMatch(await sh(["iptables-save"]), /KUBE-/);
    assert.doesNotMatch(await sh(["ip6tables-save"]), /KUBE-/);
    const link = await run(["ip", "link", "show", "kube-ipvs0"]);
    assert.notEqual(link.code, 0, "kube-ipvs0 is gone");
    assert.deepEqual(await foreignSnapshot(), before, "after the cleanup");

    // A second cleanup finds nothing to do.
    const again = await cli(["--cleanup", ...backendFlags()]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^cleanup: 0 operations, 0 failures$/m);
  },
);

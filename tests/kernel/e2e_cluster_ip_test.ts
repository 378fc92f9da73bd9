// End to end through ClusterIPs: Services and EndpointSlices from manifests, one `--once` sync
// of the CLI with the exec backend, then real connections from the node (the VM's root
// namespace) to backends in pod namespaces. Replies come back through the node, masqueraded by
// our own KUBE-POSTROUTING rules.
import assert from "node:assert/strict";
import { sh } from "./harness.ts";
import { startHttpServer } from "./netns.ts";
import { httpGet, httpGetMany, startUdpServer, udpAsk } from "./servers.ts";
import { createNode, createPod, e2eTest, endpointSlice, savedIpvs, service } from "./cluster.ts";

e2eTest("a ClusterIP over TCP reaches the backend, whose body names it", async () => {
  await using node = await createNode();
  await using pod = await createPod("web-a", "10.244.1.11");
  await using _server = await startHttpServer(pod, { port: 8080 });
  await node.write([
    service({ name: "web", clusterIP: "10.96.0.20", ports: [{ port: 80, targetPort: 8080 }] }),
    endpointSlice({ service: "web", endpoints: [{ ip: pod.nsAddress }], ports: [{ port: 8080 }] }),
  ]);
  const synced = await node.sync();
  assert.match(synced.stderr, /^Using ipvs Proxier\.$/m);

  assert.equal(await httpGet("10.96.0.20", 80), "backend web-a\n");
  // IPVS carried it: ipvsadm -Lnc prints
  // TCP 01:59  TIME_WAIT   10.96.0.20:40990   10.96.0.20:80      10.244.1.11:8080
  assert.match(
    await sh(["ipvsadm", "-Lnc"]),
    /^TCP .* 10\.96\.0\.20:80\s+10\.244\.1\.11:8080\s*$/m,
  );
});

e2eTest("a ClusterIP over UDP gets the backend's answer", async () => {
  await using node = await createNode();
  await using pod = await createPod("dns-a", "10.244.1.12");
  await using _server = await startUdpServer(pod, { port: 5353 });
  await node.write([
    service({
      name: "dns",
      clusterIP: "10.96.0.11",
      ports: [{ name: "dns", protocol: "UDP", port: 53, targetPort: 5353 }],
    }),
    endpointSlice({
      service: "dns",
      endpoints: [{ ip: pod.nsAddress }],
      ports: [{ name: "dns", protocol: "UDP", port: 5353 }],
    }),
  ]);
  await node.sync();

  assert.equal(await udpAsk("10.96.0.11", 53, "hello"), "dns-a hello");
  assert.match(
    await sh(["ipvsadm", "-Lnc"]),
    /^UDP .* 10\.96\.0\.11:53\s+10\.244\.1\.12:5353\s*$/m,
  );
});

/** Three pods with HTTP servers on 8080, and manifests for one service over them. */
async function threePods(names: string[]) {
  const pods = await Promise.all(
    names.map((name, i) => createPod(name, `10.244.1.${31 + i}`)),
  );
  const servers = await Promise.all(pods.map((pod) => startHttpServer(pod, { port: 8080 })));
  return {
    pods,
    async [Symbol.asyncDispose]() {
      for (const server of servers) await server.stop();
      for (const pod of pods) await pod.remove();
    },
  };
}

e2eTest("rr spreads new connections over all three endpoints", async () => {
  await using node = await createNode();
  await using backends = await threePods(["rr-a", "rr-b", "rr-c"]);
  await node.write([
    service({ name: "spread", clusterIP: "10.96.0.30", ports: [{ port: 80, targetPort: 8080 }] }),
    endpointSlice({
      service: "spread",
      endpoints: backends.pods.map((pod) => ({ ip: pod.nsAddress })),
      ports: [{ port: 8080 }],
    }),
  ]);
  await node.sync();
  assert.ok((await savedIpvs()).includes("-A -t 10.96.0.30:80 -s rr"));

  const bodies = await httpGetMany("10.96.0.30", 80, 6);
  for (const name of ["rr-a", "rr-b", "rr-c"]) {
    assert.ok(bodies.includes(`backend ${name}\n`), `${name} got none of ${bodies}`);
  }
});

e2eTest("ClientIP session affinity keeps the client on one endpoint", async () => {
  await using node = await createNode();
  await using backends = await threePods(["aff-a", "aff-b", "aff-c"]);
  await node.write([
    service({
      name: "sticky",
      clusterIP: "10.96.0.31",
      ports: [{ port: 80, targetPort: 8080 }],
      affinitySeconds: 60,
    }),
    endpointSlice({
      service: "sticky",
      endpoints: backends.pods.map((pod) => ({ ip: pod.nsAddress })),
      ports: [{ port: 8080 }],
    }),
  ]);
  await node.sync();
  assert.ok((await savedIpvs()).includes("-A -t 10.96.0.31:80 -s rr -p 60"));

  const bodies = await httpGetMany("10.96.0.31", 80, 5);
  assert.equal(new Set(bodies).size, 1, `the client moved between endpoints: ${bodies}`);
  assert.match(bodies[0], /^backend aff-[abc]\n$/);
});

/** Lines of `ipvsadm -ln` that describe servers, spaces collapsed, without the counters. */
function serverLines(listing: string): string[] {
  return listing.split("\n").map((line) => line.trim().replace(/\s+/g, " "))
    .filter((line) => /^(TCP|UDP|SCTP|->) \d/.test(line))
    .map((line) => line.startsWith("->") ? line.split(" ").slice(0, 4).join(" ") : line);
}

/** Each virtual server line with its real server lines, as one string; sorted. */
function blocks(lines: string[]): string[] {
  const result: string[] = [];
  for (const line of lines) {
    if (line.startsWith("->")) result[result.length - 1] += `\n${line}`;
    else result.push(line);
  }
  return result.sort();
}

e2eTest("the seed's debug example lists in ipvsadm -ln as the seed shows it", async () => {
  await using node = await createNode();
  await node.write([
    service({
      name: "kubernetes",
      clusterIP: "10.0.0.1",
      ports: [{ name: "https", port: 443, targetPort: 6443 }],
      affinitySeconds: 10800,
    }),
    endpointSlice({
      service: "kubernetes",
      endpoints: [{ ip: "192.168.0.1", node: "master" }],
      ports: [{ name: "https", port: 6443 }],
    }),
    service({
      name: "kube-dns",
      namespace: "kube-system",
      clusterIP: "10.0.0.10",
      ports: [
        { name: "dns", protocol: "UDP", port: 53 },
        { name: "dns-tcp", protocol: "TCP", port: 53 },
      ],
    }),
    endpointSlice({
      service: "kube-dns",
      namespace: "kube-system",
      endpoints: [{ ip: "172.17.0.2" }],
      ports: [{ name: "dns", protocol: "UDP", port: 53 }, { name: "dns-tcp", port: 53 }],
    }),
  ]);
  await node.sync();

  // The seed README's Debug section, counters left out.
  const seed = [
    "TCP 10.0.0.1:443 rr persistent 10800",
    "-> 192.168.0.1:6443 Masq 1",
    "TCP 10.0.0.10:53 rr",
    "-> 172.17.0.2:53 Masq 1",
    "UDP 10.0.0.10:53 rr",
    "-> 172.17.0.2:53 Masq 1",
  ];
  const listing = await sh(["ipvsadm", "-ln"]);
  assert.match(listing, /^TCP {2}10\.0\.0\.1:443 rr persistent 10800$/m);
  assert.match(listing, /^ {2}-> 192\.168\.0\.1:6443 {13}Masq {4}1 {6}0 {10}0 *$/m);
  assert.deepEqual(blocks(serverLines(listing)), blocks(seed));
  // `--output table` reads this kernel: the same listing, its version and table size included.
  const table = await node.sync(["--output", "table"]);
  assert.equal(table.stdout, listing);
  assert.match(table.stdout, /^IP Virtual Server version \d+\.\d+\.\d+ \(size=\d+\)\n/);
});

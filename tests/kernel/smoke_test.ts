// Proves the VM's kernel and the host's tools do what the exec backend needs: IPVS, a dummy
// kube-ipvs0 with an address, ipvsadm, ipset, iptables-restore with set matches, and a TCP
// connection through a virtual server to a backend in a network namespace.
import assert from "node:assert/strict";
import { kernelTest, run, sh } from "./harness.ts";
import { createNetns, startHttpServer } from "./netns.ts";

const DUMMY = "kube-ipvs0";

/** Creates kube-ipvs0 (dummy) with the given /32 addresses, deleted again on dispose. */
async function dummyWith(...addresses: string[]): Promise<AsyncDisposable> {
  await sh(["ip", "link", "add", DUMMY, "type", "dummy"]);
  const dispose = async () => {
    await run(["ip", "link", "delete", DUMMY]);
  };
  try {
    for (const address of addresses) {
      await sh(["ip", "addr", "add", `${address}/32`, "dev", DUMMY]);
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { [Symbol.asyncDispose]: dispose };
}

/** Adds a TCP virtual server, deleted again on dispose. */
async function virtualServer(address: string, scheduler: string): Promise<AsyncDisposable> {
  await sh(["ipvsadm", "-A", "-t", address, "-s", scheduler]);
  return { [Symbol.asyncDispose]: async () => void await run(["ipvsadm", "-D", "-t", address]) };
}

kernelTest("the IPVS modules are loaded", async () => {
  const modules = await Deno.readTextFile("/proc/modules");
  assert.match(modules, /^ip_vs /m);
  assert.match(modules, /^ip_vs_rr /m);
  assert.ok((await Deno.stat("/proc/net/ip_vs")).isFile);
});

kernelTest("kube-ipvs0 is a dummy link that takes a /32 address", async () => {
  await using _link = await dummyWith("10.0.0.1");
  const shown = await sh(["ip", "-o", "addr", "show", "dev", DUMMY]);
  assert.match(shown, /inet 10\.0\.0\.1\/32/);
  assert.match(await sh(["ip", "-d", "link", "show", DUMMY]), /\bdummy\b/);
});

kernelTest("ipvsadm adds a virtual server with a masqueraded real server", async () => {
  await using _link = await dummyWith("10.0.0.1");
  await using _service = await virtualServer("10.0.0.1:443", "rr");
  await sh(["ipvsadm", "-a", "-t", "10.0.0.1:443", "-r", "10.0.0.2:443", "-m", "-w", "1"]);
  // ipvsadm -Sn prints: -A -t 10.0.0.1:443 -s rr / -a -t 10.0.0.1:443 -r 10.0.0.2:443 -m -w 1
  const saved = await sh(["ipvsadm", "-Sn"]);
  assert.match(saved, /^-A -t 10\.0\.0\.1:443 -s rr$/m);
  assert.match(saved, /^-a -t 10\.0\.0\.1:443 -r 10\.0\.0\.2:443 -m -w 1$/m);
});

kernelTest("every scheduler kube-proxy offers is accepted", async () => {
  for (
    const scheduler of ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh"]
  ) {
    await using _service = await virtualServer("10.0.0.9:80", scheduler);
    assert.match(
      await sh(["ipvsadm", "-Sn"]),
      new RegExp(`-A -t 10\\.0\\.0\\.9:80 -s ${scheduler}\\b`),
    );
  }
});

kernelTest("ipset creates, adds to and lists a hash:ip,port set", async () => {
  const set = "SMOKE-IP-PORT";
  await sh([
    "ipset",
    "create",
    set,
    "hash:ip,port",
    "family",
    "inet",
    "hashsize",
    "1024",
    "maxelem",
    "65536",
    "comment",
    "-exist",
  ]);
  try {
    await sh([
      "ipset",
      "add",
      set,
      "10.0.0.1,tcp:443",
      "comment",
      "default/kubernetes:https",
      "-exist",
    ]);
    const listed = await sh(["ipset", "list", set]);
    assert.match(listed, /Type: hash:ip,port/);
    assert.match(listed, /10\.0\.0\.1,tcp:443 comment "default\/kubernetes:https"/);
  } finally {
    await run(["ipset", "destroy", set]);
  }
});

kernelTest("iptables-restore --noflush loads rules that match an ipset", async () => {
  const set = "SMOKE-CLUSTER-IP";
  await sh(["ipset", "create", set, "hash:ip,port", "-exist"]);
  const rules = [
    "*nat",
    ":SMOKE-SERVICES - [0:0]",
    ":SMOKE-MARK-MASQ - [0:0]",
    ":SMOKE-POSTROUTING - [0:0]",
    '-A SMOKE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set SMOKE-CLUSTER-IP src,dst -j SMOKE-MARK-MASQ',
    "-A SMOKE-SERVICES -m addrtype --dst-type LOCAL -m set --match-set SMOKE-CLUSTER-IP dst,dst -j ACCEPT",
    "-A SMOKE-MARK-MASQ -j MARK --or-mark 0x4000",
    "-A SMOKE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE",
    "COMMIT",
    "*filter",
    ":SMOKE-FORWARD - [0:0]",
    "-A SMOKE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "COMMIT",
    "",
  ].join("\n");
  try {
    await sh(["iptables-restore", "--noflush"], rules);
    const nat = await sh(["iptables", "-t", "nat", "-S", "SMOKE-SERVICES"]);
    assert.match(nat, /-m set --match-set SMOKE-CLUSTER-IP src,dst -j SMOKE-MARK-MASQ/);
    assert.match(await sh(["iptables", "-t", "nat", "-S", "SMOKE-POSTROUTING"]), /-j MASQUERADE/);
  } finally {
    for (const chain of ["SMOKE-SERVICES", "SMOKE-MARK-MASQ", "SMOKE-POSTROUTING"]) {
      await run(["iptables", "-t", "nat", "-F", chain]);
    }
    for (const chain of ["SMOKE-SERVICES", "SMOKE-MARK-MASQ", "SMOKE-POSTROUTING"]) {
      await run(["iptables", "-t", "nat", "-X", chain]);
    }
    await run(["iptables", "-t", "filter", "-F", "SMOKE-FORWARD"]);
    await run(["iptables", "-t", "filter", "-X", "SMOKE-FORWARD"]);
    await run(["ipset", "destroy", set]);
  }
});

kernelTest(
  "a TCP connection to a virtual server reaches a backend in a network namespace",
  async () => {
    await using backend = await createNetns({
      name: "smoke-be",
      hostAddress: "10.244.1.1",
      nsAddress: "10.244.1.2",
    });
    await using server = await startHttpServer(backend, {
      port: 8080,
      body: "hello through IPVS\n",
    });
    await using _link = await dummyWith("10.96.0.10");
    await using _service = await virtualServer("10.96.0.10:80", "rr");
    await sh(["ipvsadm", "-a", "-t", "10.96.0.10:80", "-r", "10.244.1.2:8080", "-m", "-w", "1"]);

    const response = await fetch("http://10.96.0.10/", { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), server.body);
    // IPVS, not a route, carried it: its connection table has the entry (the --stats counters
    // lag up to 2 s behind, so they cannot tell). ipvsadm -Lnc prints:
    // TCP 01:59  TIME_WAIT   10.96.0.10:40990   10.96.0.10:80      10.244.1.2:8080
    const connections = await sh(["ipvsadm", "-Lnc"]);
    assert.match(connections, /^TCP .* 10\.96\.0\.10:80\s+10\.244\.1\.2:8080\s*$/m);
  },
);

import assert from "node:assert/strict";
import type { VirtualServer } from "../state/types.ts";
import { RenderError } from "./guard.ts";
import {
  parseIpvsadmList,
  parseIpvsadmSave,
  renderIpvsadmLine,
  renderIpvsadmRestore,
  renderIpvsState,
  withConnectionCounts,
} from "./ipvsadm.ts";
import { ParseError } from "./parse_error.ts";

const kubernetes: VirtualServer = {
  protocol: "tcp",
  address: "10.0.0.1",
  port: 443,
  scheduler: "rr",
  persistenceTimeout: 10800,
  flags: [],
  service: "default/kubernetes:https",
  realServers: [{ address: "192.168.0.1", port: 6443, forward: "masq", weight: 1 }],
};
const dnsKey = { protocol: "udp", address: "10.0.0.10", port: 53 } as const;

Deno.test({
  name: "each IPVS operation renders as one ipvsadm line",
  permissions: "none",
  fn() {
    const rs = { address: "172.17.0.2", port: 53, forward: "masq", weight: 0 } as const;
    assert.equal(
      renderIpvsadmLine({ op: "ipvs.addVirtualServer", virtualServer: kubernetes }),
      "-A -t 10.0.0.1:443 -s rr -p 10800",
    );
    assert.equal(
      renderIpvsadmLine({
        op: "ipvs.editVirtualServer",
        virtualServer: {
          ...kubernetes,
          scheduler: "mh",
          persistenceTimeout: 0,
          flags: ["mh-fallback", "mh-port"],
        },
      }),
      "-E -t 10.0.0.1:443 -s mh -b mh-fallback,mh-port",
    );
    assert.equal(
      renderIpvsadmLine({ op: "ipvs.deleteVirtualServer", virtualServer: dnsKey }),
      "-D -u 10.0.0.10:53",
    );
    assert.equal(
      renderIpvsadmLine({
        op: "ipvs.addRealServer",
        virtualServer: kubernetes,
        realServer: kubernetes.realServers[0],
      }),
      "-a -t 10.0.0.1:443 -r 192.168.0.1:6443 -m -w 1",
    );
    assert.equal(
      renderIpvsadmLine({ op: "ipvs.editRealServer", virtualServer: dnsKey, realServer: rs }),
      "-e -u 10.0.0.10:53 -r 172.17.0.2:53 -m -w 0",
    );
    assert.equal(
      renderIpvsadmLine({ op: "ipvs.deleteRealServer", virtualServer: dnsKey, realServer: rs }),
      "-d -u 10.0.0.10:53 -r 172.17.0.2:53",
    );
  },
});

Deno.test({
  name: "SCTP services use --sctp-service and IPv6 addresses are bracketed",
  permissions: "none",
  fn() {
    const text = renderIpvsadmRestore([
      {
        op: "ipvs.deleteVirtualServer",
        virtualServer: { protocol: "sctp", address: "fd00::1", port: 80 },
      },
      {
        op: "ipvs.addRealServer",
        virtualServer: { protocol: "tcp", address: "fd00::1", port: 80 },
        realServer: { address: "fd01::5", port: 8080, forward: "masq", weight: 1 },
      },
    ]);
    assert.equal(
      text,
      "-D --sctp-service [fd00::1]:80\n-a -t [fd00::1]:80 -r [fd01::5]:8080 -m -w 1\n",
    );
  },
});

Deno.test({
  name: "a value that could break the ipvsadm line is refused",
  permissions: "none",
  fn() {
    assert.throws(
      () =>
        renderIpvsadmLine({
          op: "ipvs.addVirtualServer",
          virtualServer: { ...kubernetes, scheduler: "rr\n-C" },
        }),
      RenderError,
    );
    assert.throws(
      () =>
        renderIpvsadmLine({
          op: "ipvs.deleteVirtualServer",
          virtualServer: { ...dnsKey, port: 70000 },
        }),
      RenderError,
    );
  },
});

const SAVED = `-A -t 10.0.0.1:443 -s rr -p 10800
-a -t 10.0.0.1:443 -r 192.168.0.1:6443 -m -w 1
-A -t 10.0.0.10:53 -s rr
-a -t 10.0.0.10:53 -r 172.17.0.2:53 -m -w 1
-A -u 10.0.0.10:53 -s rr
-a -u 10.0.0.10:53 -r 172.17.0.2:53 -m -w 0
-A --sctp-service [fd00:0::1]:80 -s mh -b mh-fallback,mh-port
-a --sctp-service [fd00::1]:80 -r [fd01::5]:8080 -g -w 2
-A -f 7 -s rr
-a -f 7 -r 10.1.1.1:0 -g -w 1
`;

Deno.test({
  name: "parseIpvsadmSave() reads ipvsadm -Sn output, skipping firewall-mark services",
  permissions: "none",
  fn() {
    const parsed = parseIpvsadmSave(SAVED);
    assert.equal(parsed.length, 4);
    assert.deepEqual(parsed[0], { ...kubernetes, service: "" });
    assert.deepEqual(parsed[2].realServers, [
      { address: "172.17.0.2", port: 53, forward: "masq", weight: 0 },
    ]);
    assert.deepEqual(parsed[3], {
      protocol: "sctp",
      address: "fd00::1",
      port: 80,
      scheduler: "mh",
      persistenceTimeout: 0,
      flags: ["mh-fallback", "mh-port"],
      service: "",
      realServers: [{ address: "fd01::5", port: 8080, forward: "route", weight: 2 }],
    });
  },
});

Deno.test({
  name: "renderIpvsState() and parseIpvsadmSave() round-trip",
  permissions: "none",
  fn() {
    const parsed = parseIpvsadmSave(SAVED);
    assert.deepEqual(parseIpvsadmSave(renderIpvsState(parsed)), parsed);
    assert.equal(
      renderIpvsState([kubernetes]),
      "-A -t 10.0.0.1:443 -s rr -p 10800\n-a -t 10.0.0.1:443 -r 192.168.0.1:6443 -m -w 1\n",
    );
  },
});

Deno.test({
  name: "parseIpvsadmSave() names the line it cannot read",
  permissions: "none",
  fn() {
    assert.throws(
      () => parseIpvsadmSave("-A -t 10.0.0.1:443 -s rr\n-a -t 10.0.0.1:443 -r host:http -m -w 1\n"),
      (e: unknown) =>
        e instanceof ParseError && e.lineNumber === 2 && /ipvsadm -Sn/.test(e.message),
    );
    assert.throws(() => parseIpvsadmSave("-a -t 10.0.0.1:443 -r 1.1.1.1:1 -m -w 1\n"), ParseError);
    assert.throws(() => parseIpvsadmSave("-A -t 10.0.0.1:443 -s rr --bogus\n"), ParseError);
  },
});

const LISTED = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:443 rr persistent 10800
  -> 192.168.0.1:6443             Masq    1      3          7         
TCP  10.0.0.10:53 rr
  -> 172.17.0.2:53                Masq    1      0          0         
UDP  10.0.0.10:53 rr
  -> 172.17.0.2:53                Masq    0      0          4         
SCTP [fd00::1]:80 mh (mh-fallback,mh-port)
  -> [fd01::5]:8080               Route   2      0          0         
FWM  7 rr
  -> 10.1.1.1:0                   Route   1      0          0         
`;

Deno.test({
  name: "parseIpvsadmList() reads ipvsadm -Ln output with connection counts",
  permissions: "none",
  fn() {
    const listed = parseIpvsadmList(LISTED);
    assert.equal(listed.length, 4);
    assert.deepEqual(listed[0], {
      ...kubernetes,
      service: "",
      realServers: [{
        address: "192.168.0.1",
        port: 6443,
        forward: "masq",
        weight: 1,
        activeConnections: 3,
        inactiveConnections: 7,
      }],
    });
    assert.deepEqual(listed[3].flags, ["mh-fallback", "mh-port"]);
    assert.equal(listed[3].realServers[0].forward, "route");
  },
});

Deno.test({
  name: "withConnectionCounts() adds the listed counts to the saved virtual servers",
  permissions: "none",
  fn() {
    const merged = withConnectionCounts(parseIpvsadmSave(SAVED), parseIpvsadmList(LISTED));
    assert.equal(merged[0].realServers[0].activeConnections, 3);
    assert.equal(merged[2].realServers[0].inactiveConnections, 4);
    const unlisted = withConnectionCounts(parseIpvsadmSave(SAVED), []);
    assert.equal(unlisted[0].realServers[0].activeConnections, undefined);
  },
});

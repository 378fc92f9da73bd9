import assert from "node:assert/strict";
import type { VirtualServer } from "../state/types.ts";
import { renderIpvsTable } from "./ipvs_table.ts";
import { parseIpvsadmList } from "./ipvsadm.ts";

function vs(protocol: VirtualServer["protocol"], address: string, port: number): VirtualServer {
  return {
    protocol,
    address,
    port,
    scheduler: "rr",
    persistenceTimeout: 0,
    flags: [],
    service: "",
    realServers: [{ address: "172.17.0.2", port: 53, forward: "masq", weight: 1 }],
  };
}

Deno.test({
  name: "renderIpvsTable() prints the seed's Debug example in ipvsadm -Ln columns",
  permissions: "none",
  fn() {
    const kubernetes: VirtualServer = {
      ...vs("tcp", "10.0.0.1", 443),
      persistenceTimeout: 10800,
      realServers: [{
        address: "192.168.0.1",
        port: 6443,
        forward: "masq",
        weight: 1,
        activeConnections: 1,
        inactiveConnections: 0,
      }],
    };
    // Given out of order: ipvsadm sorts by protocol before address.
    const text = renderIpvsTable([
      vs("udp", "10.0.0.10", 53),
      vs("tcp", "10.0.0.10", 53),
      kubernetes,
    ]);
    assert.equal(
      text,
      [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.0.0.1:443 rr persistent 10800",
        "  -> 192.168.0.1:6443             Masq    1      1          0         ",
        "TCP  10.0.0.10:53 rr",
        "  -> 172.17.0.2:53                Masq    1      0          0         ",
        "UDP  10.0.0.10:53 rr",
        "  -> 172.17.0.2:53                Masq    1      0          0         ",
        "",
      ].join("\n"),
    );
  },
});

Deno.test({
  name: "renderIpvsTable() shows scheduler flags, SCTP and IPv6 like ipvsadm",
  permissions: "none",
  fn() {
    const text = renderIpvsTable(
      [{ ...vs("sctp", "fd00::1", 80), scheduler: "mh", flags: ["mh-port"] }],
      { version: "1.2.1", size: 1048576 },
    );
    const lines = text.split("\n");
    assert.equal(lines[0], "IP Virtual Server version 1.2.1 (size=1048576)");
    assert.equal(lines[3], "SCTP [fd00::1]:80 mh (mh-port)");
  },
});

Deno.test({
  name: "what renderIpvsTable() prints, parseIpvsadmList() reads back",
  permissions: "none",
  fn() {
    const table = [
      { ...vs("tcp", "10.0.0.1", 443), persistenceTimeout: 10800 },
      { ...vs("udp", "fd00::a", 53), flags: ["flag-1"] },
    ];
    const parsed = parseIpvsadmList(renderIpvsTable(table));
    assert.deepEqual(
      parsed,
      table.map((v) => ({
        ...v,
        realServers: v.realServers.map((rs) => ({
          ...rs,
          activeConnections: 0,
          inactiveConnections: 0,
        })),
      })),
    );
  },
});

import assert from "node:assert/strict";
import type { VirtualServerSpec } from "../../src/plan/types.ts";
import { attributeMap } from "./message.ts";
import {
  describeIpvsOperation,
  encodeGetDestinations,
  encodeIpvsOperation,
  encodeSetTimeouts,
  IPVS_CMD,
  IpvsEncodeError,
  schedulerFlagNames,
  serviceFlags,
} from "./ipvs_messages.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

const spec: VirtualServerSpec = {
  protocol: "tcp",
  address: "10.0.0.1",
  port: 80,
  scheduler: "rr",
  persistenceTimeout: 0,
  flags: [],
  service: "default/web:http",
};

/** The nested attributes of `body`'s top-level attribute `type`, by type. */
function nestedOf(body: Uint8Array, type: number): Map<number, Uint8Array> {
  const inner = attributeMap(attributeMap(body.subarray(4)).get(type)!.data);
  return new Map([...inner].map(([t, a]) => [t, a.data]));
}

Deno.test({
  name: "adding a virtual server sends what ipvsadm's libipvs sends for -A -t 10.0.0.1:80 -s rr",
  permissions: "none",
  fn() {
    const body = encodeIpvsOperation({ op: "ipvs.addVirtualServer", virtualServer: spec });
    assert.equal(
      hex(body),
      [
        "01 01 00 00", // genl: IPVS_CMD_NEW_SERVICE, version 1
        "54 00 01 80", // IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, 84 bytes
        "06 00 01 00 02 00 00 00", // AF: AF_INET, host order
        "06 00 02 00 06 00 00 00", // PROTOCOL: TCP, host order
        "14 00 03 00 0a 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00", // ADDR: 16 bytes
        "06 00 04 00 00 50 00 00", // PORT: 80 in network order, no byte-order flag
        "07 00 06 00 72 72 00 00", // SCHED_NAME "rr\0"
        "0c 00 07 00 00 00 00 00 ff ff ff ff", // FLAGS: none, mask all ones
        "08 00 08 00 00 00 00 00", // TIMEOUT 0
        "08 00 09 00 ff ff ff ff", // NETMASK 255.255.255.255
      ].join(" "),
    );
  },
});

Deno.test({
  name: "persistence and mh-port set their flags, and an IPv6 service's netmask is 128",
  permissions: "none",
  fn() {
    const body = encodeIpvsOperation({
      op: "ipvs.editVirtualServer",
      virtualServer: {
        ...spec,
        protocol: "sctp",
        address: "fd00::1",
        scheduler: "mh",
        persistenceTimeout: 10800,
        flags: ["mh-port"],
      },
    });
    assert.equal(body[0], IPVS_CMD.SET_SERVICE);
    const service = nestedOf(body, 1);
    assert.equal(hex(service.get(1)!), "0a 00", "AF_INET6");
    assert.equal(hex(service.get(2)!), "84 00", "SCTP is 132");
    assert.equal(hex(service.get(3)!), "fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01");
    assert.equal(hex(service.get(7)!), "11 00 00 00 ff ff ff ff", "PERSISTENT | SCHED2");
    assert.equal(hex(service.get(8)!), "30 2a 00 00", "10800 seconds");
    assert.equal(hex(service.get(9)!), "80 00 00 00", "/128");
  },
});

Deno.test({
  name: "a real server is added with masquerading, its weight and no thresholds",
  permissions: "none",
  fn() {
    const body = encodeIpvsOperation({
      op: "ipvs.addRealServer",
      virtualServer: spec,
      realServer: { address: "10.244.1.5", port: 8080, forward: "masq", weight: 1 },
    });
    assert.equal(body[0], IPVS_CMD.NEW_DEST);
    const service = nestedOf(body, 1);
    assert.deepEqual([...service.keys()], [1, 2, 3, 4], "only the key: AF, PROTOCOL, ADDR, PORT");
    const dest = nestedOf(body, 2);
    assert.equal(hex(dest.get(11)!), "02 00", "ADDR_FAMILY");
    assert.equal(hex(dest.get(1)!), "0a f4 01 05 00 00 00 00 00 00 00 00 00 00 00 00");
    assert.equal(hex(dest.get(2)!), "1f 90", "8080");
    assert.equal(hex(dest.get(3)!), "00 00 00 00", "IP_VS_CONN_F_MASQ");
    assert.equal(hex(dest.get(4)!), "01 00 00 00", "weight 1");
    assert.equal(hex(dest.get(5)!), "00 00 00 00");
    assert.equal(hex(dest.get(6)!), "00 00 00 00");
  },
});

Deno.test({
  name: "deleting names the service and the real server by their keys only",
  permissions: "none",
  fn() {
    const delService = encodeIpvsOperation({ op: "ipvs.deleteVirtualServer", virtualServer: spec });
    assert.equal(delService[0], IPVS_CMD.DEL_SERVICE);
    assert.deepEqual([...nestedOf(delService, 1).keys()], [1, 2, 3, 4]);
    const delDest = encodeIpvsOperation({
      op: "ipvs.deleteRealServer",
      virtualServer: spec,
      realServer: { address: "10.244.1.5", port: 8080 },
    });
    assert.equal(delDest[0], IPVS_CMD.DEL_DEST);
    assert.deepEqual([...nestedOf(delDest, 2).keys()], [11, 1, 2]);
    const edit = encodeIpvsOperation({
      op: "ipvs.editRealServer",
      virtualServer: spec,
      realServer: { address: "10.244.1.5", port: 8080, forward: "masq", weight: 0 },
    });
    assert.equal(edit[0], IPVS_CMD.SET_DEST);
    assert.equal(hex(nestedOf(edit, 2).get(4)!), "00 00 00 00", "weight 0 drains");
    assert.equal(encodeGetDestinations(spec)[0], IPVS_CMD.GET_DEST);
  },
});

Deno.test({
  name: "scheduler flags are refused where ipvsadm refuses them",
  permissions: "none",
  fn() {
    assert.equal(
      serviceFlags({ scheduler: "sh", persistenceTimeout: 0, flags: ["sh-port"] }),
      0x10,
    );
    assert.equal(serviceFlags({ scheduler: "rr", persistenceTimeout: 5, flags: ["flag-3"] }), 0x21);
    assert.throws(
      () => serviceFlags({ scheduler: "rr", persistenceTimeout: 0, flags: ["mh-port"] }),
      (e) =>
        e instanceof IpvsEncodeError && /incompatible scheduler flag "mh-port"/.test(e.message),
    );
    assert.throws(
      () => serviceFlags({ scheduler: "rr", persistenceTimeout: 0, flags: ["fast"] }),
      /invalid scheduler flag "fast"/,
    );
  },
});

Deno.test({
  name: "flag names read back as ipvsadm -Sn prints them for each scheduler",
  permissions: "none",
  fn() {
    assert.deepEqual(schedulerFlagNames("mh", 0x1 | 0x2 | 0x8 | 0x10), ["mh-fallback", "mh-port"]);
    assert.deepEqual(schedulerFlagNames("sh", 0x10), ["sh-port"]);
    assert.deepEqual(schedulerFlagNames("wrr", 0x8 | 0x20), ["flag-1", "flag-3"]);
    assert.deepEqual(schedulerFlagNames("rr", 0x1 | 0x2 | 0x4), []);
  },
});

Deno.test({
  name: "values the kernel cannot take are refused before anything is sent",
  permissions: "none",
  fn() {
    const add = (virtualServer: VirtualServerSpec) =>
      encodeIpvsOperation({ op: "ipvs.addVirtualServer", virtualServer });
    assert.throws(() => add({ ...spec, address: "10.0.0" }), /"10.0.0" is not an IP address/);
    assert.throws(() => add({ ...spec, port: 70000 }), /port 70000/);
    assert.throws(() => add({ ...spec, scheduler: "" }), /1 to 15 printable ASCII characters/);
    assert.throws(() => add({ ...spec, scheduler: "a-very-long-scheduler" }), /1 to 15/);
    assert.throws(
      () =>
        encodeIpvsOperation({
          op: "ipvs.addRealServer",
          virtualServer: spec,
          realServer: { address: "10.0.0.2", port: 80, forward: "masq", weight: 70000 },
        }),
      /weight 70000/,
    );
    assert.throws(() => encodeSetTimeouts({ tcp: -1, tcpFin: 0, udp: 0 }), /timeout -1/);
  },
});

Deno.test({
  name: "the timeouts go in as ipvsadm --set sends them, 0 meaning unchanged",
  permissions: "none",
  fn() {
    const body = encodeSetTimeouts({ tcp: 900, tcpFin: 120, udp: 0 });
    assert.equal(
      hex(body),
      "0c 01 00 00 08 00 04 00 84 03 00 00 08 00 05 00 78 00 00 00 08 00 06 00 00 00 00 00",
    );
  },
});

Deno.test({
  name: "failure messages name the operation and the objects as ipvsadm -Ln does",
  permissions: "none",
  fn() {
    assert.equal(
      describeIpvsOperation({ op: "ipvs.addVirtualServer", virtualServer: spec }),
      "add virtual server TCP 10.0.0.1:80",
    );
    assert.equal(
      describeIpvsOperation({
        op: "ipvs.deleteRealServer",
        virtualServer: { protocol: "udp", address: "fd00::a", port: 53 },
        realServer: { address: "fd00::5", port: 53 },
      }),
      "delete real server [fd00::5]:53 of UDP [fd00::a]:53",
    );
  },
});

import assert from "node:assert/strict";
import { sortRealServers, sortVirtualServers } from "../../src/state/keys.ts";
import { decodeFamily, encodeGenl, GENL_ID_CTRL } from "./genl.ts";
import { encodeIpvsOperation, IPVS_CMD } from "./ipvs_messages.ts";
import {
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  IpvsDecodeError,
} from "./ipvs_replies.ts";
import { attributeMap, AttributeWriter, parseMessages } from "./message.ts";
import { CAPTURED_OPERATIONS, CAPTURED_TIMEOUTS, DNS, WEB } from "./testdata/ipvs_captured.ts";

/** The nested attributes of a genl payload's top-level attribute `type`, by type. */
function nestedOf(payload: Uint8Array, type: number): Map<number, Uint8Array> {
  const inner = attributeMap(attributeMap(payload.subarray(4)).get(type)!.data);
  return new Map([...inner].map(([t, a]) => [t, a.data]));
}

// ---- replies shaped like the kernel's (ip_vs_genl_fill_service / _fill_dest / _get_cmd) ----

type Fill = (out: AttributeWriter) => void;

// The nested stats the kernel appends to every service and destination (skipped when read).
const stats: Fill = (out) =>
  out.nested(10, (s) => s.u32(1, 3).u32(2, 10).u32(3, 8).u64(4, 0n).u64(5, 0n));

function serviceReply(fill: Fill): Uint8Array {
  const attrs = new AttributeWriter().nested(1, (svc) => {
    fill(svc);
    stats(svc);
  });
  return encodeGenl(IPVS_CMD.NEW_SERVICE, 1, attrs.bytes());
}

const tcp10001port80: Fill = (out) =>
  out.u16(1, 2).u16(2, 6).binary(3, Uint8Array.of(10, 0, 0, 1, ...new Array(12).fill(0)))
    .u16(4, 80, { order: "net" });

function flagsValue(flags: number): Uint8Array {
  return Uint8Array.of(flags, 0, 0, 0, 0xff, 0xff, 0xff, 0xff);
}

Deno.test({
  name: "a dumped service decodes as the exec read gives -A -t 10.0.0.1:80 -s mh -p 600 -b mh-port",
  permissions: "none",
  fn() {
    const reply = serviceReply((out) => {
      tcp10001port80(out);
      // PERSISTENT | HASHED | SCHED2
      out.string(6, "mh").binary(7, flagsValue(0x1 | 0x2 | 0x10)).u32(8, 600).u32(9, 0xffffffff);
    });
    assert.deepEqual(decodeService(reply), {
      protocol: "tcp",
      address: "10.0.0.1",
      port: 80,
      scheduler: "mh",
      persistenceTimeout: 600,
      flags: ["mh-port"],
      service: "",
      realServers: [],
    });
  },
});

Deno.test({
  name: "a timeout without the persistent flag reads as no persistence, as ipvsadm prints no -p",
  permissions: "none",
  fn() {
    const reply = serviceReply((out) => {
      tcp10001port80(out);
      out.string(6, "rr").binary(7, flagsValue(0x2)).u32(8, 300).u32(9, 0xffffffff);
    });
    assert.equal(decodeService(reply)?.persistenceTimeout, 0);
  },
});

Deno.test({
  name: "a firewall-mark service is not ours and reads as nothing",
  permissions: "none",
  fn() {
    const reply = serviceReply((out) =>
      out.u16(1, 2).u32(5, 7).string(6, "rr").binary(7, flagsValue(0x2)).u32(8, 0)
        .u32(9, 0xffffffff)
    );
    assert.equal(decodeService(reply), undefined);
  },
});

Deno.test({
  name: "a dumped destination decodes with its forwarding method, weight and connection counts",
  permissions: "none",
  fn() {
    const attrs = new AttributeWriter().nested(2, (dest) => {
      dest.binary(1, Uint8Array.of(0xfd, 0, ...new Array(13).fill(0), 5)).u16(11, 10)
        .u16(2, 8080, { order: "net" }).u32(3, 0).u32(4, 0).u32(5, 0).u32(6, 0)
        .u32(7, 2).u32(8, 1).u32(9, 0);
      stats(dest);
    });
    const reply = encodeGenl(IPVS_CMD.NEW_DEST, 1, attrs.bytes());
    assert.deepEqual(decodeDestination(reply, true), {
      address: "fd00::5",
      port: 8080,
      forward: "masq",
      weight: 0,
      activeConnections: 2,
      inactiveConnections: 1,
    });
  },
});

Deno.test({
  name: "GET_INFO and GET_CONFIG replies give the version, table size and timeouts",
  permissions: "none",
  fn() {
    const info = encodeGenl(
      IPVS_CMD.SET_INFO,
      1,
      new AttributeWriter().u32(1, 0x010201).u32(2, 4096).bytes(),
    );
    assert.deepEqual(decodeInfo(info), {
      version: "1.2.1",
      versionCode: 0x010201,
      tableSize: 4096,
    });
    const config = encodeGenl(
      IPVS_CMD.SET_CONFIG,
      1,
      new AttributeWriter().u32(4, 900).u32(5, 120).u32(6, 300).bytes(),
    );
    assert.deepEqual(decodeTimeouts(config), { tcp: 900, tcpFin: 120, udp: 300 });
  },
});

Deno.test({
  name: "a reply of the wrong command or with a missing attribute is a decode error naming it",
  permissions: "none",
  fn() {
    assert.throws(
      () => decodeInfo(encodeGenl(IPVS_CMD.NEW_SERVICE, 1)),
      (e) =>
        e instanceof IpvsDecodeError && /expected a GET_INFO reply \(command 14\)/.test(e.message),
    );
    assert.throws(
      () => decodeService(serviceReply((out) => tcp10001port80(out.string(6, "rr")))),
      /a GET_SERVICE reply has no IPVS_SVC_ATTR_FLAGS/,
    );
    assert.throws(
      () => decodeService(encodeGenl(1, 1)),
      /a GET_SERVICE reply has no IPVS_CMD_ATTR_SERVICE/,
    );
  },
});

Deno.test({
  name: "a destination reply that lacks a value or is cut short is a decode error naming it",
  permissions: "none",
  fn() {
    const dest = (fill: (out: AttributeWriter) => void) =>
      encodeGenl(IPVS_CMD.NEW_DEST, 1, new AttributeWriter().nested(2, fill).bytes());
    const v4 = (out: AttributeWriter) =>
      out.binary(1, Uint8Array.of(10, 0, 0, 5, ...new Array(12).fill(0))).u16(11, 2)
        .u16(2, 8080, { order: "net" }).u32(3, 0);
    assert.throws(
      () => decodeDestination(dest((out) => v4(out).u32(7, 0).u32(8, 0)), false),
      /a GET_DEST reply has no IPVS_DEST_ATTR_WEIGHT/,
    );
    assert.throws(
      () => decodeDestination(dest((out) => v4(out).u16(4, 1).u32(7, 0).u32(8, 0)), false),
      /a GET_DEST reply has no IPVS_DEST_ATTR_WEIGHT/,
    );
    const whole = dest((out) => v4(out).u32(4, 1).u32(7, 0).u32(8, 0));
    assert.throws(
      () => decodeDestination(whole.subarray(0, whole.length - 2), false),
      /a GET_DEST reply: attribute length/,
    );
    assert.throws(
      () => decodeDestination(dest((out) => v4(out.u16(11, 7)).u32(4, 1)), false),
      IpvsDecodeError,
    );
    assert.throws(() => decodeDestination(encodeGenl(1, 1), false), /expected a GET_DEST reply/);
  },
});

Deno.test({
  name: "destinations decode alike one by one and side by side in one datagram",
  fn() {
    // A dump's messages are views into one received datagram; the decoder keeps a view of the
    // last buffer it saw, so decoding them in any order must not mix their values.
    const messages = captured("ipvs_get_dest_dump_v4.bin");
    const copies = messages.map((m) => decodeDestination(m.payload.slice(), false));
    const shared = [...messages].reverse().map((m) => decodeDestination(m.payload, false))
      .reverse();
    assert.deepEqual(shared, copies);
    assert.equal(new Set(copies.map((c) => c.address)).size, copies.length);
  },
});

// ---- the kernel's own replies (testdata/capture_ipvs.ts, run in the VM of tests/vm) ----

const captured = (name: string) =>
  parseMessages(Deno.readFileSync(new URL(`./testdata/${name}`, import.meta.url)));

Deno.test("the kernel's GETFAMILY reply resolves IPVS, version 1, six command attributes", () => {
  const [reply] = captured("ipvs_getfamily_reply.bin");
  assert.equal(reply.type, GENL_ID_CTRL);
  const family = decodeFamily(reply.payload);
  assert.deepEqual([family.name, family.version, family.maxAttribute], ["IPVS", 1, 6]);
  assert.ok(family.id > GENL_ID_CTRL, `a dynamic id, got ${family.id}`);
});

Deno.test("the kernel's service dump decodes to the captured table's virtual servers", () => {
  const services = captured("ipvs_get_service_dump.bin").map((m) => decodeService(m.payload));
  const empty = { realServers: [] };
  assert.deepEqual(sortVirtualServers(services.filter((vs) => vs !== undefined)), [
    { ...WEB, ...empty },
    { ...DNS, ...empty },
  ]);
});

Deno.test("the kernel's destination dumps decode with weights and connection counts", () => {
  const v4 = captured("ipvs_get_dest_dump_v4.bin").map((m) => decodeDestination(m.payload, false));
  const v6 = captured("ipvs_get_dest_dump_v6.bin").map((m) => decodeDestination(m.payload, true));
  const counts = { activeConnections: 0, inactiveConnections: 0 };
  const expected = CAPTURED_OPERATIONS.flatMap((op) =>
    op.op === "ipvs.addRealServer" ? [{ ...op.realServer, ...counts }] : []
  );
  assert.deepEqual(sortRealServers([...v4, ...v6]), sortRealServers(expected));
});

Deno.test("the kernel's GET_INFO and GET_CONFIG replies give the version, size and timeouts", () => {
  const [info] = captured("ipvs_get_info_reply.bin");
  assert.deepEqual(decodeInfo(info.payload), {
    version: "1.2.1",
    versionCode: 0x010201,
    tableSize: 4096,
  });
  const [config] = captured("ipvs_get_config_reply.bin");
  assert.deepEqual(decodeTimeouts(config.payload), CAPTURED_TIMEOUTS);
});

Deno.test("what this module sends for the captured table is what the kernel dumps back", () => {
  // The kernel echoes a service's key attributes in the order and sizes they were sent in.
  const [web] = captured("ipvs_get_service_dump.bin").filter((m) =>
    decodeService(m.payload)?.address === WEB.address
  );
  const sent = nestedOf(
    encodeIpvsOperation({ op: "ipvs.addVirtualServer", virtualServer: WEB }),
    1,
  );
  const dumped = nestedOf(web.payload, 1);
  for (const type of [1, 2, 3, 4, 6, 8, 9]) {
    assert.deepEqual(dumped.get(type), sent.get(type), `service attribute ${type}`);
  }
});

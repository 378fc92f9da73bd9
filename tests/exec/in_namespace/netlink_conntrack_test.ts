/**
 * The netlink backend's conntrack table on this private namespace's real kernel, checked
 * against the `conntrack` tool: real UDP flows DNATed by nat rules (IPv4 and IPv6) and flows
 * inserted with `conntrack -I` (odd IPv6 texts, another zone, TCP) list as the tool lists
 * them, a delete removes exactly the flows the tool's `-D --orig-dst --orig-port-dst
 * --reply-src` would, and 2,000 flows go in a handful of sends.
 *
 * With `CAPTURE_CONNTRACK_FIXTURES=1` one more test writes the kernel's replies to
 * `backends/netlink/testdata/conntrack_*.bin` for the unit tests.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { runCommand } from "../../../backends/exec/command.ts";
import { listUdpFlows } from "../../../backends/exec/conntrack.ts";
import { type ConntrackSocket, NetlinkConntrack } from "../../../backends/netlink/conntrack.ts";
import { NETLINK_NETFILTER, NetlinkSocket } from "../../../backends/netlink/socket.ts";
import {
  CTA,
  CTA_IP,
  CTA_PROTO,
  CTA_TUPLE,
  deleteRequest,
  dumpRequest,
  IPPROTO_UDP,
  udpEntries,
} from "../../../backends/netlink/conntrack_messages.ts";
import { check, libc } from "../../../backends/netlink/libc.ts";
import {
  AttributeWriter,
  concatBytes,
  encodeMessage,
  type NetlinkMessage,
  type NetlinkRequest,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  parseMessages,
} from "../../../backends/netlink/message.ts";
import type { IptablesFamily, UdpFlow } from "../../../src/state/types.ts";
import { prepareNamespace, tool } from "./namespace_helpers.ts";

/** Service addresses DNATed to loopback, keeping the port (so every flow's reply differs). */
const SERVICE = { ipv4: "10.99.0.10", ipv6: "fd00:99::10" } as const;
const LOOPBACK = { ipv4: "127.0.0.1", ipv6: "::1" } as const;
const RULES = {
  ipv4: ["-d", "10.99.0.10/32", "-p", "udp", "-j", "DNAT", "--to-destination", "127.0.0.1"],
  ipv6: ["-d", "fd00:99::10/128", "-p", "udp", "-j", "DNAT", "--to-destination", "::1"],
};
const ROUTES = { ipv4: "10.99.0.0/24", ipv6: "fd00:99::/64" } as const;
const IPTABLES = { ipv4: "iptables", ipv6: "ip6tables" } as const;
const FAMILIES: readonly IptablesFamily[] = ["ipv4", "ipv6"];

/** One datagram from `localPort` to each of `ports` on `host`; the answers do not matter. */
async function send(
  family: IptablesFamily,
  host: string,
  ports: readonly number[],
  localPort: number,
): Promise<void> {
  const socket = dgram.createSocket(family === "ipv6" ? "udp6" : "udp4");
  await new Promise<void>((resolve) => socket.bind(localPort, LOOPBACK[family], () => resolve()));
  for (const port of ports) {
    await new Promise<void>((resolve, reject) =>
      socket.send("q", port, host, (error) => error ? reject(error) : resolve())
    );
  }
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

/** `conntrack -I` of a UDP flow (or `protocol`), unreplied, for ten minutes. */
async function insert(
  orig: { src: string; dst: string; sport: number; dport: number },
  replySrc: string,
  extra: string[] = [],
): Promise<void> {
  await tool([
    "conntrack",
    "-I",
    ...(extra.includes("tcp") ? [] : ["-p", "udp"]),
    ...extra,
    "-s",
    orig.src,
    "-d",
    orig.dst,
    "--sport",
    String(orig.sport),
    "--dport",
    String(orig.dport),
    "-r",
    replySrc,
    "-q",
    orig.src,
    "--reply-port-src",
    String(orig.dport),
    "--reply-port-dst",
    String(orig.sport),
    "-t",
    "600",
  ]);
}

function sorted(flows: readonly UdpFlow[]): string[] {
  return flows.map((f) => JSON.stringify(f)).sort();
}

function has(flows: readonly UdpFlow[], flow: UdpFlow): boolean {
  return flows.some((f) => JSON.stringify(f) === JSON.stringify(flow));
}

function serviceFlow(family: IptablesFamily, port: number): UdpFlow {
  return { family, origDst: SERVICE[family], origDstPort: port, replySrc: LOOPBACK[family] };
}

async function flush(): Promise<void> {
  for (const family of FAMILIES) await runCommand(["conntrack", "-F", "-f", family]);
}

/** Runs `test` with the DNAT rules and local routes in place, and no flows before or after. */
async function withServices(test: () => Promise<void>): Promise<void> {
  await prepareNamespace();
  await flush();
  for (const family of FAMILIES) {
    await tool([IPTABLES[family], "-t", "nat", "-A", "OUTPUT", ...RULES[family]]);
    await tool([
      "ip",
      ...(family === "ipv6" ? ["-6"] : []),
      "route",
      "add",
      "local",
      ROUTES[family],
      "dev",
      "lo",
    ]);
  }
  try {
    await test();
  } finally {
    for (const family of FAMILIES) {
      await runCommand([IPTABLES[family], "-t", "nat", "-D", "OUTPUT", ...RULES[family]]);
      const ip = ["ip", ...(family === "ipv6" ? ["-6"] : [])];
      await runCommand([...ip, "route", "del", "local", ROUTES[family], "dev", "lo"]);
    }
    await flush();
  }
}

/** Real flows of both families to the service (port 53) and to another address. */
async function makeFlows(): Promise<void> {
  await send("ipv4", SERVICE.ipv4, [53], 40053);
  await send("ipv4", "127.0.0.2", [999], 40054);
  await send("ipv6", SERVICE.ipv6, [53], 40053);
  await send("ipv6", "::1", [999], 40054);
}

const toolList = (family: IptablesFamily) => listUdpFlows(runCommand, family);

Deno.test({
  name: "the netlink table lists the UDP flows exactly as the conntrack tool lists them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withServices(async () => {
      await makeFlows();
      // What only conntrack -I makes: addresses glibc prints oddly, another zone, TCP.
      await insert({ src: "fd00::5", dst: "::ffff:10.1.2.3", sport: 40000, dport: 53 }, "::2:3");
      await insert({ src: "10.0.0.6", dst: "10.96.0.10", sport: 4, dport: 53 }, "10.244.1.2", [
        "-w",
        "7",
      ]);
      await insert({ src: "10.0.0.7", dst: "10.96.0.10", sport: 4, dport: 53 }, "10.244.1.2", [
        "-p",
        "tcp",
        "--state",
        "ESTABLISHED",
      ]);
      const table = new NetlinkConntrack();
      try {
        for (const family of FAMILIES) {
          const listed = await table.list(family);
          assert.deepEqual(sorted(listed), sorted(await toolList(family)), family);
          assert.ok(has(listed, serviceFlow(family, 53)), JSON.stringify(listed));
        }
        assert.equal((await table.list("ipv4")).length, 3, "the TCP flow is not listed");
      } finally {
        table.close();
      }
    });
  },
});

Deno.test({
  name: "a delete removes exactly the flows the tool would, in every zone, and leaves others",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withServices(async () => {
      await makeFlows();
      // The same destination, port and reply source in zone 7: the tool deletes it too.
      await insert({ src: "10.0.0.6", dst: SERVICE.ipv4, sport: 4, dport: 53 }, LOOPBACK.ipv4, [
        "-w",
        "7",
      ]);
      // Replied by ::2:3 (the tool prints ::0.2.0.3) and by ::ffff:0.2.0.3: two addresses.
      const mapped = { src: "fd00::5", dst: "::ffff:10.1.2.3", sport: 40000, dport: 53 };
      await insert(mapped, "::2:3");
      await insert({ ...mapped, sport: 40001 }, "::ffff:0.2.0.3");
      const compatible: UdpFlow = {
        family: "ipv6",
        origDst: "::ffff:10.1.2.3",
        origDstPort: 53,
        replySrc: "::0.2.0.3",
      };
      const gone = [serviceFlow("ipv4", 53), serviceFlow("ipv6", 53), compatible];
      const table = new NetlinkConntrack();
      try {
        // Asked twice, and the IPv6 service written otherwise: still the same flows.
        const wanted = [...gone, serviceFlow("ipv4", 53)];
        wanted.push({ ...serviceFlow("ipv6", 53), origDst: "fd00:99:0::0:10" });
        const before = { ipv4: await toolList("ipv4"), ipv6: await toolList("ipv6") };
        assert.deepEqual(await table.delete(wanted), { deleted: 4, problems: [], writes: 1 });
        for (const family of FAMILIES) {
          const expected = before[family].filter((f) => !has(gone, f));
          assert.equal(expected.length, family === "ipv4" ? 1 : 2, family);
          assert.deepEqual(sorted(await toolList(family)), sorted(expected), family);
          assert.deepEqual(sorted(await table.list(family)), sorted(expected), family);
        }
        assert.deepEqual(await table.delete(wanted), { deleted: 0, problems: [], writes: 0 });
      } finally {
        table.close();
      }
    });
  },
});

Deno.test({
  name: "a flow gone between the dump and its delete is not counted and is no problem",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withServices(async () => {
      await send("ipv4", SERVICE.ipv4, [53, 54], 40053);
      const real = NetlinkSocket.open(NETLINK_NETFILTER);
      // The tool deletes port 54's flow after the table dumped it, before its delete arrives.
      const racing: ConntrackSocket = {
        dump: (request, context) => real.dump(request, context),
        batch: async (requests, context) => {
          await tool([
            "conntrack",
            "-D",
            "-p",
            "udp",
            "--orig-dst",
            SERVICE.ipv4,
            "--orig-port-dst",
            "54",
          ]);
          return real.batch(requests, context);
        },
        close: () => real.close(),
      };
      const table = new NetlinkConntrack({ open: () => racing });
      try {
        const result = await table.delete([serviceFlow("ipv4", 53), serviceFlow("ipv4", 54)]);
        assert.deepEqual(result, { deleted: 1, problems: [], writes: 1 });
        assert.deepEqual(await table.list("ipv4"), []);
      } finally {
        table.close();
      }
    });
  },
});

Deno.test({
  name: "2,000 flows are deleted in a handful of sends and the others stay",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withServices(async () => {
      const ports = Array.from({ length: 2000 }, (_, i) => 20000 + i);
      await send("ipv4", SERVICE.ipv4, ports, 40053);
      await send("ipv4", "127.0.0.2", [999], 40054);
      const table = new NetlinkConntrack();
      try {
        const flows = ports.map((port) => serviceFlow("ipv4", port));
        const listed = await table.list("ipv4");
        assert.equal(listed.length, 2001);
        const started = performance.now();
        const result = await table.delete(flows);
        const ms = performance.now() - started;
        assert.deepEqual(result.problems, []);
        assert.equal(result.deleted, 2000);
        assert.ok(result.writes >= 1 && result.writes <= 4, `${result.writes} writes`);
        const left = await toolList("ipv4");
        assert.deepEqual(left, [{
          family: "ipv4",
          origDst: "127.0.0.2",
          origDstPort: 999,
          replySrc: "127.0.0.2",
        }]);
        console.log(`netlink: 2,000 flows deleted in ${ms.toFixed(0)} ms, ${result.writes} sends`);
      } finally {
        table.close();
      }
    });
  },
});

Deno.test({
  name: "the kernel's conntrack replies are captured as fixtures when asked",
  ignore: Deno.env.get("CAPTURE_CONNTRACK_FIXTURES") !== "1",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await prepareNamespace();
    await flush();
    try {
      await captureFixtures();
    } finally {
      await flush();
    }
  },
});

const TESTDATA = new URL("../../../backends/netlink/testdata/", import.meta.url);

/** The messages of a dump as the socket received them (NLMSG_DONE left out), re-encoded. */
function saveMessages(name: string, messages: readonly NetlinkMessage[]): void {
  const bytes = concatBytes(
    messages.map((m) => encodeMessage({ type: m.type, flags: 0, payload: m.payload }, m)),
  );
  Deno.writeFileSync(new URL(name, TESTDATA), bytes);
  console.log(`${name}: ${messages.length} messages, ${bytes.length} bytes`);
}

/**
 * Sends `requests` in one datagram as the socket's batch does (an ACK asked for only on the
 * last) from a bare socket, and returns the reply datagrams as received, concatenated.
 */
function exchangeRaw(requests: readonly NetlinkRequest[]): Uint8Array {
  const c = libc();
  const fd = check("socket", c.socket(16, 3, NETLINK_NETFILTER));
  try {
    const address = new Uint8Array(12);
    address[0] = 16; // AF_NETLINK
    check("bind", c.bind(fd, address, 12));
    const timeout = new Uint8Array(16);
    timeout[0] = 5; // SO_RCVTIMEO of 5 s: a lost reply fails the capture
    check("setsockopt", c.setsockopt(fd, 1, 20, timeout, 16));
    c.setsockopt(fd, 270, 10, new Uint8Array([1, 0, 0, 0]), 4); // NETLINK_CAP_ACK
    const bytes = concatBytes(requests.map((request, i) => {
      const last = i === requests.length - 1;
      return encodeMessage(request, {
        flags: NLM_F_REQUEST | (last ? NLM_F_ACK : 0),
        seq: i + 1,
        pid: 0,
      });
    }));
    check("sendto", c.sendto(fd, bytes, BigInt(bytes.length), 0, address, 12));
    const datagrams: Uint8Array[] = [];
    for (;;) {
      const buffer = new Uint8Array(1 << 16);
      const n = Number(
        check("recvfrom", c.recvfrom(fd, buffer, BigInt(buffer.length), 0, null, null)),
      );
      datagrams.push(buffer.slice(0, n));
      const messages = parseMessages(buffer.subarray(0, n));
      if (messages.some((m) => m.type === NLMSG_ERROR && m.seq === requests.length)) {
        return concatBytes(datagrams);
      }
    }
  } finally {
    c.close(fd);
  }
}

/** A UDP delete without ports: the kernel refuses it with EINVAL. */
function deleteWithoutPorts(): NetlinkRequest {
  const w = new AttributeWriter().nested(CTA.TUPLE_ORIG, (t) => {
    t.nested(CTA_TUPLE.IP, (ip) => {
      ip.binary(CTA_IP.V4_SRC, [10, 0, 0, 5]).binary(CTA_IP.V4_DST, [10, 96, 0, 10]);
    });
    t.nested(CTA_TUPLE.PROTO, (proto) => proto.u8(CTA_PROTO.NUM, IPPROTO_UDP));
  });
  return {
    type: (1 << 8) | 2,
    flags: 0,
    payload: concatBytes([new Uint8Array([2, 0, 0, 0]), w.bytes()]),
  };
}

/**
 * The fixtures of `backends/netlink/conntrack_messages_test.ts` and `conntrack_test.ts`: a
 * dump of each family, and the replies to a batch of three deletes (one that works, the same
 * again, gone: ENOENT, and one without ports: EINVAL).
 */
async function captureFixtures(): Promise<void> {
  await insert({ src: "10.0.0.5", dst: "10.96.0.10", sport: 40000, dport: 53 }, "10.244.1.2");
  await insert({ src: "10.0.0.6", dst: "10.96.0.10", sport: 40001, dport: 53 }, "10.244.1.3", [
    "-w",
    "7",
  ]);
  await insert({ src: "10.0.0.7", dst: "10.96.0.10", sport: 40002, dport: 80 }, "10.244.1.4", [
    "-p",
    "tcp",
    "--state",
    "ESTABLISHED",
  ]);
  await insert({ src: "fd00::5", dst: "::ffff:10.1.2.3", sport: 40000, dport: 53 }, "::2:3");
  await insert({ src: "fd00::6", dst: "fd00:96::a", sport: 40001, dport: 53 }, "fd00:244::2");
  const socket = NetlinkSocket.open(NETLINK_NETFILTER);
  try {
    const context = { operation: "capture", object: "conntrack" };
    for (const family of FAMILIES) {
      saveMessages(`conntrack_dump_${family}.bin`, await socket.dump(dumpRequest(family), context));
    }
    const [first] = udpEntries(await socket.dump(dumpRequest("ipv4"), context), "ipv4");
    const replies = exchangeRaw([deleteRequest(first), deleteRequest(first), deleteWithoutPorts()]);
    Deno.writeFileSync(new URL("conntrack_delete_replies.bin", TESTDATA), replies);
    console.log(`conntrack_delete_replies.bin: ${replies.length} bytes`);
  } finally {
    socket.close();
  }
}

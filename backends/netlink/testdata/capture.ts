/**
 * Captures the kernel's replies as fixtures for the message tests: run inside a fresh network
 * namespace as root, `unshare -n deno run -A backends/netlink/testdata/capture.ts`. Each
 * fixture is one request's reply datagrams, concatenated, exactly as `recvfrom` returned them.
 *
 * @module
 */

import { check, libc } from "../libc.ts";
import {
  AttributeWriter,
  concatBytes,
  encodeMessage,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseMessages,
} from "../message.ts";
import { NETLINK_NETFILTER, NETLINK_ROUTE } from "../socket.ts";
import { IpsetMessages } from "../ipset.ts";

const here = new URL(".", import.meta.url).pathname;

function openRaw(protocol: number, extAck: boolean): number {
  const c = libc();
  const fd = check("socket", c.socket(16, 3, protocol));
  const address = new Uint8Array(12);
  address[0] = 16;
  check("bind", c.bind(fd, address, 12));
  const one = new Uint8Array([1, 0, 0, 0]);
  if (extAck) c.setsockopt(fd, 270, 11, one, 4);
  c.setsockopt(fd, 270, 10, one, 4);
  return fd;
}

/** Sends `message` and returns the reply datagrams up to the ACK, error or DONE. */
function exchange(fd: number, message: Uint8Array): Uint8Array {
  const c = libc();
  check(
    "sendto",
    c.sendto(
      fd,
      message,
      BigInt(message.length),
      0,
      new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      12,
    ),
  );
  const datagrams: Uint8Array[] = [];
  for (;;) {
    const buffer = new Uint8Array(1 << 16);
    const n = Number(
      check("recvfrom", c.recvfrom(fd, buffer, BigInt(buffer.length), 0, null, null)),
    );
    datagrams.push(buffer.slice(0, n));
    const last = parseMessages(buffer.subarray(0, n)).at(-1)!;
    if (last.type === NLMSG_ERROR || last.type === NLMSG_DONE) return concatBytes(datagrams);
  }
}

function save(name: string, bytes: Uint8Array): void {
  Deno.writeFileSync(`${here}${name}`, bytes);
  console.log(`${name}: ${bytes.length} bytes`);
}

function ifaddrmsg(prefix: number, index: number): Uint8Array {
  const header = new Uint8Array(8);
  header[0] = 2; // AF_INET
  header[1] = prefix;
  new DataView(header.buffer).setUint32(4, index, true);
  return header;
}

const route = openRaw(NETLINK_ROUTE, true);
const addAddress = (seq: number) =>
  encodeMessage({
    type: 20, // RTM_NEWADDR
    flags: 0,
    payload: concatBytes([
      ifaddrmsg(32, 1),
      new AttributeWriter().binary(2, new Uint8Array([10, 9, 0, 1])).binary(
        1,
        new Uint8Array([10, 9, 0, 1]),
      ).bytes(),
    ]),
  }, { flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, pid: 0 });
save("rtnl_newaddr_ack.bin", exchange(route, addAddress(1)));
save("rtnl_newaddr_eexist.bin", exchange(route, addAddress(2)));
save(
  "rtnl_getaddr_dump.bin",
  exchange(
    route,
    encodeMessage({ type: 22, flags: 0, payload: ifaddrmsg(0, 0) }, {
      flags: NLM_F_REQUEST | NLM_F_DUMP,
      seq: 3,
      pid: 0,
    }),
  ),
);
save(
  "rtnl_getlink_dump.bin",
  exchange(
    route,
    encodeMessage({ type: 18, flags: 0, payload: new Uint8Array(16) }, {
      flags: NLM_F_REQUEST | NLM_F_DUMP,
      seq: 4,
      pid: 0,
    }),
  ),
);
libc().close(route);

// Without NETLINK_EXT_ACK and NETLINK_CAP_ACK off: the error copies the whole request.
const plain = check("socket", libc().socket(16, 3, NETLINK_NETFILTER));
check("bind", libc().bind(plain, new Uint8Array([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 12));
// ipset IPSET_CMD_PROTOCOL (1) with protocol attribute 6: the handshake.
const protocolRequest = encodeMessage({
  type: (6 << 8) | 1,
  flags: 0,
  payload: concatBytes([new Uint8Array([2, 0, 0, 0]), new AttributeWriter().u8(1, 6).bytes()]),
}, { flags: NLM_F_REQUEST | NLM_F_ACK, seq: 5, pid: 0 });
save("ipset_protocol_reply.bin", exchange(plain, protocolRequest));
libc().close(plain);

// ipset: the type query, a create, an ADT add whose third entry the kernel refuses (it
// writes that entry's line number into the copy of the request), and a list of the set.
const nfnl = openRaw(NETLINK_NETFILTER, true);
const ipset = new IpsetMessages(7);
const numbered = (request: ReturnType<IpsetMessages["named"]>, seq: number) =>
  encodeMessage(request, { flags: NLM_F_REQUEST | NLM_F_ACK | request.flags, seq, pid: 0 });
save("ipset_type_reply.bin", exchange(nfnl, numbered(ipset.type("hash:ip,port", 2), 6)));
const header = { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } as const;
exchange(nfnl, numbered(ipset.create(header, header.name, 7), 7));
const [adt] = ipset.adt("add", header.name, [
  "10.96.0.1,tcp:443",
  "10.96.0.10,udp:53",
  "fd00::1,tcp:1",
]);
save("ipset_adt_error_line3.bin", exchange(nfnl, numbered(adt.request, 8)));
const list = ipset.request(7, (w) => w.string(2, header.name));
save(
  "ipset_list_reply.bin",
  exchange(nfnl, encodeMessage(list, { flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 9, pid: 0 })),
);
libc().close(nfnl);

// nf_tables NFT_MSG_GETGEN (subsystem 10, message 16): the NEWGEN reply, then the ACK.
const nftables = openRaw(NETLINK_NETFILTER, true);
save(
  "nft_getgen_reply.bin",
  exchange(
    nftables,
    encodeMessage({ type: (10 << 8) | 16, flags: 0, payload: new Uint8Array(4) }, {
      flags: NLM_F_REQUEST | NLM_F_ACK,
      seq: 10,
      pid: 0,
    }),
  ),
);
libc().close(nftables);

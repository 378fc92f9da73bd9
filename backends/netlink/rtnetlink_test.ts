import assert from "node:assert/strict";
import {
  addressRequest,
  boundAddresses,
  DeviceAddressesDecoder,
  newLinkRequest,
  parseAddress,
  parseLink,
} from "./rtnetlink.ts";
import { deviceAddresses, type LinkInfo } from "../exec/read_kernel.ts";
import { attributeMap, attrString, NLM_F_CREATE, NLM_F_EXCL, parseMessages } from "./message.ts";

// Read when the module loads, so the tests themselves run without permissions.
const ADDRESSES = Deno.readFileSync(new URL("./testdata/rtnl_getaddr_dump.bin", import.meta.url));
const LINKS = Deno.readFileSync(new URL("./testdata/rtnl_getlink_dump.bin", import.meta.url));

Deno.test({
  name: "an address the kernel dumped reads as ip -j addr shows it",
  permissions: "none",
  fn() {
    const [message] = parseMessages(ADDRESSES);
    assert.deepEqual(parseAddress(message), {
      index: 1,
      info: { family: "inet", local: "10.9.0.1", prefixlen: 32, scope: "global" },
    });
  },
});

Deno.test({
  name: "a link the kernel dumped reads with its index, name and flags",
  permissions: "none",
  fn() {
    const [message] = parseMessages(LINKS);
    const link = parseLink(message);
    assert.equal(link.index, 1);
    assert.equal(link.name, "lo");
    assert.equal(link.flags & 0x8, 0x8, "IFF_LOOPBACK");
  },
});

Deno.test({
  name: "an address is added as ip adds it: local and address both set, refused if present",
  permissions: "none",
  fn() {
    const request = addressRequest("add", { index: 7, address: "fd00::10/128" });
    assert.equal(request.type, 20);
    assert.equal(request.flags, NLM_F_CREATE | NLM_F_EXCL);
    assert.deepEqual([...request.payload.subarray(0, 4)], [10, 128, 0, 0]);
    const attributes = attributeMap(request.payload.subarray(8));
    assert.deepEqual(attributes.get(1)!.data, attributes.get(2)!.data);
    assert.equal(attributes.get(2)!.data.length, 16);
    assert.throws(() => addressRequest("del", { index: 7, address: "10.0.0.1" }), /prefix/);
  },
});

Deno.test({
  name: "a veth kube-ipvs0 is created with its peer named kube-ipvs0-peer",
  permissions: "none",
  fn() {
    const request = newLinkRequest("kube-ipvs0", "veth");
    const attributes = attributeMap(request.payload.subarray(16));
    assert.equal(attrString(attributes.get(3)!), "kube-ipvs0");
    const info = attributeMap(attributes.get(18)!.data);
    assert.equal(attrString(info.get(1)!), "veth");
    const peer = info.get(2)!.data;
    assert.match(new TextDecoder().decode(peer), /kube-ipvs0-peer\0/);
    const dummy = attributeMap(newLinkRequest("kube-ipvs0", "dummy").payload.subarray(16));
    assert.equal(attrString(attributeMap(dummy.get(18)!.data).get(1)!), "dummy");
  },
});

Deno.test({
  name: "the bound addresses are the exec backend's, loopback, link-local and host scope left out",
  permissions: "none",
  fn() {
    const links: LinkInfo[] = [{
      ifname: "kube-ipvs0",
      flags: ["BROADCAST", "NOARP"],
      addr_info: [
        { family: "inet", local: "10.96.0.1", prefixlen: 32, scope: "global" },
        { family: "inet", local: "127.0.0.2", prefixlen: 32, scope: "global" },
        { family: "inet", local: "169.254.3.4", prefixlen: 32, scope: "global" },
        { family: "inet", local: "10.96.0.2", prefixlen: 32, scope: "host" },
        { family: "inet6", local: "fd00:0:0::10", prefixlen: 128, scope: "global" },
        { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "global" },
        { family: "inet6", local: "fd00::11", prefixlen: 128, scope: "link" },
        { family: "inet", local: "10.96.0.3", scope: "global" },
      ],
    }, { ifname: "node0", addr_info: [{ family: "inet", local: "192.168.0.10", prefixlen: 24 }] }];
    const expected = deviceAddresses(links, "kube-ipvs0");
    assert.deepEqual(boundAddresses(links, "kube-ipvs0"), expected);
    assert.deepEqual(expected.map((a) => a.address), [
      "10.96.0.1/32",
      "fd00::10/128",
      "10.96.0.3/32",
    ]);
  },
});

/** An address as the kernel dumps it (the same ifaddrmsg and attributes `ip` sends). */
function dumped(index: number, address: string) {
  return {
    type: 20,
    flags: 2,
    seq: 9,
    pid: 0,
    payload: addressRequest("add", { index, address }).payload,
  };
}

Deno.test({
  name: "a device's addresses are decoded sorted, and again only when its own messages change",
  permissions: "none",
  fn() {
    const link = { index: 7, name: "kube-ipvs0", flags: 0x82 };
    const ours = ["10.96.0.10/32", "fd00::1/128", "10.96.0.2/32"].map((a) => dumped(7, a));
    const decoder = new DeviceAddressesDecoder();
    const first = decoder.decode(link, "kube-ipvs0", [dumped(2, "192.168.0.10/24"), ...ours]);
    assert.deepEqual(first.map((a) => a.address), ["10.96.0.2/32", "10.96.0.10/32", "fd00::1/128"]);
    assert.ok(Object.isFrozen(first));
    const otherDeviceChanged = [dumped(2, "192.168.0.11/24"), ...ours.map((m) => ({ ...m }))];
    assert.equal(decoder.decode(link, "kube-ipvs0", otherDeviceChanged), first);
    const removed = decoder.decode(link, "kube-ipvs0", ours.slice(1));
    assert.deepEqual(removed.map((a) => a.address), ["10.96.0.2/32", "fd00::1/128"]);
    const recreated = { ...link, index: 8 };
    assert.deepEqual(decoder.decode(recreated, "kube-ipvs0", ours.slice(1)), []);
  },
});

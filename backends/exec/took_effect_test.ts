import assert from "node:assert/strict";
import { ipsetOpTookEffect, ipvsOpTookEffect } from "./took_effect.ts";
import type { IpSet, VirtualServer } from "../../src/state/types.ts";

const sets: IpSet[] = [{
  name: "KUBE-CLUSTER-IP",
  type: "hash:ip,port",
  family: "inet",
  comment: "",
  entries: ["10.96.0.1,tcp:443"],
}];

const header = { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } as const;

Deno.test({
  name: "set operations show as taken effect only when the sets read back say so",
  permissions: "none",
  fn() {
    const set = "KUBE-CLUSTER-IP";
    assert.ok(ipsetOpTookEffect({ op: "ipset.create", set: header }, sets));
    assert.ok(
      !ipsetOpTookEffect({ op: "ipset.create", set: { ...header, type: "hash:ip" } }, sets),
    );
    assert.ok(ipsetOpTookEffect({ op: "ipset.add", set, entry: "10.96.0.1,tcp:443" }, sets));
    assert.ok(!ipsetOpTookEffect({ op: "ipset.add", set, entry: "10.96.0.2,tcp:443" }, sets));
    assert.ok(ipsetOpTookEffect({ op: "ipset.del", set, entry: "10.96.0.2,tcp:443" }, sets));
    assert.ok(!ipsetOpTookEffect({ op: "ipset.del", set: "KUBE-GONE", entry: "1" }, sets));
    assert.ok(ipsetOpTookEffect({ op: "ipset.destroy", set: "KUBE-GONE" }, sets));
    assert.ok(!ipsetOpTookEffect({ op: "ipset.destroy", set }, sets));
    const replace = { op: "ipset.replace", set: header } as const;
    assert.ok(ipsetOpTookEffect({ ...replace, entries: ["10.96.0.1,tcp:443"] }, sets));
    assert.ok(!ipsetOpTookEffect({ ...replace, entries: [] }, sets));
  },
});

const virtualServers: VirtualServer[] = [{
  protocol: "tcp",
  address: "10.96.0.1",
  port: 443,
  scheduler: "mh",
  persistenceTimeout: 0,
  flags: ["mh-port", "mh-fallback"],
  service: "",
  realServers: [{ address: "192.168.0.1", port: 6443, forward: "masq", weight: 0 }],
}];

Deno.test({
  name: "IPVS operations show as taken effect only when ipvsadm -Sn says so",
  permissions: "none",
  fn() {
    const key = { protocol: "tcp", address: "10.96.0.1", port: 443 } as const;
    const spec = { ...key, scheduler: "mh", persistenceTimeout: 0, service: "" };
    const rs = { address: "192.168.0.1", port: 6443, forward: "masq" } as const;
    const check = (op: Parameters<typeof ipvsOpTookEffect>[0]) =>
      ipvsOpTookEffect(op, virtualServers);
    assert.ok(
      check({
        op: "ipvs.addVirtualServer",
        virtualServer: { ...spec, flags: ["mh-fallback", "mh-port"] },
      }),
    );
    assert.ok(!check({ op: "ipvs.editVirtualServer", virtualServer: { ...spec, flags: [] } }));
    assert.ok(!check({ op: "ipvs.deleteVirtualServer", virtualServer: key }));
    assert.ok(check({ op: "ipvs.deleteVirtualServer", virtualServer: { ...key, port: 80 } }));
    assert.ok(
      check({ op: "ipvs.editRealServer", virtualServer: key, realServer: { ...rs, weight: 0 } }),
    );
    assert.ok(
      !check({ op: "ipvs.addRealServer", virtualServer: key, realServer: { ...rs, weight: 1 } }),
    );
    assert.ok(!check({ op: "ipvs.deleteRealServer", virtualServer: key, realServer: rs }));
    assert.ok(
      check({ op: "ipvs.deleteRealServer", virtualServer: { ...key, port: 80 }, realServer: rs }),
    );
  },
});

import assert from "node:assert/strict";
import { RenderError } from "./guard.ts";
import { renderIpBatch } from "./ip_batch.ts";

Deno.test({
  name: "link and address operations render as ip -batch lines",
  permissions: "none",
  fn() {
    const text = renderIpBatch([
      { op: "link.add", device: "kube-ipvs0" },
      { op: "address.add", device: "kube-ipvs0", address: "10.0.0.1/32" },
      { op: "address.delete", device: "kube-ipvs0", address: "fd00::1/128" },
      { op: "link.delete", device: "kube-ipvs0" },
    ]);
    assert.equal(
      text,
      "link add kube-ipvs0 type dummy\naddress add 10.0.0.1/32 dev kube-ipvs0\n" +
        "address del fd00::1/128 dev kube-ipvs0\nlink delete kube-ipvs0\n",
    );
  },
});

Deno.test({
  name: "addresses without a prefix length and unsafe device names are refused",
  permissions: "none",
  fn() {
    assert.throws(
      () => renderIpBatch([{ op: "address.add", device: "kube-ipvs0", address: "10.0.0.1" }]),
      RenderError,
    );
    assert.throws(() => renderIpBatch([{ op: "link.add", device: "kube ipvs0" }]), RenderError);
    assert.throws(
      () => renderIpBatch([{ op: "link.add", device: "a-very-long-device-name" }]),
      RenderError,
    );
  },
});

Deno.test({
  name: "the veth link type renders a veth pair for kernels without the dummy type",
  permissions: "none",
  fn() {
    const ops = [{ op: "link.add", device: "kube-ipvs0" } as const];
    assert.equal(
      renderIpBatch(ops, { linkType: "veth" }),
      "link add kube-ipvs0 type veth peer name kube-ipvs0-peer\n",
    );
    assert.equal(renderIpBatch(ops, { linkType: "dummy" }), "link add kube-ipvs0 type dummy\n");
  },
});

import assert from "node:assert/strict";
import { computeNodePreparation, DEFAULT_CONNTRACK } from "../node_prep/node_preparation.ts";
import { renderNodePreparationText } from "./node_preparation_text.ts";

Deno.test({
  name: "renderNodePreparationText() shows every step of a start under its own header",
  permissions: "none",
  fn() {
    const steps = computeNodePreparation({
      scheduler: "rr",
      strictARP: true,
      tcpTimeoutMs: 900_000,
      tcpFinTimeoutMs: 120_000,
      udpTimeoutMs: 300_000,
      conntrack: DEFAULT_CONNTRACK,
    }, { cpus: 2, kernelRelease: "6.1.0" });
    assert.equal(
      renderNodePreparationText(steps),
      [
        "# modprobe (each module not built in or loaded)",
        "modprobe -- ip_vs",
        "modprobe -- ip_vs_rr",
        "modprobe -- ip_vs_wrr",
        "modprobe -- ip_vs_sh",
        "modprobe -- nf_conntrack",
        "# sysctl (each value that differs)",
        "sysctl -w net.ipv4.ip_forward=1",
        "sysctl -w net.ipv4.conf.all.arp_ignore=1",
        "sysctl -w net.ipv4.conf.all.arp_announce=2",
        "sysctl -w net.ipv4.vs.conntrack=1",
        "sysctl -w net.ipv4.vs.expire_nodest_conn=1",
        "sysctl -w net.ipv4.vs.expire_quiescent_template=1",
        "# conntrack (nf_conntrack_max 32768 per core x 2 CPUs = 65536, below min 131072; it and " +
        "the hash size only raised, the hash size not on a read-only /sys; the rest each value " +
        "that differs)",
        "sysctl -w net.netfilter.nf_conntrack_max=131072",
        "echo 32768 > /sys/module/nf_conntrack/parameters/hashsize",
        "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_established=86400",
        "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_close_wait=3600",
        "# ipvsadm --set (tcp tcpfin udp, seconds)",
        "ipvsadm --set 900 120 300",
        "# ip link (unless kube-ipvs0 exists; left down)",
        "ip link add kube-ipvs0 type dummy",
        "",
      ].join("\n"),
    );
  },
});

Deno.test({
  name: "renderNodePreparationText() says none, and why, for a section without steps",
  permissions: "none",
  fn() {
    const text = renderNodePreparationText(computeNodePreparation({
      scheduler: "",
      strictARP: false,
      tcpTimeoutMs: 0,
      tcpFinTimeoutMs: 0,
      udpTimeoutMs: 0,
    }, { cpus: 2 }));
    assert.match(text, /^# conntrack: none /m);
    assert.match(
      text,
      /^# ipvsadm --set: none \(every IPVS timeout is 0: the kernel's are kept\)$/m,
    );
    assert.match(text, /^ip link add kube-ipvs0 type dummy$/m);
  },
});

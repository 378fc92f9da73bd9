// The netlink backend's contract suite (backends/contract.ts) on a kernel with IPVS, with IPVS
// through NetlinkIpvs (generic netlink); netlink_contract_test.ts runs it with the ipvsadm
// fallback. Sets over nfnetlink, kube-ipvs0 (a real dummy link) and its addresses over rtnetlink,
// IPv4 and IPv6 (see kernel_contract.ts).
import { NetlinkIpvs } from "../../backends/netlink/ipvs.ts";
import { NetlinkBackend } from "../../backends/netlink/netlink_backend.ts";
import { kernelContract } from "./kernel_contract.ts";

kernelContract("netlink (real kernel, IPVS over generic netlink)", async () => {
  const opened = await NetlinkIpvs.open();
  if (!opened.ok) throw new Error(`IPVS over netlink: ${opened.reason}`);
  return new NetlinkBackend({ ipvsClient: opened.client, families: ["ipv4", "ipv6"] });
});

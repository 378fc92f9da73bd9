// The netlink backend's contract suite (backends/contract.ts) on a kernel with IPVS: sets over
// nfnetlink, kube-ipvs0 a real dummy link and its addresses over rtnetlink, IPv4 and IPv6. IPVS
// goes through `ipvsadm` here (the backend's fallback without an IPVS client), so virtual and
// real servers are included; netlink_ipvs_contract_test.ts runs it with IPVS over netlink.
import { NetlinkBackend } from "../../backends/netlink/netlink_backend.ts";
import { kernelContract } from "./kernel_contract.ts";

kernelContract(
  "netlink (real kernel)",
  () => Promise.resolve(new NetlinkBackend({ families: ["ipv4", "ipv6"] })),
);

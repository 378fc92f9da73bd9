/**
 * The backend contract for the netlink backend, on this namespace's real ipset, iptables and
 * links (no IPVS: this kernel has none; kube-ipvs0 is a veth: it has no dummy type either).
 */
import { backendContract } from "../../../backends/contract.ts";
import { NetlinkBackend } from "../../../backends/netlink/netlink_backend.ts";
import { cleanUp, prepareNamespace } from "./namespace_helpers.ts";

backendContract("netlink", async () => {
  await prepareNamespace();
  await cleanUp();
  const backend = new NetlinkBackend({ ipvs: false, linkType: "veth", families: ["ipv4", "ipv6"] });
  return {
    backend,
    close: async () => {
      await cleanUp();
      await backend.close();
    },
  };
}, { ipvs: false, addresses: true, families: ["ipv4", "ipv6"] });

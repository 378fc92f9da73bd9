/**
 * The backend contract for the exec backend, on this namespace's real ipset, iptables and
 * links (no IPVS: this kernel has none; kube-ipvs0 is a veth: it has no dummy type either).
 */
import { backendContract } from "../../../backends/contract.ts";
import { cleanUp, namespaceBackend, prepareNamespace } from "./namespace_helpers.ts";

backendContract("exec", async () => {
  await prepareNamespace();
  await cleanUp();
  const backend = namespaceBackend();
  return { backend, close: () => cleanUp(backend) };
}, { ipvs: false, addresses: true, families: ["ipv4", "ipv6"] });

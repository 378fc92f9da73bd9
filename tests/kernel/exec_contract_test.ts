// The exec backend's contract suite (backends/contract.ts) on a kernel with IPVS: virtual and
// real servers included, kube-ipvs0 a real dummy link, IPv4 and IPv6 (see kernel_contract.ts).
import { ExecBackend } from "../../backends/exec/exec_backend.ts";
import { kernelContract } from "./kernel_contract.ts";

kernelContract(
  "exec (real kernel)",
  () => Promise.resolve(new ExecBackend({ families: ["ipv4", "ipv6"] })),
);

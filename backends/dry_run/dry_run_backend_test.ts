import { backendContract } from "../contract.ts";
import { DryRunBackend } from "./dry_run_backend.ts";

backendContract(
  "dry-run",
  () => Promise.resolve({ backend: new DryRunBackend(), close: () => Promise.resolve() }),
  { ipvs: true, addresses: true, families: ["ipv4", "ipv6"], permissions: "none" },
);

backendContract(
  "dry-run (IPv4 only, no IPVS, no link)",
  () => Promise.resolve({ backend: new DryRunBackend(), close: () => Promise.resolve() }),
  { ipvs: false, addresses: false, families: ["ipv4"], permissions: "none" },
);

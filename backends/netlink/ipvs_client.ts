/**
 * What the netlink backend needs from an IPVS client: read the virtual servers and apply a
 * step of IPVS operations. The generic-netlink implementation lives in `ipvs*.ts`; without
 * one the backend falls back to `ipvsadm` (the exec backend's path).
 *
 * @module
 */

import type { StepResult } from "../apply_driver.ts";
import type { IpvsOperation } from "../../src/render/ipvsadm.ts";
import type { VirtualServer } from "../../src/state/types.ts";
import type { IpvsInfo } from "../backend.ts";

/** An IPVS client, e.g. over generic netlink. */
export interface IpvsClient {
  /**
   * Every virtual server with its real servers, as the exec backend reads them from
   * `ipvsadm -Sn` and `-Ln`: canonical addresses, scheduler, persistence timeout, flags by
   * ipvsadm name, `service` "", and each real server's weight and connection counts; in the
   * state's canonical order (`sortVirtualServers`), which the backend's read does not redo.
   * Throws when the kernel cannot be read.
   */
  readVirtualServers(): Promise<VirtualServer[]>;
  /**
   * Applies the operations in order and reports those that did not take effect (each once,
   * with the tool label `netlink ipvs` or similar and the kernel's errno name in the message);
   * `writes` counts the netlink sends. Never throws for a refused operation.
   */
  apply(ops: readonly IpvsOperation[]): Promise<StepResult>;
  /** The kernel's IPVS version and table size (GET_INFO), where the client can ask. */
  info?(): Promise<IpvsInfo>;
  /** Releases the client's socket; harmless twice. */
  close(): void;
}

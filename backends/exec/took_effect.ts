/**
 * Whether an operation's effect is visible in what the kernel holds now. Used after a restore
 * tool failed without saying which lines took effect: `ipset restore` drops the entries it had
 * buffered when a later line fails to parse, and `ipvsadm --restore` goes on after a refused
 * line and names none. Reading back and checking each operation is the honest answer.
 *
 * @module
 */

import type { IpSet, VirtualServer } from "../../src/state/types.ts";
import type { Operation } from "../../src/plan/types.ts";
import { realServerKey, virtualServerKey } from "../../src/state/keys.ts";
import type { IpsetOperation } from "../../src/render/ipset.ts";
import type { IpvsOperation } from "../../src/render/ipvsadm.ts";

/** Whether the set operation `op` shows in `sets` (as `ipset save` printed them). */
export function ipsetOpTookEffect(op: IpsetOperation, sets: readonly IpSet[]): boolean {
  const name = typeof op.set === "string" ? op.set : op.set.name;
  const set = sets.find((s) => s.name === name);
  switch (op.op) {
    case "ipset.create":
      return set !== undefined && set.type === op.set.type;
    case "ipset.add":
      return set !== undefined && set.entries.includes(op.entry);
    case "ipset.del":
      return set !== undefined && !set.entries.includes(op.entry);
    case "ipset.destroy":
      return set === undefined;
    case "ipset.replace":
      return set !== undefined && set.type === op.set.type &&
        set.entries.length === op.entries.length &&
        op.entries.every((e) => set.entries.includes(e));
  }
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return [...a].sort().join(",") === [...b].sort().join(",");
}

/** Whether the IPVS operation `op` shows in `virtualServers` (as `ipvsadm -Sn` printed them). */
export function ipvsOpTookEffect(
  op: IpvsOperation,
  virtualServers: readonly VirtualServer[],
): boolean {
  const vs = virtualServers.find((v) => virtualServerKey(v) === virtualServerKey(op.virtualServer));
  switch (op.op) {
    case "ipvs.addVirtualServer":
    case "ipvs.editVirtualServer": {
      const want = op.virtualServer;
      return vs !== undefined && vs.scheduler === want.scheduler &&
        vs.persistenceTimeout === want.persistenceTimeout && sameFlags(vs.flags, want.flags);
    }
    case "ipvs.deleteVirtualServer":
      return vs === undefined;
    case "ipvs.addRealServer":
    case "ipvs.editRealServer": {
      const rs = vs?.realServers.find((r) => realServerKey(r) === realServerKey(op.realServer));
      return rs !== undefined && rs.weight === op.realServer.weight &&
        rs.forward === op.realServer.forward;
    }
    case "ipvs.deleteRealServer": {
      // A real server is gone with its virtual server too.
      const key = realServerKey(op.realServer);
      return vs === undefined || !vs.realServers.some((r) => realServerKey(r) === key);
    }
  }
}

/** The operations of `ops` whose effect `check` does not find, each once, in order. */
export function notTakenEffect<T extends Operation>(
  ops: readonly T[],
  check: (op: T) => boolean,
): T[] {
  return [...new Set(ops)].filter((op) => !check(op));
}

/**
 * How the netlink backend carries out an `ip` step of the apply driver, from the step's
 * operations: a link operation is one request; a run of address operations is one batch
 * (chunked by the socket), after the devices they name are looked up once. Each refused
 * operation fails with its own line and the kernel's reason. Unlike `ip -batch`, which stops
 * at its first bad line, the kernel carries on after a refused message, so what follows a
 * refusal did take effect and is not reported as failed: every failure is exact.
 *
 * @module
 */

import type { OperationFailure } from "../backend.ts";
import { type Step, stepLabel, type StepResult } from "../apply_driver.ts";
import type { AddAddress, DeleteAddress, Operation } from "../../src/plan/types.ts";
import type { IpOperation } from "../../src/render/ip_batch.ts";
import { describeErrno } from "./libc.ts";
import type { NetlinkRequest } from "./message.ts";
import { addressRequest, type RtnetlinkClient } from "./rtnetlink.ts";

type AddressOperation = AddAddress | DeleteAddress;

/** Splits the step into runs: each link operation alone, consecutive address operations together. */
function runs(ops: readonly IpOperation[]): IpOperation[][] {
  const result: IpOperation[][] = [];
  for (const op of ops) {
    const last = result.at(-1);
    const isAddress = op.op === "address.add" || op.op === "address.delete";
    const lastIsAddress = last !== undefined &&
      (last[0].op === "address.add" || last[0].op === "address.delete");
    if (isAddress && lastIsAddress) last.push(op);
    else result.push([op]);
  }
  return result;
}

/** What carrying out one run did. */
interface RunResult {
  readonly failed: { op: Operation; message: string }[];
  readonly sends: number;
}

async function linkRun(
  op: IpOperation,
  client: RtnetlinkClient,
  linkType: "dummy" | "veth",
): Promise<RunResult> {
  try {
    if (op.op === "link.add") await client.addLink(op.device, linkType);
    else await client.deleteLink(op.device);
    return { failed: [], sends: 1 };
  } catch (error) {
    return { failed: [{ op, message: (error as Error).message }], sends: 1 };
  }
}

/** The interface index of each device the run names; a missing device is left out. */
async function deviceIndexes(
  ops: readonly AddressOperation[],
  client: RtnetlinkClient,
): Promise<Map<string, number>> {
  const indexes = new Map<string, number>();
  for (const device of new Set(ops.map((op) => op.device))) {
    const link = await client.link(device);
    if (link !== undefined) indexes.set(device, link.index);
  }
  return indexes;
}

/** One batch of address requests of one kind; failures mapped back to their operations. */
async function addressBatch(
  command: "add" | "del",
  pending: readonly { op: AddressOperation; request: NetlinkRequest }[],
  client: RtnetlinkClient,
): Promise<RunResult> {
  if (pending.length === 0) return { failed: [], sends: 0 };
  const result = await client.socket.batch(pending.map((p) => p.request), {
    operation: `rtnetlink ${command} addresses`,
    object: `${pending.length} addresses`,
  });
  return {
    failed: result.failures.map((f) => {
      const { op } = pending[f.index];
      const why = describeErrno(f.errno) + (f.text ? `: ${f.text}` : "");
      return { op, message: `rtnetlink ${command} address ${op.address} dev ${op.device}: ${why}` };
    }),
    sends: result.sends,
  };
}

/**
 * A run of address operations: the kernel handles each message on its own, in order, so
 * consecutive operations of one kind go in one batch and the plan's order is kept.
 */
async function addressRun(
  ops: readonly AddressOperation[],
  client: RtnetlinkClient,
): Promise<RunResult> {
  const indexes = await deviceIndexes(ops, client);
  const failed: RunResult["failed"] = [];
  let sends = 0;
  let pending: { op: AddressOperation; request: NetlinkRequest }[] = [];
  let pendingKind: "add" | "del" = "add";
  const flush = async () => {
    const done = await addressBatch(pendingKind, pending, client);
    failed.push(...done.failed);
    sends += done.sends;
    pending = [];
  };
  for (const op of ops) {
    const kind = op.op === "address.add" ? "add" : "del";
    if (kind !== pendingKind) await flush();
    pendingKind = kind;
    const index = indexes.get(op.device);
    if (index === undefined) {
      failed.push({ op, message: `Cannot find device "${op.device}"` });
      continue;
    }
    try {
      pending.push({ op, request: addressRequest(kind, { index, address: op.address }) });
    } catch (error) {
      failed.push({ op, message: (error as Error).message });
    }
  }
  await flush();
  return { failed, sends };
}

/**
 * Carries out one `ip` step with `client`; `linkType` is how `link.add` creates the link.
 * `writes` counts the netlink sends (lookups excluded). Never throws for a refusal.
 */
export async function executeIpStep(
  step: Step,
  client: RtnetlinkClient,
  linkType: "dummy" | "veth",
): Promise<StepResult> {
  const label = stepLabel(step);
  const lineOf = new Map(step.lineOperations.map((op, i) => [op, step.lines[i]] as const));
  const failures: OperationFailure[] = [];
  let writes = 0;
  for (const run of runs(step.operations as IpOperation[])) {
    const first = run[0];
    const result = first.op === "link.add" || first.op === "link.delete"
      ? await linkRun(first, client, linkType)
      : await addressRun(run as AddressOperation[], client);
    writes += result.sends;
    for (const { op, message } of result.failed) {
      failures.push({ operation: op, tool: label, line: lineOf.get(op) ?? "", message });
    }
  }
  const order = new Map(step.operations.map((op, i) => [op, i]));
  failures.sort((a, b) => order.get(a.operation)! - order.get(b.operation)!);
  return { failures, writes };
}

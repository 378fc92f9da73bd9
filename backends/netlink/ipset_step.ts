/**
 * How the netlink backend carries out an `ipset` step of the apply driver: from the step's
 * operations (not its rendered lines), one request per create, flush, swap or destroy and as
 * few add/del messages as fit for a run of entries of one set. Requests go one after another,
 * each acknowledged, and the step stops at the first refusal exactly where `ipset restore`
 * would: the operation behind the refused line fails with that line and the kernel's reason,
 * the later ones are "not applied: ipset restore stopped at line N". (The kernel carries on
 * after a refused message in a batch, so a batch could not stop there.)
 *
 * @module
 */

import type { OperationFailure } from "../backend.ts";
import { type Step, stepLabel, type StepResult, stoppedAt } from "../apply_driver.ts";
import type { IpSetHeader, Operation } from "../../src/plan/types.ts";
import type { IpsetOperation } from "../../src/render/ipset.ts";
import { temporarySetName } from "../../src/render/ipset.ts";
import type { IpsetClient } from "./ipset.ts";

/** One unit of a step: an operation and the index of its line in the step. */
interface Unit {
  readonly op: Operation;
  readonly line: number;
}

/** One request on whole sets. */
type SingleAction =
  | { readonly kind: "create"; readonly header: IpSetHeader; readonly name: string; unit: Unit }
  | { readonly kind: "flush" | "destroy"; readonly name: string; readonly unit: Unit }
  | { readonly kind: "swap"; readonly from: string; readonly to: string; readonly unit: Unit };

/** A run of entries to add to or delete from one set. */
interface EntryAction {
  readonly kind: "add" | "del";
  readonly set: string;
  readonly entries: string[];
  readonly units: Unit[];
}

/** One thing to send: a single-set command, or an add/del run of entries of one set. */
type Action = SingleAction | EntryAction;

/** Appends an entry, joining the previous action when it is a run of the same kind and set. */
function pushEntry(actions: Action[], kind: "add" | "del", set: string, entry: string, unit: Unit) {
  const last = actions.at(-1);
  if (last !== undefined && last.kind === kind && last.set === set) {
    last.entries.push(entry);
    last.units.push(unit);
  } else actions.push({ kind, set, entries: [entry], units: [unit] });
}

/** The lines `ipset restore` would get for `op`, as actions (see `renderIpsetLines`). */
function pushOperation(actions: Action[], op: IpsetOperation, first: number): void {
  const unit = (offset: number): Unit => ({ op, line: first + offset });
  switch (op.op) {
    case "ipset.create":
      actions.push({ kind: "create", header: op.set, name: op.set.name, unit: unit(0) });
      return;
    case "ipset.add":
    case "ipset.del":
      pushEntry(actions, op.op === "ipset.add" ? "add" : "del", op.set, op.entry, unit(0));
      return;
    case "ipset.destroy":
      actions.push({ kind: "destroy", name: op.set, unit: unit(0) });
      return;
    case "ipset.replace": {
      const temporary = temporarySetName(op.set.name);
      actions.push({ kind: "create", header: op.set, name: temporary, unit: unit(0) });
      actions.push({ kind: "flush", name: temporary, unit: unit(1) });
      op.entries.forEach((entry, i) => pushEntry(actions, "add", temporary, entry, unit(2 + i)));
      const after = 2 + op.entries.length;
      actions.push({ kind: "swap", from: temporary, to: op.set.name, unit: unit(after) });
      actions.push({ kind: "destroy", name: temporary, unit: unit(after + 1) });
    }
  }
}

/** The step's actions, each unit knowing its line (lines of one operation are consecutive). */
export function ipsetActions(step: Step): Action[] {
  const firstLine = new Map<Operation, number>();
  step.lineOperations.forEach((op, i) => {
    if (!firstLine.has(op)) firstLine.set(op, i);
  });
  const actions: Action[] = [];
  for (const op of step.operations) {
    pushOperation(actions, op as IpsetOperation, firstLine.get(op) ?? 0);
  }
  return actions;
}

/** Sends one action; resolves with the unit that failed and why, or undefined. */
async function send(
  client: IpsetClient,
  action: Action,
): Promise<{ failed?: { unit: Unit; message: string }; sends: number }> {
  if ("units" in action) {
    const result = await client.adt(action.kind, action.set, action.entries);
    if (!("index" in result)) return { sends: result.sends };
    return {
      failed: { unit: action.units[result.index], message: result.error.message },
      sends: result.sends,
    };
  }
  try {
    await sendSingle(client, action);
    return { sends: 1 };
  } catch (error) {
    return { failed: { unit: action.unit, message: (error as Error).message }, sends: 1 };
  }
}

function sendSingle(client: IpsetClient, action: SingleAction): Promise<void> {
  switch (action.kind) {
    case "create":
      return client.create(action.header, action.name);
    case "flush":
      return client.flush(action.name);
    case "destroy":
      return client.destroy(action.name);
    case "swap":
      return client.swap(action.from, action.to);
  }
}

/**
 * Carries out one `ipset` step with `client`; see the module docs. `writes` counts the
 * netlink requests sent. Never throws for a refusal.
 */
export async function executeIpsetStep(step: Step, client: IpsetClient): Promise<StepResult> {
  let writes = 0;
  for (const action of ipsetActions(step)) {
    const { failed, sends } = await send(client, action);
    writes += sends;
    if (failed !== undefined) return { failures: stopAt(step, failed), writes };
  }
  return { failures: [], writes };
}

/** The refused operation with its line, and every later operation of the step. */
function stopAt(step: Step, failed: { unit: Unit; message: string }): OperationFailure[] {
  const label = stepLabel(step);
  const { op, line } = failed.unit;
  const at = step.operations.indexOf(op);
  const stopped = stoppedAt(step, line + 1);
  return [
    { operation: op, tool: label, line: step.lines[line] ?? "", message: failed.message },
    ...step.operations.slice(at + 1).map((later) => ({
      operation: later,
      tool: label,
      line: "",
      message: stopped,
    })),
  ];
}

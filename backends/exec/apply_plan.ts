/**
 * How the exec backend carries out one step of the apply driver (`../apply_driver.ts`): one
 * process per step, the step's lines on stdin, and each failure mapped back to the operation
 * behind the line the tool rejected. What each tool does after a bad line decides what is
 * reported:
 *
 * - `iptables-restore` commits a table whole or not at all: every operation of the run failed.
 * - `ipset restore` stops at the bad line and may drop the add/del lines it buffered before
 *   it (measured: a syntax error in line 3 loses the add of line 2), so the operations before
 *   it are checked against a fresh `ipset save`; those after it were not applied.
 * - `ip -batch -` stops at the bad line; each earlier line was its own request and took effect.
 * - `ipvsadm --restore` goes on after a refused line, prints no line number and exits with the
 *   last line's status, so any error output means: read `ipvsadm -Sn` back and check each one.
 *
 * Which steps run after a failure, and how the counts add up, is the driver's.
 *
 * @module
 */

import type { ApplyResult, OperationFailure } from "../backend.ts";
import type { Operation, Plan } from "../../src/plan/types.ts";
import type { IpSet, VirtualServer } from "../../src/state/types.ts";
import type { RenderOptions, ToolInvocation } from "../../src/render/tool_inputs.ts";
import {
  applyPlanWith,
  NOT_APPLIED_EARLIER,
  type Step,
  stepLabel,
  type StepResult,
  stoppedAt,
} from "../apply_driver.ts";
import type { IpsetOperation } from "../../src/render/ipset.ts";
import type { IpvsOperation } from "../../src/render/ipvsadm.ts";
import { type CommandResult, type CommandRunner, rejectedLine } from "./command.ts";
import { ipsetOpTookEffect, ipvsOpTookEffect, notTakenEffect } from "./took_effect.ts";

/** What {@linkcode applyPlan} needs. */
export interface ApplyOptions {
  /** Runs each tool. */
  readonly run: CommandRunner;
  /** How `link.add` is rendered (`veth` only for tests on kernels without `dummy`). */
  readonly render: RenderOptions;
  /** Every set as `ipset save` shows it, to check what a failed `ipset restore` did. */
  readonly readIpsets: () => Promise<IpSet[]>;
  /** The virtual servers, to check what `ipvsadm --restore` did when it reported errors. */
  readonly readVirtualServers: () => Promise<VirtualServer[]>;
}

// Kept here for the callers that imported it from the exec backend.
export { NOT_APPLIED_EARLIER };

function failure(operation: Operation, tool: string, line: string, message: string) {
  return { operation, tool, line, message };
}

function stderrText(result: CommandResult): string {
  return result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
}

/** `message`, with the tool's exit code when the message does not already say it. */
function withExitCode(message: string, result: CommandResult): string {
  return message.startsWith("exit code ") ? message : `${message} (exit code ${result.code})`;
}

/** The index of the line a tool rejected, or -1; a repeated line is told apart by number. */
export function rejectedIndex(label: string, run: ToolInvocation, stderr: string): number {
  const line = rejectedLine(label, run.stdin, stderr);
  if (line === "") return -1;
  const candidates = run.lines.flatMap((l, i) => l === line ? [i] : []);
  const numbers = new Set((stderr.match(/\d+/g) ?? []).map(Number));
  return candidates.find((i) => numbers.has(i + 1)) ?? candidates[0] ?? -1;
}

async function runSafely(run: CommandRunner, invocation: ToolInvocation): Promise<CommandResult> {
  try {
    return await run(invocation.argv, { stdin: invocation.stdin });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return { code: 1, stdout: "", stderr: `${invocation.argv[0]}: ${text}` };
  }
}

/** Checks `ops` with `read` and `check`; a failed read fails them all, saying why. */
async function checkTaken<T extends Operation>(
  ops: readonly T[],
  read: () => Promise<(op: T) => boolean>,
): Promise<{ missing: T[]; readError?: string }> {
  if (ops.length === 0) return { missing: [] };
  try {
    return { missing: notTakenEffect(ops, await read()) };
  } catch (error) {
    return { missing: [...new Set(ops)], readError: (error as Error).message };
  }
}

/** A tool that stops at its first bad line (`ipset restore`, `ip -batch`). */
async function judgeStopping(
  run: ToolInvocation,
  result: CommandResult,
  checkBefore?: (ops: Operation[]) => Promise<{ missing: Operation[]; readError?: string }>,
): Promise<OperationFailure[]> {
  const label = stepLabel(run);
  const message = stderrText(result);
  const index = rejectedIndex(label, run, result.stderr);
  if (index < 0) {
    // No line to blame: the exit code is the one clue left (a signal, a timeout, a crash).
    const why = withExitCode(message, result);
    return run.operations.map((op) => failure(op, label, "", why));
  }
  const rejected = run.lineOperations[index];
  const at = run.operations.indexOf(rejected);
  const before = checkBefore
    ? await checkBefore(run.operations.slice(0, at))
    : { missing: [] as Operation[] };
  const lost = before.readError === undefined
    ? `not applied: ${label} dropped it when line ${index + 1} failed: ${message}`
    : `not known to be applied: reading back after line ${index + 1} failed: ${before.readError}`;
  const stopped = stoppedAt(run, index + 1);
  return [
    ...before.missing.map((op) => failure(op, label, "", lost)),
    failure(rejected, label, run.lines[index], message),
    ...run.operations.slice(at + 1).map((op) => failure(op, label, "", stopped)),
  ];
}

/**
 * `ipvsadm --restore`: whatever it said, read back and check every operation. An operation
 * whose effect shows counts as applied even if a complaint was about it (the kernel already
 * was as wanted); only a one-line run ties the complaint to its line.
 */
async function judgeIpvsadm(
  run: ToolInvocation,
  result: CommandResult,
  options: ApplyOptions,
): Promise<OperationFailure[]> {
  const label = stepLabel(run);
  const message = stderrText(result);
  const ops = run.operations as IpvsOperation[];
  const checked = await checkTaken(ops, async () => {
    const now = await options.readVirtualServers();
    return (op) => ipvsOpTookEffect(op, now);
  });
  const failed = new Set<Operation>(checked.missing);
  // One line in: that line was the refused one, even if its effect shows (delete of a missing VS).
  const index = rejectedIndex(label, run, result.stderr);
  if (index >= 0) failed.add(run.lineOperations[index]);
  const why = checked.readError === undefined
    ? message
    : `${message}; reading back failed: ${checked.readError}`;
  const rejected = index >= 0 ? run.lineOperations[index] : undefined;
  return run.operations.filter((op) => failed.has(op)).map((op) =>
    failure(op, label, op === rejected ? run.lines[index] : "", why)
  );
}

/** The failures of one finished run; empty when it did everything. */
async function judge(
  run: ToolInvocation,
  result: CommandResult,
  options: ApplyOptions,
): Promise<OperationFailure[]> {
  if (run.tool === "ipvsadm") {
    if (result.code === 0 && result.stderr.trim() === "") return [];
    return await judgeIpvsadm(run, result, options);
  }
  if (result.code === 0) return [];
  if (run.tool === "iptables" || run.tool === "ip6tables") {
    const label = stepLabel(run);
    const line = rejectedLine(label, run.stdin, result.stderr);
    const message = line === "" ? withExitCode(stderrText(result), result) : stderrText(result);
    return run.operations.map((op) => failure(op, label, line, message));
  }
  if (run.tool === "ip") return await judgeStopping(run, result);
  return await judgeStopping(run, result, (ops) =>
    checkTaken(ops as IpsetOperation[], async () => {
      const now = await options.readIpsets();
      return (op) => ipsetOpTookEffect(op, now);
    }));
}

/** Runs one step as one process and reports what did not take effect. */
export async function executeStep(step: Step, options: ApplyOptions): Promise<StepResult> {
  const result = await runSafely(options.run, step);
  return { failures: await judge(step, result, options), writes: 1 };
}

/**
 * Applies `plan` with one process per step of the apply driver and reports what did not take
 * effect; never throws for a refused operation. `writes` counts the processes started.
 */
export function applyPlan(plan: Plan, options: ApplyOptions): Promise<ApplyResult> {
  return applyPlanWith(plan, (step) => executeStep(step, options), { render: options.render });
}

/**
 * The one apply driver every backend uses (exec, dry-run, netlink): it splits a plan into the
 * steps all backends share, asks the backend to carry out each step, and owns the rules that
 * decide what a node ends up with, so a reviewed dry run stops exactly where a node would:
 *
 * - The steps are the plan's tool runs in plan order (`groupByTool`): consecutive
 *   operations of one tool share a step, each `iptables.restore` is its own (one table).
 * - An operation that cannot be rendered safely is reported and left out; the rest go on.
 * - A step's lines and stdin are rendered only when its executor reads them, and each step
 *   is made just before it runs: a 176,000-operation plan never has all its text at once,
 *   and an executor that works from the operations (the dry run, netlink) renders little.
 * - After a step of `ipset` or `iptables`/`ip6tables` reports a failure, the later steps are
 *   not started: their rules and addresses may need what failed. Their operations are
 *   reported with {@linkcode NOT_APPLIED_EARLIER}. A failed `ipvsadm` or `ip` step does not
 *   stop the rest (later steps need nothing from it, and kube-proxy goes on too).
 * - `applied` is the plan's length less the failures reported; `writes` is the
 *   sum of what each started step reports (processes, netlink batches, simulated runs).
 *
 * A backend keeps only how one step is executed on its kernel and what that kernel refused.
 *
 * @module
 */

import type { ApplyResult, OperationFailure } from "./backend.ts";
import type { Operation, Plan } from "../src/plan/types.ts";
import {
  groupByTool,
  lazyToolInvocation,
  renderOperationLines,
  type RenderOptions,
  type Tool,
  type ToolInvocation,
  toolOf,
} from "../src/render/tool_inputs.ts";

/** The message of an operation whose step was never started. */
export const NOT_APPLIED_EARLIER = "not applied: an earlier step failed";

/**
 * One step of a plan: one tool run with its operations; its `lines`, `lineOperations` and
 * `stdin` are rendered on first read (a netlink backend may ignore them and use the
 * operations).
 */
export interface Step extends ToolInvocation {
  /** How the step's lines are rendered, for an executor that renders one operation alone. */
  readonly render: RenderOptions;
}

/** What one step did, as the backend that executed it reports it. */
export interface StepResult {
  /** The step's operations that did not take effect, each once; empty when all did. */
  readonly failures: readonly OperationFailure[];
  /** Processes started or batches sent for the step (read-backs excluded). */
  readonly writes: number;
}

/** How one backend carries out one step on its kernel; never throws for a refusal. */
export type StepExecutor = (step: Step) => Promise<StepResult>;

/** The name a step's failures are reported under, e.g. `iptables-restore (nat)`. */
export function stepLabel(step: Pick<Step, "tool" | "table">): string {
  switch (step.tool) {
    case "ipset":
      return "ipset restore";
    case "iptables":
      return `iptables-restore (${step.table})`;
    case "ip6tables":
      return `ip6tables-restore (${step.table})`;
    case "ipvsadm":
      return "ipvsadm --restore";
    case "ip":
      return "ip -batch";
  }
}

function tableOf(op: Operation) {
  return op.op === "iptables.restore" ? op.table : undefined;
}

/** The label of the step an operation belongs to. */
export function operationLabel(op: Operation): string {
  return stepLabel({ tool: toolOf(op), table: tableOf(op) });
}

/** The message of an operation after the line where its tool stopped (1-based). */
export function stoppedAt(step: Pick<Step, "tool" | "table">, lineNumber: number): string {
  return `not applied: ${stepLabel(step)} stopped at line ${lineNumber}`;
}

/** Whether a failure in this step stops every later step. */
export function stopsLaterSteps(step: Pick<Step, "tool">): boolean {
  return step.tool === "ipset" || step.tool === "iptables" || step.tool === "ip6tables";
}

function failure(operation: Operation, tool: string, line: string, message: string) {
  return { operation, tool, line, message };
}

/**
 * Splits off the operations that cannot be rendered safely, each reported as a failure. Each
 * operation is rendered and its text dropped: the check keeps nothing.
 */
function renderable(plan: Plan, render: RenderOptions) {
  const failures: OperationFailure[] = [];
  const ops = plan.filter((op) => {
    try {
      renderOperationLines(op, render);
      return true;
    } catch (error) {
      failures.push(failure(op, operationLabel(op), "", (error as Error).message));
      return false;
    }
  });
  return { ops, failures };
}

function planStep(tool: Tool, operations: readonly Operation[], render: RenderOptions): Step {
  return Object.assign(lazyToolInvocation(tool, operations, render), { render });
}

/**
 * The steps that carry out `plan`, after leaving out what cannot be rendered; each renders
 * its text when it is first read.
 */
export function planSteps(
  plan: Plan,
  render: RenderOptions = {},
): { steps: Step[]; unrenderable: OperationFailure[] } {
  const { ops, failures } = renderable(plan, render);
  const steps = groupByTool(ops).map((g) => planStep(g.tool, g.operations, render));
  return { steps, unrenderable: failures };
}

/** Failures in plan order (the steps report them step by step). */
function inPlanOrder(plan: Plan, failures: OperationFailure[]): OperationFailure[] {
  if (failures.length < 2) return failures;
  const order = new Map(plan.map((op, i) => [op, i]));
  return failures.sort((a, b) => order.get(a.operation)! - order.get(b.operation)!);
}

/** Options of {@linkcode applyPlanWith}. */
export interface DriverOptions {
  /**
   * How operations are rendered (`link.add` as `veth` only in tests).
   * @default {{}}
   */
  readonly render?: RenderOptions;
}

/**
 * Applies `plan` step by step with `execute` under the shared rules (see the module docs);
 * never throws for a refused operation. Failures come back in plan order.
 *
 * @example
 * ```ts
 * const result = await applyPlanWith([], () => Promise.resolve({ failures: [], writes: 1 }));
 * // { applied: 0, failures: [], writes: 0 }: an empty plan starts no step
 * ```
 */
export async function applyPlanWith(
  plan: Plan,
  execute: StepExecutor,
  options: DriverOptions = {},
): Promise<ApplyResult> {
  const render = options.render ?? {};
  const { ops, failures } = renderable(plan, render);
  let writes = 0;
  let stopped = false;
  for (const { tool, operations } of groupByTool(ops)) {
    if (stopped) {
      const label = stepLabel({ tool, table: tableOf(operations[0]) });
      failures.push(...operations.map((op) => failure(op, label, "", NOT_APPLIED_EARLIER)));
      continue;
    }
    // Made here and dropped after it ran: only this step's text, if any, is alive.
    const step = planStep(tool, operations, render);
    const result = await execute(step);
    writes += result.writes;
    failures.push(...result.failures);
    if (result.failures.length > 0 && stopsLaterSteps(step)) stopped = true;
  }
  return { applied: plan.length - failures.length, failures: inPlanOrder(plan, failures), writes };
}

/**
 * How the dry-run recorder carries out one step of the apply driver on its simulated kernel,
 * with the same reach after a refused line as the real tool has:
 *
 * - `ipset restore` and `ip -batch` stop at the refused line: the operations after it in the
 *   same step are not applied (the lines before it keep their effect).
 * - `iptables-restore` is one table, committed whole or not at all.
 * - `ipvsadm --restore` goes on after a refused line: each operation stands alone.
 *
 * Which steps run after a refused one is the driver's (`../apply_driver.ts`).
 *
 * @module
 */

import type { OperationFailure } from "../backend.ts";
import type { Operation } from "../../src/plan/types.ts";
import { renderOperationLines } from "../../src/render/tool_inputs.ts";
import { type Step, stepLabel, type StepResult, stoppedAt } from "../apply_driver.ts";
import { Rejected } from "./rejected.ts";

/**
 * Runs one operation on the simulated kernel; throws `Rejected` (its `lineIndex` counts the
 * operation's own lines). `lines()` renders the operation's stdin lines, for the parts of the
 * simulation that read restore text (sets, iptables); IPVS and links work from the operation,
 * so most of a cold plan is never rendered here.
 */
export type SimulatedRun = (op: Operation, lines: () => readonly string[]) => void;

/** The number of the first line of `step.operations[index]` in the step's stdin (0-based). */
function firstLineOf(step: Step, index: number): number {
  let lines = 0;
  for (const op of step.operations.slice(0, index)) {
    lines += renderOperationLines(op, step.render).length;
  }
  return lines;
}

/**
 * Carries out `step` with `run`, calling `applied` for each operation that took effect.
 * Counts one write: the one tool run the exec backend would start. Lines are rendered per
 * operation and only when the simulation or a refusal needs them; the step's whole text never is.
 */
export function executeSimulatedStep(
  step: Step,
  run: SimulatedRun,
  applied: (op: Operation) => void,
): StepResult {
  const label = stepLabel(step);
  const goesOn = step.tool === "ipvsadm";
  const failures: OperationFailure[] = [];
  const ops = step.operations;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    let rendered: readonly string[] | undefined;
    const lines = () => rendered ??= renderOperationLines(op, step.render);
    try {
      run(op, lines);
      applied(op);
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      failures.push({
        operation: op,
        tool: label,
        line: lines()[e.lineIndex] ?? "",
        message: e.message,
      });
      if (goesOn) continue;
      const stopped = stoppedAt(step, firstLineOf(step, i) + e.lineIndex + 1);
      for (const rest of ops.slice(i + 1)) {
        failures.push({ operation: rest, tool: label, line: "", message: stopped });
      }
      break;
    }
  }
  return { failures, writes: 1 };
}

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
import { type Step, stepLabel, type StepResult, stoppedAt } from "../apply_driver.ts";
import { Rejected } from "./rejected.ts";

/** Runs one operation's rendered lines on the simulated kernel; throws `Rejected`. */
export type SimulatedRun = (op: Operation, lines: readonly string[]) => void;

/** Each operation of a step with its own lines and the index of its first line. */
function operationLines(step: Step): { op: Operation; lines: string[]; first: number }[] {
  const out: { op: Operation; lines: string[]; first: number }[] = [];
  step.lineOperations.forEach((op, i) => {
    const last = out.at(-1);
    if (last?.op === op) last.lines.push(step.lines[i]);
    else out.push({ op, lines: [step.lines[i]], first: i });
  });
  return out;
}

/**
 * Carries out `step` with `run`, calling `applied` for each operation that took effect.
 * Counts one write: the one tool run the exec backend would start.
 */
export function executeSimulatedStep(
  step: Step,
  run: SimulatedRun,
  applied: (op: Operation) => void,
): StepResult {
  const label = stepLabel(step);
  const goesOn = step.tool === "ipvsadm";
  const failures: OperationFailure[] = [];
  const parts = operationLines(step);
  for (let i = 0; i < parts.length; i++) {
    const { op, lines, first } = parts[i];
    try {
      run(op, lines);
      applied(op);
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      failures.push({
        operation: op,
        tool: label,
        line: lines[e.lineIndex] ?? "",
        message: e.message,
      });
      if (goesOn) continue;
      const stopped = stoppedAt(step, first + e.lineIndex + 1);
      for (const rest of parts.slice(i + 1)) {
        failures.push({ operation: rest.op, tool: label, line: "", message: stopped });
      }
      break;
    }
  }
  return { failures, writes: 1 };
}

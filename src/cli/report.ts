/**
 * How a sync's problems reach the operator: one stderr line each, never spanning lines.
 *
 * @module
 */

import type { OperationFailure } from "../../backends/backend.ts";

/** `error: <tool>: <message> (input: "<rejected line>")`, on one line. */
export function failureLine(failure: OperationFailure): string {
  const message = failure.message.trim().replaceAll(/\s*\n\s*/g, " | ");
  return `error: ${failure.tool}: ${message} (input: ${JSON.stringify(failure.line)})`;
}

/** Logs what the proxier noticed and what the backend refused. */
export function logSyncProblems(
  report: {
    desired: { warnings: readonly string[] };
    result: { failures: readonly OperationFailure[] };
    udpFlows?: { problems: readonly string[] };
  },
  log: (line: string) => void,
): void {
  for (const warning of report.desired.warnings) log(`warning: ${warning}`);
  for (const failure of report.result.failures) log(failureLine(failure));
  for (const problem of report.udpFlows?.problems ?? []) {
    log(`warning: stale UDP conntrack flows: ${problem}`);
  }
}

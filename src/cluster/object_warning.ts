/**
 * Turning an {@link ObjectWarning} into one log line.
 *
 * @module
 */

import type { ObjectWarning } from "./types.ts";
import { escapeNonPrintable } from "./validate.ts";

/**
 * One line: `file: object: field: message` (the field is left out when empty). Every part is
 * escaped to printable ASCII, so even a file name with a newline in it stays on one line.
 *
 * @example
 * ```ts
 * formatObjectWarning({
 *   source: "examples/cluster/invalid.yaml",
 *   object: "Service default/broken",
 *   field: "spec.ports[0].port",
 *   message: "must be a port number from 1 to 65535, got 70000",
 * });
 * // "examples/cluster/invalid.yaml: Service default/broken: spec.ports[0].port: must be ..."
 * ```
 */
export function formatObjectWarning(warning: ObjectWarning): string {
  const parts = [warning.source, warning.object, warning.field, warning.message]
    .filter((part) => part !== "")
    .map(escapeNonPrintable);
  return parts.join(": ");
}

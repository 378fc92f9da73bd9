/**
 * The dry-run kernel's state kept in a JSON file between runs (`--dry-run --state FILE`).
 *
 * @module
 */

import type { KernelState } from "../../src/state/types.ts";
import { emptyKernelState, sortKernelState } from "../../src/state/keys.ts";
import { toKernelState } from "./state_schema.ts";

/**
 * Reads a state file; a missing file is an empty kernel. Throws an Error naming the file
 * and the bad field when the file is not JSON or not a kernel state.
 */
export async function loadStateFile(path: string): Promise<KernelState> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return emptyKernelState();
    throw new Error(`Cannot read state file "${path}": ${(e as Error).message}`, { cause: e });
  }
  try {
    return toKernelState(JSON.parse(text));
  } catch (e) {
    throw new Error(
      `Cannot load state file "${path}": ${(e as Error).message}. ` +
        "Fix the file or delete it to start from an empty kernel.",
      { cause: e },
    );
  }
}

/**
 * The file text of a state: sorted, with every object's keys in one fixed order (however
 * the state was built), 2-space indented JSON ending in a newline.
 */
export function stateFileText(state: KernelState): string {
  return JSON.stringify(toKernelState(sortKernelState(state)), null, 2) + "\n";
}

/** Writes a state file (replacing it whole) in the stable form of {@linkcode stateFileText}. */
export async function saveStateFile(path: string, state: KernelState): Promise<void> {
  const temporary = `${path}.tmp`;
  await Deno.writeTextFile(temporary, stateFileText(state));
  await Deno.rename(temporary, path); // readers never see half a file
}

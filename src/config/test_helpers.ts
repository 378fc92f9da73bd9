/**
 * Assertions for this module's tests (the standard library's are not reachable here).
 *
 * @module
 */

import assert from "node:assert/strict";

/** Asserts deep, strict equality. */
export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

/**
 * Asserts that `fn` throws an instance of `errorClass` whose message contains every fragment,
 * and returns the error so a test can check its fields.
 */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClass: new (...args: any[]) => E,
  ...fragments: string[]
): E {
  let caught: unknown = undefined;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof errorClass)) {
    throw new assert.AssertionError({
      message: `expected ${errorClass.name} to be thrown, got ${String(caught)}`,
    });
  }
  for (const fragment of fragments) {
    if (!caught.message.includes(fragment)) {
      throw new assert.AssertionError({
        message: `expected the message to contain ${JSON.stringify(fragment)}: ${caught.message}`,
      });
    }
  }
  return caught;
}

/**
 * Permissions for tests that parse YAML: the `yaml` package reads the `LOG_TOKENS` and
 * `LOG_STREAM` environment variables while parsing, and nothing else.
 */
export const YAML_PERMISSIONS: Deno.PermissionOptionsObject = {
  env: ["LOG_TOKENS", "LOG_STREAM"],
};

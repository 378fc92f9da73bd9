/**
 * Typed readers over the plain values YAML gives us. Each reader knows the field path it reads,
 * so a wrong value becomes a {@link FieldError} that names the path and the bad value; the
 * parser turns that into one warning and skips the object whole.
 *
 * @module
 */

import { isPortNumber, quote } from "./validate.ts";

/** A mapping read from a manifest. */
export type Fields = Readonly<Record<string, unknown>>;

/** A field of one object failed Kubernetes' rules: `field` is its path, e.g. `spec.ports[0]`. */
export class FieldError extends Error {
  /** The field path, e.g. `spec.ports[0].port`. */
  readonly field: string;

  /** `message` should end with the bad value, quoted with {@link quote}. */
  constructor(field: string, message: string) {
    super(message);
    this.name = "FieldError";
    this.field = field;
  }
}

/** Throws a {@link FieldError} saying what `field` must be and what it was. */
export function fail(field: string, expected: string, got: unknown): never {
  throw new FieldError(field, `${expected}, got ${quote(got)}`);
}

/** True for a YAML mapping (not a list, not null). */
export function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `path.key`, or `key` at the top. */
export function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function own(parent: Fields, key: string): unknown {
  return Object.hasOwn(parent, key) ? parent[key] : undefined;
}

/** A mapping field; `undefined` when absent or null. */
export function fieldsAt(parent: Fields, key: string, path: string): Fields | undefined {
  const value = own(parent, key);
  if (value === undefined || value === null) return undefined;
  if (!isFields(value)) fail(join(path, key), "must be a mapping", value);
  return value;
}

/** A list field; empty when absent or null. */
export function listAt(parent: Fields, key: string, path: string): readonly unknown[] {
  const value = own(parent, key);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(join(path, key), "must be a list", value);
  return value;
}

/** A list of strings; empty when absent or null. */
export function stringListAt(parent: Fields, key: string, path: string): readonly string[] {
  const list = listAt(parent, key, path);
  list.forEach((item, i) => {
    if (typeof item !== "string") fail(`${join(path, key)}[${i}]`, "must be a string", item);
  });
  return list as readonly string[];
}

/** A string field; `undefined` when absent or null. */
export function stringAt(parent: Fields, key: string, path: string): string | undefined {
  const value = own(parent, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(join(path, key), "must be a string", value);
  return value;
}

/** A boolean field; `undefined` when absent or null. */
export function booleanAt(parent: Fields, key: string, path: string): boolean | undefined {
  const value = own(parent, key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") fail(join(path, key), "must be true or false", value);
  return value;
}

/** An integer field within `[min, max]`; `undefined` when absent or null. */
export function integerAt(
  parent: Fields,
  key: string,
  path: string,
  range: { readonly min: number; readonly max: number },
): number | undefined {
  const value = own(parent, key);
  if (value === undefined || value === null) return undefined;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < range.min || value > range.max
  ) {
    fail(join(path, key), `must be an integer from ${range.min} to ${range.max}`, value);
  }
  return value;
}

/** A port number (1..65535); `undefined` when absent or null. */
export function portAt(parent: Fields, key: string, path: string): number | undefined {
  const value = own(parent, key);
  if (value === undefined || value === null) return undefined;
  if (!isPortNumber(value)) fail(join(path, key), "must be a port number from 1 to 65535", value);
  return value;
}

/** One of `allowed`; `fallback` when absent, null or empty (the API's defaulting). */
export function enumAt<T extends string>(
  parent: Fields,
  key: string,
  path: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = stringAt(parent, key, path);
  if (value === undefined || value === "") return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    fail(join(path, key), `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}`, value);
  }
  return value as T;
}

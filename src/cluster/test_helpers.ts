/**
 * Assertions and object builders for this module's tests (the standard library's asserts are
 * not reachable here, node:assert is).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ManifestDocument, type ParsedObjects, parseObjects } from "./parse.ts";
import type { ObjectWarning } from "./types.ts";

/** Asserts deep, strict equality. */
export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

/** Asserts that `warnings` holds exactly one warning, with these fields (message: a fragment). */
export function assertOneWarning(
  warnings: readonly ObjectWarning[],
  expected: { source?: string; object: string; field: string; message: string },
): void {
  assertEquals(warnings.length, 1, `expected one warning, got ${JSON.stringify(warnings)}`);
  const [w] = warnings;
  assertEquals(w.source, expected.source ?? "test.yaml");
  assertEquals(w.object, expected.object);
  assertEquals(w.field, expected.field);
  if (!w.message.includes(expected.message)) {
    throw new assert.AssertionError({
      message: `expected the message to contain ${JSON.stringify(expected.message)}: ${w.message}`,
    });
  }
  // Whatever the input, a warning stays on one printable ASCII line.
  for (const part of [w.object, w.field, w.message]) {
    assertEquals(
      /^[\x20-\x7e]*$/.test(part),
      true,
      `not one printable line: ${JSON.stringify(part)}`,
    );
  }
}

/** Parses `values` as documents 1, 2, ... of `test.yaml`. */
export function parse(...values: unknown[]): ParsedObjects {
  const documents: ManifestDocument[] = values.map((value, i) => ({
    value,
    source: "test.yaml",
    index: i + 1,
  }));
  return parseObjects(documents);
}

// deno-lint-ignore no-explicit-any
type Loose = Record<string, any>;

/** A valid ClusterIP Service `default/<name>`, with `spec` fields merged over the defaults. */
export function service(name: string, spec: Loose = {}, extra: Loose = {}): Loose {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { clusterIP: "10.0.0.80", ports: [{ name: "http", port: 80 }], ...spec },
    ...extra,
  };
}

/** A valid IPv4 EndpointSlice `default/<name>` for `serviceName`, fields merged over defaults. */
export function slice(name: string, serviceName: string, fields: Loose = {}): Loose {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.244.1.10"], nodeName: "node-a" }],
    ports: [{ name: "http", port: 8080 }],
    ...fields,
  };
}

/** A valid Node with the given status addresses. */
export function node(name: string, addresses: Loose[] = []): Loose {
  return { apiVersion: "v1", kind: "Node", metadata: { name }, status: { addresses } };
}

/**
 * The yaml library reads the `LOG_TOKENS` and `LOG_STREAM` environment variables (its debug
 * switches), so tests of decoding need exactly that much more than `"none"`.
 */
export const YAML_PERMISSIONS: Deno.PermissionOptionsObject = {
  env: ["LOG_TOKENS", "LOG_STREAM"],
};

/**
 * Feature gates, as a YAML map (`{SupportIPVSProxyMode: true}`) or as the string form that
 * `--feature-gates` and the 2018 kubeadm v1alpha1 files use (`SupportIPVSProxyMode=true`).
 *
 * @module
 */

import { invalidValue, type Origin, showValue } from "./errors.ts";

/** The 2018 gate that had to be on for IPVS mode; later releases enable it by default. */
export const IPVS_GATE = "SupportIPVSProxyMode";

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** Gate names are CamelCase words like `SupportIPVSProxyMode`. */
const GATE_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`;
 * undefined for anything else.
 */
export function parseGoBool(text: string): boolean | undefined {
  if (GO_TRUE.has(text)) return true;
  if (GO_FALSE.has(text)) return false;
  return undefined;
}

/**
 * Parses `A=true,B=false` into a map. Empty items are skipped, so "" is no gates at all.
 *
 * @example
 * ```ts
 * parseFeatureGateString("SupportIPVSProxyMode=true", { file: "", field: "--feature-gates" });
 * // { SupportIPVSProxyMode: true }
 * ```
 */
export function parseFeatureGateString(text: string, origin: Origin): Record<string, boolean> {
  const gates: Record<string, boolean> = {};
  for (const item of text.split(",").map((part) => part.trim())) {
    if (item === "") continue;
    const equals = item.indexOf("=");
    const name = equals < 0 ? item : item.slice(0, equals).trim();
    const value = equals < 0 ? undefined : parseGoBool(item.slice(equals + 1).trim());
    if (!GATE_NAME.test(name) || value === undefined) {
      throw invalidValue(
        origin,
        text,
        `expected gates like "${IPVS_GATE}=true,OtherGate=false", got ${showValue(item)}`,
      );
    }
    gates[name] = value;
  }
  return gates;
}

/** Reads `featureGates` from YAML: a map of booleans, the string form, or nothing. */
export function readFeatureGates(raw: unknown, origin: Origin): Record<string, boolean> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw === "string") return parseFeatureGateString(raw, origin);
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw invalidValue(
      origin,
      raw,
      `expected a map like {${IPVS_GATE}: true} or a string like "${IPVS_GATE}=true", got ${
        showValue(raw)
      }`,
    );
  }
  const gates: Record<string, boolean> = {};
  for (const [name, value] of Object.entries(raw)) {
    const gateOrigin = { ...origin, field: `${origin.field}.${name}` };
    if (!GATE_NAME.test(name)) {
      throw invalidValue(gateOrigin, name, `expected a gate name like "${IPVS_GATE}"`);
    }
    if (typeof value !== "boolean") {
      throw invalidValue(gateOrigin, value, `expected true or false, got ${showValue(value)}`);
    }
    gates[name] = value;
  }
  return gates;
}

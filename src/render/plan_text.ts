/**
 * A plan as reviewers read it (each tool's exact stdin under a header line), and the
 * JSON view of a state with its plan that the CLI prints.
 *
 * @module
 */

import type { Plan } from "../plan/types.ts";
import type { IptablesFamily, KernelState, TableName } from "../state/types.ts";
import { sortKernelState } from "../state/keys.ts";
import { renderTableState } from "./iptables.ts";
import { eachToolInvocation, type ToolInvocation } from "./tool_inputs.ts";

/** Options of {@linkcode renderPlanText}. */
export interface PlanTextOptions {
  /**
   * Start with a line counting the operations by kind, e.g.
   * `# 3 operations: 1 ipset.add, 2 ipvs.addRealServer`.
   * @default {false}
   */
  readonly summary?: boolean;
}

/** What an empty plan renders as. */
export const NO_CHANGES = "# no changes: the kernel already matches the desired state\n";

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function header(run: ToolInvocation): string {
  const command = run.argv.join(" ");
  if (run.table !== undefined) return `# ${command} (${run.table})`;
  return `# ${command} (${plural(run.lines.length, "line")})`;
}

function summary(plan: Plan): string {
  const counts = new Map<string, number>();
  for (const op of plan) counts.set(op.op, (counts.get(op.op) ?? 0) + 1);
  const parts = [...counts].sort(([a], [b]) => a < b ? -1 : 1).map(([k, n]) => `${n} ${k}`);
  return `# ${plural(plan.length, "operation")}: ${parts.join(", ")}\n`;
}

/**
 * The plan as sections in apply order, each a header line such as
 * `# ipset restore (5 lines)` or `# iptables-restore --noflush -w (nat)` followed by exactly
 * the stdin the exec backend feeds that tool; sections are separated by a blank line.
 *
 * @example
 * ```ts
 * renderPlanText([]); // "# no changes: the kernel already matches the desired state\n"
 * ```
 */
export function renderPlanText(plan: Plan, options: PlanTextOptions = {}): string {
  return [...planTextChunks(plan, options)].join("");
}

/**
 * {@linkcode renderPlanText} in pieces, one tool run at a time, so a 160,000-operation plan
 * reaches stdout without first becoming one string.
 */
export function* planTextChunks(plan: Plan, options: PlanTextOptions = {}): Generator<string> {
  if (plan.length === 0) {
    yield NO_CHANGES;
    return;
  }
  if (options.summary) yield summary(plan) + "\n";
  let first = true;
  for (const run of eachToolInvocation(plan)) {
    yield `${first ? "" : "\n"}${header(run)}\n${run.stdin}`;
    first = false;
  }
}

function tablesOf(state: KernelState, family: IptablesFamily): Record<TableName, string> {
  if (!state.families.includes(family)) return { nat: "", filter: "" };
  return {
    nat: renderTableState("nat", state.iptables[family].nat),
    filter: renderTableState("filter", state.iptables[family].filter),
  };
}

/**
 * The state and the plan as one JSON document (2-space indent, ending in a newline):
 * `virtualServers` (without connection counts), `ipsets` (without comments), `iptables` and
 * `ip6tables` as `iptables-save` text per table ("" for a family the state does not cover),
 * `addresses`, and `plan` (the operations as they are).
 */
export function renderStateJson(state: KernelState, plan: Plan): string {
  return [...stateJsonChunks(state, plan)].join("");
}

/** Bytes gathered before a chunk is handed on: few writes, and no giant string. */
const CHUNK_CHARS = 1 << 16;

/**
 * {@linkcode renderStateJson} in pieces of about 64 KiB: the same text as
 * `JSON.stringify(document, null, 2)`, built one array element at a time.
 */
export function* stateJsonChunks(state: KernelState, plan: Plan): Generator<string> {
  let buffer = "";
  for (const part of stateJsonParts(state, plan)) {
    buffer += part;
    if (buffer.length >= CHUNK_CHARS) {
      yield buffer;
      buffer = "";
    }
  }
  yield buffer;
}

function* stateJsonParts(state: KernelState, plan: Plan): Generator<string> {
  const sorted = sortKernelState(state);
  yield "{\n";
  yield* arrayMember("virtualServers", sorted.virtualServers, virtualServerJson);
  yield* arrayMember("ipsets", sorted.ipsets, (set) => ({
    name: set.name,
    type: set.type,
    family: set.family,
    entries: set.entries,
  }));
  yield member("iptables", tablesOf(sorted, "ipv4")) + ",\n";
  yield member("ip6tables", tablesOf(sorted, "ipv6")) + ",\n";
  yield member(
    "addresses",
    sorted.addresses.map((a) => ({ device: a.device, address: a.address })),
  );
  yield ",\n";
  yield* arrayMember("plan", plan, (op) => op, false);
  yield "}\n";
}

function virtualServerJson(vs: KernelState["virtualServers"][number]) {
  return {
    protocol: vs.protocol,
    address: vs.address,
    port: vs.port,
    scheduler: vs.scheduler,
    persistenceTimeout: vs.persistenceTimeout,
    flags: vs.flags,
    service: vs.service,
    realServers: vs.realServers.map((rs) => ({
      address: rs.address,
      port: rs.port,
      forward: rs.forward,
      weight: rs.weight,
    })),
  };
}

/** `  "key": value` at depth 1 of a 2-space-indented document. */
function member(key: string, value: unknown): string {
  return `  ${JSON.stringify(key)}: ${JSON.stringify(value, null, 2).replaceAll("\n", "\n  ")}`;
}

/**
 * Elements printed per `JSON.stringify` call: few calls, and pieces of a few KiB (a piece past
 * V8's large-object size, about 128 KiB, would go straight to the old generation).
 */
const BATCH = 32;

/**
 * A top-level array member, a few elements at a time (`[]` when empty), then `,` unless last.
 * Each element is converted to its printed form (`view`) only when its batch is reached, so the
 * printed copies of 125,000 real servers never exist at once. A batch is printed inside a
 * one-member object, which gives its elements the depth-2 indentation as they are; the
 * object's own first and last lines are cut off.
 */
function* arrayMember<T>(
  key: string,
  items: readonly T[],
  view: (item: T) => unknown,
  comma = true,
): Generator<string> {
  const end = comma ? ",\n" : "\n";
  const name = JSON.stringify(key);
  if (items.length === 0) {
    yield `  ${name}: []${end}`;
    return;
  }
  const open = `{\n  ${name}: [\n`;
  const close = "\n  ]\n}";
  yield `  ${name}: [\n`;
  for (let start = 0; start < items.length; start += BATCH) {
    const batch = items.slice(start, start + BATCH).map(view);
    const text = JSON.stringify({ [key]: batch }, null, 2);
    const last = start + BATCH >= items.length;
    yield text.slice(open.length, text.length - close.length) + (last ? "\n" : ",\n");
  }
  yield `  ]${end}`;
}

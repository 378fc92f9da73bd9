/**
 * How a plan becomes tool invocations: consecutive operations of one tool share one
 * process (one stdin), and each `iptables.restore` is one `iptables-restore` run for its
 * table. The exec backend runs these; the plan text shows them; the dry-run backend counts
 * them as its writes. Keeping the plan's order keeps its constraints (sets before the rules
 * that use them, set destruction after the rules stop using them).
 *
 * @module
 */

import type { Operation, Plan } from "../plan/types.ts";
import type { IptablesFamily, TableName } from "../state/types.ts";
import { type IpOperation, type IpRenderOptions, renderIpLine } from "./ip_batch.ts";
import { type IpsetOperation, renderIpsetLines } from "./ipset.ts";
import { type IpvsOperation, renderIpvsadmLine } from "./ipvsadm.ts";
import { renderIptablesRestoreLines } from "./iptables.ts";

/** The tools a plan is carried out with. */
export type Tool = "ipset" | "iptables" | "ip6tables" | "ipvsadm" | "ip";

/** One process to run, with its stdin. */
export interface ToolInvocation {
  /** Which tool runs. */
  readonly tool: Tool;
  /** The command line, e.g. `["ipset", "restore"]`. */
  readonly argv: readonly string[];
  /** For `iptables`/`ip6tables`: the one table this run restores. */
  readonly table?: TableName;
  /** The operations this run carries out, in order. */
  readonly operations: readonly Operation[];
  /** The stdin lines; `lineOperations[i]` is the operation that produced `lines[i]`. */
  readonly lines: readonly string[];
  /** The operation behind each line (to map a tool's "error in line N" back to it). */
  readonly lineOperations: readonly Operation[];
  /** The exact stdin: the lines, each ending in a newline. */
  readonly stdin: string;
}

const ARGV: Record<Tool, readonly string[]> = {
  ipset: ["ipset", "restore"],
  iptables: ["iptables-restore", "--noflush", "-w"],
  ip6tables: ["ip6tables-restore", "--noflush", "-w"],
  ipvsadm: ["ipvsadm", "--restore"],
  ip: ["ip", "-batch", "-"],
};

const IPTABLES_TOOL: Record<IptablesFamily, Tool> = { ipv4: "iptables", ipv6: "ip6tables" };

/** The tool that carries out an operation. */
export function toolOf(op: Operation): Tool {
  if (op.op === "iptables.restore") return IPTABLES_TOOL[op.family];
  if (op.op.startsWith("ipset.")) return "ipset";
  if (op.op.startsWith("ipvs.")) return "ipvsadm";
  return "ip";
}

/** Options of {@linkcode toolInvocations}: how `link.add` is rendered (see `IpRenderOptions`). */
export type RenderOptions = IpRenderOptions;

/** The stdin lines of one operation, in its tool's input format. */
export function renderOperationLines(op: Operation, options: RenderOptions = {}): string[] {
  if (op.op === "iptables.restore") return renderIptablesRestoreLines(op);
  switch (toolOf(op)) {
    case "ipset":
      return renderIpsetLines(op as IpsetOperation);
    case "ipvsadm":
      return [renderIpvsadmLine(op as IpvsOperation)];
    default:
      return [renderIpLine(op as IpOperation, options)];
  }
}

/** The stdin lines of `operations` and the operation behind each line. */
function renderRun(tool: Tool, operations: readonly Operation[], options: RenderOptions) {
  const lines: string[] = [];
  const lineOperations: Operation[] = [];
  for (const op of operations) {
    // Most operations are one ipvsadm line: render those without an intermediate array.
    if (tool === "ipvsadm") {
      lines.push(renderIpvsadmLine(op as IpvsOperation));
      lineOperations.push(op);
      continue;
    }
    for (const line of renderOperationLines(op, options)) {
      lines.push(line);
      lineOperations.push(op);
    }
  }
  return { lines, lineOperations };
}

function stdinOf(lines: readonly string[]): string {
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/** What a run is before anything is rendered. */
function runHeader(tool: Tool, operations: readonly Operation[]) {
  const first = operations[0];
  return {
    tool,
    argv: ARGV[tool],
    ...(first.op === "iptables.restore" ? { table: first.table } : {}),
    operations,
  };
}

function invocation(
  tool: Tool,
  operations: readonly Operation[],
  options: RenderOptions,
): ToolInvocation {
  const { lines, lineOperations } = renderRun(tool, operations, options);
  return { ...runHeader(tool, operations), lines, lineOperations, stdin: stdinOf(lines) };
}

/**
 * One tool run whose lines and stdin are rendered the first time they are read, then kept
 * with it. A consumer that needs only the operations (a simulated kernel, netlink) renders
 * nothing, and a caller that makes each run just before it is carried out holds one run's
 * text at a time, not a whole plan's. Throws a `RenderError` on first read if any value
 * cannot be rendered safely.
 */
export function lazyToolInvocation(
  tool: Tool,
  operations: readonly Operation[],
  options: RenderOptions = {},
): ToolInvocation {
  let rendered: { lines: string[]; lineOperations: Operation[] } | undefined;
  let stdin: string | undefined;
  const render = () => rendered ??= renderRun(tool, operations, options);
  return {
    ...runHeader(tool, operations),
    get lines() {
      return render().lines;
    },
    get lineOperations() {
      return render().lineOperations;
    },
    get stdin() {
      return stdin ??= stdinOf(render().lines);
    },
  };
}

/**
 * Splits a plan into tool runs without rendering anything: consecutive operations of the
 * same tool share a run, each `iptables.restore` has its own. The run count is the number
 * of processes the exec backend starts (0 for an empty plan).
 */
export function groupByTool(plan: Plan): { tool: Tool; operations: Operation[] }[] {
  const groups: { tool: Tool; operations: Operation[] }[] = [];
  for (const op of plan) {
    const tool = toolOf(op);
    const last = groups.at(-1);
    if (op.op === "iptables.restore" || last?.tool !== tool) {
      groups.push({ tool, operations: [op] });
    } else last.operations.push(op);
  }
  return groups;
}

/**
 * The tool runs that carry out `plan` (see {@linkcode groupByTool}), each with its stdin.
 * Throws a `RenderError` if any value cannot be rendered safely.
 */
export function toolInvocations(plan: Plan, options: RenderOptions = {}): ToolInvocation[] {
  return groupByTool(plan).map((g) => invocation(g.tool, g.operations, options));
}

/**
 * {@linkcode toolInvocations} one run at a time: each run is rendered when it is reached, and
 * nothing here keeps it after that, so a plan's whole text never exists at once.
 */
export function* eachToolInvocation(
  plan: Plan,
  options: RenderOptions = {},
): Generator<ToolInvocation> {
  for (const g of groupByTool(plan)) yield invocation(g.tool, g.operations, options);
}

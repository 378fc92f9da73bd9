/**
 * The golden scenarios (tests/golden/<scenario>/) in their structured form, for the tests that
 * load them into the real tools: `plan.json` has the plan, and {@linkcode goldenToolRuns} turns it
 * into the tool runs the exec backend would start, rendered by `src/render/` as for a real sync.
 *
 * @module
 */

import type { Plan } from "../src/plan/types.ts";
import type { VirtualServer } from "../src/state/types.ts";
import { type ToolInvocation, toolInvocations } from "../src/render/tool_inputs.ts";

const GOLDEN = new URL("./golden/", import.meta.url);

/** What a golden `plan.json` holds (the parts these tests read). */
export interface GoldenJson {
  /** The operations of the scenario's sync on a fresh kernel. */
  readonly plan: Plan;
  /** The virtual servers the sync leaves. */
  readonly virtualServers: readonly VirtualServer[];
}

/** The scenario directories under tests/golden/, sorted. Reads the directory synchronously. */
export function goldenScenarios(): string[] {
  return [...Deno.readDirSync(GOLDEN)].filter((e) => e.isDirectory).map((e) => e.name).sort();
}

/** A scenario's `plan.json`. */
export async function goldenJson(scenario: string): Promise<GoldenJson> {
  return JSON.parse(await Deno.readTextFile(new URL(`${scenario}/plan.json`, GOLDEN)));
}

/**
 * The tool sections of a review text, one per tool run, in order: the node-preparation review
 * that a dry run prints first (`# modprobe ...`, from the config alone) is set aside.
 */
export function toolSections(text: string): string[] {
  const sections = text.trim().split("\n\n");
  return sections[0]?.startsWith("# modprobe") ? sections.slice(1) : sections;
}

/** A scenario's `plan.txt` (the review text). */
export async function goldenText(scenario: string): Promise<string> {
  return await Deno.readTextFile(new URL(`${scenario}/plan.txt`, GOLDEN));
}

/** The tool runs of a scenario's plan, as the exec backend would start them. */
export async function goldenToolRuns(scenario: string): Promise<ToolInvocation[]> {
  return toolInvocations((await goldenJson(scenario)).plan);
}

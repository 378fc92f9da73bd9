/**
 * Nothing from a manifest may break or add a line in any restore input. Hostile strings go
 * everywhere a manifest can put text; every line of every rendered tool input must still be
 * one well-formed line of that tool's grammar (iptables lines: only the forms our renderer
 * writes, tests/restore_grammar.ts), each section exactly as long as its operations imply, and
 * the valid objects must still sync.
 */

import assert from "node:assert/strict";
import { stringify } from "yaml";
import { main } from "../src/cli/main.ts";
import type { Operation, Plan } from "../src/plan/types.ts";
import { NAT_JUMPS } from "../src/proxier/iptables_rules.ts";
import { renderPlanText } from "../src/render/plan_text.ts";
import { groupByTool, type Tool } from "../src/render/tool_inputs.ts";
import { impliedLineCount, iptablesSectionProblems, LINE_GRAMMAR } from "./restore_grammar.ts";
import { toolSections } from "./golden_plans.ts";

const HOSTILE = [
  "web\n-A INPUT -j ACCEPT",
  'quo"te',
  "it's",
  "hash#tag",
  "with space",
  "ünïcödé",
  "cr\rlf",
  "-j DROP",
  "KUBE-SERVICES\nCOMMIT",
  "add KUBE-CLUSTER-IP 1.2.3.4,tcp:1",
];

function service(name: string, namespace: string, portName: string, extra = {}) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, annotations: { note: HOSTILE.join(" ") }, ...extra },
    spec: {
      clusterIP: "10.0.7.1",
      ports: [{ name: portName, port: 80, targetPort: "http" }],
    },
  };
}

function endpointSlice(service: string, namespace: string, portName: string, nodeName: string) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${service}-1`,
      namespace,
      labels: { "kubernetes.io/service-name": service, other: HOSTILE[0] },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.244.1.7"], nodeName }],
    ports: [{ name: portName, port: 8080 }],
  };
}

/** One valid service whose free-text fields are hostile, and objects with hostile names. */
function hostileManifests(): string {
  const objects: unknown[] = [
    service("safe", "default", "http"),
    endpointSlice("safe", "default", "http", HOSTILE[0]),
  ];
  HOSTILE.forEach((bad, i) => {
    objects.push(service(bad, "default", "http"));
    objects.push(service(`svc-${i}`, bad, "http"));
    objects.push(service(`port-${i}`, "default", bad));
    objects.push(endpointSlice(bad, "default", "http", "node-a"));
  });
  return objects.map((o) => stringify(o)).join("---\n");
}

/** The output of one dry-run sync of `dir` in `format` (the exit code asserted 0). */
async function dryRun(dir: string, format: "text" | "json") {
  let stdout = "";
  const stderr: string[] = [];
  const code = await main(
    [
      "--proxy-mode=ipvs",
      "--manifests",
      dir,
      "--dry-run",
      "--once",
      "--node-ip",
      "192.168.0.10",
      "--output",
      format,
    ],
    {
      stdout: (t) => stdout += t,
      stderr: (l) => stderr.push(l),
      env: {},
      hostname: () => "node-a",
    },
  );
  assert.equal(code, 0, stderr.join("\n"));
  return { stdout, stderr };
}

const HEADER: Record<Tool, string> = {
  ipset: "# ipset restore",
  iptables: "# iptables-restore",
  ip6tables: "# ip6tables-restore",
  ipvsadm: "# ipvsadm --restore",
  ip: "# ip -batch -",
};

/** Every problem of one section of the review text, against the tool run it should be. */
function sectionProblems(section: string, run: { tool: Tool; operations: Operation[] }): string[] {
  const [header, ...lines] = section.split("\n");
  if (!header.startsWith(HEADER[run.tool])) return [`${header}: expected ${HEADER[run.tool]}`];
  const problems: string[] = [];
  const implied = impliedLineCount(run.operations);
  if (lines.length !== implied) {
    problems.push(`${header}: ${lines.length} lines, the plan implies ${implied}`);
  }
  const declared = header.match(/\((\d+) lines?\)/);
  if (declared && Number(declared[1]) !== lines.length) {
    problems.push(`${header}: declares ${declared[1]} lines, has ${lines.length}`);
  }
  const first = run.operations[0];
  if (first.op === "iptables.restore") {
    problems.push(...iptablesSectionProblems(first.table, lines).map((p) => `${header}: ${p}`));
    return problems;
  }
  const grammar = LINE_GRAMMAR[HEADER[run.tool].slice(2)];
  for (const line of lines) {
    if (!grammar.test(line)) problems.push(`${header}: ${JSON.stringify(line)}`);
  }
  return problems;
}

/** Every problem of the review text of `plan`: one section per tool run, each one ours. */
function reviewTextProblems(text: string, plan: Plan): string[] {
  const sections = toolSections(text);
  const runs = groupByTool(plan);
  if (sections.length !== runs.length) {
    return [`${sections.length} sections, the plan has ${runs.length} tool runs`];
  }
  return sections.flatMap((section, i) => sectionProblems(section, runs[i]));
}

Deno.test("hostile strings in manifests never break or add a line of any restore input", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/hostile.yaml`, hostileManifests());
    const { stdout, stderr } = await dryRun(dir, "text");
    // Every hostile name was refused with a one-line warning; the safe service synced.
    assert.ok(stderr.filter((l) => l.startsWith("warning:")).length >= HOSTILE.length * 3);
    for (const line of stderr) {
      assert.ok(!/[\r\n]/.test(line), `multi-line log ${JSON.stringify(line)}`);
    }
    assert.match(stdout, /^-A -t 10\.0\.7\.1:80 -s rr$/m);
    const { plan } = JSON.parse((await dryRun(dir, "json")).stdout) as { plan: Plan };
    assert.ok(plan.some((op) => op.op === "iptables.restore"), "the plan restores iptables");
    assert.deepEqual(reviewTextProblems(stdout, plan), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const NAT_HEADER = "# iptables-restore --noflush -w (nat)";

/** A clean nat section as the renderer writes it, and its plan. */
function natSection(): { text: string; plan: Plan } {
  const op: Operation = {
    op: "iptables.restore",
    family: "ipv4",
    table: "nat",
    chains: [{
      name: "KUBE-SERVICES",
      rules: ["-m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT"],
    }],
    addJumps: [NAT_JUMPS[0]],
    deleteJumps: [],
    deleteChains: [],
  };
  return { text: renderPlanText([op]), plan: [op] };
}

/** `text` with `line` inserted before its COMMIT. */
function injected(text: string, line: string): string {
  return text.replace("\nCOMMIT", `\n${line}\nCOMMIT`);
}

Deno.test({
  name: "the check passes a clean iptables section and rejects one with an injected line",
  permissions: "none",
  fn: () => {
    const { text, plan } = natSection();
    assert.deepEqual(reviewTextProblems(text, plan), []);
    for (const line of ["-I INPUT -j ACCEPT", "-A INPUT -j ACCEPT", "-I PREROUTING 1 -j ACCEPT"]) {
      const problems = reviewTextProblems(injected(text, line), plan);
      assert.ok(problems.some((p) => p.includes(JSON.stringify(line))), problems.join("\n"));
      assert.ok(
        problems.includes(`${NAT_HEADER}: 6 lines, the plan implies 5`),
        problems.join("\n"),
      );
    }
  },
});

Deno.test({
  name: "an injected line of our own shape is caught by the line count of its section",
  permissions: "none",
  fn: () => {
    const { text, plan } = natSection();
    const problems = reviewTextProblems(injected(text, "-A KUBE-SERVICES -j ACCEPT"), plan);
    assert.deepEqual(problems, [`${NAT_HEADER}: 6 lines, the plan implies 5`]);
  },
});

Deno.test({
  name: "the iptables grammar refuses foreign chains, jump targets and rule shapes",
  permissions: "none",
  fn: () => {
    const problems = iptablesSectionProblems("filter", [
      "*filter",
      ":INPUT - [0:0]",
      "-A KUBE-FORWARD -j KUBE-SERVICES",
      "-A KUBE-FORWARD -m string --string x -j ACCEPT",
      "-X KUBE-SERVICES",
      "-D INPUT -j ACCEPT",
    ]);
    assert.deepEqual(problems, [
      'line 6: "-D INPUT -j ACCEPT": expected COMMIT last',
      'line 2: ":INPUT - [0:0]": declares INPUT, not one of our chains',
      'line 3: "-A KUBE-FORWARD -j KUBE-SERVICES": jumps to KUBE-SERVICES, not one of our filter chains',
      'line 4: "-A KUBE-FORWARD -m string --string x -j ACCEPT": not one of our rule shapes',
      'line 5: "-X KUBE-SERVICES": deletes KUBE-SERVICES, not one of our chains',
    ]);
  },
});

Deno.test("every golden plan's review text passes the strict grammar and line counts", async () => {
  const golden = new URL("./golden/", import.meta.url);
  let checked = 0;
  for await (const entry of Deno.readDir(golden)) {
    if (!entry.isDirectory) continue;
    const dir = new URL(`${entry.name}/`, golden);
    const text = await Deno.readTextFile(new URL("plan.txt", dir));
    const { plan } = JSON.parse(await Deno.readTextFile(new URL("plan.json", dir)));
    assert.deepEqual(reviewTextProblems(text, plan), [], entry.name);
    checked++;
  }
  assert.ok(checked >= 9, `only ${checked} golden scenarios found`);
});

import assert from "node:assert/strict";
import { deleteUdpFlows, listUdpFlows, parseConntrackUdp } from "./conntrack.ts";
import { scriptedRunner } from "./command.ts";

// As conntrack v1.4.7 lists them (measured on this machine inside `unshare -n`).
const LISTED = "udp      17 29 src=127.0.0.1 dst=127.0.0.2 sport=40000 dport=999 [UNREPLIED] " +
  "src=127.0.0.2 dst=127.0.0.1 sport=999 dport=40000 mark=0 use=1\n" +
  "udp      17 117 src=10.0.0.5 dst=10.96.0.10 sport=4242 dport=53 src=10.244.1.2 " +
  "dst=10.0.0.5 sport=5353 dport=4242 [ASSURED] mark=0 use=1\n";

Deno.test("conntrack -L lines give each flow's original destination, port and reply source", () => {
  assert.deepEqual(parseConntrackUdp(LISTED, "ipv4"), [
    { family: "ipv4", origDst: "127.0.0.2", origDstPort: 999, replySrc: "127.0.0.2" },
    { family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc: "10.244.1.2" },
  ]);
  assert.deepEqual(
    parseConntrackUdp("conntrack v1.4.7: 0 flow entries have been shown.\n", "ipv4"),
    [],
  );
});

Deno.test("listing without the conntrack tool fails naming the package", async () => {
  const error = await listUdpFlows(scriptedRunner({}), "ipv4").then(() => undefined, (e) => e);
  assert.match(String(error), /conntrack is not installed \(the Debian package conntrack\)/);
});

// As conntrack v1.4.7 prints the flows a `-R -` of `-D` lines deleted (measured in a namespace).
const DELETED = "udp      17 99 src=10.0.0.1 dst=10.96.0.10 sport=4001 dport=53 src=10.244.9.9 " +
  "dst=10.0.0.1 sport=53 dport=4001 mark=0 use=1\n";

const STALE = [
  { family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc: "10.244.9.9" },
  { family: "ipv6", origDst: "fd00::10", origDstPort: 53, replySrc: "fd01::9" },
] as const;

Deno.test("all stale flows are deleted in one conntrack -R by destination, port and reply source", async () => {
  const run = scriptedRunner(() => ({ stdout: DELETED })); // the IPv6 one was already gone
  const result = await deleteUdpFlows(run, STALE);
  assert.deepEqual(result, { deleted: 1, problems: [], writes: 1 });
  assert.deepEqual(run.calls, [["conntrack", "-R", "-"]]);
  assert.equal(
    run.stdins[0],
    "-D -p udp -f ipv4 --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.9.9\n" +
      "-D -p udp -f ipv6 --orig-dst fd00::10 --orig-port-dst 53 --reply-src fd01::9\n",
  );
  assert.equal(run.writes(), 1, "conntrack -R counts as a write");
});

Deno.test("no stale flow starts no process", async () => {
  const run = scriptedRunner(() => ({}));
  assert.deepEqual(await deleteUdpFlows(run, []), { deleted: 0, problems: [], writes: 0 });
  assert.equal(run.calls.length, 0);
});

Deno.test("a flow whose values are not an address, a port and an address never reaches the tool's input", async () => {
  const run = scriptedRunner(() => ({}));
  const hostile = { ...STALE[0], replySrc: "10.244.9.9\n-F" };
  const result = await deleteUdpFlows(run, [hostile, { ...STALE[0], origDstPort: 0 }, STALE[0]]);
  assert.equal(result.problems.length, 2);
  assert.match(result.problems[0], /^not a flow conntrack can delete: /);
  assert.equal(run.stdins[0]!.split("\n").length, 2, "one line, and the end of it");
  assert.ok(!run.stdins[0]!.includes("-F"));
});

Deno.test("a refused batch is reported with its size and the tool's message, its deletes still counted", async () => {
  const run = scriptedRunner(() => ({
    code: 1,
    stdout: DELETED,
    stderr: "conntrack v1.4.7 (conntrack-tools): Operation not permitted\n",
  }));
  const result = await deleteUdpFlows(run, STALE);
  assert.equal(result.deleted, 1);
  assert.deepEqual(result.problems, [
    "conntrack -R - (2 deletes): conntrack v1.4.7 (conntrack-tools): Operation not permitted",
  ]);
  const missing = await deleteUdpFlows(scriptedRunner({}), STALE);
  assert.match(missing.problems[0], /conntrack is not installed \(the Debian package conntrack\)/);
});

Deno.test("a conntrack without -R deletes one process per flow, a flow already gone no problem", async () => {
  const run = scriptedRunner((argv) => {
    if (argv[1] === "-R") {
      return { code: 2, stderr: "conntrack: invalid option -- 'R'\n" };
    }
    const gone = argv.includes("fd01::9");
    return {
      code: gone ? 1 : 0,
      stderr: `conntrack v1.4.5 (conntrack-tools): ${
        gone ? 0 : 1
      } flow entries have been deleted.\n`,
    };
  });
  const result = await deleteUdpFlows(run, STALE);
  assert.deepEqual(result, { deleted: 1, problems: [], writes: 3 });
  assert.deepEqual(run.calls.slice(1), [
    [
      "conntrack",
      "-D",
      "-p",
      "udp",
      "-f",
      "ipv4",
      "--orig-dst",
      "10.96.0.10",
      "--orig-port-dst",
      "53",
      "--reply-src",
      "10.244.9.9",
    ],
    [
      "conntrack",
      "-D",
      "-p",
      "udp",
      "-f",
      "ipv6",
      "--orig-dst",
      "fd00::10",
      "--orig-port-dst",
      "53",
      "--reply-src",
      "fd01::9",
    ],
  ]);
});

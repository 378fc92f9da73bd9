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

Deno.test("each stale flow is deleted by destination, port and reply source; one already gone is fine", async () => {
  const run = scriptedRunner((argv) => {
    if (argv.includes("10.244.9.9")) {
      return { stderr: "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n" };
    }
    return {
      code: 1,
      stderr: "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n",
    };
  });
  const result = await deleteUdpFlows(run, [
    { family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc: "10.244.9.9" },
    { family: "ipv6", origDst: "fd00::10", origDstPort: 53, replySrc: "fd01::9" },
  ]);
  assert.deepEqual(result, { deleted: 1, problems: [], writes: 2 });
  assert.deepEqual(run.calls[0], [
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
  ]);
  assert.equal(run.calls[1][5], "ipv6");
});

Deno.test("a refused delete is reported with its command and message", async () => {
  const run = scriptedRunner(() => ({
    code: 1,
    stderr: "conntrack v1.4.7 (conntrack-tools): Operation not permitted\n",
  }));
  const result = await deleteUdpFlows(run, [
    { family: "ipv4", origDst: "10.96.0.10", origDstPort: 53, replySrc: "10.244.9.9" },
  ]);
  assert.equal(result.deleted, 0);
  assert.match(
    result.problems[0],
    /^conntrack -D .* --reply-src 10\.244\.9\.9: .*Operation not permitted$/,
  );
});

import assert from "node:assert/strict";
import {
  countingRunner,
  isWriteCommand,
  rejectedLine,
  runCommand,
  runOrThrow,
  scriptedRunner,
  ToolError,
  toolName,
} from "./command.ts";

const RUN = { run: true, read: true, env: true } as const;

Deno.test({
  name: "runCommand() passes each array element as one argument, with no shell expansion",
  permissions: RUN,
  async fn() {
    const result = await runCommand(["printf", "%s|", "$HOME;ls", "a b", "*", "'q'"]);
    assert.deepEqual(result, { code: 0, stdout: "$HOME;ls|a b|*|'q'|", stderr: "" });
  },
});

Deno.test({
  name: "runCommand() pipes stdin text to the tool",
  permissions: RUN,
  async fn() {
    const result = await runCommand(["cat"], { stdin: "add foo 1.2.3.4\nadd 'x' \"y\"\n" });
    assert.equal(result.stdout, "add foo 1.2.3.4\nadd 'x' \"y\"\n");
  },
});

Deno.test({
  name: "runCommand() gives the tool an empty stdin when none is passed",
  permissions: RUN,
  async fn() {
    const result = await runCommand(["cat"]);
    assert.deepEqual(result, { code: 0, stdout: "", stderr: "" });
  },
});

Deno.test({
  name: "runCommand() resolves with a non-zero exit code and the stderr instead of throwing",
  permissions: RUN,
  async fn() {
    const result = await runCommand(["sh", "-c", "echo out; echo oops >&2; exit 3"]);
    assert.deepEqual(result, { code: 3, stdout: "out\n", stderr: "oops\n" });
  },
});

Deno.test({
  name: "runCommand() reports a tool killed by a signal as 128 + the signal, not as success",
  permissions: RUN,
  async fn() {
    // dax alone would report this SIGKILL as exit code 0.
    const result = await runCommand(["sh", "-c", "kill -9 $$"]);
    assert.equal(result.code, 137);
  },
});

Deno.test({
  name: "runCommand() kills a tool that runs past its timeout and reports code 124",
  permissions: RUN,
  async fn() {
    const started = Date.now();
    const result = await runCommand(["sleep", "30"], { timeoutMs: 200 });
    assert.equal(result.code, 124);
    assert.match(result.stderr, /sleep: killed after 0\.2 s \(timed out\)/);
    assert.ok(Date.now() - started < 10_000);
  },
});

Deno.test({
  name: "runCommand() reports a missing program as code 127 with a clear message",
  permissions: RUN,
  async fn() {
    const result = await runCommand(["ipvs-proxy-no-such-tool", "--version"]);
    assert.equal(result.code, 127);
    assert.equal(
      result.stderr,
      "ipvs-proxy-no-such-tool: command not found (is it installed and on PATH?)\n",
    );
  },
});

Deno.test({
  name: "runCommand() reports a file that cannot be executed as code 126",
  permissions: { ...RUN, write: true },
  async fn() {
    const file = await Deno.makeTempFile({ prefix: "ipvs-proxy-noexec-" });
    try {
      await Deno.writeTextFile(file, "#!/bin/sh\necho hi\n");
      await Deno.chmod(file, 0o644);
      const result = await runCommand([file]);
      assert.equal(result.code, 126);
      assert.match(result.stderr, /Permission denied|cannot run/);
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "rejectedLine() finds the line ipset restore names",
  permissions: "none",
  fn() {
    const stdin = "create foo hash:ip\nadd foo 1.2.3.4\nadd foo bogus\n";
    const stderr =
      "ipset v7.17: Error in line 3: Syntax error: cannot parse bogus: resolving to IPv4 address failed\n";
    assert.equal(rejectedLine("ipset restore", stdin, stderr), "add foo bogus");
  },
});

Deno.test({
  name: "rejectedLine() finds the line iptables-restore (nf_tables) names",
  permissions: "none",
  fn() {
    const stdin = "*filter\n:FOO - [0:0]\n-A FOO -j ACCEPT\n-A FOO -j NOPE\nCOMMIT\n";
    const stderr = "iptables-restore v1.8.9 (nf_tables): Chain 'NOPE' does not exist\n" +
      "Error occurred at line: 4\n" +
      "Try `iptables-restore -h' or 'iptables-restore --help' for more information.\n";
    assert.equal(rejectedLine("iptables-restore", stdin, stderr), "-A FOO -j NOPE");
  },
});

Deno.test({
  name: "rejectedLine() finds the line legacy iptables-restore and ip6tables-restore name",
  permissions: "none",
  fn() {
    const stdin =
      "*nat\n:A - [0:0]\n:B - [0:0]\n-A A -j ACCEPT\n-A B -j C\n-A C -j ACCEPT\nCOMMIT\n";
    assert.equal(
      rejectedLine("iptables-restore", stdin, "iptables-restore: line 5 failed\n"),
      "-A B -j C",
    );
    assert.equal(
      rejectedLine(
        "ip6tables-restore",
        stdin,
        "ip6tables-restore: line 6 failed: No chain/target/match by that name.\n",
      ),
      "-A C -j ACCEPT",
    );
  },
});

Deno.test({
  name: "rejectedLine() finds the line ip -batch names",
  permissions: "none",
  fn() {
    const stdin = "link set lo up\nlink add kube-ipvs0 type dummy\n";
    const stderr = "Error: Unknown device type.\nCommand failed -:2\n";
    assert.equal(rejectedLine("ip -batch", stdin, stderr), "link add kube-ipvs0 type dummy");
  },
});

Deno.test({
  name: "rejectedLine() returns nothing when the stderr names no line or one past the input",
  permissions: "none",
  fn() {
    const stdin = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 1\n";
    assert.equal(rejectedLine("ipvsadm --restore", stdin, "Service not defined\n"), "");
    const rules = "*filter\n:FOO - [0:0]\n-A FOO -j ACCEPT\n";
    assert.equal(
      rejectedLine("iptables-restore", rules, "iptables-restore: COMMIT expected at line 4\n"),
      "",
    );
    assert.equal(rejectedLine("ipset restore", "", "ipset v7.17: Error in line 1: x\n"), "");
  },
});

Deno.test({
  name: "rejectedLine() names the only line of a one-line input",
  permissions: "none",
  fn() {
    const stdin = "-A -t 10.0.0.1:80 -s nosuch\n";
    assert.equal(
      rejectedLine("ipvsadm --restore", stdin, "Scheduler not found: ip_vs_nosuch.ko\n"),
      "-A -t 10.0.0.1:80 -s nosuch",
    );
  },
});

Deno.test({
  name: "ToolError carries the tool, argv, rejected line, stderr and code",
  permissions: "none",
  fn() {
    const cause = new Error("underlying");
    const error = new ToolError({
      argv: ["ipset", "restore", "-exist"],
      stdin: "create foo hash:ip\nadd foo bogus\n",
      result: { code: 1, stdout: "", stderr: "ipset v7.17: Error in line 2: Syntax error\n" },
      cause,
    });
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ToolError");
    assert.equal(error.tool, "ipset restore");
    assert.deepEqual(error.argv, ["ipset", "restore", "-exist"]);
    assert.equal(error.line, "add foo bogus");
    assert.equal(error.code, 1);
    assert.equal(error.stderr, "ipset v7.17: Error in line 2: Syntax error\n");
    assert.equal(error.cause, cause);
    assert.equal(
      error.message,
      "'ipset restore' failed with exit code 1 at input line \"add foo bogus\": " +
        "ipset v7.17: Error in line 2: Syntax error",
    );
  },
});

Deno.test({
  name: "runOrThrow() returns stdout on success and throws a ToolError otherwise",
  permissions: "none",
  async fn() {
    const run = scriptedRunner({
      "ipvsadm -Sn": { stdout: "-A -t 10.0.0.1:80 -s rr\n" },
      "iptables-restore --noflush -w": { code: 2, stderr: "Error occurred at line: 1\n" },
    });
    assert.equal(await runOrThrow(run, ["ipvsadm", "-Sn"]), "-A -t 10.0.0.1:80 -s rr\n");
    await assert.rejects(
      runOrThrow(run, ["iptables-restore", "--noflush", "-w"], { stdin: "*nat\nCOMMIT\n" }),
      (error: unknown) =>
        error instanceof ToolError && error.tool === "iptables-restore" && error.line === "*nat",
    );
  },
});

Deno.test({
  name: "toolName() labels calls the way errors and logs name them",
  permissions: "none",
  fn() {
    assert.equal(toolName(["/usr/sbin/ipset", "-exist", "restore"]), "ipset restore");
    assert.equal(toolName(["ipvsadm", "--restore"]), "ipvsadm --restore");
    assert.equal(toolName(["ip", "-batch", "-"]), "ip -batch");
    assert.equal(toolName(["iptables-restore", "--noflush", "-w"]), "iptables-restore");
  },
});

const WRITES: string[][] = [
  ["ipset", "restore"],
  ["ipset", "-exist", "restore"],
  ["ipset", "create", "KUBE-CLUSTER-IP", "hash:ip,port"],
  ["ipset", "destroy", "KUBE-X"],
  ["iptables-restore", "--noflush", "-w"],
  ["ip6tables-restore", "--noflush", "-w"],
  ["iptables-nft-restore", "--noflush"],
  ["iptables", "-w", "-t", "nat", "-I", "PREROUTING", "-j", "KUBE-SERVICES"],
  ["iptables", "-t", "nat", "-X", "KUBE-SERVICES"],
  ["ipvsadm", "--restore"],
  ["ipvsadm", "-R"],
  ["ipvsadm", "--set", "900", "120", "300"],
  ["ipvsadm", "-A", "-t", "198.51.100.0:20000", "-s", "rr"],
  ["ipvsadm", "-D", "-t", "198.51.100.0:20000"],
  ["ipvsadm", "-C"],
  ["ip", "-batch", "-"],
  ["ip", "-force", "-batch", "-"],
  ["ip", "link", "add", "kube-ipvs0", "type", "dummy"],
  ["ip", "link", "del", "kube-ipvs0"],
  ["ip", "-4", "addr", "add", "10.0.0.1/32", "dev", "kube-ipvs0"],
  ["sysctl", "-w", "net.ipv4.ip_forward=1"],
  ["sysctl", "net.ipv4.ip_forward=1"],
  ["modprobe", "--", "ip_vs"],
  ["conntrack", "-D", "-p", "udp", "--orig-dst", "10.0.0.10"],
  ["some-unknown-tool", "x"],
];

const READS: string[][] = [
  ["ipset", "save"],
  ["ipset", "list", "-n"],
  ["ipset", "-o", "save", "list"],
  ["ipset", "--version"],
  ["iptables-save", "-t", "nat"],
  ["ip6tables-save"],
  ["iptables", "-w", "-t", "nat", "-C", "PREROUTING", "-j", "KUBE-SERVICES"],
  ["iptables", "-t", "nat", "-S"],
  ["iptables-restore", "--test"],
  ["ipvsadm", "-Sn"],
  ["ipvsadm", "-Ln"],
  ["ipvsadm", "-L", "-n", "--timeout"],
  ["ipvsadm", "--save", "-n"],
  ["ipvsadm", "--version"],
  ["ip", "-j", "addr"],
  ["ip", "-j", "link", "show", "kube-ipvs0"],
  ["ip", "-j", "-d", "addr", "show", "dev", "kube-ipvs0"],
  ["ip", "route", "get", "10.0.0.1"],
  ["sysctl", "-n", "net.ipv4.ip_forward"],
  ["modprobe", "-n", "ip_vs"],
  ["conntrack", "-L"],
  ["uname", "-r"],
];

Deno.test({
  name: "isWriteCommand() counts restore and apply commands as writes",
  permissions: "none",
  fn() {
    for (const argv of WRITES) assert.equal(isWriteCommand(argv), true, argv.join(" "));
  },
});

Deno.test({
  name: "isWriteCommand() does not count reads as writes",
  permissions: "none",
  fn() {
    for (const argv of READS) assert.equal(isWriteCommand(argv), false, argv.join(" "));
  },
});

Deno.test({
  name: "countingRunner() records every call and counts only the writes",
  permissions: "none",
  async fn() {
    const inner = scriptedRunner(() => ({ stdout: "ok" }));
    const run = countingRunner(inner);
    await run(["ipvsadm", "-Sn"]);
    await run(["ipset", "save"]);
    assert.equal(run.writes(), 0);
    const result = await run(["ipset", "restore"], { stdin: "flush KUBE-X\n" });
    assert.deepEqual(result, { code: 0, stdout: "ok", stderr: "" });
    assert.deepEqual(run.calls, [["ipvsadm", "-Sn"], ["ipset", "save"], ["ipset", "restore"]]);
    assert.equal(run.writes(), 1);
    assert.deepEqual(inner.stdins, [undefined, undefined, "flush KUBE-X\n"]);
  },
});

Deno.test({
  name: "scriptedRunner() answers unscripted calls like a missing program",
  permissions: "none",
  async fn() {
    const run = scriptedRunner({ "uname -r": { stdout: "6.1.0-18-amd64\n" } });
    assert.deepEqual(await run(["uname", "-r"]), {
      code: 0,
      stdout: "6.1.0-18-amd64\n",
      stderr: "",
    });
    const missing = await run(["modprobe", "--", "ip_vs"]);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /not scripted: modprobe -- ip_vs/);
  },
});

Deno.test({
  name: "runCommand() runs the program on PATH, not a dax built-in of the same name",
  permissions: RUN,
  async fn() {
    const result = await runCommand(["echo", "-n", "x"]);
    assert.deepEqual(result, { code: 0, stdout: "x", stderr: "" });
  },
});

Deno.test({
  name: "runCommand() reports a missing absolute path as code 127",
  permissions: RUN,
  async fn() {
    const result = await runCommand(["/nonexistent/ipvsadm", "-Sn"]);
    assert.equal(result.code, 127);
    assert.equal(
      result.stderr,
      "/nonexistent/ipvsadm: command not found (is it installed and on PATH?)\n",
    );
  },
});

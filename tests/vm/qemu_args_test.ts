import assert from "node:assert/strict";
import { kernelCommandLine, qemuArgs } from "./qemu_args.ts";
import { parseCliArgs } from "./vm.ts";

const CONFIG = {
  vmlinux: "/cache/vmlinux",
  initramfs: "/cache/initramfs.cpio",
  memoryMb: 2048,
  cpus: 2,
  runDir: "/tmp/ipvs-vm-1",
  projectDir: "/work/a,b",
};

Deno.test({
  name: "qemuArgs() emulates, boots the ELF kernel and shares the root read-only",
  permissions: "none",
  fn: () => {
    const args = qemuArgs(CONFIG);
    const after = (flag: string) => args.filter((_, i) => args[i - 1] === flag);
    assert.deepEqual(after("-accel"), ["tcg,thread=multi"]);
    assert.deepEqual(after("-kernel"), ["/cache/vmlinux"]);
    assert.ok(args.includes("-no-reboot"));
    const fsdevs = after("-fsdev");
    assert.match(fsdevs[0], /^local,id=hostroot,path=\/,.*readonly=on/);
    // A comma in a path is doubled so qemu does not split the option there.
    assert.match(fsdevs[1], /^local,id=project,path=\/work\/a,,b,/);
    assert.doesNotMatch(fsdevs[1], /readonly/);
    assert.deepEqual(
      after("-device").filter((d) => d.startsWith("virtserialport")),
      ["stdout", "stderr", "status"].map((n) => `virtserialport,chardev=${n},name=${n}`),
    );
  },
});

Deno.test({
  name: "kernelCommandLine() points init at the run directory and refuses spaces",
  permissions: "none",
  fn: () => {
    assert.match(kernelCommandLine("/tmp/ipvs-vm-1"), / ipvsvm\.run=\/tmp\/ipvs-vm-1$/);
    assert.throws(() => kernelCommandLine("/tmp/a b"), /must not contain spaces/);
  },
});

Deno.test({
  name: "parseCliArgs() takes options before -- and the command after",
  permissions: "none",
  fn: () => {
    assert.deepEqual(parseCliArgs(["--timeout", "30", "--", "ipvsadm", "-Ln"]), {
      timeoutMs: 30_000,
      command: ["ipvsadm", "-Ln"],
    });
    assert.deepEqual(parseCliArgs(["true"]).command, ["true"]);
    assert.throws(() => parseCliArgs(["--timeout", "soon", "--", "true"]), /'--timeout soon'/);
    assert.throws(() => parseCliArgs(["--bogus", "1", "--", "true"]), /Unknown option '--bogus'/);
    assert.throws(() => parseCliArgs(["--"]), /Usage/);
  },
});

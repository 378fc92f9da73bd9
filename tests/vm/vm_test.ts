// Runs the real-kernel suite (tests/kernel) in one VM. Skips, visibly, where the VM cannot run
// (no qemu, no kernel in the cache and none downloadable), unless REQUIRE_KERNEL_TESTS=1.
import assert from "node:assert/strict";
import { runCommand } from "../../backends/exec/command.ts";
import { cacheForChild, CONFIG_FLAGS, testFiles } from "../exec/child_deno.ts";
import { onPath } from "./host_command.ts";
import { assertWholeSuiteRan, parseSummary } from "./test_summary.ts";
import { prepareVm, type VmImage } from "./prepare.ts";
import { runInVm, VmError, VmSetupError, writeTo } from "./vm.ts";

const REQUIRE = Deno.env.get("REQUIRE_KERNEL_TESTS") === "1";
const REPO_ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(
  /\/$/,
  "",
);

/** The VM's kernel and initramfs, or why there are none (then the test skips or fails). */
async function image(): Promise<VmImage | string> {
  if (!onPath("qemu-system-x86_64")) {
    return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)";
  }
  try {
    return await prepareVm({ log: (line) => console.log(line) });
  } catch (error) {
    if (error instanceof VmSetupError) return error.message;
    throw error;
  }
}

const SUITE = "tests/kernel/";

// A filter no test name contains: deno loads every file, registers its tests and runs none.
const MATCH_NOTHING = "no kernel test is named this";

/**
 * How many tests the kernel suite registers in the VM, counted on the host by deno itself:
 * every file loaded as the guest loads it (`IPVS_PROXY_VM=1`, so suites that register only in
 * the VM do), no test run. Adding a test changes it; nothing here needs editing.
 */
async function registeredKernelTests(): Promise<number> {
  const result = await runCommand([
    "env",
    "NO_COLOR=1",
    "IPVS_PROXY_VM=1",
    Deno.execPath(),
    "test",
    ...CONFIG_FLAGS,
    "--allow-all",
    "--no-check",
    "--filter",
    MATCH_NOTHING,
    SUITE,
  ]);
  const summary = parseSummary(result.stdout);
  assert.equal(result.code, 0, `counting the kernel tests failed:\n${result.stderr}`);
  assert.ok(summary, `no test summary in:\n${result.stdout}`);
  assert.equal(summary.passed, 0, "the counting run must run no test");
  assert.ok(summary.filtered > 0, `the kernel suite registers no test:\n${result.stdout}`);
  return summary.filtered;
}

function skipOrFail(why: string): void {
  if (REQUIRE) throw new Error(`REQUIRE_KERNEL_TESTS=1 but the VM cannot run: ${why}`);
  console.log(`skipped: ${why}`);
}

Deno.test("the real-kernel suite (tests/kernel) passes in a VM", async () => {
  const vm = await image();
  if (typeof vm === "string") return skipOrFail(vm);
  const started = performance.now();
  // The guest has no network: what it loads must be in the cache (DENO_DIR) it shares.
  await cacheForChild(CONFIG_FLAGS, await testFiles(SUITE));
  const expected = await registeredKernelTests();
  const result = await runInVm({
    // --no-check: type-checking under TCG costs about 10 s, and `deno task check` already
    // checks tests/kernel on the host.
    command: [
      "deno",
      "test",
      ...CONFIG_FLAGS,
      "--cached-only",
      "--allow-all",
      "--no-check",
      SUITE,
    ],
    cwd: REPO_ROOT,
    env: { REQUIRE_KERNEL_TESTS: "1", NO_COLOR: "1" },
    // The suite runs every end-to-end test once per backend (exec, netlink) under TCG: about
    // 10 minutes on an idle machine, over 15 beside the parallel host tests of CI, and 27 on a
    // machine whose TCG is twice as slow. The margin stays inside CI's 90 minutes.
    timeoutMs: 55 * 60_000,
    image: vm,
    // Live, so a slow CI run shows where it is.
    onStdout: writeTo(Deno.stdout),
    onStderr: writeTo(Deno.stdout),
  });
  console.log(
    `VM: booted in ${seconds(result.bootMs)}, suite finished at ${seconds(result.wallMs)}, ` +
      `${seconds(performance.now() - started)} with setup`,
  );
  if (/No test modules found/.test(result.stdout + result.stderr)) {
    throw new Error(
      "deno test found no tests in tests/kernel/: a 'test.exclude' entry in deno.json hides " +
        "files even when they are named on the command line. Exclude tests/kernel/ from the " +
        "host's run with the test task's --ignore flag instead.",
    );
  }
  assert.equal(result.code, 0, `the kernel suite failed in the VM (exit code ${result.code})`);
  assertWholeSuiteRan(result.stdout, expected);
});

Deno.test("a VM that outlives its timeout is killed and reported", async () => {
  const vm = await image();
  if (typeof vm === "string") return skipOrFail(vm);
  const error = await runInVm({ command: ["sleep", "60"], timeoutMs: 1000, image: vm })
    .then(() => undefined, (error) => error);
  assert.ok(error instanceof VmError, `expected a VmError, got ${error}`);
  assert.match(error.message, /did not finish within 1 s and was killed/);
  assert.match(error.message, /last lines of the guest's kernel console/);
});

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

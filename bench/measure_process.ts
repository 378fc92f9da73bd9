/**
 * Runs a program as a user runs it and measures it from outside: wall time from spawn to exit
 * and peak RSS (the kernel's high-water mark `VmHWM`, sampled from `/proc/PID/status` until
 * the process ends).
 *
 * @module
 */

/** What one measured run gave. */
export interface MeasuredRun {
  readonly code: number;
  readonly wallMs: number;
  /** The largest `VmHWM` read, in bytes (the last sample before exit, as it only grows). */
  readonly peakRssBytes: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Milliseconds from spawn to the first stderr line matching `mark`, when one was given. */
  readonly markMs?: number;
}

async function readHighWaterMark(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined; // exited between two samples
  }
}

/** Runs `command args`, sampling its memory every `sampleMs`. */
export async function runMeasured(
  command: string,
  args: readonly string[],
  options: {
    readonly sampleMs?: number;
    readonly env?: Record<string, string>;
    /** A stderr line to time, e.g. the first `sync:` line. */
    readonly mark?: RegExp;
  } = {},
): Promise<MeasuredRun> {
  const started = performance.now();
  const child = new Deno.Command(command, {
    args: [...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, (await readHighWaterMark(child.pid)) ?? 0);
      await new Promise((resolve) => setTimeout(resolve, options.sampleMs ?? 10));
    }
  })();
  let markMs: number | undefined;
  let stderr = "";
  const readingStderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      if (markMs === undefined && options.mark?.test(stderr)) markMs = performance.now() - started;
    }
  })();
  const stdout = new Response(child.stdout).text();
  const status = await child.status;
  const wallMs = performance.now() - started;
  done = true;
  await Promise.all([sampler, readingStderr]);
  return { code: status.code, wallMs, peakRssBytes: peak, stdout: await stdout, stderr, markMs };
}

/** Bytes as MiB with no decimals. */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

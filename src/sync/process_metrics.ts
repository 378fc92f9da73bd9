/**
 * The `process_*` metrics every kube-proxy exposes (the Prometheus Go client's process
 * collector), read from `/proc/self` as that collector reads them: CPU time and start time in
 * clock ticks of 1/100 s, resident memory in 4 KiB pages, limits from `/proc/self/limits`.
 *
 * @module
 */

/** One snapshot of the process's figures. */
export interface ProcessStats {
  /** User plus system CPU time, seconds. */
  readonly cpuSeconds: number;
  /** Start time since the Unix epoch, seconds. */
  readonly startTimeSeconds: number;
  /** Resident memory, bytes. */
  readonly residentBytes: number;
  /** Virtual memory, bytes. */
  readonly virtualBytes: number;
  /** Open file descriptors. */
  readonly openFds: number;
  /** The soft limit of open files. */
  readonly maxFds: number;
  /** The soft limit of the address space, bytes (2^64 - 1 when unlimited, as Go reports it). */
  readonly virtualMaxBytes: number;
}

/** The kernel's USER_HZ, which the Go client assumes as well. */
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;
/** What Go's procfs reads `unlimited` as. */
const UNLIMITED = 18446744073709551615;

/**
 * Parses `/proc/self/stat`, `/proc/stat` (for `btime`), `/proc/self/limits` and the number of
 * entries in `/proc/self/fd`; `undefined` when the stat line does not parse.
 *
 * @example
 * ```ts
 * import { parseProcessStats } from "./process_metrics.ts";
 * const stat = "42 (deno) S 1 42 42 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 5 0 1000 " +
 *   "1000000 2500 18446744073709551615";
 * const limits = "Max open files  1024  4096  files\nMax address space  unlimited  unlimited  bytes\n";
 * const stats = parseProcessStats({ stat, procStat: "btime 1700000000\n", limits, openFds: 9 });
 * console.assert(stats?.cpuSeconds === 3);
 * ```
 */
export function parseProcessStats(input: {
  readonly stat: string;
  readonly procStat: string;
  readonly limits: string;
  readonly openFds: number;
}): ProcessStats | undefined {
  // The command name (field 2) is in parentheses and may hold spaces: count after the last ")".
  const fields = input.stat.slice(input.stat.lastIndexOf(")") + 2).trim().split(/\s+/);
  const field = (n: number) => Number(fields[n - 3]);
  const bootTime = Number(/^btime\s+(\d+)$/m.exec(input.procStat)?.[1] ?? NaN);
  const stats: ProcessStats = {
    cpuSeconds: (field(14) + field(15)) / TICKS_PER_SECOND,
    startTimeSeconds: bootTime + field(22) / TICKS_PER_SECOND,
    virtualBytes: field(23),
    residentBytes: field(24) * PAGE_SIZE,
    openFds: input.openFds,
    maxFds: softLimit(input.limits, "Max open files"),
    virtualMaxBytes: softLimit(input.limits, "Max address space"),
  };
  return Object.values(stats).every((v) => Number.isFinite(v)) ? stats : undefined;
}

/** `Max open files            1048576              1048576              files` -> 1048576. */
function softLimit(limits: string, name: string): number {
  const line = limits.split("\n").find((l) => l.startsWith(name));
  const value = line?.slice(name.length).trim().split(/\s+/)[0];
  if (value === undefined) return NaN;
  return value === "unlimited" ? UNLIMITED : Number(value);
}

/**
 * Reads this process's figures from `/proc`; `undefined` where `/proc` cannot be read (not
 * Linux, or Deno without `--allow-all`, which alone may read `/proc/self/stat`), in which case
 * the `process_*` metrics are left out.
 */
export function readProcessStats(): ProcessStats | undefined {
  try {
    let openFds = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) openFds++;
    return parseProcessStats({
      stat: Deno.readTextFileSync("/proc/self/stat"),
      procStat: Deno.readTextFileSync("/proc/stat"),
      limits: Deno.readTextFileSync("/proc/self/limits"),
      // Counted as the Go client counts: the listing's own descriptor included.
      openFds,
    });
  } catch {
    return undefined;
  }
}

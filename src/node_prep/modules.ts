/**
 * The kernel modules kube-proxy's IPVS mode needs, as a pure function of the kernel release and
 * the scheduler. Whether this kernel has them is the exec backend's business
 * (`backends/exec/kernel_modules.ts`).
 *
 * @module
 */

/** The numeric part of a kernel release such as `4.19.0-16-amd64`. */
export interface KernelVersion {
  /** `6` in `6.1.0`. */
  readonly major: number;
  /** `1` in `6.1.0`. */
  readonly minor: number;
  /** `0` in `6.1.0`; 0 when the release has only two numbers. */
  readonly patch: number;
}

/** Parses `6.1.0-18-amd64` or `6.18.44-fc-v657`; `undefined` when it does not start that way. */
export function parseKernelRelease(release: string): KernelVersion | undefined {
  const match = /^\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0) };
}

/**
 * `nf_conntrack_ipv4` was merged into `nf_conntrack` in Linux 4.19; an unknown version is
 * assumed to be recent.
 */
export function conntrackModule(version: KernelVersion | undefined): string {
  if (version === undefined) return "nf_conntrack";
  const older = version.major < 4 || (version.major === 4 && version.minor < 19);
  return older ? "nf_conntrack_ipv4" : "nf_conntrack";
}

/** IPVS scheduler names are short lowercase words (`rr`, `wlc`, `mh`); the module is `ip_vs_<name>`. */
export function isSchedulerName(scheduler: string): boolean {
  return /^[a-z]{1,16}$/.test(scheduler);
}

/**
 * The modules kube-proxy's IPVS mode requires: `ip_vs`, `ip_vs_rr`, `ip_vs_wrr`, `ip_vs_sh`, the
 * conntrack module for this kernel, and the configured scheduler's module.
 */
export function requiredModules(version: KernelVersion | undefined, scheduler: string): string[] {
  const modules = ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", conntrackModule(version)];
  const schedulerModule = `ip_vs_${scheduler}`;
  if (isSchedulerName(scheduler) && !modules.includes(schedulerModule)) {
    modules.push(schedulerModule);
  }
  return modules;
}

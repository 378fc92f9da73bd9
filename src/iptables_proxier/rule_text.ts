/**
 * Rule text of iptables mode in the exact form `iptables-save` prints it (iptables 1.8.9,
 * nf_tables and legacy, measured): `-s`/`-d` with a prefix length and before `-p`, then the
 * matches in kube-proxy's order, `-m recent` with its defaults spelled out, REJECT with its
 * `--reject-with`, and `--probability` as the kernel stores it. Comparing the desired rules
 * with what the kernel holds is then string equality, so a sync with nothing to change writes
 * nothing.
 *
 * @module
 */

import type { Protocol } from "../cluster/types.ts";
import type { IptablesFamily } from "../state/types.ts";

/**
 * The probability kube-proxy writes for the i-th of n remaining endpoints (`1/n`, Go's
 * `%0.10f`).
 *
 * @example
 * ```ts
 * kubeProxyProbability(3); // "0.3333333333"
 * ```
 */
export function kubeProxyProbability(n: number): string {
  return (1 / n).toFixed(10);
}

/**
 * What `iptables-save` prints for a `--probability` written as `text`: xt_statistic keeps
 * `round(p * 2^31)` and iptables prints it back with `%.11f`.
 *
 * @example
 * ```ts
 * savedProbability("0.3333333333"); // "0.33333333349"
 * ```
 */
export function savedProbability(text: string): string {
  const stored = Math.round(Number(text) * 0x80000000);
  return (stored / 0x80000000).toFixed(11);
}

const saved = new Map<number, string>();

/** {@linkcode savedProbability} of {@linkcode kubeProxyProbability}, memoised per n. */
export function probabilityFor(n: number): string {
  let text = saved.get(n);
  if (text === undefined) saved.set(n, text = savedProbability(kubeProxyProbability(n)));
  return text;
}

/** A `--comment` argument as iptables-save prints it: always double-quoted. */
export function comment(text: string): string {
  return `-m comment --comment "${text}"`;
}

/** An address as a `-s`/`-d` argument: iptables-save adds the host prefix length. */
export function hostNet(ip: string): string {
  return ip.includes(":") ? `${ip}/128` : `${ip}/32`;
}

/** `ip:port` as Go's `net.JoinHostPort` writes it. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** A CIDR as a `-s` argument: iptables-save leaves out a match on everything (`/0`). */
export function sourceMatch(cidr: string, negate = false): string {
  if (cidr.endsWith("/0")) return "";
  return `${negate ? "! " : ""}-s ${cidr} `;
}

/** `-j REJECT` with the `--reject-with` iptables-save adds. */
export function rejectTarget(family: IptablesFamily): string {
  const reject = family === "ipv6" ? "icmp6-port-unreachable" : "icmp-port-unreachable";
  return `REJECT --reject-with ${reject}`;
}

/** The `-m recent` mask of a family as iptables-save prints it. */
function recentMask(family: IptablesFamily): string {
  return family === "ipv6" ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "255.255.255.255";
}

/** `-m recent --set` for an endpoint chain (session affinity). */
export function recentSet(name: string, family: IptablesFamily): string {
  return `-m recent --set --name ${name} --mask ${recentMask(family)} --rsource`;
}

/** `-m recent --rcheck` for a service chain (session affinity). */
export function recentCheck(name: string, seconds: number, family: IptablesFamily): string {
  return `-m recent --rcheck --seconds ${seconds} --reap --name ${name} ` +
    `--mask ${recentMask(family)} --rsource`;
}

/**
 * A service-port match: `-d IP/32 -p tcp -m comment --comment "..." -m tcp --dport 80`
 * (kube-proxy's `-m comment ... -m tcp -p tcp -d IP --dport 80`, as saved). `inInterface`
 * (`! -i br0 `, with its space) goes where iptables-save prints `-i`: after `-d`, before `-p`.
 */
export function portMatch(
  destination: string | undefined,
  protocol: Protocol,
  commentText: string,
  port: number,
  inInterface = "",
): string {
  const dst = destination === undefined ? "" : `-d ${hostNet(destination)} `;
  return `${dst}${inInterface}-p ${protocol} ${
    comment(commentText)
  } -m ${protocol} --dport ${port}`;
}

/** The masquerade mark of `masqueradeBit`, e.g. `0x4000` for bit 14. */
export function masqueradeMark(bit: number): string {
  return `0x${(2 ** bit).toString(16)}`;
}

/**
 * The IPVS table behind the captured fixtures (`capture_ipvs.ts` makes it, the decode tests
 * expect it): an IPv4 TCP service with persistence and two real servers, one draining, and an
 * IPv6 UDP service with the mh scheduler and its port flag. `/proc/net/ip_vs` was captured with
 * {@linkcode PROC_TABLE_EXTRAS} added.
 *
 * @module
 */

import type { VirtualServerSpec } from "../../../src/plan/types.ts";
import type { IpvsOperation } from "../../../src/render/ipvsadm.ts";
import type { IpvsTimeouts } from "../ipvs_messages.ts";

/** `-A -t 10.96.0.10:80 -s rr -p 10800`. */
export const WEB: VirtualServerSpec = {
  protocol: "tcp",
  address: "10.96.0.10",
  port: 80,
  scheduler: "rr",
  persistenceTimeout: 10800,
  flags: [],
  service: "",
};

/** `-A -u [fd00:10:96::a]:53 -s mh -b mh-port`. */
export const DNS: VirtualServerSpec = {
  protocol: "udp",
  address: "fd00:10:96::a",
  port: 53,
  scheduler: "mh",
  persistenceTimeout: 0,
  flags: ["mh-port"],
  service: "",
};

/** The operations that make the captured table. */
export const CAPTURED_OPERATIONS: readonly IpvsOperation[] = [
  { op: "ipvs.addVirtualServer", virtualServer: WEB },
  {
    op: "ipvs.addRealServer",
    virtualServer: WEB,
    realServer: { address: "10.244.1.5", port: 8080, forward: "masq", weight: 1 },
  },
  {
    op: "ipvs.addRealServer",
    virtualServer: WEB,
    realServer: { address: "10.244.2.7", port: 8080, forward: "masq", weight: 0 },
  },
  { op: "ipvs.addVirtualServer", virtualServer: DNS },
  {
    op: "ipvs.addRealServer",
    virtualServer: DNS,
    realServer: { address: "fd00:10:244::5", port: 53, forward: "masq", weight: 1 },
  },
];

/** The timeouts set before GET_CONFIG was captured (`ipvsadm --set 900 120 300`). */
export const CAPTURED_TIMEOUTS: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };

/**
 * What `ipvsadm --restore` adds before `/proc/net/ip_vs` is captured (`ipvs_proc_table.txt`):
 * a firewall-mark service (left out of the read, with its real server), an SCTP service, and
 * the forwarding methods other than NAT.
 */
export const PROC_TABLE_EXTRAS = [
  "-A -f 1 -s rr",
  "-a -f 1 -r 10.244.9.9:0 -g -w 1",
  "-A -t 10.96.0.20:443 -s wrr",
  "-a -t 10.96.0.20:443 -r 10.244.3.3:443 -i -w 3",
  "-a -t 10.96.0.20:443 -r 10.244.3.4:443 -g -w 0",
  "-A --sctp-service 10.96.0.30:3868 -s rr",
  "-a --sctp-service 10.96.0.30:3868 -r 10.244.4.4:3868 -m -w 1",
].join("\n") + "\n";

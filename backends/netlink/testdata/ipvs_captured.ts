/**
 * The IPVS table behind the captured fixtures (`capture_ipvs.ts` makes it, the decode tests
 * expect it): an IPv4 TCP service with persistence and two real servers, one draining, and an
 * IPv6 UDP service with the mh scheduler and its port flag.
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

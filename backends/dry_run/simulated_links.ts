/**
 * Simulated links and addresses: the `kube-ipvs0` dummy link and the addresses bound to
 * devices, refusing what `ip` refuses (a link that exists, a missing device, an address
 * bound twice or not bound).
 *
 * @module
 */

import ipaddr from "ipaddr.js";
import { isCanonicalIpv4 } from "../../src/net/ip.ts";
import { boundAddressSortKey, sortByKey } from "../../src/state/keys.ts";
import type { BoundAddress } from "../../src/state/types.ts";
import { IPVS_DEVICE } from "../../src/state/types.ts";
import type { IpOperation } from "../../src/render/ip_batch.ts";
import { Rejected } from "./rejected.ts";

function id(a: BoundAddress): string {
  return `${a.device} ${a.address}`;
}

/** Links and their addresses. */
export class SimulatedLinks {
  #links = new Set<string>();
  #addresses = new Map<string, BoundAddress>();
  /** The sorted, frozen listing, until an address is added or removed. */
  #listed: readonly BoundAddress[] | undefined;

  /** Starts with the link if `linkPresent`, and the devices and addresses of `addresses`. */
  constructor(linkPresent: boolean, addresses: readonly BoundAddress[]) {
    if (linkPresent) this.#links.add(IPVS_DEVICE);
    for (const a of addresses) {
      this.#links.add(a.device);
      this.#addresses.set(id(a), { ...a });
    }
  }

  /** Whether `kube-ipvs0` exists. */
  get linkPresent(): boolean {
    return this.#links.has(IPVS_DEVICE);
  }

  /** Every bound address, in canonical order (device, then address), frozen. */
  addresses(): readonly BoundAddress[] {
    this.#listed ??= Object.freeze(
      sortByKey([...this.#addresses.values()], boundAddressSortKey).map((a) => Object.freeze(a)),
    );
    return this.#listed;
  }

  /** Applies one operation or throws {@linkcode Rejected}. */
  apply(op: IpOperation): void {
    this.#listed = undefined;
    if (op.op === "link.add") {
      if (this.#links.has(op.device)) throw new Rejected("RTNETLINK answers: File exists");
      this.#links.add(op.device);
      return;
    }
    if (!this.#links.has(op.device)) throw new Rejected(`Cannot find device "${op.device}"`);
    if (op.op === "link.delete") {
      this.#links.delete(op.device);
      for (const [k, a] of this.#addresses) if (a.device === op.device) this.#addresses.delete(k);
      return;
    }
    if (!isValidPrefix(op.address)) {
      throw new Rejected(`Error: any valid prefix is expected rather than "${op.address}".`);
    }
    const key = id(op);
    const present = this.#addresses.has(key);
    if (op.op === "address.add") {
      if (present) throw new Rejected("RTNETLINK answers: File exists");
      this.#addresses.set(key, { device: op.device, address: op.address });
    } else {
      if (!present) throw new Rejected("RTNETLINK answers: Cannot assign requested address");
      this.#addresses.delete(key);
    }
  }
}

/** What `ip address add` takes: an address with a prefix length (host bits may be set). */
function isValidPrefix(text: string): boolean {
  const [address, bits, ...rest] = text.split("/");
  if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  // The canonical IPv4 form (what the proxier writes) checked cheaply; anything else the slow way.
  if (isCanonicalIpv4(address)) return Number(bits) <= 32;
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
}

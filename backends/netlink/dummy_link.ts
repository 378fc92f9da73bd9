/**
 * `kube-ipvs0` at startup through rtnetlink: node preparation's `ensureDummyLink` for the
 * netlink backend, so its start needs no `ip` tool either.
 *
 * @module
 */

import { LinkLookupError } from "../exec/node_preparation.ts";
import { RtnetlinkClient } from "./rtnetlink.ts";

/**
 * Creates the dummy link `name` (left down) unless a link of that name exists: `true` when it
 * created it. A failed lookup is a `LinkLookupError`; a refused creation the `NetlinkError`
 * (EOPNOTSUPP where the kernel has no dummy link type). One socket per call: it runs once, at
 * startup.
 *
 * @example
 * ```ts
 * import { applyNodePreparation } from "../exec/node_preparation.ts";
 * import { runCommand } from "../exec/command.ts";
 * const steps = [{ kind: "dummy-link", name: "kube-ipvs0" } as const];
 * // await applyNodePreparation(steps, { run: runCommand, ensureDummyLink: rtnetlinkDummyLink() });
 * ```
 */
export function rtnetlinkDummyLink(
  open: () => RtnetlinkClient = () => new RtnetlinkClient(),
): (name: string) => Promise<boolean> {
  return async (name) => {
    const client = open();
    try {
      const existing = await client.link(name).catch((error: Error) => {
        throw new LinkLookupError(`cannot look up the ${name} link: ${error.message}`, error);
      });
      if (existing !== undefined) return false;
      await client.addLink(name, "dummy");
      return true;
    } finally {
      client.close();
    }
  };
}

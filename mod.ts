/**
 * ipvs-proxy: kube-proxy's IPVS mode, re-implemented in TypeScript for Deno.
 *
 * @module
 */

export type * from "./src/config/types.ts";
export type * from "./src/cluster/types.ts";
export type * from "./src/state/types.ts";
export type * from "./src/plan/types.ts";
export type * from "./backends/backend.ts";

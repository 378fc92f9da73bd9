/**
 * kube-proxy's command-line flags, as the CLI hands them to the config module: raw, and only
 * those that were given. The flags themselves are described in `flag_table.ts`.
 *
 * @module
 */

export { PROXY_FLAG_NAMES, type ProxyFlagKey, type ProxyFlagOverrides } from "./flag_table.ts";

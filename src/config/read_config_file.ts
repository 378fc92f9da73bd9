/**
 * The config module's only file I/O: reading the `--config` file.
 *
 * @module
 */

import { ConfigError } from "./errors.ts";

/**
 * Reads a config file as UTF-8 text.
 *
 * @example
 * ```ts
 * const text = await readConfigFile("examples/kubeadm.yaml");
 * ```
 *
 * @throws {ConfigError} when the file cannot be read (missing, a directory, no permission);
 *   the message names the file and the reason.
 */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file; check the --config path"
      : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ? "permission denied; run with read access to it (--allow-read)"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a directory; pass a YAML file"
      : `${(error as Error).message}`;
    throw new ConfigError(`${path}: cannot read the config file: ${reason}`, {
      file: path,
      field: "",
      value: path,
      cause: error,
    });
  }
}

/**
 * Whether this process runs in a network namespace of its own, for the tests and benches that
 * write the kernel's network state and must never do it in the host's.
 *
 * @module
 */

/**
 * `undefined` when this process's network namespace is neither PID 1's nor its parent's (as
 * for a child started with `unshare -n`), else why not. A namespace that cannot be compared
 * counts as the host's: on this project's machines `/proc/1/ns/net` cannot be read, and a
 * check that trusted it let two tests run on the host once.
 *
 * @example
 * ```ts
 * const why = await notPrivateNamespace();
 * if (why !== undefined) throw new Error(`refusing to run: ${why}`);
 * ```
 */
export async function notPrivateNamespace(): Promise<string | undefined> {
  const of = (pid: string) => Deno.readLink(`/proc/${pid}/ns/net`).catch(() => undefined);
  const [mine, init, parent] = await Promise.all([of("self"), of("1"), of(String(Deno.ppid))]);
  if (mine === undefined) return "this process's network namespace cannot be read";
  if (mine === init) return "this is PID 1's network namespace";
  if (parent === undefined) return "the parent's network namespace cannot be read";
  if (mine === parent) return "this is the parent process's network namespace (not unshare -n)";
  return undefined;
}

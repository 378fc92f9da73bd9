/**
 * Pure helpers over a kernel's `modules.dep` (written by `depmod`): which files a set of modules
 * needs, and in which order to `insmod` them.
 *
 * @module
 */

/** Module file (relative to /lib/modules/<release>) -> the files it depends on. */
export type ModulesDep = ReadonlyMap<string, readonly string[]>;

/**
 * Parses `modules.dep`. One line per module, e.g.
 * `kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/lib/libcrc32c.ko`
 */
export function parseModulesDep(text: string): ModulesDep {
  const deps = new Map<string, string[]>();
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon < 0) {
      throw new Error(
        `Cannot parse modules.dep line ${index + 1}: expected "file: deps", got "${line}"`,
      );
    }
    const rest = line.slice(colon + 1).trim();
    deps.set(line.slice(0, colon), rest === "" ? [] : rest.split(/\s+/));
  }
  return deps;
}

/** The module name of a file: `kernel/net/9p/9pnet_virtio.ko` -> `9pnet_virtio`. */
export function moduleName(file: string): string {
  const base = file.slice(file.lastIndexOf("/") + 1);
  // Module names treat "-" and "_" alike; modules.dep spells files either way.
  return base.replace(/\.ko(\.(xz|gz|zst))?$/, "").replaceAll("-", "_");
}

/** Module name -> file, for looking modules up by the name `modprobe` would take. */
export function filesByName(deps: ModulesDep): Map<string, string> {
  return new Map([...deps.keys()].map((file) => [moduleName(file), file]));
}

/**
 * The files of the named modules and everything they depend on, dependencies before dependents,
 * so loading them in this order with `insmod` never hits an unknown symbol. Names the kernel has
 * built in are skipped; an unknown name throws.
 */
export function loadOrder(
  deps: ModulesDep,
  names: readonly string[],
  builtin: ReadonlySet<string> = new Set(),
): string[] {
  const byName = filesByName(deps);
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const dep of deps.get(file) ?? []) visit(dep);
    order.push(file);
  };
  for (const name of names) {
    const normalized = name.replaceAll("-", "_");
    const file = byName.get(normalized);
    if (file !== undefined) visit(file);
    else if (!builtin.has(normalized)) {
      throw new Error(`Kernel module '${name}' is neither in modules.dep nor built in`);
    }
  }
  return order;
}

/** Every file that the given files need, including themselves (unordered). */
export function closure(deps: ModulesDep, files: Iterable<string>): Set<string> {
  const keep = new Set<string>();
  const stack = [...files];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (keep.has(file)) continue;
    keep.add(file);
    stack.push(...(deps.get(file) ?? []));
  }
  return keep;
}

/** Names of built-in modules from `modules.builtin` (`kernel/net/ipv4/tcp_cubic.ko` per line). */
export function parseBuiltin(text: string): Set<string> {
  return new Set(text.split("\n").filter((line) => line.trim() !== "").map(moduleName));
}

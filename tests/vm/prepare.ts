/**
 * Makes the VM's kernel and initramfs ready in tests/vm/cache/ (idempotent): downloads and unpacks
 * Debian's generic kernel once, and rebuilds the small initramfs when its inputs change.
 *
 * Usage: `deno run -A tests/vm/prepare.ts [--refresh]` (--refresh asks apt for a newer kernel).
 *
 * @module
 */

import { type CachedKernel, fetchKernel, resolveKernelPackage } from "./kernel_package.ts";
import { buildInitramfs } from "./initramfs.ts";
import { VmSetupError } from "./host_command.ts";

/** What the VM boots. */
export interface VmImage {
  /** The kernel and its module tree. */
  kernel: CachedKernel;
  /** Absolute path of the initramfs (uncompressed newc cpio). */
  initramfs: string;
}

/** Options of {@linkcode prepareVm}. */
export interface PrepareOptions {
  /** Cache directory. @default tests/vm/cache */
  cacheDir?: string;
  /** Ask apt for the current kernel package even when one is cached. @default false */
  refresh?: boolean;
  /** Progress lines (downloading takes a few seconds). @default none */
  log?: (line: string) => void;
}

/** The default cache directory, tests/vm/cache (git-ignored). */
export const DEFAULT_CACHE_DIR: string = decodeURIComponent(
  new URL("./cache", import.meta.url).pathname,
);

/** Which kernel the cache holds; paths are derived, so the repository can move. */
interface Manifest {
  package: string;
  version: string;
  release: string;
}

/** Returns the cached kernel and initramfs, fetching or building what is missing. */
export async function prepareVm(options: PrepareOptions = {}): Promise<VmImage> {
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const log = options.log ?? (() => {});
  await Deno.mkdir(cacheDir, { recursive: true });
  let kernel = options.refresh ? undefined : await cachedKernel(cacheDir);
  if (!kernel) {
    const pkg = await resolveKernelPackage();
    kernel = await cachedKernel(cacheDir, pkg);
    if (!kernel) {
      log(`Downloading and unpacking ${pkg} into ${cacheDir}`);
      kernel = await fetchKernel(pkg, `${cacheDir}/${pkg.replace(/^linux-image-/, "")}`);
    }
    const manifest: Manifest = {
      package: kernel.package,
      version: kernel.version,
      release: kernel.release,
    };
    await Deno.writeTextFile(`${cacheDir}/kernel.json`, JSON.stringify(manifest, null, 2) + "\n");
  }
  const initramfs = `${cacheDir}/${kernel.release}/initramfs.cpio`;
  await writeIfChanged(initramfs, await buildInitramfs(kernel.modulesDir));
  return { kernel, initramfs };
}

/** The kernel named by kernel.json (or `wantedPackage`), if its files are all in the cache. */
async function cachedKernel(
  cacheDir: string,
  wantedPackage?: string,
): Promise<CachedKernel | undefined> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${cacheDir}/kernel.json`));
  } catch {
    return undefined;
  }
  if (wantedPackage !== undefined && manifest.package !== wantedPackage) return undefined;
  const dir = `${cacheDir}/${manifest.release}`;
  const kernel: CachedKernel = {
    ...manifest,
    vmlinux: `${dir}/vmlinux`,
    modulesDir: `${dir}/lib/modules/${manifest.release}`,
  };
  try {
    await Deno.stat(kernel.vmlinux);
    await Deno.stat(`${kernel.modulesDir}/modules.dep`);
  } catch {
    return undefined;
  }
  return kernel;
}

/** Writes atomically (temp file + rename), and not at all when the bytes are the same. */
async function writeIfChanged(path: string, bytes: Uint8Array): Promise<void> {
  try {
    const old = await Deno.readFile(path);
    if (old.length === bytes.length && old.every((b, i) => b === bytes[i])) return;
  } catch {
    // missing: write it
  }
  const temp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeFile(temp, bytes);
  await Deno.rename(temp, path);
}

if (import.meta.main) {
  try {
    const image = await prepareVm({
      refresh: Deno.args.includes("--refresh"),
      log: (line) => console.error(line),
    });
    console.log(`kernel ${image.kernel.package} ${image.kernel.version}`);
    console.log(`vmlinux ${image.kernel.vmlinux}`);
    console.log(`modules ${image.kernel.modulesDir}`);
    console.log(`initramfs ${image.initramfs}`);
  } catch (error) {
    if (!(error instanceof VmSetupError)) throw error;
    console.error(`tests/vm/prepare.ts: ${error.message}`);
    Deno.exit(1);
  }
}

/**
 * Fetches Debian's generic kernel (the package `linux-image-amd64` depends on) into the cache:
 * the uncompressed, PVH-bootable `vmlinux` and the network/filesystem modules with a `modules.dep`.
 *
 * @module
 */

import { hostCommand, hostCommandText, VmSetupError } from "./host_command.ts";
import { closure, parseModulesDep } from "./modules_dep.ts";

/** A kernel unpacked in the cache. */
export interface CachedKernel {
  /** Package name, e.g. `linux-image-6.1.0-56-amd64`. */
  package: string;
  /** Package version, e.g. `6.1.192-2`. */
  version: string;
  /** `uname -r` of the kernel, e.g. `6.1.0-56-amd64`. */
  release: string;
  /** Absolute path of the uncompressed ELF kernel (boots through PVH without decompressing). */
  vmlinux: string;
  /** Absolute path of `lib/modules/<release>` (pruned to what tests may load, depmod run). */
  modulesDir: string;
}

/** The meta package whose dependency is the current generic kernel. */
export const META_PACKAGE = "linux-image-amd64";

const APT_HINT = "needs Debian's apt with its mirrors reachable";

/**
 * Module files kept in the cache (plus what they depend on): networking, the filesystems the VM
 * mounts, virtio, and the link types tests create. Dropping the rest (GPU, sound, wireless...)
 * shrinks the 400 MB package to about 60 MB.
 */
const KEEP = [
  /^kernel\/net\//,
  /^kernel\/(crypto|lib|arch)\//,
  /^kernel\/fs\/(9p|overlayfs)\//,
  /^kernel\/drivers\/virtio\//,
  /^kernel\/drivers\/char\/virtio_console\.ko/,
  /^kernel\/drivers\/net\/(dummy|veth|macvlan|ifb|nlmon|tun|geneve|virtio_net)\.ko/,
  /^kernel\/drivers\/net\/(ipvlan|vxlan|bonding)\//,
];

/** Asks apt which package `linux-image-amd64` depends on (`Depends: linux-image-6.1.0-56-amd64`). */
export async function resolveKernelPackage(): Promise<string> {
  const text = await hostCommandText("apt-cache", ["depends", META_PACKAGE], {
    installHint: APT_HINT,
  });
  const match = text.match(/Depends: (linux-image-[^\s<>]+)/);
  if (!match) {
    throw new VmSetupError(
      `Cannot find the kernel package in 'apt-cache depends ${META_PACKAGE}':\n${text}`,
    );
  }
  return match[1];
}

/**
 * Downloads and unpacks `pkg` into `dir` (replacing it), keeping only `vmlinux` and the pruned
 * modules. The .deb and the unpacked tree are removed afterwards.
 */
export async function fetchKernel(pkg: string, dir: string): Promise<CachedKernel> {
  const work = `${dir}.partial`;
  await Deno.remove(work, { recursive: true }).catch(() => {});
  await Deno.mkdir(work, { recursive: true });
  await hostCommand("apt-get", ["download", pkg], { cwd: work, installHint: APT_HINT });
  const deb = [...Deno.readDirSync(work)].find((entry) => entry.name.endsWith(".deb"));
  if (!deb) throw new VmSetupError(`'apt-get download ${pkg}' left no .deb in ${work}`);
  const debPath = `${work}/${deb.name}`;
  const version = (await hostCommandText("dpkg-deb", ["--field", debPath, "Version"])).trim();
  await hostCommand("dpkg", ["-x", debPath, `${work}/root`]);
  await Deno.remove(debPath);

  const release = pkg.replace(/^linux-image-/, "");
  const bzImage = `${work}/root/boot/vmlinuz-${release}`;
  await writeVmlinux(bzImage, `${work}/vmlinux`);
  const modules = `${work}/root/lib/modules/${release}`;
  await pruneModules(modules, release);
  await Deno.rename(`${work}/root/lib`, `${work}/lib`);
  await Deno.remove(`${work}/root`, { recursive: true });

  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.rename(work, dir);
  return {
    package: pkg,
    version,
    release,
    vmlinux: `${dir}/vmlinux`,
    modulesDir: `${dir}/lib/modules/${release}`,
  };
}

/**
 * Writes the ELF kernel inside a bzImage. The setup header gives the payload's place
 * (setup_sects at 0x1f1, payload_offset/length at 0x248/0x24c, relative to the protected-mode
 * code after the setup sectors); its magic says how it is compressed.
 */
export async function writeVmlinux(bzImage: string, out: string): Promise<void> {
  const image = await Deno.readFile(bzImage);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint32(0x202, true) !== 0x53726448) { // "HdrS"
    throw new VmSetupError(`${bzImage} is not a bzImage (no HdrS setup header)`);
  }
  const setupSects = image[0x1f1] === 0 ? 4 : image[0x1f1];
  const start = (setupSects + 1) * 512 + view.getUint32(0x248, true);
  const payload = image.subarray(start, start + view.getUint32(0x24c, true));
  const decompressor = decompressorFor(payload);
  if (!decompressor) {
    const magic = [...payload.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new VmSetupError(`Unknown compression of the kernel in ${bzImage} (magic ${magic})`);
  }
  const compressed = `${out}.${decompressor.suffix}`;
  await Deno.writeFile(compressed, payload);
  const elf = await hostCommand(decompressor.program, [...decompressor.args, compressed], {
    installHint: decompressor.hint,
  });
  await Deno.remove(compressed);
  if (elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    throw new VmSetupError(`The kernel decompressed from ${bzImage} is not an ELF file`);
  }
  await Deno.writeFile(out, elf);
}

interface Decompressor {
  program: string;
  args: string[];
  suffix: string;
  hint: string;
}

function decompressorFor(payload: Uint8Array): Decompressor | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => payload[i] === b);
  // The kernel build appends the uncompressed size after the stream: read one stream only.
  // (busybox's unxz cannot decode the x86 BCJ filter the kernel's xz stream uses.)
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) {
    return {
      program: "xz",
      args: ["-dc", "--single-stream"],
      suffix: "xz",
      hint: "apt-get install xz-utils",
    };
  }
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) {
    return { program: "zstd", args: ["-dcq"], suffix: "zst", hint: "apt-get install zstd" };
  }
  if (starts(0x1f, 0x8b)) {
    return { program: "gzip", args: ["-dc"], suffix: "gz", hint: "apt-get install gzip" };
  }
  return undefined;
}

/** Deletes the module files no test needs (see KEEP), then rewrites modules.dep for the rest. */
async function pruneModules(modulesDir: string, release: string): Promise<void> {
  const base = modulesDir.slice(0, modulesDir.indexOf("/lib/modules/"));
  const depmod = ["-b", base, release];
  await hostCommand("depmod", depmod, { installHint: "apt-get install kmod" });
  const deps = parseModulesDep(await Deno.readTextFile(`${modulesDir}/modules.dep`));
  const keep = closure(deps, [...deps.keys()].filter((file) => KEEP.some((re) => re.test(file))));
  for (const file of deps.keys()) {
    if (!keep.has(file)) await Deno.remove(`${modulesDir}/${file}`);
  }
  await hostCommand("depmod", depmod);
}

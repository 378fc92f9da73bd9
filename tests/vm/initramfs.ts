/**
 * Builds the guest's initramfs: a static busybox, tests/vm/init.sh as /init, and only the modules
 * needed to reach the host's files (virtio PCI, 9p, overlay) and the output ports (virtio console).
 * Everything else loads later from the cached module tree, through the host's own modprobe.
 *
 * @module
 */

import { type CpioEntry, cpioNewc } from "./cpio.ts";
import { VmSetupError } from "./host_command.ts";
import { loadOrder, parseBuiltin, parseModulesDep } from "./modules_dep.ts";

/** Modules /init loads with insmod before it can mount anything. */
export const BOOT_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay", "virtio_console"];

/** Where a static busybox is usually installed (Debian's busybox-static). */
const BUSYBOX_PATHS = ["/bin/busybox", "/usr/bin/busybox"];

/** Builds the archive for the kernel whose modules are in `modulesDir`. */
export async function buildInitramfs(modulesDir: string): Promise<Uint8Array> {
  const deps = parseModulesDep(await Deno.readTextFile(`${modulesDir}/modules.dep`));
  const builtin = parseBuiltin(await Deno.readTextFile(`${modulesDir}/modules.builtin`));
  const files = loadOrder(deps, BOOT_MODULES, builtin);
  const entries: CpioEntry[] = [
    { path: "bin", mode: 0o755 },
    { path: "bin/busybox", mode: 0o755, data: await staticBusybox() },
    {
      path: "init",
      mode: 0o755,
      data: await Deno.readFile(new URL("./init.sh", import.meta.url)),
    },
    { path: "lib", mode: 0o755 },
    { path: "lib/modules", mode: 0o755 },
  ];
  for (const file of files) {
    entries.push({
      path: `lib/modules/${basename(file)}`,
      mode: 0o644,
      data: await Deno.readFile(`${modulesDir}/${file}`),
    });
  }
  const list = files.map((file) => `${basename(file)}\n`).join("");
  entries.push({
    path: "lib/modules/boot.list",
    mode: 0o644,
    data: new TextEncoder().encode(list),
  });
  return cpioNewc(entries);
}

/** Reads the host's busybox, refusing a dynamically linked one (the initramfs has no libc). */
async function staticBusybox(): Promise<Uint8Array> {
  for (const path of BUSYBOX_PATHS) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      continue;
    }
    if (isStaticElf(bytes)) return bytes;
  }
  throw new VmSetupError(
    `No statically linked busybox at ${
      BUSYBOX_PATHS.join(" or ")
    } (apt-get install busybox-static)`,
  );
}

/** Whether a 64-bit little-endian ELF file has no PT_INTERP program header (no dynamic loader). */
export function isStaticElf(bytes: Uint8Array): boolean {
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[4] !== 2) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(view.getBigUint64(0x20, true));
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    const PT_INTERP = 3;
    if (view.getUint32(phoff + i * phentsize, true) === PT_INTERP) return false;
  }
  return true;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

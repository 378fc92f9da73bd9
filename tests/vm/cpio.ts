/**
 * Writes the "newc" cpio archives the kernel unpacks as an initramfs (see the kernel's
 * Documentation/driver-api/early-userspace/buffer-format.rst). Small enough to need no cpio tool.
 *
 * @module
 */

/** One file or directory of the archive. */
export interface CpioEntry {
  /** Path inside the archive, without a leading slash, e.g. `bin/busybox`. */
  path: string;
  /** Permission bits, e.g. 0o755. */
  mode: number;
  /** File contents; absent for a directory. */
  data?: Uint8Array;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/** Encodes entries (parents before children) as a newc archive with its TRAILER!!! entry. */
export function cpioNewc(entries: readonly CpioEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    size += bytes.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad > 0) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const all = [...entries, { path: "TRAILER!!!", mode: 0 }];
  for (const [index, entry] of all.entries()) {
    const data = entry.data ?? new Uint8Array();
    const type = entry.path === "TRAILER!!!" ? 0 : entry.data ? S_IFREG : S_IFDIR;
    const name = encoder.encode(`${entry.path}\0`);
    const fields = [
      index + 1, // ino
      type | entry.mode,
      0, // uid
      0, // gid
      type === S_IFDIR ? 2 : 1, // nlink
      0, // mtime: fixed, so the same inputs give the same bytes
      data.length,
      0, // devmajor
      0, // devminor
      0, // rdevmajor
      0, // rdevminor
      name.length,
      0, // check
    ];
    const header = "070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("");
    // The header (110 bytes) and name are padded together to a multiple of four.
    push(concat(encoder.encode(header), name));
    if (data.length > 0) push(data);
  }
  return concat(...chunks);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

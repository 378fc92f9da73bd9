/**
 * The few libc calls netlink needs, through `Deno.dlopen` (no native build step, only
 * `--allow-ffi`). Every call is synchronous on purpose: errno is thread-local, and a call
 * declared `nonblocking` runs on another thread, where `__errno_location()` reads 0
 * (REFERENCE section 7). So errno is read right after each call, on this thread.
 *
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "pointer", "pointer"],
    result: "isize",
  },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded symbols of libc. */
export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Linux errno values by name: those netlink, ipset, IPVS and rtnetlink answer with. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSPC: 28,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  ENOTSOCK: 88,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENOBUFS: 105,
  ECONNREFUSED: 111,
} as const;

/** An errno name, e.g. `EEXIST`. */
export type ErrnoName = keyof typeof ERRNO;

const NAMES = new Map<number, string>(Object.entries(ERRNO).map(([name, n]) => [n, name]));

/** The name of an errno value, e.g. `EEXIST` for 17; unknown values read `errno 123`. */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `errno ${errno}`;
}

// The kernel's strerror texts for the values above, so a message reads like the tools' do.
const TEXTS: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  3: "No such process",
  4: "Interrupted system call",
  11: "Resource temporarily unavailable",
  12: "Cannot allocate memory",
  13: "Permission denied",
  16: "Device or resource busy",
  17: "File exists",
  19: "No such device",
  22: "Invalid argument",
  28: "No space left on device",
  34: "Numerical result out of range",
  61: "No data available",
  71: "Protocol error",
  90: "Message too long",
  93: "Protocol not supported",
  95: "Operation not supported",
  97: "Address family not supported by protocol",
  99: "Cannot assign requested address",
  105: "No buffer space available",
};

/** `EEXIST (File exists)`: the errno's name with its text when known. */
export function describeErrno(errno: number): string {
  const text = TEXTS[errno];
  return text === undefined ? errnoName(errno) : `${errnoName(errno)} (${text})`;
}

/** A libc call that returned -1, with the errno it left. */
export class SyscallError extends Error {
  /** The errno value, e.g. 17. */
  readonly errno: number;
  /** The call, e.g. `bind`. */
  readonly call: string;

  /** An error for `call` failing with `errno`. */
  constructor(call: string, errno: number) {
    super(`${call}: ${describeErrno(errno)}`);
    this.name = "SyscallError";
    this.call = call;
    this.errno = errno;
  }
}

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** libc, opened once per process (needs `--allow-ffi`). */
export function libc(): LibcSymbols {
  library ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return library.symbols;
}

/** The calling thread's errno; read it right after the call that set it. */
export function lastErrno(): number {
  const pointer = libc().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/** Throws a {@linkcode SyscallError} when a call returned a negative value, else returns it. */
export function check<T extends number | bigint>(call: string, result: T): T {
  if (result < 0) throw new SyscallError(call, lastErrno());
  return result;
}

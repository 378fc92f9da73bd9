/**
 * ipset's own error codes (from 4096, `enum ipset_errno` in the kernel's `ip_set.h` and the
 * type-specific ones from 4352) and the texts the `ipset` tool prints for them and for the
 * generic errno values it explains per command (libipset's `errcode.c`), so a refusal over
 * netlink reads as it would from `ipset restore`.
 *
 * @module
 */

/** The ipset commands (`IPSET_CMD_*`). */
export const IPSET_CMD = {
  PROTOCOL: 1,
  CREATE: 2,
  DESTROY: 3,
  FLUSH: 4,
  RENAME: 5,
  SWAP: 6,
  LIST: 7,
  SAVE: 8,
  ADD: 9,
  DEL: 10,
  TEST: 11,
  HEADER: 12,
  TYPE: 13,
} as const;

/** An ipset command number. */
export type IpsetCommand = typeof IPSET_CMD[keyof typeof IPSET_CMD];

/** ipset's generic error codes. */
export const IPSET_ERR = {
  PROTOCOL: 4097,
  FIND_TYPE: 4098,
  MAX_SETS: 4099,
  BUSY: 4100,
  EXIST_SETNAME2: 4101,
  TYPE_MISMATCH: 4102,
  EXIST: 4103,
  INVALID_CIDR: 4104,
  INVALID_NETMASK: 4105,
  INVALID_FAMILY: 4106,
  TIMEOUT: 4107,
  REFERENCED: 4108,
  IPADDR_IPV4: 4109,
  IPADDR_IPV6: 4110,
  COUNTER: 4111,
  COMMENT: 4112,
  INVALID_MARKMASK: 4113,
  SKBINFO: 4114,
  BITMASK_NETMASK_EXCL: 4115,
  /** The first type-specific code: hash "full", bitmap "out of range". */
  TYPE_SPECIFIC: 4352,
} as const;

const ENOENT = 2;
const EEXIST = 17;
const EMSGSIZE = 90;

/** Texts that depend on the command (0: any command). */
const BY_COMMAND: readonly [number, number, string][] = [
  [ENOENT, 0, "The set with the given name does not exist"],
  [EMSGSIZE, 0, "Kernel error received: message could not be created"],
  [IPSET_ERR.PROTOCOL, 0, "Kernel error received: ipset protocol error"],
  [EEXIST, IPSET_CMD.CREATE, "Set cannot be created: set with the same name already exists"],
  [IPSET_ERR.FIND_TYPE, 0, "Kernel error received: set type not supported"],
  [
    IPSET_ERR.MAX_SETS,
    0,
    "Kernel error received: maximal number of sets reached, cannot create more.",
  ],
  [IPSET_ERR.INVALID_NETMASK, 0, "The value of the netmask parameter is invalid"],
  [IPSET_ERR.INVALID_MARKMASK, 0, "The value of the markmask parameter is invalid"],
  [IPSET_ERR.INVALID_FAMILY, 0, "Protocol family not supported by the set type"],
  [
    IPSET_ERR.BUSY,
    IPSET_CMD.DESTROY,
    "Set cannot be destroyed: it is in use by a kernel component",
  ],
  [
    IPSET_ERR.EXIST_SETNAME2,
    IPSET_CMD.RENAME,
    "Set cannot be renamed: a set with the new name already exists",
  ],
  [IPSET_ERR.REFERENCED, IPSET_CMD.RENAME, "Set cannot be renamed: it is in use by another system"],
  [
    IPSET_ERR.EXIST_SETNAME2,
    IPSET_CMD.SWAP,
    "Sets cannot be swapped: the second set does not exist",
  ],
  [
    IPSET_ERR.TYPE_MISMATCH,
    IPSET_CMD.SWAP,
    "The sets cannot be swapped: their type does not match",
  ],
  [
    IPSET_ERR.INVALID_CIDR,
    0,
    "The value of the CIDR parameter of the IP address is invalid",
  ],
  [IPSET_ERR.TIMEOUT, 0, "Timeout cannot be used: set was created without timeout support"],
  [IPSET_ERR.IPADDR_IPV4, 0, "An IPv4 address is expected, but not received"],
  [IPSET_ERR.IPADDR_IPV6, 0, "An IPv6 address is expected, but not received"],
  [
    IPSET_ERR.COUNTER,
    0,
    "Packet/byte counters cannot be used: set was created without counter support",
  ],
  [IPSET_ERR.COMMENT, 0, "Comment cannot be used: set was created without comment support"],
  [
    IPSET_ERR.SKBINFO,
    0,
    "Skbinfo mapping cannot be used: set was created without skbinfo support",
  ],
  [
    IPSET_ERR.BITMASK_NETMASK_EXCL,
    0,
    "The bitmask and netmask parameters are mutually exclusive",
  ],
  [IPSET_ERR.EXIST, IPSET_CMD.ADD, "Element cannot be added to the set: it's already added"],
  [IPSET_ERR.EXIST, IPSET_CMD.DEL, "Element cannot be deleted from the set: it's not added"],
];

/** Type-specific texts: the same codes mean different things for hash and bitmap sets. */
const BY_TYPE: Record<"hash" | "bitmap", readonly string[]> = {
  hash: [
    "Hash is full, cannot add more elements",
    "Null-valued element, cannot be stored in a hash type of set",
    "Invalid protocol specified",
    "Protocol missing, but must be specified",
    'Range is not supported in the "net" container of the set type',
    "Invalid range, covers the whole address space",
  ],
  bitmap: [
    "Element is out of the range of the set",
    "The range you specified exceeds the size limit of the set type",
  ],
};

const IPSET_NAMES = new Map<number, string>(
  Object.entries(IPSET_ERR).map(([name, code]) => [code, `IPSET_ERR_${name}`]),
);

/** The name of an ipset error code, e.g. `IPSET_ERR_EXIST` for 4103; else `undefined`. */
export function ipsetErrorName(errno: number): string | undefined {
  return IPSET_NAMES.get(errno);
}

/**
 * The `ipset` tool's text for `errno` answering `command` on a set of `type` (for the
 * type-specific codes), or `undefined` when the errno's own text is the best there is.
 *
 * @example
 * ```ts
 * ipsetErrorText(2, IPSET_CMD.ADD); // "The set with the given name does not exist"
 * ```
 */
export function ipsetErrorText(
  errno: number,
  command: number,
  type?: string,
): string | undefined {
  const exact = BY_COMMAND.find(([e, c]) => e === errno && c === command);
  const any = BY_COMMAND.find(([e, c]) => e === errno && c === 0);
  const known = (exact ?? any)?.[2];
  if (known !== undefined) return known;
  if (errno >= IPSET_ERR.TYPE_SPECIFIC && type !== undefined) {
    const kind = type.startsWith("bitmap:") ? "bitmap" : "hash";
    const text = BY_TYPE[kind][errno - IPSET_ERR.TYPE_SPECIFIC];
    if (text !== undefined) return text;
  }
  return errno >= 4096 ? `ipset error code ${errno}` : undefined;
}

/**
 * What changed between two snapshots, found cheaply: the cluster sources hand out the same
 * frozen object for an unchanged Service or EndpointSlice, and snapshots are sorted by
 * namespace/name, so one walk over both lists with reference comparisons finds the changed
 * objects; names are compared only around them.
 *
 * @module
 */

/** An object with a Kubernetes identity. */
export interface Identified {
  readonly namespace: string;
  readonly name: string;
}

/** One object that is new, gone or different: `before` and `after` have the same identity. */
export interface ObjectChange<T> {
  /** The object in the previous snapshot; absent when it was added. */
  readonly before?: T;
  /** The object in the new snapshot; absent when it was removed. */
  readonly after?: T;
}

/** The snapshot order: namespace, then name. */
export function compareIdentity(a: Identified, b: Identified): number {
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The changes from `previous` to `next`, both sorted by namespace/name with no identity twice
 * (`previous` as checked by an earlier call). `undefined` when `next` is not so sorted: the
 * caller cannot rely on the walk then. An object that differs only by reference is reported
 * too; telling whether it really changed is the caller's (see {@linkcode samePlainData}).
 *
 * @example
 * ```ts
 * const a = { namespace: "default", name: "a" };
 * const b = { namespace: "default", name: "b" };
 * changedObjects([a], [a, b]); // [{ after: b }]
 * changedObjects([a, b], [b, a]); // undefined: not sorted
 * ```
 */
export function changedObjects<T extends Identified>(
  previous: readonly T[],
  next: readonly T[],
): ObjectChange<T>[] | undefined {
  const changes: ObjectChange<T>[] = [];
  let i = 0;
  // The index in `previous` of the object that next[j - 1] has the identity of, or -1.
  let lastMatch = -1;
  for (let j = 0; j < next.length; j++) {
    const after = next[j];
    const sameAsOld = i < previous.length && previous[i] === after;
    // Two objects that follow each other in `previous` are in order already; compare names
    // only where the lists part.
    const inOrder = j === 0 || (sameAsOld && lastMatch === i - 1) ||
      compareIdentity(next[j - 1], after) < 0;
    if (!inOrder) return undefined;
    if (sameAsOld) {
      lastMatch = i++;
      continue;
    }
    while (i < previous.length && compareIdentity(previous[i], after) < 0) {
      changes.push({ before: previous[i++] });
    }
    if (i < previous.length && compareIdentity(previous[i], after) === 0) {
      if (previous[i] !== after) changes.push({ before: previous[i], after });
      lastMatch = i++;
    } else {
      changes.push({ after });
      lastMatch = -1;
    }
  }
  while (i < previous.length) changes.push({ before: previous[i++] });
  return changes;
}

/**
 * Deep equality of plain data (what the parsed objects are: objects, arrays, strings, numbers,
 * booleans): the fallback when a source hands out a new object for an unchanged one.
 */
export function samePlainData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  for (const key of aKeys) {
    if (!Object.hasOwn(bRecord, key) || !samePlainData(aRecord[key], bRecord[key])) return false;
  }
  return true;
}

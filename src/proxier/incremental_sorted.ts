/**
 * A sorted list kept up to date change by change, for the incremental proxier: the kernel
 * state's lists must stay in canonical order, and re-sorting 12,500 virtual servers or 28,000
 * set entries for one changed service is what the incremental proxier exists to avoid.
 *
 * @module
 */

/** Up to this many changes are spliced in one by one; more are merged in one pass. */
const SPLICE_LIMIT = 32;

/**
 * Items ordered by a string key (plain string order), changed through {@linkcode set} and
 * {@linkcode delete} and published by {@linkcode commit}. A published array is frozen and
 * never changed again: the next commit that changes something copies it first, so a state
 * handed out earlier stays as it was. An item replaced by one that `same` calls equal keeps
 * the one held (and a commit of only such replacements changes nothing), so a recomputed
 * service's unchanged addresses leave the published list, and the diff's proof that it
 * equals the kernel's, as they were.
 *
 * @example
 * ```ts
 * const list = new SortedList<string>();
 * list.set("b", "b");
 * list.set("a", "a");
 * list.commit(); // true
 * list.items(); // ["a", "b"], frozen
 * ```
 */
export class SortedList<T> {
  #keys: string[] = [];
  #items: T[] = [];
  #published: readonly T[] | undefined;
  /** key -> the item to hold, or `undefined` to remove it; the last change of a key counts. */
  readonly #pending = new Map<string, T | undefined>();
  readonly #same: (held: T, item: T) => boolean;

  /** An empty list whose items count as unchanged when `same` (default: identity) says so. */
  constructor(same: (held: T, item: T) => boolean = Object.is) {
    this.#same = same;
  }

  /** Holds `item` under `key` from the next commit on (replacing what the key held). */
  set(key: string, item: T): void {
    this.#pending.set(key, item);
  }

  /** Removes `key` at the next commit (nothing if it is not there). */
  delete(key: string): void {
    this.#pending.set(key, undefined);
  }

  /** How many items the list holds (as of the last commit). */
  get size(): number {
    return this.#items.length;
  }

  /** Applies the pending changes; whether the published items changed. */
  commit(): boolean {
    if (this.#pending.size === 0) return false;
    const before = this.#items;
    if (this.#pending.size <= SPLICE_LIMIT) this.#splice();
    else this.#merge();
    this.#pending.clear();
    const changed = this.#items !== before;
    if (changed) this.#published = undefined;
    return changed;
  }

  /** The items in key order, frozen; the same array until a commit changes something. */
  items(): readonly T[] {
    this.#published ??= Object.freeze(this.#items);
    return this.#published;
  }

  /** The index of `key`, or where it would go: `~index` when it is absent. */
  #find(key: string): number {
    let low = 0;
    let high = this.#keys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const k = this.#keys[mid];
      if (k === key) return mid;
      if (k < key) low = mid + 1;
      else high = mid;
    }
    return ~low;
  }

  #splice(): void {
    let copied = false;
    const copy = () => {
      if (copied) return;
      // The published array is frozen and may be in someone's state: never change it. The
      // keys are never handed out, so they change in place.
      this.#items = [...this.#items];
      copied = true;
    };
    for (const [key, item] of this.#pending) {
      const at = this.#find(key);
      if (item === undefined) {
        if (at < 0) continue;
        copy();
        this.#keys.splice(at, 1);
        this.#items.splice(at, 1);
      } else if (at >= 0) {
        if (this.#same(this.#items[at], item)) continue;
        copy();
        this.#items[at] = item;
      } else {
        copy();
        this.#keys.splice(~at, 0, key);
        this.#items.splice(~at, 0, item);
      }
    }
  }

  /** One linear pass over the old items and the sorted changes; nothing if none changes. */
  #merge(): void {
    const changes = [...this.#pending.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const keys: string[] = [];
    const items: T[] = [];
    const oldKeys = this.#keys;
    const oldItems = this.#items;
    let changed = false;
    let i = 0;
    for (const key of changes) {
      while (i < oldKeys.length && oldKeys[i] < key) {
        keys.push(oldKeys[i]);
        items.push(oldItems[i++]);
      }
      const held = i < oldKeys.length && oldKeys[i] === key;
      const heldItem = held ? oldItems[i++] : undefined;
      const item = this.#pending.get(key);
      if (item === undefined) {
        changed ||= held;
        continue;
      }
      const kept = held && this.#same(heldItem as T, item);
      changed ||= !kept;
      keys.push(key);
      items.push(kept ? heldItem as T : item);
    }
    if (!changed) return;
    while (i < oldKeys.length) {
      keys.push(oldKeys[i]);
      items.push(oldItems[i++]);
    }
    this.#keys = keys;
    this.#items = items;
  }
}

import assert from "node:assert/strict";
import fc from "fast-check";
import { SortedList } from "./incremental_sorted.ts";
import { changedObjects, samePlainData } from "./incremental_changes.ts";

Deno.test({
  name:
    "a sorted list after any changes, spliced or merged, holds what a sort of the survivors gives",
  permissions: "none",
  fn() {
    const change = fc.tuple(fc.string({ maxLength: 3 }), fc.boolean());
    fc.assert(
      fc.property(fc.array(fc.array(change, { maxLength: 60 }), { maxLength: 5 }), (batches) => {
        const list = new SortedList<string>();
        const model = new Set<string>();
        for (const batch of batches) {
          for (const [key, keep] of batch) {
            if (keep) list.set(key, key), model.add(key);
            else list.delete(key), model.delete(key);
          }
          list.commit();
          assert.deepStrictEqual(list.items(), [...model].sort());
        }
      }),
      { numRuns: 300 },
    );
  },
});

Deno.test({
  name: "a published list stays as it was when later commits change the list",
  permissions: "none",
  fn() {
    const list = new SortedList<string>();
    list.set("b", "b");
    list.commit();
    const published = list.items();
    list.set("a", "a");
    assert.equal(list.commit(), true);
    assert.deepStrictEqual(published, ["b"]);
    assert.deepStrictEqual(list.items(), ["a", "b"]);
    assert.ok(Object.isFrozen(published));
    assert.equal(list.commit(), false);
  },
});

Deno.test({
  name:
    "an item replaced by an equal one keeps the held item and the published list, spliced or merged",
  permissions: "none",
  fn() {
    const item = (key: string) => ({ key });
    for (const count of [3, 100]) { // below and above the splice limit
      const list = new SortedList<{ key: string }>((held, next) => held.key === next.key);
      const keys = Array.from({ length: count }, (_, i) => `k${String(i).padStart(3, "0")}`);
      for (const key of keys) list.set(key, item(key));
      list.commit();
      const published = list.items();
      for (const key of keys) list.delete(key), list.set(key, item(key)); // a recompute
      assert.equal(list.commit(), false, `${count}: nothing changed`);
      assert.equal(list.items(), published);
      list.set(keys[1], item("other"));
      list.set(keys[0], item(keys[0]));
      assert.equal(list.commit(), true, `${count}: one item changed`);
      assert.equal(list.items()[0], published[0], "the equal one is the one held");
      assert.deepStrictEqual(list.items()[1], { key: "other" });
    }
  },
});

const a = { namespace: "default", name: "a" };
const b = { namespace: "default", name: "b" };
const c = { namespace: "kube-system", name: "a" };

Deno.test({
  name: "changedObjects reports added, removed and replaced objects, and only those",
  permissions: "none",
  fn() {
    const b2 = { ...b };
    assert.deepStrictEqual(changedObjects([a, b], [b2, c]), [
      { before: a },
      { before: b, after: b2 },
      { after: c },
    ]);
    assert.deepStrictEqual(changedObjects([a, b, c], [a, b, c]), []);
  },
});

Deno.test({
  name: "changedObjects refuses a list out of order or with an identity twice",
  permissions: "none",
  fn() {
    assert.equal(changedObjects([], [b, a]), undefined);
    assert.equal(changedObjects([a, b], [a, a, b]), undefined);
    assert.equal(changedObjects([a, b, c], [a, c, b]), undefined);
  },
});

Deno.test({
  name: "samePlainData compares nested objects and arrays by value",
  permissions: "none",
  fn() {
    assert.ok(samePlainData({ x: [1, { y: "z" }] }, { x: [1, { y: "z" }] }));
    assert.ok(!samePlainData({ x: [1, { y: "z" }] }, { x: [1, { y: "w" }] }));
    assert.ok(!samePlainData({ x: [1] }, { x: [1], y: undefined }));
    assert.ok(!samePlainData([1, 2], { 0: 1, 1: 2 }));
  },
});

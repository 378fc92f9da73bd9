import { buildSnapshot, EMPTY_SNAPSHOT } from "./snapshot.ts";
import { assertEquals, node, parse, service, slice } from "./test_helpers.ts";

Deno.test({
  name: "buildSnapshot() sorts by namespace, then name, whatever the input order",
  permissions: "none",
  fn() {
    const inNamespace = (name: string, namespace: string) =>
      service(name, {}, { metadata: { name, namespace } });
    const parsed = parse(
      inNamespace("web", "a-b"),
      inNamespace("zed", "a"),
      inNamespace("api", "a"),
      slice("s2", "web"),
      slice("s1", "web"),
      node("node-b"),
      node("node-a"),
    );
    const snapshot = buildSnapshot(parsed);
    // "a-b/web" < "a/api" as plain strings; by namespace first, "a" comes before "a-b".
    assertEquals(snapshot.services.map((s) => `${s.namespace}/${s.name}`), [
      "a/api",
      "a/zed",
      "a-b/web",
    ]);
    assertEquals(snapshot.endpointSlices.map((s) => s.name), ["s1", "s2"]);
    assertEquals(snapshot.nodes.map((n) => n.name), ["node-a", "node-b"]);
  },
});

Deno.test({
  name: "buildSnapshot() freezes everything deeply and leaves its input alone",
  permissions: "none",
  fn() {
    const parsed = parse(
      service("web"),
      slice("web-1", "web"),
      node("node-a", [
        { type: "InternalIP", address: "192.168.0.10" },
      ]),
    );
    const snapshot = buildSnapshot(parsed);
    for (
      const value of [
        snapshot,
        snapshot.services,
        snapshot.services[0].ports[0],
        snapshot.endpointSlices[0].endpoints[0].conditions,
        snapshot.nodes[0].addresses[0],
      ]
    ) {
      assertEquals(Object.isFrozen(value), true);
    }
    assertEquals(Object.isFrozen(parsed.services[0]), false);
    assertEquals(Object.isFrozen(EMPTY_SNAPSHOT.services), true);
  },
});

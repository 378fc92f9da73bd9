import assert from "node:assert/strict";
import { categorizeEndpoints } from "./endpoints.ts";
import { endpoint, port, slice } from "./testing.ts";

Deno.test({
  name: "an address listed twice counts once, the copy that is not terminating winning",
  permissions: "none",
  fn() {
    // A new pod took the IP of a terminating one; its slice sorts after the old pod's.
    const old = slice(
      "web",
      [
        endpoint("10.244.1.5", "node-a", { ready: false, serving: true, terminating: true }),
        endpoint("10.244.1.6", "node-b"),
      ],
      [{ name: "http", port: 8080 }],
      { name: "web-a" },
    );
    const fresh = slice("web", [endpoint("10.244.1.5", "node-a")], [{ name: "http", port: 8080 }], {
      name: "web-b",
    });
    const { all, local } = categorizeEndpoints([old, fresh], port("http", 80), "node-a");
    assert.deepEqual(all.map((ep) => `${ep.address}:${ep.port}`), [
      "10.244.1.5:8080",
      "10.244.1.6:8080",
    ]);
    assert.deepEqual(local.map((ep) => ep.address), ["10.244.1.5"]);
  },
});

Deno.test({
  name: "a terminating copy listed after a running one does not replace it",
  permissions: "none",
  fn() {
    const running = slice(
      "web",
      [endpoint("10.244.1.5", "node-a")],
      [{ name: "http", port: 8080 }],
      {
        name: "web-a",
      },
    );
    const stale = slice(
      "web",
      [
        endpoint("10.244.1.5", "node-a", { ready: false, serving: false, terminating: true }),
      ],
      [{ name: "http", port: 8080 }],
      { name: "web-b" },
    );
    const { all } = categorizeEndpoints([running, stale], port("http", 80), "node-a");
    assert.deepEqual(all.map((ep) => ep.address), ["10.244.1.5"]);
  },
});

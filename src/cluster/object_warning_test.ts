import { formatObjectWarning } from "./object_warning.ts";
import { assertEquals } from "./test_helpers.ts";

Deno.test({
  name: "formatObjectWarning() prints file, object, field and message on one line",
  permissions: "none",
  fn() {
    assertEquals(
      formatObjectWarning({
        source: "examples/cluster/invalid.yaml",
        object: "Service default/broken",
        field: "spec.ports[0].port",
        message: "must be a port number from 1 to 65535, got 70000",
      }),
      "examples/cluster/invalid.yaml: Service default/broken: spec.ports[0].port: must be a port number from 1 to 65535, got 70000",
    );
  },
});

Deno.test({
  name: "formatObjectWarning() leaves out an empty field and escapes a hostile file name",
  permissions: "none",
  fn() {
    assertEquals(
      formatObjectWarning({ source: "a\nb.yaml", object: "document 1", field: "", message: "m" }),
      "a\\u000ab.yaml: document 1: m",
    );
  },
});

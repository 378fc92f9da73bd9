import { decodeManifestText } from "./decode.ts";
import { assertEquals, assertOneWarning, YAML_PERMISSIONS } from "./test_helpers.ts";

Deno.test({
  name: "a YAML syntax error skips only its document, with line and column",
  permissions: YAML_PERMISSIONS,
  fn() {
    const text = "kind: A\n---\nkind: B\nspec: [1,\n---\nkind: C\n";
    const { documents, warnings } = decodeManifestText(text, "test.yaml");
    assertEquals(documents.map((d) => [d.index, d.value]), [[1, { kind: "A" }], [3, {
      kind: "C",
    }]]);
    assertOneWarning(warnings, {
      object: "document 2",
      field: "",
      message: "YAML syntax error at line 5, column 1: ",
    });
  },
});

Deno.test({
  name: "a JSON syntax error gets the same warning as a YAML one",
  permissions: YAML_PERMISSIONS,
  fn() {
    const text = '{\n  "kind": "Service",\n  "spec": {"ports": [80,]\n}\n';
    const { documents, warnings } = decodeManifestText(text, "svc.json");
    assertEquals(documents, []);
    assertEquals(warnings.length >= 1, true);
    assertEquals(/^YAML syntax error at line \d+, column \d+: \S/.test(warnings[0].message), true);
    assertEquals(warnings[0].source, "svc.json");
  },
});

Deno.test({
  name: "duplicate keys are a syntax error, as in Kubernetes' strict decoding",
  permissions: YAML_PERMISSIONS,
  fn() {
    const { warnings } = decodeManifestText("kind: Service\nkind: Pod\n", "test.yaml");
    assertOneWarning(warnings, {
      object: "document 1",
      field: "",
      message: "at line 2, column 1: Map keys must be unique",
    });
  },
});

Deno.test({
  name: "an alias bomb is refused without decoding it",
  permissions: YAML_PERMISSIONS,
  fn() {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 8; i++) {
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${
          Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(", ")
        }]`,
      );
    }
    const { documents, warnings } = decodeManifestText(lines.join("\n"), "test.yaml");
    assertEquals(documents, []);
    assertOneWarning(warnings, { object: "document 1", field: "", message: "cannot decode" });
  },
});

Deno.test({
  name: "empty files and empty documents decode to nothing or null, without warnings",
  permissions: YAML_PERMISSIONS,
  fn() {
    assertEquals(decodeManifestText("", "e.yaml"), { documents: [], warnings: [] });
    const { documents, warnings } = decodeManifestText(
      "# only a comment\n---\na: 1\n---\n",
      "e.yaml",
    );
    assertEquals(warnings, []);
    assertEquals(documents.map((d) => d.value), [{ a: 1 }, null]);
  },
});

Deno.test({
  name: "merge keys work as in go-yaml",
  permissions: YAML_PERMISSIONS,
  fn() {
    const { documents } = decodeManifestText(
      "base: &b {port: 80}\nport: {<<: *b, name: x}\n",
      "m.yaml",
    );
    assertEquals(documents[0].value, { base: { port: 80 }, port: { port: 80, name: "x" } });
  },
});

Deno.test({
  name: "a JSON file decodes to the same document through the JSON fast path as through YAML",
  permissions: YAML_PERMISSIONS,
  fn() {
    const object = {
      apiVersion: "v1",
      kind: "List",
      items: [{ kind: "Service", a: [1, "x", null] }],
    };
    const json = JSON.stringify(object, null, 2);
    const fast = decodeManifestText(json, "dump.json");
    // A leading YAML comment line makes the same text take the YAML reader's path.
    const slow = decodeManifestText(`# comment\n${json}`, "dump.json");
    assertEquals(fast, slow);
    assertEquals(fast.documents, [{ value: object, source: "dump.json", index: 1 }]);
  },
});

Deno.test({
  name: "the fast YAML reader gives the yaml library's documents for every example manifest",
  permissions: { ...YAML_PERMISSIONS, read: ["examples/"] },
  fn() {
    for (const entry of Deno.readDirSync("examples/cluster")) {
      if (!entry.name.endsWith(".yaml")) continue;
      const text = Deno.readTextFileSync(`examples/cluster/${entry.name}`);
      // A comment that looks like an anchor sends the same text through the yaml library.
      const slow = decodeManifestText(`# &slow\n${text}`, entry.name);
      assertEquals(decodeManifestText(text, entry.name), slow, entry.name);
    }
  },
});

Deno.test({
  name: "merge keys, YAML 1.2 scalars and empty documents read alike on both paths",
  permissions: YAML_PERMISSIONS,
  fn() {
    const text =
      "a: {b: 1}\nyes: no\nn: 010\no: 0o10\nt: 2024-01-01T00:00:00Z\n---\n---\nk: [1, null, ~]\n";
    assertEquals(
      decodeManifestText(text, "x.yaml"),
      decodeManifestText(`# &slow\n${text}`, "x.yaml"),
    );
    // A merge key without an alias (an inline map) stays on the fast path.
    const merged = "svc:\n  <<: {port: 80, name: old}\n  name: web\n";
    const fast = decodeManifestText(merged, "m.yaml");
    assertEquals(fast.documents[0].value, { svc: { port: 80, name: "web" } });
    assertEquals(fast, decodeManifestText(`# &slow\n${merged}`, "m.yaml"));
  },
});

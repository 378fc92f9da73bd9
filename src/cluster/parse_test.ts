import { assertEquals, assertOneWarning, node, parse, service, slice } from "./test_helpers.ts";

Deno.test({
  name: "a v1 List is unpacked, its items carrying their own kinds",
  permissions: "none",
  fn() {
    const { services, endpointSlices, nodes, warnings } = parse({
      apiVersion: "v1",
      kind: "List",
      metadata: { resourceVersion: "" },
      items: [service("web"), slice("web-1", "web"), node("node-a")],
    });
    assertEquals(warnings, []);
    assertEquals([services.length, endpointSlices.length, nodes.length], [1, 1, 1]);
  },
});

Deno.test({
  name: "typed lists give their kind-less items the list's kind",
  permissions: "none",
  fn() {
    const bare = (o: Record<string, unknown>) => {
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    };
    const { services, endpointSlices, nodes, warnings } = parse(
      { apiVersion: "v1", kind: "ServiceList", items: [bare(service("a")), bare(service("b"))] },
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSliceList",
        items: [bare(slice("a-1", "a"))],
      },
      { apiVersion: "v1", kind: "NodeList", items: [bare(node("node-a"))] },
    );
    assertEquals(warnings, []);
    assertEquals(services.map((s) => s.name), ["a", "b"]);
    assertEquals(endpointSlices.map((s) => s.name), ["a-1"]);
    assertEquals(nodes.map((n) => n.name), ["node-a"]);
  },
});

Deno.test({
  name: "a bad list item is named by document and item index",
  permissions: "none",
  fn() {
    const { services, warnings } = parse({
      apiVersion: "v1",
      kind: "ServiceList",
      items: [
        { metadata: { name: "ok" }, spec: { clusterIP: "10.0.0.5", ports: [{ port: 80 }] } },
        {
          metadata: { name: "Bad Name" },
          spec: {},
        },
      ],
    });
    assertEquals(services.map((s) => s.name), ["ok"]);
    assertOneWarning(warnings, {
      object: "document 1 items[1]",
      field: "metadata.name",
      message: '"Bad Name"',
    });
  },
});

Deno.test({
  name: "other kinds and other groups are ignored with one warning each; empty documents silently",
  permissions: "none",
  fn() {
    const { services, warnings } = parse(
      null,
      { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "apps" } },
      { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" } },
      { apiVersion: "v1", kind: "Endpoints", metadata: { name: "e" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { x: "\n#'\"" } },
      { apiVersion: "serving.knative.dev/v1", kind: "Service", metadata: { name: "k" } },
      { apiVersion: "v1", kind: "PodList", items: [{ bad: true }] },
      service("web"),
    );
    assertEquals(services.map((s) => s.name), ["web"]);
    assertEquals(warnings.map((w) => [w.object, w.field, w.message]), [
      [
        "Pod apps/p",
        "kind",
        '"Pod" is not read (only Services, EndpointSlices and Nodes are); ignored',
      ],
      [
        "Deployment d",
        "kind",
        '"Deployment" is not read (only Services, EndpointSlices and Nodes are); ignored',
      ],
      [
        "Endpoints e",
        "kind",
        '"Endpoints" is not read: kube-proxy reads EndpointSlices (discovery.k8s.io/v1) instead; ignored',
      ],
      [
        "ConfigMap c",
        "kind",
        '"ConfigMap" is not read (only Services, EndpointSlices and Nodes are); ignored',
      ],
      [
        "Service k",
        "apiVersion",
        '"serving.knative.dev/v1" is not the API of a Kubernetes Service ("v1"); ignored',
      ],
      [
        "document 7",
        "kind",
        '"PodList" is not read (only Services, EndpointSlices and Nodes are); ignored',
      ],
    ]);
  },
});

Deno.test({
  name: "a field the API does not have is named in one warning, and the object still loads",
  permissions: "none",
  fn() {
    const { services, endpointSlices, warnings } = parse(
      service("web", { ports: [{ port: 80, targetPrt: 8080 }], externalTrafficPolicyy: "Local" }),
      slice("web-1", "web", { endpoint: [] }),
    );
    assertEquals([services.length, endpointSlices.length], [1, 1]);
    assertEquals(warnings.map((w) => [w.object, w.message]), [
      [
        "Service default/web",
        'unknown fields "spec.ports[0].targetPrt", "spec.externalTrafficPolicyy": ignored (the API has no such field: a misspelling, or a field at the wrong level?)',
      ],
      [
        "EndpointSlice default/web-1",
        'unknown field "endpoint": ignored (the API has no such field: a misspelling, or a field at the wrong level?)',
      ],
    ]);
  },
});

Deno.test({
  name: "documents that are not objects, or lack a kind, are warned about",
  permissions: "none",
  fn() {
    for (
      const [value, field, fragment] of [
        ["just text", "", '"just text"'],
        [[1, 2], "", "[1,2]"],
        [{ apiVersion: "v1", metadata: { name: "x" } }, "kind", "required"],
        [{ kind: "Service", metadata: { name: "x" } }, "apiVersion", "required"],
        [
          { apiVersion: "discovery.k8s.io/v1beta1", kind: "EndpointSlice" },
          "apiVersion",
          "v1beta1",
        ],
        [{ apiVersion: "v1", kind: "List", items: "none" }, "items", '"none"'],
      ] as const
    ) {
      const { warnings } = parse(value);
      assertOneWarning(warnings, { object: "document 1", field, message: fragment });
    }
  },
});

Deno.test({
  name: "the second of two objects with the same kind and name is ignored with a warning",
  permissions: "none",
  fn() {
    const first = service("web", { clusterIP: "10.0.0.1" });
    const second = service("web", { clusterIP: "10.0.0.2" });
    const otherNamespace = service("web", {}, { metadata: { name: "web", namespace: "prod" } });
    const sameNameSlice = slice("web", "web");
    const { services, endpointSlices, warnings } = parse(
      first,
      second,
      otherNamespace,
      sameNameSlice,
    );
    assertEquals(services.map((s) => [s.namespace, s.clusterIPs[0]]), [
      ["default", "10.0.0.1"],
      ["prod", "10.0.0.80"],
    ]);
    assertEquals(endpointSlices.length, 1);
    assertOneWarning(warnings, {
      object: "Service default/web",
      field: "metadata.name",
      message: 'already read from "test.yaml" document 1',
    });
  },
});

const HOSTILE = [
  "web\nevil",
  "web evil",
  'web"x',
  "web'x",
  "web#x",
  "wéb",
  "web\u2028x",
  "WEB",
  "",
];

Deno.test({
  name: "hostile names and namespaces are rejected, the warning naming the document",
  permissions: "none",
  fn() {
    for (const bad of HOSTILE) {
      const byName = parse(service("ok"), service(bad));
      assertEquals(byName.services.map((s) => s.name), ["ok"], JSON.stringify(bad));
      assertOneWarning(byName.warnings, {
        object: "document 2",
        field: "metadata.name",
        message: bad === "" ? "required" : "",
      });
      if (bad === "") continue; // an empty namespace means "default"
      const byNamespace = parse(service("web", {}, { metadata: { name: "web", namespace: bad } }));
      assertEquals(byNamespace.services, []);
      assertOneWarning(byNamespace.warnings, {
        object: "document 1",
        field: "metadata.namespace",
        message: "DNS-1123 label",
      });
    }
  },
});

Deno.test({
  name: "hostile port names are rejected in Services and EndpointSlices",
  permissions: "none",
  fn() {
    for (const bad of HOSTILE.filter((s) => s !== "")) {
      const svc = parse(service("web", { ports: [{ name: bad, port: 80 }] }));
      assertOneWarning(svc.warnings, {
        object: "Service default/web",
        field: "spec.ports[0].name",
        message: "DNS-1123 label",
      });
      const eps = parse(slice("web-1", "web", { ports: [{ name: bad, port: 80 }] }));
      assertOneWarning(eps.warnings, {
        object: "EndpointSlice default/web-1",
        field: "ports[0].name",
        message: "DNS-1123 label",
      });
    }
  },
});

Deno.test({
  name: "hostile annotations, labels and unread fields are harmless",
  permissions: "none",
  fn() {
    const junk = { "a\nb": "x\ny", "#": "'\"", "é": [1, { deep: null }], "": "" };
    const metadata = { name: "web", namespace: "default", annotations: junk, labels: junk };
    const { services, endpointSlices, warnings } = parse(
      service("web", { selector: junk, ipFamilyPolicy: "Whatever\n", externalName: "a b" }, {
        metadata,
        status: { conditions: junk },
      }),
      slice("web-1", "web", {
        metadata: {
          ...metadata,
          name: "web-1",
          labels: { ...junk, "kubernetes.io/service-name": "web" },
        },
        endpoints: [{
          addresses: ["10.244.1.10"],
          hostname: "a b",
          targetRef: junk,
          // hints are read now (topology): a junk hint would skip the slice as the API refuses it.
          deprecatedTopology: junk,
        }],
      }),
    );
    assertEquals(warnings, []);
    assertEquals([services.length, endpointSlices.length], [1, 1]);
  },
});

Deno.test({
  name:
    "services and slices labelled for another proxy or headless are left out, as kube-proxy's selector does",
  permissions: "none",
  fn() {
    const labelled = (labels: Record<string, string>) => ({
      ...service("other"),
      metadata: { name: "other", namespace: "default", labels },
    });
    const { services, endpointSlices, warnings } = parse(
      service("web"),
      labelled({ "service.kubernetes.io/service-proxy-name": "cilium" }),
      {
        ...labelled({ "service.kubernetes.io/headless": "" }),
        metadata: { name: "db", labels: { "service.kubernetes.io/headless": "" } },
      },
      slice("db-1", "db", {
        metadata: {
          name: "db-1",
          namespace: "default",
          labels: { "kubernetes.io/service-name": "db", "service.kubernetes.io/headless": "" },
        },
      }),
    );
    assertEquals(services.map((s) => s.name), ["web"]);
    assertEquals(endpointSlices, []);
    assertEquals(warnings, []);
  },
});

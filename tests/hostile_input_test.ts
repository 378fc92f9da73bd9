/**
 * Nothing from a manifest may break or add a line in any restore input. Hostile strings go
 * everywhere a manifest can put text; every line of every rendered tool input must still be
 * one well-formed line of that tool's grammar, and the valid objects must still sync.
 */

import assert from "node:assert/strict";
import { stringify } from "yaml";
import { main } from "../src/cli/main.ts";

const HOSTILE = [
  "web\n-A INPUT -j ACCEPT",
  'quo"te',
  "it's",
  "hash#tag",
  "with space",
  "ünïcödé",
  "cr\rlf",
  "-j DROP",
  "KUBE-SERVICES\nCOMMIT",
  "add KUBE-CLUSTER-IP 1.2.3.4,tcp:1",
];

function service(name: string, namespace: string, portName: string, extra = {}) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, annotations: { note: HOSTILE.join(" ") }, ...extra },
    spec: {
      clusterIP: "10.0.7.1",
      ports: [{ name: portName, port: 80, targetPort: "http" }],
    },
  };
}

function endpointSlice(service: string, namespace: string, portName: string, nodeName: string) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${service}-1`,
      namespace,
      labels: { "kubernetes.io/service-name": service, other: HOSTILE[0] },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.244.1.7"], nodeName }],
    ports: [{ name: portName, port: 8080 }],
  };
}

/** One valid service whose free-text fields are hostile, and objects with hostile names. */
function hostileManifests(): string {
  const objects: unknown[] = [
    service("safe", "default", "http"),
    endpointSlice("safe", "default", "http", HOSTILE[0]),
  ];
  HOSTILE.forEach((bad, i) => {
    objects.push(service(bad, "default", "http"));
    objects.push(service(`svc-${i}`, bad, "http"));
    objects.push(service(`port-${i}`, "default", bad));
    objects.push(endpointSlice(bad, "default", "http", "node-a"));
  });
  return objects.map((o) => stringify(o)).join("---\n");
}

const LINE_GRAMMAR: Record<string, RegExp> = {
  "ipset restore": /^(create|add|del|destroy|swap|flush) KUBE-[A-Z0-9-]+( [a-z0-9:.,/-]+)*$/,
  "ipvsadm --restore":
    /^-[AaEeDd] (-t|-u|--sctp-service) [0-9a-f.:[\]]+( -[a-z] [0-9a-z.:[\]-]+| -m)*$/,
  "ip -batch -": /^(link|address) (add|del|delete) [0-9a-f.:/]*( ?dev)? ?kube-ipvs0( type dummy)?$/,
  "iptables-restore":
    /^(\*(nat|filter)|:KUBE-[A-Z-]+ - \[0:0\]|-[AID] [A-Z-]+( 1)? .+|-X KUBE-[A-Z-]+|COMMIT)$/,
};

function grammarFor(header: string): RegExp {
  const tool = Object.keys(LINE_GRAMMAR).find((t) => header.includes(t)) ??
    (header.includes("ip6tables-restore") ? "iptables-restore" : undefined);
  assert.ok(tool, `unknown section ${header}`);
  return LINE_GRAMMAR[tool];
}

Deno.test("hostile strings in manifests never break or add a line of any restore input", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/hostile.yaml`, hostileManifests());
    let stdout = "";
    const stderr: string[] = [];
    const code = await main(
      ["--proxy-mode=ipvs", "--manifests", dir, "--dry-run", "--once", "--node-ip", "192.168.0.10"],
      {
        stdout: (t) => stdout += t,
        stderr: (l) => stderr.push(l),
        env: {},
        hostname: () => "node-a",
      },
    );
    assert.equal(code, 0, stderr.join("\n"));
    // Every hostile name was refused with a one-line warning; the safe service synced.
    assert.ok(stderr.filter((l) => l.startsWith("warning:")).length >= HOSTILE.length * 3);
    for (const line of stderr) {
      assert.ok(!/[\r\n]/.test(line), `multi-line log ${JSON.stringify(line)}`);
    }
    assert.match(stdout, /^-A -t 10\.0\.7\.1:80 -s rr$/m);
    for (const section of stdout.trim().split("\n\n")) {
      const [header, ...lines] = section.split("\n");
      const grammar = grammarFor(header);
      const declared = header.match(/\((\d+) lines?\)/);
      if (declared) assert.equal(lines.length, Number(declared[1]), header);
      for (const line of lines) assert.match(line, grammar, `${header}: ${JSON.stringify(line)}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

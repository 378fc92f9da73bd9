// End to end from the Kubernetes API: the proxy's loop (exec backend) follows the fake API
// server, and real traffic follows the API: an endpoint added through the API gets
// connections, a 410 in between changes nothing that works, a deleted Service's address stops
// answering.
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { startFakeApiServer } from "../fake_apiserver/fake_apiserver.ts";
import { kernelTest, sh } from "./harness.ts";
import { startHttpServer } from "./netns.ts";
import { httpGet, httpGetMany } from "./servers.ts";
import {
  createNode,
  createPod,
  endpointSlice,
  NODE_IP,
  NODE_NAME,
  realServersOf,
  savedIpvs,
  service,
  waitFor,
} from "./cluster.ts";

type KubeObject = Record<string, unknown>;

/**
 * How long a sync may take here: under TCG on a loaded 2-core host a sync of one service took
 * 10-24 s (about 1 s on an idle machine).
 */
const SLOW = 120_000;

const WEB = service({
  name: "web",
  clusterIP: "10.96.0.40",
  ports: [{ port: 80, targetPort: 8080 }],
});

function webSlice(ips: readonly string[]) {
  return endpointSlice({
    service: "web",
    endpoints: ips.map((ip) => ({ ip })),
    ports: [{ port: 8080 }],
  }) as KubeObject;
}

kernelTest(
  "the loop follows the API: new endpoints get traffic, a 410 changes nothing, a deleted Service stops answering",
  async () => {
    await using _node = await createNode();
    await using podA = await createPod("api-a", "10.244.1.41");
    await using podB = await createPod("api-b", "10.244.1.42");
    await using _a = await startHttpServer(podA, { port: 8080 });
    await using _b = await startHttpServer(podB, { port: 8080 });
    const server = await startFakeApiServer({
      objects: [WEB as KubeObject, webSlice([podA.nsAddress]), {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: NODE_NAME },
        status: { addresses: [{ type: "InternalIP", address: NODE_IP }] },
      }],
    });
    const controller = new AbortController();
    const log: string[] = [];
    const loop = main([
      "--proxy-mode=ipvs",
      "--master",
      server.url,
      "--hostname-override",
      NODE_NAME,
      "--ipvs-sync-period=2s",
      "--healthz-bind-address=127.0.0.1:10356",
      "--metrics-bind-address=127.0.0.1:10349",
    ], {
      stdout: () => {},
      stderr: (line) => log.push(line),
      env: {},
      hostname: () => NODE_NAME,
      signal: controller.signal,
    });
    // A sync is done once its line is logged (its tools run one after the other: the real
    // servers are in before the address is bound).
    const syncs = () => log.filter((line) => line.startsWith("sync:"));
    const syncedWith = (pattern: RegExp, after: number) => () =>
      Promise.resolve(syncs().slice(after).some((line) => pattern.test(line)));
    try {
      await waitFor("the first sync", syncedWith(/ipvs\.addVirtualServer 1/, 0), SLOW);
      // No --backend: the default, netlink on a kernel that has it.
      assert.ok(log.includes("Backend: netlink"), log.join("\n"));
      assert.deepEqual(await realServersOf("10.96.0.40:80"), [`${podA.nsAddress}:8080 -w 1`]);
      assert.equal(await httpGet("10.96.0.40", 80), "backend api-a\n");

      const added = syncs().length;
      server.upsert(webSlice([podA.nsAddress, podB.nsAddress]));
      await waitFor("endpoint b", syncedWith(/ipvs\.addRealServer 1/, added), SLOW);
      assert.equal((await realServersOf("10.96.0.40:80")).length, 2);
      const bodies = await httpGetMany("10.96.0.40", 80, 6);
      assert.ok(bodies.includes("backend api-b\n"), `api-b got none of ${bodies}`);

      // The watch is cut and its history compacted: the reflectors list afresh (410), and the
      // node stays exactly as it was.
      const before = await savedIpvs();
      server.compact();
      server.closeWatches();
      const lists = () =>
        server.requests.filter((r) => r.path === "/api/v1/services" && !r.query.watch);
      await waitFor("the relist", () => Promise.resolve(lists().length >= 2), SLOW);
      const relisted = syncs().length;
      await waitFor(
        "a periodic sync after the relist",
        () => Promise.resolve(syncs().length > relisted),
        SLOW,
      );
      assert.deepEqual(await savedIpvs(), before);
      assert.equal(await httpGet("10.96.0.40", 80).then((b) => b.startsWith("backend api-")), true);

      const removed = syncs().length;
      server.remove("Service", "default", "web");
      await waitFor("the removal", syncedWith(/ipvs\.deleteVirtualServer 1/, removed), SLOW);
      assert.ok(!(await savedIpvs()).some((l) => l.includes("10.96.0.40")));
      await assert.rejects(httpGet("10.96.0.40", 80, 2000));
      assert.doesNotMatch(await sh(["ip", "addr", "show", "kube-ipvs0"]), /10\.96\.0\.40/);
    } catch (error) {
      const log_ = log.join("\n");
      throw new Error(`${(error as Error).message}\n--- the proxy's log ---\n${log_}`, {
        cause: error,
      });
    } finally {
      controller.abort();
      const code = await loop;
      await server.close();
      assert.equal(code, 0, log.join("\n"));
    }
  },
);

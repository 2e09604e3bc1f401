// Issue: every request path names a pinned API version, so that a newer server never reads
// expflow's requests by rules it was not written for; no key sent is newer than that version.
import { afterEach, describe, expect, it } from "vitest";
import { CLEARML_API_VERSION, ClearmlClient } from "../../../src/stores/clearml/client.js";
import { ClearmlStore } from "../../../src/stores/clearml/clearml-store.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { ENDPOINTS } from "../../../fake-clearml/schemas.js";
import { fakeProject, fakeTask } from "../../../fake-clearml/tasks.js";

const P = fakeProject("PDEBench");
const SUB = fakeProject("PDEBench/ablations");
let fake: FakeClearml | undefined;
afterEach(async () => {
  fake?.assertClean();
  await fake?.close();
  fake = undefined;
});

function older(a: string, b: string): boolean {
  const [am, an] = a.split(".").map(Number) as [number, number];
  const [bm, bn] = b.split(".").map(Number) as [number, number];
  return am !== bm ? am < bm : an < bn;
}

describe("the pinned API version", () => {
  it("is 2.26: tasks.dequeue's new_status and tasks.get_all's include_subprojects need it", () => {
    expect(CLEARML_API_VERSION).toBe("2.26");
  });

  it("every request of the client and the store names it in its path, and sends no key newer than it", async () => {
    const f = (fake = await FakeClearml.start({ projects: [P, SUB], tasks: [fakeTask({ name: "a", project: P.id }), fakeTask({ name: "b", project: SUB.id, status: "in_progress" })] }));
    const client = new ClearmlClient({ apiServer: f.url, accessKey: f.accessKey, secretKey: f.secretKey });
    const store = new ClearmlStore({ client });
    await client.ping();
    await client.call("server.info");
    await store.list({ project: "PDEBench", includeSubprojects: true, tags: ["x"], statuses: ["completed"] });
    await store.get(f.tasks[0]!.id);
    await store.reportMetrics(f.tasks[1]!.id, { pde_mean: 1 });
    expect((await store.histories([f.tasks[1]!.id])).size).toBe(1);
    await store.resolveProject("PDEBench-nope").catch(() => undefined);
    const endpoints = new Set(f.requests.map((r) => r.endpoint));
    expect([...endpoints].sort()).toEqual(["auth.login", "debug.ping", "events.add_batch", "events.scalar_metrics_iter_histogram", "projects.get_all", "server.info", "tasks.get_all"]);
    expect(f.requests.filter((r) => r.version !== CLEARML_API_VERSION)).toEqual([]);
    for (const r of f.requests) {
      const since = ENDPOINTS[r.endpoint]?.since ?? {};
      const bodies = Array.isArray(r.body) ? r.body : [r.body];
      for (const body of bodies) {
        for (const key of Object.keys((body ?? {}) as object)) {
          const needs = since[key];
          if (needs !== undefined) expect(older(CLEARML_API_VERSION, needs), `${r.endpoint} sends '${key}', which needs ${needs}`).toBe(false);
        }
      }
    }
  });

  it("apiVersion overrides it", async () => {
    const f = (fake = await FakeClearml.start());
    await new ClearmlClient({ apiServer: f.url, accessKey: f.accessKey, secretKey: f.secretKey, apiVersion: "2.23" }).call("server.info");
    expect(f.requests.map((r) => r.version)).toEqual(["2.23", "2.23"]);
  });
});

// The Store contract (src/stores/store.ts), run against every implementation: the local JSONL
// registry and the ClearML store over the fake server. Both are given the same experiments and
// must answer every case the same way, so a command can hold either without knowing which.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Experiment } from "../../src/core/experiment.js";
import { compareScores } from "../../src/core/ranking/compare-scores.js";
import { ClearmlClient } from "../../src/stores/clearml/client.js";
import { ClearmlStore } from "../../src/stores/clearml/clearml-store.js";
import { LocalStore } from "../../src/stores/local/local-store.js";
import type { Store } from "../../src/stores/store.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeId, fakeProject, fakeTask } from "../../fake-clearml/tasks.js";
import { writeRegistry } from "../helpers/cli.js";

interface Spec {
  key: string;
  project: string;
  status: "created" | "queued" | "completed" | "failed";
  tags: string[];
  created: string;
  metrics: Record<string, number>;
  params: Record<string, string>;
  archived?: boolean;
}

const SPECS: Spec[] = [
  { key: "a", project: "P", status: "completed", tags: ["task1", "final"], created: "2025-01-01T00:00:00.000Z", metrics: { pde_mean: 15, seg_total: 0.8 }, params: { "Args/--sub_step": "5" } },
  { key: "b", project: "P", status: "completed", tags: ["task1"], created: "2025-01-02T00:00:00.000Z", metrics: { pde_mean: 15, seg_total: 0 }, params: {} },
  { key: "c", project: "P", status: "failed", tags: ["final"], created: "2025-01-03T00:00:00.000Z", metrics: { pde_mean: -2 }, params: {} },
  { key: "d", project: "P", status: "queued", tags: [], created: "2025-01-04T00:00:00.000Z", metrics: {}, params: {} },
  { key: "e", project: "P", status: "completed", tags: ["task1"], created: "2024-12-31T00:00:00.000Z", metrics: { pde_mean: 20 }, params: {}, archived: true },
  { key: "f", project: "Q", status: "completed", tags: ["task1"], created: "2025-01-05T00:00:00.000Z", metrics: { pde_mean: 10 }, params: {} },
];
const TITLES: Record<string, string> = { pde_mean: "PDE", seg_total: "Score" };
const idOf = (key: string) => fakeId(`contract\0${key}`);

interface Backend {
  name: string;
  open: () => Promise<Store>;
  close: () => Promise<void>;
  /** Whatever the store reads, fingerprinted: reading must not change it. */
  fingerprint: () => string;
}

function localBackend(): Backend {
  let path = "";
  return {
    name: "LocalStore",
    open: async () => {
      path = writeRegistry(
        SPECS.map((s) => ({
          experiment_id: idOf(s.key),
          name: `run-${s.key}`,
          status: s.status,
          project: s.project,
          tags: s.tags,
          timestamp: s.created,
          metrics: s.metrics,
          params: s.params,
          ...(s.archived ? { archived: true } : {}),
        })),
      );
      return new LocalStore({ path });
    },
    close: async () => undefined,
    fingerprint: () => readFileSync(path, "utf8"),
  };
}

function clearmlBackend(): Backend {
  let fake: FakeClearml | undefined;
  return {
    name: "ClearmlStore",
    open: async () => {
      const projects = [fakeProject("P"), fakeProject("Q")];
      const pid = (name: string) => projects.find((p) => p.name === name)!.id;
      fake = await FakeClearml.start({
        projects,
        tasks: SPECS.map((s) =>
          fakeTask({
            id: idOf(s.key),
            name: `run-${s.key}`,
            project: pid(s.project),
            status: s.status,
            tags: s.tags,
            created: s.created,
            archived: s.archived,
            metrics: Object.fromEntries(Object.entries(s.metrics).map(([k, v]) => [TITLES[k]!, { [k]: v }])),
            params: s.params,
          }),
        ),
      });
      const client = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey });
      return new ClearmlStore({ client });
    },
    close: async () => {
      fake?.assertClean();
      await fake?.close();
    },
    fingerprint: () => JSON.stringify(fake?.tasks),
  };
}

const ids = (list: readonly Experiment[]) => list.map((e) => e.id).sort();
const keys = (...k: string[]) => k.map(idOf).sort();

describe.each([localBackend(), clearmlBackend()])("Store contract: $name", (backend) => {
  let store: Store;
  let before = "";
  beforeAll(async () => {
    store = await backend.open();
    before = backend.fingerprint();
  });
  afterAll(() => backend.close());

  it("list: each experiment once, archived left out", async () => {
    expect(ids(await store.list())).toEqual(keys("a", "b", "c", "d", "f"));
  });
  it("list: archived too when asked", async () => {
    expect(ids(await store.list({ includeArchived: true }))).toEqual(keys("a", "b", "c", "d", "e", "f"));
  });
  it("list: project is exact", async () => {
    expect(ids(await store.list({ project: "P" }))).toEqual(keys("a", "b", "c", "d"));
  });
  it("list: all tags, or any with anyTag", async () => {
    expect(ids(await store.list({ project: "P", tags: ["task1", "final"] }))).toEqual(keys("a"));
    expect(ids(await store.list({ project: "P", tags: ["task1", "final"], anyTag: true }))).toEqual(keys("a", "b", "c"));
  });
  it("list: any of the statuses", async () => {
    expect(ids(await store.list({ project: "P", statuses: ["failed", "queued"] }))).toEqual(keys("c", "d"));
  });
  it("list: the same experiment fields", async () => {
    const a = (await store.list({ project: "P" })).find((e) => e.id === idOf("a"))!;
    expect(a).toMatchObject({ id: idOf("a"), name: "run-a", status: "completed", project: "P", tags: ["task1", "final"], metrics: { pde_mean: 15, seg_total: 0.8 }, params: { "Args/--sub_step": "5" } });
    expect(Date.parse(a.created!)).toBe(Date.parse("2025-01-01T00:00:00.000Z"));
  });
  it("get: exactly that id (archived too), or undefined", async () => {
    expect((await store.get(idOf("e")))?.name).toBe("run-e");
    expect(await store.get(fakeId("nobody"))).toBeUndefined();
  });
  it("the same ranking: ties broken by earlier created, 0 and negative values are values", async () => {
    // Every status ranked (c failed, d queued), so that the order shows all of the rules.
    const r = compareScores(await store.list({ project: "P" }), { sortBy: "pde_mean", gates: ["pde_mean:lt:18.09"], statuses: "all" });
    expect(r.results.map((x) => x.experiment.id)).toEqual([idOf("c"), idOf("a"), idOf("b"), idOf("d")]);
    expect(r.passedCount).toBe(3);
  });
  it("the same default ranking: completed runs only, the others counted by status", async () => {
    const r = compareScores(await store.list({ project: "P" }), { sortBy: "pde_mean", gates: ["pde_mean:lt:18.09"] });
    expect(r.results.map((x) => x.experiment.id)).toEqual([idOf("a"), idOf("b")]);
    expect(r.selection).toEqual({ statuses: ["completed"], isDefault: true, excluded: 2, excludedByStatus: { queued: 1, failed: 1 } });
  });
  it("require: the experiment, or NotFoundError (exit 2)", async () => {
    expect((await store.require(idOf("a"))).name).toBe("run-a");
    await expect(store.require(fakeId("nobody"))).rejects.toMatchObject({ exitCode: 2, name: "NotFoundError" });
  });
  it("resolve: a full id is itself; an empty one is E_BAD_ID (exit 2), never any experiment", async () => {
    expect(await store.resolve(idOf("b"))).toBe(idOf("b"));
    await expect(store.resolve("")).rejects.toMatchObject({ code: "E_BAD_ID", exitCode: 2 });
  });
  it("pages: together, exactly the listing", async () => {
    const all: Experiment[] = [];
    for await (const page of store.pages({ includeArchived: true })) all.push(...page);
    expect(ids(all)).toEqual(ids(await store.list({ includeArchived: true })));
  });
  it("a write the store cannot do is E_STORE_UNSUPPORTED (exit 2) naming the store, and changes nothing", async () => {
    expect(store.capabilities.has("write")).toBe(false);
    for (const attempt of [
      () => store.create({ id: "exp-new0000001", fields: {} }),
      () => store.transition(idOf("d"), "cancel"),
      () => store.archive(idOf("a"), "archive"),
      () => store.link(idOf("a"), { kind: "clearml", server: "https://x", taskId: "t1" }),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: "E_STORE_UNSUPPORTED", exitCode: 2, message: expect.stringContaining(store.location) as unknown });
    }
  });
  it("reading never modifies the store", () => {
    expect(backend.fingerprint()).toBe(before);
  });
});

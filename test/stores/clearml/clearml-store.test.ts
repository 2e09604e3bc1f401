import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, UsageError, ValidationError } from "../../../src/core/errors.js";
import { reportStandard } from "../../../src/core/metrics/registry.js";
import { compareScores } from "../../../src/core/ranking/compare-scores.js";
import { validateCompetitionRules } from "../../../src/core/rules/rules.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { ClearmlStore, clearmlStatusesFor, lifecycleOf, metricsOfTask } from "../../../src/stores/clearml/clearml-store.js";
import type { FakeTask } from "../../../fake-clearml/server.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask, manyTasks, md5 } from "../../../fake-clearml/tasks.js";

const P = fakeProject("PDEBench");
const SUB = fakeProject("PDEBench/ablations");
const OTHER = fakeProject("PDEBench-old");
const HIDDEN = fakeProject("PDEBench/.pipelines");

let fake: FakeClearml;

async function start(tasks: FakeTask[], options: { latencyMs?: number } = {}): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects: [P, SUB, OTHER, HIDDEN], tasks, ...options });
  return fake;
}

function store(options: { onProgress?: (n: number) => void; warnings?: string[] } = {}): ClearmlStore {
  const client = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey, sleep: async () => undefined });
  return new ClearmlStore({ client, onProgress: options.onProgress, onWarning: (m) => options.warnings?.push(m) });
}

afterEach(async () => {
  fake.assertClean();
  await fake.close();
});

const THREE = [
  fakeTask({
    name: "baseline",
    project: P.id,
    status: "completed",
    tags: ["task1", "final"],
    created: "2025-03-01T10:00:00.000Z",
    metrics: { Score: { seg_total: 0 }, PDE: { pde_mean: -1.5 }, Time: { train_time_min: 42 } },
    params: { "Args/--sub_step": "5", "General/lr": "0.01" },
  }),
  fakeTask({ name: "published", project: P.id, status: "published", tags: ["task1"], created: "2025-03-02T10:00:00.000Z", metrics: { Score: { seg_total: 0.7 }, PDE: { pde_mean: 12 } } }),
  fakeTask({ name: "stopped", project: P.id, status: "stopped", tags: ["final"], created: "2025-03-03T10:00:00.000Z", metrics: { Score: { seg_total: 0.9 } } }),
];

describe("ClearmlStore: tasks as experiments", () => {
  beforeEach(async () => {
    await start([
      ...THREE,
      fakeTask({ name: "old-archived", project: P.id, archived: true, created: "2025-01-01T00:00:00.000Z", metrics: { Score: { seg_total: 1 } } }),
      fakeTask({ name: "in-sub", project: SUB.id, status: "in_progress", tags: ["task1"], metrics: { Score: { seg_total: 0.4 } } }),
      fakeTask({ name: "pipeline-step", project: HIDDEN.id, metrics: { Score: { seg_total: 0.1 } } }),
      fakeTask({ name: "elsewhere", project: OTHER.id, metrics: { Score: { seg_total: 0.99 } } }),
    ]);
  });

  it("maps every field; 0 and negative values are values; params are Section/name", async () => {
    const list = await store().list({ project: "PDEBench" });
    expect(list.map((e) => e.name).sort()).toEqual(["baseline", "published", "stopped"]);
    const base = list.find((e) => e.name === "baseline")!;
    expect(base).toEqual({
      id: THREE[0]!.id,
      name: "baseline",
      status: "completed",
      backendStatus: "completed",
      project: "PDEBench",
      tags: ["task1", "final"],
      created: "2025-03-01T10:00:00.000Z",
      metrics: { seg_total: 0, pde_mean: -1.5, train_time_min: 42 },
      params: { "Args/--sub_step": "5", "General/lr": "0.01" },
      archived: false,
    });
    expect(list.find((e) => e.name === "published")).toMatchObject({ status: "completed", backendStatus: "published" });
    expect(list.find((e) => e.name === "stopped")).toMatchObject({ status: "cancelled", backendStatus: "stopped" });
  });

  it("costs login + project lookup + one listing page", async () => {
    await store().list({ project: "PDEBench" });
    expect(fake.requests.map((r) => r.endpoint)).toEqual(["auth.login", "projects.get_all", "tasks.get_all"]);
  });

  it("archived tasks only with includeArchived", async () => {
    const s = store();
    expect((await s.list({ project: "PDEBench" })).some((e) => e.archived)).toBe(false);
    const all = await s.list({ project: "PDEBench", includeArchived: true });
    expect(all.find((e) => e.name === "old-archived")).toMatchObject({ archived: true });
  });

  it("tags: all of them by default, any of them with anyTag", async () => {
    const s = store();
    expect((await s.list({ project: "PDEBench", tags: ["task1", "final"] })).map((e) => e.name)).toEqual(["baseline"]);
    expect((await s.list({ project: "PDEBench", tags: ["task1", "final"], anyTag: true })).map((e) => e.name).sort()).toEqual(["baseline", "published", "stopped"]);
    const sent = fake.requests.filter((r) => r.endpoint === "tasks.get_all").map((r) => (r.body as { tags?: string[] }).tags);
    expect(sent).toEqual([["__$all", "task1", "final"], ["task1", "final"]]);
  });

  it("subprojects with includeSubprojects, never hidden ones; the project name is exact", async () => {
    const s = store();
    expect((await s.list({ project: "PDEBench", includeSubprojects: true })).map((e) => `${e.project}:${e.name}`).sort()).toEqual([
      "PDEBench/ablations:in-sub",
      "PDEBench:baseline",
      "PDEBench:published",
      "PDEBench:stopped",
    ]);
    expect((await s.list({ project: "PDEBench/ablations" })).map((e) => e.name)).toEqual(["in-sub"]);
  });

  it("statuses: a lifecycle state selects its ClearML statuses; a ClearML status selects itself", async () => {
    const s = store();
    expect((await s.list({ project: "PDEBench", statuses: ["completed"] })).map((e) => e.name).sort()).toEqual(["baseline", "published"]);
    expect((await s.list({ project: "PDEBench", statuses: ["published"] })).map((e) => e.name)).toEqual(["published"]);
    expect((await s.list({ project: "PDEBench", statuses: ["cancelled"] })).map((e) => e.name)).toEqual(["stopped"]);
    fake.resetCounts();
    // No ClearML status means `dispatched`: nothing to ask for.
    expect(await s.list({ project: "PDEBench", statuses: ["dispatched"] })).toEqual([]);
    expect(fake.count("tasks.get_all")).toBe(0);
  });

  it("refuses an unknown status or an operator-like tag before listing (exit 2)", async () => {
    const s = store();
    await expect(s.list({ project: "PDEBench", statuses: ["complete"] })).rejects.toThrow(/unknown status 'complete'.*completed/);
    await expect(s.list({ project: "PDEBench", tags: ["-final"] })).rejects.toBeInstanceOf(UsageError);
    expect(fake.count("tasks.get_all")).toBe(0);
  });

  it("assertStatuses: lifecycle states and ClearML statuses pass, anything else is E_UNKNOWN_STATUS, with no request", () => {
    const s = store();
    fake.resetCounts();
    expect(() => s.assertStatuses(["completed", "running", "dispatched", "published", "stopped", "in_progress", "unknown"])).not.toThrow();
    expect(() => s.assertStatuses(["completed", "canceled"])).toThrow(expect.objectContaining({ code: "E_UNKNOWN_STATUS", exitCode: 2, message: expect.stringContaining("Did you mean 'cancelled'?") as unknown }));
    expect(fake.count()).toBe(0);
  });

  it("an unknown project is exit 2 listing close names", async () => {
    const e = await store()
      .list({ project: "PDEbench" })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotFoundError);
    expect((e as NotFoundError).code).toBe("E_PROJECT_NOT_FOUND");
    expect((e as NotFoundError).message).toContain("'PDEBench'");
    expect(fake.count("tasks.get_all")).toBe(0);
  });

  it("a project name with regex characters is matched literally", async () => {
    await expect(store().list({ project: "PDE.ench" })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("get: one task by id (archived too) in two requests besides the login; unknown is undefined", async () => {
    const s = store();
    await s.get("nothing-here");
    fake.resetCounts();
    const archivedId = fake.tasks.find((t) => t.name === "old-archived")!.id;
    const e = await s.get(archivedId);
    expect(e).toMatchObject({ name: "old-archived", project: "PDEBench", archived: true });
    expect(fake.requests.map((r) => r.endpoint)).toEqual(["tasks.get_all", "projects.get_all"]);
    expect(await s.get("0000000000000000000000000000dead")).toBeUndefined();
  });
});

describe("ClearmlStore: metrics from last_metrics", () => {
  it("a variant under two titles is kept as Title/variant and its bare name is ambiguous", () => {
    const lm = {
      [md5("Score")]: { [md5("seg_total")]: { metric: "Score", variant: "seg_total", value: 0.8 } },
      [md5("Loss")]: { [md5("seg_total")]: { metric: "Loss", variant: "seg_total", value: -0.2 }, [md5("val_loss")]: { metric: "Loss", variant: "val_loss", value: 0 } },
    };
    expect(metricsOfTask(lm)).toEqual({
      metrics: { "Loss/seg_total": -0.2, "Score/seg_total": 0.8, val_loss: 0 },
      ambiguous: { seg_total: ["Loss/seg_total", "Score/seg_total"] },
    });
  });

  it("ranking on the bare ambiguous name is exit 2 naming both; the qualified name ranks", async () => {
    await start([
      fakeTask({ name: "amb", project: P.id, metrics: { Score: { seg_total: 0.8 }, Loss: { seg_total: 0.1 } } }),
      fakeTask({ name: "plain", project: P.id, created: "2025-02-01T00:00:00.000Z", metrics: { Score: { seg_total: 0.5 } } }),
    ]);
    const list = await store().list({ project: "PDEBench" });
    const e = (() => {
      try {
        compareScores(list, { sortBy: "seg_total" });
      } catch (x) {
        return x as UsageError;
      }
      return undefined;
    })();
    expect(e?.code).toBe("E_METRIC_AMBIGUOUS");
    expect(e?.exitCode).toBe(2);
    expect(e?.message).toContain("'Loss/seg_total' and 'Score/seg_total'");
    expect(() => compareScores(list, { sortBy: "pde_mean", gates: ["seg_total:gt:0"] })).toThrow(/ambiguous/);
    const ranked = compareScores(list, { sortBy: "Score/seg_total" });
    expect(ranked.results.map((r) => r.experiment.name)).toEqual(["amb", "plain"]);
    // The rules refuse it too, rather than audit one of the two at random.
    const amb = list.find((x) => x.name === "amb")!;
    expect(() => validateCompetitionRules(amb.metrics, amb.params, undefined, { ambiguousMetrics: amb.ambiguousMetrics })).toThrow(/ambiguous/);
  });

  it("a qualified name reads the same value on every task, with the bare name's direction and threshold", async () => {
    await start([
      fakeTask({ name: "amb", project: P.id, created: "2025-01-01T00:00:00.000Z", metrics: { Score: { seg_total: 0.8 }, Loss: { seg_total: 0.1 }, PDE: { pde_mean: 16 } } }),
      fakeTask({ name: "plain", project: P.id, created: "2025-01-02T00:00:00.000Z", metrics: { Score: { seg_total: 0.7 }, PDE: { pde_mean: 17 } } }),
      fakeTask({ name: "two-pde", project: P.id, created: "2025-01-03T00:00:00.000Z", metrics: { Score: { seg_total: 0.9 }, PDE: { pde_mean: 12 }, Other: { pde_mean: 30 } } }),
    ]);
    const list = await store().list({ project: "PDEBench" });
    const plain = list.find((e) => e.name === "plain")!;
    // Listed once, under the bare name; readable under the qualified one.
    expect(Object.keys(plain.metrics).sort()).toEqual(["pde_mean", "seg_total"]);
    expect(plain.metrics["Score/seg_total"]).toBe(0.7);
    expect(JSON.parse(JSON.stringify(plain.metrics))).toEqual({ pde_mean: 17, seg_total: 0.7 });

    const bySeg = compareScores(list, { sortBy: "Score/seg_total" });
    expect(bySeg.results.map((r) => [r.experiment.name, r.value])).toEqual([
      ["two-pde", 0.9],
      ["amb", 0.8],
      ["plain", 0.7],
    ]);
    // PDE/pde_mean is pde_mean: lower is better, and the registered threshold applies to a rule.
    const byPde = compareScores(list, { sortBy: "PDE/pde_mean", gates: ["PDE/pde_mean:lt:16.5"] });
    expect(byPde.ascending).toBe(true);
    expect(byPde.results.map((r) => [r.experiment.name, r.value, r.passed])).toEqual([
      ["two-pde", 12, true],
      ["amb", 16, true],
      ["plain", 17, false],
    ]);
    const two = list.find((e) => e.name === "two-pde")!;
    const pack = { name: "q", metrics: [{ name: "PDE/pde_mean", useThreshold: true }], params: [] };
    const v = validateCompetitionRules(two.metrics, two.params, pack, { ambiguousMetrics: two.ambiguousMetrics });
    expect(v.checks[0]).toMatchObject({ label: "PDE/pde_mean < 18.09", value: 12, passed: true });
  });

  it("the ambiguity hint suggests the title of the metric's registered group", async () => {
    await start([fakeTask({ name: "amb", project: P.id, metrics: { Score: { seg_total: 0.8 }, Loss: { seg_total: 0.1 } }, params: { "Args/sub_step": "2" } })]);
    const [amb] = await store().list({ project: "PDEBench" });
    expect(() => compareScores([amb!], { sortBy: "seg_total" })).toThrow(
      expect.objectContaining({ hint: "name one of them instead, e.g. 'Score/seg_total'", field: "sortBy", value: "seg_total", suggestion: "Score/seg_total" }),
    );
    expect(() => validateCompetitionRules(amb!.metrics, amb!.params, undefined, { ambiguousMetrics: amb!.ambiguousMetrics })).toThrow(
      expect.objectContaining({ hint: "name one of them instead, e.g. a rule pack whose metric rule has name: Score/seg_total", field: "rules", suggestion: "Score/seg_total" }),
    );
  });

  it("status mapping", () => {
    expect(["created", "queued", "in_progress", "completed", "published", "closed", "failed", "stopped", "unknown"].map(lifecycleOf)).toEqual([
      "created",
      "queued",
      "running",
      "completed",
      "completed",
      "completed",
      "failed",
      "cancelled",
      "unknown",
    ]);
    expect(clearmlStatusesFor("completed").sort()).toEqual(["closed", "completed", "published", "publishing"]);
    expect(clearmlStatusesFor("dispatched")).toEqual([]);
  });
});

describe("ClearmlStore: paging", () => {
  it("1,200 tasks: three pages of at most 500, progress after each, login + project + 3 requests", async () => {
    await start(manyTasks(1_200, { project: P.id, seed: 7 }));
    const progress: number[] = [];
    const list = await store({ onProgress: (n) => progress.push(n) }).list({ project: "PDEBench", includeArchived: true });
    expect(list).toHaveLength(1_200);
    expect(new Set(list.map((e) => e.id)).size).toBe(1_200);
    expect(progress).toEqual([500, 1000, 1200]);
    expect(fake.count("auth.login")).toBe(1);
    expect(fake.count("projects.get_all")).toBe(1);
    expect(fake.count("tasks.get_all")).toBe(3);
    const pages = fake.requests.filter((r) => r.endpoint === "tasks.get_all").map((r) => r.body as { page: number; page_size: number; order_by: string[] });
    expect(pages.map((b) => [b.page, b.page_size])).toEqual([[0, 500], [1, 500], [2, 500]]);
    expect(pages.every((b) => JSON.stringify(b.order_by) === JSON.stringify(["created", "id"]))).toBe(true);
  });

  it("exactly 1,000 tasks: a third, empty page ends the listing", async () => {
    await start(manyTasks(1_000, { project: P.id, seed: 3 }));
    expect(await store().list({ project: "PDEBench", includeArchived: true })).toHaveLength(1_000);
    expect(fake.count("tasks.get_all")).toBe(3);
  });

  it("a 500 on the second page is retried and the listing completes", async () => {
    await start(manyTasks(1_200, { project: P.id, seed: 7 }));
    let failed = false;
    const s = store({
      onProgress: () => {
        if (!failed) fake.failNext("tasks.get_all", { status: 500, subcode: 0, msg: "General error" }, 1);
        failed = true;
      },
    });
    expect(await s.list({ project: "PDEBench", includeArchived: true })).toHaveLength(1_200);
    expect(fake.count("tasks.get_all")).toBe(4);
  });

  it("a token invalidated mid-listing: one re-login, and the listing completes", async () => {
    await start(manyTasks(1_200, { project: P.id, seed: 7 }));
    let once = false;
    const s = store({
      onProgress: () => {
        if (!once) fake.invalidateTokens();
        once = true;
      },
    });
    expect(await s.list({ project: "PDEBench", includeArchived: true })).toHaveLength(1_200);
    expect(fake.count("auth.login")).toBe(2);
  });

  it("without the archived: the selection matches the in-memory filter over everything", async () => {
    await start(manyTasks(1_200, { project: P.id, seed: 11 }));
    const s = store();
    const all = await s.list({ project: "PDEBench", includeArchived: true });
    const live = await s.list({ project: "PDEBench" });
    expect(live.map((e) => e.id).sort()).toEqual(all.filter((e) => !e.archived).map((e) => e.id).sort());
    expect(live.length).toBeLessThan(all.length);
  });
});

describe("ClearmlStore: reporting metrics", () => {
  it("one events.add_batch: metric = registry group, variant = name, iteration 0; last_metrics updated", async () => {
    await start([fakeTask({ name: "t", project: P.id, status: "in_progress" })]);
    const s = store();
    const id = fake.tasks[0]!.id;
    await reportStandard({ pde_mean: 16.2, seg_total: 0, train_time_min: "41" }, s.task(id));
    expect(fake.count("events.add_batch")).toBe(1);
    expect(fake.events.map((e) => [e["metric"], e["variant"], e["value"], e["iter"], e["type"]])).toEqual([
      ["PDE", "pde_mean", 16.2, 0, "training_stats_scalar"],
      ["Score", "seg_total", 0, 0, "training_stats_scalar"],
      ["Time", "train_time_min", 41, 0, "training_stats_scalar"],
    ]);
    expect((await s.get(id))!.metrics).toEqual({ pde_mean: 16.2, seg_total: 0, train_time_min: 41 });
  });

  it("a value the registry refuses sends nothing", async () => {
    await start([fakeTask({ name: "t", project: P.id })]);
    const s = store();
    await expect(reportStandard({ pde_mean: Number.NaN }, s.task(fake.tasks[0]!.id))).rejects.toBeInstanceOf(ValidationError);
    await expect(reportStandard({ pde_maen: 1 }, s.task(fake.tasks[0]!.id))).rejects.toBeInstanceOf(ValidationError);
    expect(fake.requests).toHaveLength(0);
  });

  it("a published task refuses events: exit 2", async () => {
    await start([fakeTask({ name: "t", project: P.id, status: "published" })]);
    const e = await store()
      .reportMetrics(fake.tasks[0]!.id, { pde_mean: 1 })
      .catch((x: unknown) => x);
    expect((e as { exitCode?: number }).exitCode).toBe(2);
    expect((e as { code?: string }).code).toBe("E_TASK_PUBLISHED");
    expect(fake.count("events.add_batch")).toBe(0);
  });

  // Regression: the server refuses events to a publishing task too, and to public tasks
  // (company "" in its database; apiserver/bll/event takes events only for the caller's company),
  // answering 400/131 "Invalid task id": say so before sending anything.
  it("a publishing task refuses events: exit 2 E_TASK_PUBLISHED saying so, nothing sent", async () => {
    await start([fakeTask({ name: "t", project: P.id, status: "publishing" })]);
    const e = (await store()
      .reportMetrics(fake.tasks[0]!.id, { pde_mean: 1 })
      .catch((x: unknown) => x)) as ConflictError;
    expect(e).toBeInstanceOf(ConflictError);
    expect(e).toMatchObject({ code: "E_TASK_PUBLISHED", exitCode: 2 });
    expect(e.message).toBe(`ClearML task ${fake.tasks[0]!.id} is being published (publishing), and a task being published accepts no new metrics`);
    expect(e.hint).toContain("clone it");
    expect(fake.count("events.add_batch")).toBe(0);
  });

  it("a public task (company '') refuses events: exit 2 E_TASK_PUBLIC saying to clone it, nothing sent", async () => {
    await start([fakeTask({ name: "example", project: P.id, status: "completed" })]);
    (fake.tasks[0] as FakeTask & { company?: string }).company = "";
    const e = (await store()
      .reportMetrics(fake.tasks[0]!.id, { pde_mean: 1 })
      .catch((x: unknown) => x)) as ConflictError;
    expect(e).toBeInstanceOf(ConflictError);
    expect(e).toMatchObject({ code: "E_TASK_PUBLIC", exitCode: 2 });
    expect(e.message).toContain("is a public task");
    expect(e.hint).toBe("clone the task into your workspace (Clone in the ClearML web app) and report to the clone");
    expect(fake.count("events.add_batch")).toBe(0);
  });

  it("another company's (private) task is invisible, as on the server: exit 2 E_TASK_NOT_FOUND, nothing sent; the caller's own company's takes them, at no extra request", async () => {
    await start([fakeTask({ name: "theirs", project: P.id, status: "completed" }), fakeTask({ name: "ours", project: P.id, status: "completed", created: "2025-02-01T00:00:00.000Z" })]);
    (fake.tasks[0] as FakeTask & { company?: string }).company = "other-company";
    (fake.tasks[1] as FakeTask & { company?: string }).company = "fake-company";
    const s = store();
    await expect(s.reportMetrics(fake.tasks[0]!.id, { pde_mean: 1 })).rejects.toMatchObject({ code: "E_TASK_NOT_FOUND", exitCode: 2 });
    expect(fake.count("events.add_batch")).toBe(0);
    fake.resetCounts();
    await expect(s.reportMetrics(fake.tasks[1]!.id, { pde_mean: 1 })).resolves.toMatchObject({ added: 1 });
    expect(fake.requests.map((r) => r.endpoint)).toEqual(["tasks.get_all", "events.add_batch"]);
    expect((fake.requests[0]!.body as { only_fields: string[] }).only_fields).toEqual(["id", "status", "company"]);
  });

  it("an unknown task: exit 2 E_TASK_NOT_FOUND, nothing sent; requireTask says the same", async () => {
    await start([fakeTask({ name: "t", project: P.id })]);
    const s = store();
    await expect(s.reportMetrics("0000000000000000000000000000dead", { pde_mean: 1 })).rejects.toMatchObject({ code: "E_TASK_NOT_FOUND", exitCode: 2 });
    await expect(s.requireTask("0000000000000000000000000000dead")).rejects.toMatchObject({ code: "E_TASK_NOT_FOUND", exitCode: 2 });
    expect(fake.count("events.add_batch")).toBe(0);
  });
});

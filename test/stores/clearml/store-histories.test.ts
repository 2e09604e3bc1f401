// ClearmlStore.histories: the step history the HTML report plots, read from the scalars tasks
// reported (events.scalar_metrics_iter_histogram, one task per call, at most pageConcurrency at
// once), named as the store names last_metrics, thinned as a local record's history is.
import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../../../src/core/errors.js";
import { pointsPerMetric } from "../../../src/core/metrics/history.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { ClearmlStore, historiesOfTask, SCALAR_HISTOGRAM_ENDPOINT } from "../../../src/stores/clearml/clearml-store.js";
import type { FakeTask } from "../../../fake-clearml/server.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask, lastMetrics } from "../../../fake-clearml/tasks.js";
import { assertCleanAndClose } from "../../fake-clearml/helpers.js";

const P = fakeProject("PDEBench");
let fake: FakeClearml | undefined;
afterEach(async () => {
  const f = fake;
  fake = undefined;
  await assertCleanAndClose(f);
});

async function start(tasks: FakeTask[], options: { latencyMs?: number } = {}): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects: [P], tasks, latencyMs: options.latencyMs });
  return fake;
}

/** What the store's histogram requests looked like from the client's side. */
interface Probe {
  /** The task of each histogram request, in the order sent. */
  asked: string[];
  maxInFlight: number;
  /** Histogram requests sent and not answered yet. */
  inFlight?: number;
  /** Answers these tasks' histogram requests with this envelope instead of asking the server (every attempt). */
  answer?: Map<string, { status: number; subcode: number; msg: string }>;
  /** How long a canned answer takes (default 5 ms), so that the others stay in flight meanwhile. */
  answerDelayMs?: number;
}

function store(f: FakeClearml, options: { pageConcurrency?: number; probe?: Probe; warnings?: string[]; maxRetries?: number } = {}): ClearmlStore {
  const probe = options.probe;
  const wrapped: typeof fetch = async (input, init) => {
    if (probe === undefined || !String(input).endsWith(`/${SCALAR_HISTOGRAM_ENDPOINT}`)) return fetch(input, init);
    const task = (JSON.parse(String(init?.body)) as { task: string }).task;
    probe.asked.push(task);
    probe.inFlight = (probe.inFlight ?? 0) + 1;
    probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
    try {
      const canned = probe.answer?.get(task);
      if (canned !== undefined) {
        await new Promise((r) => setTimeout(r, probe.answerDelayMs ?? 5));
        return new Response(JSON.stringify({ meta: { result_code: canned.status, result_subcode: canned.subcode, result_msg: canned.msg }, data: {} }), { status: canned.status });
      }
      return await fetch(input, init);
    } finally {
      probe.inFlight -= 1;
    }
  };
  const client = new ClearmlClient({ apiServer: f.url, accessKey: f.accessKey, secretKey: f.secretKey, sleep: async () => undefined, fetch: wrapped, maxRetries: options.maxRetries });
  return new ClearmlStore({ client, pageConcurrency: options.pageConcurrency, onWarning: (m) => options.warnings?.push(m) });
}

/** `n` points at iterations 0..n-1, value = 1 / (1 + iteration). */
function decay(n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => [i, 1 / (1 + i)]);
}

describe("ClearmlStore.histories: what it reads", () => {
  it("names metrics by variant as last_metrics are named, with exact aggregates; one lookup, then one call per task that reported scalars", async () => {
    const a = fakeTask({ name: "a", project: P.id, scalars: { Score: { seg_total: [[0, 0.2], [1, 0.9], [2, 0.5]] }, PDE: { pde_mean: [[0, 3], [5, -1]] } } });
    const b = fakeTask({ name: "b", project: P.id, metrics: { Score: { seg_total: 0.4 } } });
    const none = fakeTask({ name: "none", project: P.id, status: "queued" });
    const f = await start([a, b, none]);
    const s = store(f);
    const map = await s.histories([a.id, b.id, none.id, a.id]);
    expect([...map.keys()]).toEqual([a.id]);
    expect(map.get(a.id)).toEqual({
      pde_mean: { last: -1, min: -1, max: 3, count: 2, steps: [[0, 3], [5, -1]] },
      seg_total: { last: 0.5, min: 0.2, max: 0.9, count: 3, steps: [[0, 0.2], [1, 0.9], [2, 0.5]] },
    });
    // The same names as the task's metrics.
    expect(Object.keys(map.get(a.id)!).sort()).toEqual(Object.keys((await s.require(a.id)).metrics).sort());
    f.resetCounts();
    await s.histories([a.id, b.id, none.id]);
    // b has a value in last_metrics and no event (seeded so): asked, and absent; none reported nothing: not asked.
    expect(f.requests.map((r) => [r.endpoint, (r.body as { task?: string }).task ?? null])).toEqual([
      ["tasks.get_all", null],
      [SCALAR_HISTOGRAM_ENDPOINT, a.id],
      [SCALAR_HISTOGRAM_ENDPOINT, b.id],
    ]);
    expect(f.requests[0]!.body).toEqual({ id: [a.id, b.id, none.id], only_fields: ["id", "last_metrics"] });
    expect(f.requests[1]!.body).toEqual({ task: a.id, samples: 101, key: "iter" });
    expect((await s.histories([])).size).toBe(0);
  });

  it("a single report at iteration 0 (as expflow's own reportMetrics sends) is a one-point history", async () => {
    const a = fakeTask({ name: "a", project: P.id, status: "in_progress" });
    const f = await start([a]);
    const s = store(f);
    await s.reportMetrics(a.id, { pde_mean: 12.5 });
    expect(await s.histories([a.id])).toEqual(new Map([[a.id, { pde_mean: { last: 12.5, min: 12.5, max: 12.5, count: 1, steps: [[0, 12.5]] } }]]));
  });

  it("a variant under two titles keeps Title/variant for each, as metrics does, also when one title has only a value", async () => {
    const a = fakeTask({ name: "a", project: P.id, scalars: { Train: { loss: [[0, 2], [1, 1]] }, Val: { loss: [[0, 3], [1, 2]] }, Score: { acc: [[0, 0.5]] } } });
    const b = fakeTask({ name: "b", project: P.id, metrics: { Final: { loss: 0.7 } }, scalars: { Train: { loss: [[0, 2]] } } });
    const f = await start([a, b]);
    const s = store(f);
    const map = await s.histories([a.id, b.id]);
    expect(Object.keys(map.get(a.id)!).sort()).toEqual(["Train/loss", "Val/loss", "acc"]);
    expect(map.get(a.id)!["Val/loss"]!.steps).toEqual([[0, 3], [1, 2]]);
    const ea = await s.require(a.id);
    expect(ea.ambiguousMetrics).toEqual({ loss: ["Train/loss", "Val/loss"] });
    // b's loss is ambiguous through last_metrics alone (Final/loss has no history): still qualified.
    expect(Object.keys(map.get(b.id)!)).toEqual(["Train/loss"]);
    expect((await s.require(b.id)).ambiguousMetrics).toEqual({ loss: ["Final/loss", "Train/loss"] });
  });

  it("keeps at most 101 points per metric, fewer when a task has many metrics: the server downsamples to that, the store thins what comes past it", async () => {
    const many: Record<string, [number, number][]> = {};
    for (let i = 0; i < 25; i++) many[`m${String(i).padStart(2, "0")}`] = decay(1000);
    const a = fakeTask({ name: "a", project: P.id, scalars: { Loss: { val: decay(1000) } } });
    const b = fakeTask({ name: "b", project: P.id, scalars: { Many: many } });
    const f = await start([a, b]);
    const map = await store(f).histories([a.id, b.id]);
    const val = map.get(a.id)!["val"]!;
    // Buckets of ceil(1000 / 101) = 10 iterations, each the mean of its values; exact aggregates beside them.
    expect(val.steps).toHaveLength(100);
    expect(val.steps[0]![0]).toBe(0);
    expect(val.steps[99]![0]).toBe(990);
    expect(val.steps[0]![1]).toBeCloseTo(decay(10).reduce((sum, [, v]) => sum + v, 0) / 10, 12);
    expect(val).toMatchObject({ last: 1 / 1000, min: 1 / 1000, max: 1, count: 1000 });
    // 25 metrics share 2,000 points: 80 each, asked of the server as samples.
    expect(pointsPerMetric(25)).toBe(80);
    expect(Object.keys(map.get(b.id)!)).toHaveLength(25);
    for (const h of Object.values(map.get(b.id)!)) expect(h.steps.length).toBeLessThanOrEqual(80);
    expect(f.requests.find((r) => (r.body as { task?: string }).task === b.id)?.body).toMatchObject({ samples: 80 });
  });

  it("thins an answer longer than asked for evenly, first and last kept; drops points that are not numbers", async () => {
    const a = fakeTask({ name: "a", project: P.id, scalars: { Loss: { val: decay(3) } } });
    const f = await start([a]);
    const x = Array.from({ length: 1000 }, (_, i) => i);
    const y: (number | null)[] = x.map((i) => i * 2);
    y[500] = null;
    f.respondNext(SCALAR_HISTOGRAM_ENDPOINT, (res) => {
      const text = JSON.stringify({ meta: { result_code: 200, result_subcode: 0, result_msg: "OK" }, data: { Loss: { val: { name: "val", x, y } } } });
      res.writeHead(200, { "Content-Type": "application/json" }).end(text);
    });
    const steps = (await store(f).histories([a.id])).get(a.id)!["val"]!.steps;
    expect(steps).toHaveLength(101);
    expect(steps[0]).toEqual([0, 0]);
    expect(steps[100]).toEqual([999, 1998]);
    expect(steps.some(([s]) => s === 500)).toBe(false);
  });
});

describe("historiesOfTask", () => {
  it("sorts points by step, leaves out what is not a finite number, falls back to the points' aggregates without last_metrics", () => {
    const h = historiesOfTask({ T: { v: { x: [2, 0, 1, "3", 4], y: [5, 1, null, 7, Number.NaN] }, empty: { x: [], y: [] } }, bad: "x" }, undefined);
    expect(h).toEqual({ v: { last: 5, min: 1, max: 5, count: 2, steps: [[0, 1], [2, 5]] } });
    expect(historiesOfTask({}, lastMetrics({ T: { v: 1 } }))).toBeUndefined();
    expect(historiesOfTask(null, null)).toBeUndefined();
  });
});

describe("ClearmlStore.histories: how many at once, and failures", () => {
  const tasks = (n: number): FakeTask[] => Array.from({ length: n }, (_, i) => fakeTask({ name: `t${i}`, project: P.id, scalars: { Loss: { val: decay(5) } } }));

  it("asks for at most pageConcurrency (4) tasks at once, only for the ids asked, each once", async () => {
    const all = tasks(14);
    const f = await start(all, { latencyMs: 15 });
    const probe: Probe = { asked: [], maxInFlight: 0 };
    const ids = all.slice(0, 12).map((t) => t.id);
    const map = await store(f, { probe }).histories(ids);
    expect(map.size).toBe(12);
    expect([...probe.asked].sort()).toEqual([...ids].sort());
    expect(probe.maxInFlight).toBe(4);
    const one: Probe = { asked: [], maxInFlight: 0 };
    await store(f, { probe: one, pageConcurrency: 1 }).histories(ids);
    expect(one.maxInFlight).toBe(1);
    expect(one.asked).toEqual(ids);
  });

  it("one task's failure (gone meanwhile, a 500 after the retries) leaves that task out with one warning; the others are read", async () => {
    const all = tasks(6);
    const f = await start(all, { latencyMs: 5 });
    const [gone, broken] = [all[1]!.id, all[3]!.id];
    const probe: Probe = {
      asked: [],
      maxInFlight: 0,
      answer: new Map([
        [gone, { status: 400, subcode: 101, msg: `invalid task id: ids=(${all[1]!.id})` }],
        [broken, { status: 500, subcode: 0, msg: "General error" }],
      ]),
    };
    const warnings: string[] = [];
    const missing = "f".repeat(32);
    const map = await store(f, { probe, warnings }).histories([...all.map((t) => t.id), missing]);
    expect([...map.keys()]).toEqual(all.map((t) => t.id).filter((id) => id !== gone && id !== broken));
    // The 500 was retried twice (maxRetries 2); the 400 was not.
    expect(probe.asked.filter((id) => id === broken)).toHaveLength(3);
    expect(probe.asked.filter((id) => id === gone)).toHaveLength(1);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toBe(`1 of the 7 tasks whose step history was asked for is not on ClearML at ${f.url} (deleted, or not readable with these credentials), so its history is left out: ${missing}`);
    expect(warnings[1]).toMatch(new RegExp(`^the step history of 2 tasks could not be read from ClearML at ${f.url}, and is left out: `));
    expect(warnings[1]).toContain(`${gone} (400/101 invalid task id`);
    expect(warnings[1]).toContain(`${broken} (500/0 General error)`);
  });

  it("an event store that fails every task: after the first 3 fail and none is read, the others are not asked for", async () => {
    const all = tasks(10);
    const f = await start(all);
    const probe: Probe = { asked: [], maxInFlight: 0, answer: new Map(all.map((t) => [t.id, { status: 500, subcode: 0, msg: "General error" }])) };
    const warnings: string[] = [];
    const map = await store(f, { probe, warnings, pageConcurrency: 1 }).histories(all.map((t) => t.id));
    expect(map.size).toBe(0);
    // Three tasks, each tried three times (maxRetries 2); the seven others never asked.
    expect(probe.asked).toEqual(all.slice(0, 3).flatMap((t) => [t.id, t.id, t.id]));
    expect(warnings.at(-1)).toBe("the step history of 7 more tasks were not asked for: the first 3 all failed, so ClearML's event store looks unavailable");
  });

  it("a server that refuses the credentials, or stops answering, fails the read (exit 4), with nothing left in flight", async () => {
    const all = tasks(8);
    const f = await start(all, { latencyMs: 5 });
    const ids = all.map((t) => t.id);
    const denied: Probe = { asked: [], maxInFlight: 0, answer: new Map([[ids[2]!, { status: 403, subcode: 21, msg: "forbidden" }]]), answerDelayMs: 0 };
    const e = await store(f, { probe: denied }).histories(ids).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BackendError);
    expect(e).toMatchObject({ code: "E_CLEARML_FORBIDDEN", exitCode: 4 });
    // The requests in flight were answered before it failed.
    expect(denied.inFlight).toBe(0);
    // The workers stop after the failure: the tasks after it are not all asked for.
    expect(denied.asked.length).toBeLessThan(ids.length);

    const before = f.count(SCALAR_HISTOGRAM_ENDPOINT);
    f.malformNext(SCALAR_HISTOGRAM_ENDPOINT, "drop", { times: 3 });
    const dropped = await store(f, { pageConcurrency: 1 }).histories(ids).catch((x: unknown) => x);
    expect(dropped).toMatchObject({ code: "E_CLEARML_UNREACHABLE", exitCode: 4 });
    // One task, tried three times; then nothing more.
    expect(f.count(SCALAR_HISTOGRAM_ENDPOINT) - before).toBe(3);
    await new Promise((r) => setTimeout(r, 30));
    expect(f.count(SCALAR_HISTOGRAM_ENDPOINT) - before).toBe(3);
  });
});

// Self-tests of the fake ClearML server's events.scalar_metrics_iter_histogram, over plain fetch:
// the store's history tests trust it to answer as the real server does (services/events.py,
// bll/event/event_metrics.py, scalar_key.py; apimodels/events.py for the request model).
import { afterEach, describe, expect, it } from "vitest";
import { FakeClearml, type FakeClearmlOptions, type FakeTask } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask, md5, scalarHistory } from "../../../fake-clearml/tasks.js";
import { assertCleanAndClose, client, codes } from "../../fake-clearml/helpers.js";

const P = fakeProject("PDEBench");
const HISTOGRAM = "events.scalar_metrics_iter_histogram";

let fake: FakeClearml | undefined;

afterEach(async () => {
  const f = fake;
  fake = undefined;
  await assertCleanAndClose(f);
});

async function start(options: FakeClearmlOptions): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects: [P], ...options });
  return fake;
}

/** `n` points `[iter, value]` at iterations `from`, `from + 1`, ... with value = iteration. */
function ramp(n: number, from = 0): [number, number][] {
  return Array.from({ length: n }, (_, i) => [from + i, from + i]);
}

describe("fakeTask({scalars}): a task seeded with a reported history", () => {
  it("holds last_metrics as add_batch computes them, its events in fake.events, and no seed key left", async () => {
    const t = fakeTask({ name: "a", project: P.id, metrics: { Time: { train_time_min: 3 } }, scalars: { Score: { seg_total: [[0, 0.5], [1, 0.2], [2, 0.9], [3, 0.7]] } } });
    expect(t.last_metrics[md5("Score")]?.[md5("seg_total")]).toEqual({
      metric: "Score",
      variant: "seg_total",
      value: 0.7,
      min_value: 0.2,
      max_value: 0.9,
      first_value: 0.5,
      mean_value: (0.5 + 0.2 + 0.9 + 0.7) / 4,
      count: 4,
      min_value_iteration: 1,
      max_value_iteration: 2,
    });
    expect(t.last_metrics[md5("Time")]?.[md5("train_time_min")]?.value).toBe(3);
    expect(t.last_iteration).toBe(3);
    expect(t.seed_events).toHaveLength(4);
    const f = await start({ tasks: [t] });
    expect(f.events).toHaveLength(4);
    expect(f.events[0]).toEqual({ type: "training_stats_scalar", task: t.id, metric: "Score", variant: "seg_total", value: 0.5, iter: 0, timestamp: Date.parse(t.created) });
    expect("seed_events" in (f.tasks[0] as FakeTask)).toBe(false);
  });

  it("refuses a title and variant in both metrics and scalars, and points add_batch would refuse", () => {
    expect(() => fakeTask({ name: "a", project: P.id, metrics: { Score: { seg_total: 1 } }, scalars: { Score: { seg_total: [[0, 1]] } } })).toThrow(/both metrics and scalars/);
    expect(() => scalarHistory("t", { S: { v: [[0.5, 1]] } }, 0)).toThrow(/whole numbers/);
    expect(() => scalarHistory("t", { S: { v: [[0, Number.NaN]] } }, 0)).toThrow(/finite/);
  });
});

describe("events.scalar_metrics_iter_histogram", () => {
  it("answers metric -> variant -> {name, x, y}: every point below `samples`, {} for a task without scalars", async () => {
    const a = fakeTask({ name: "a", project: P.id, scalars: { Score: { seg_total: [[0, 0.5], [1, 0.2], [5, 0.9]] }, Loss: { val: [[0, 2], [1, 1]], train: [[0, 3]] } } });
    const b = fakeTask({ name: "b", project: P.id, metrics: { Score: { seg_total: 0.4 } } });
    const f = await start({ tasks: [a, b] });
    const api = await client(f);
    const r = await api(HISTOGRAM, { task: a.id });
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual({
      Loss: { train: { name: "train", x: [0], y: [3] }, val: { name: "val", x: [0, 1], y: [2, 1] } },
      Score: { seg_total: { name: "seg_total", x: [0, 1, 5], y: [0.5, 0.2, 0.9] } },
    });
    // Sorted as Elasticsearch sorts terms.
    expect(Object.keys(r.json.data)).toEqual(["Loss", "Score"]);
    expect((await api(HISTOGRAM, { task: b.id })).json.data).toEqual({});
  });

  it("downsamples to `samples` buckets of ceil(range / samples) iterations, each the mean of its values", async () => {
    const a = fakeTask({ name: "a", project: P.id, scalars: { Loss: { val: ramp(1000) } } });
    const f = await start({ tasks: [a] });
    const api = await client(f);
    const r = await api(HISTOGRAM, { task: a.id, samples: 100, key: "iter" });
    const val = r.json.data.Loss.val;
    // 1,000 iterations in buckets of 10: x at 0, 10, ..., 990; y the mean of 0..9, 10..19, ...
    expect(val.x).toEqual(Array.from({ length: 100 }, (_, i) => i * 10));
    expect(val.y).toEqual(Array.from({ length: 100 }, (_, i) => i * 10 + 4.5));
    // The default is 2,000 samples: 1,000 events come back as they are.
    expect((await api(HISTOGRAM, { task: a.id })).json.data.Loss.val.x).toHaveLength(1000);
    // Exactly `samples` events are already too many: interval ceil(1000 / 1000) = 1, all points.
    expect((await api(HISTOGRAM, { task: a.id, samples: 1000 })).json.data.Loss.val.x).toHaveLength(1000);
    // Buckets start at multiples of the interval: iterations 5..104 in buckets of 2 start at 4.
    const shifted = fakeTask({ name: "s", project: P.id });
    f.tasks.push(shifted);
    f.events.push(...scalarHistory(shifted.id, { Loss: { val: ramp(100, 5) } }, 0).events);
    const s = (await api(HISTOGRAM, { task: shifted.id, samples: 50 })).json.data.Loss.val;
    expect(s.x.slice(0, 3)).toEqual([4, 6, 8]);
    expect(s.y.slice(0, 2)).toEqual([5, 6.5]);
    expect(s.x).toHaveLength(51);
  });

  it("variants whose intervals are within 10% share the larger one, as the server groups them", async () => {
    const a = fakeTask({ name: "a", project: P.id, scalars: { Loss: { a: ramp(1000), b: ramp(1100) }, Other: { c: ramp(2000) } } });
    const f = await start({ tasks: [a] });
    const api = await client(f);
    const d = (await api(HISTOGRAM, { task: a.id, samples: 100 })).json.data;
    // a alone: interval 10; b: 11; the group of 10 reaches 11, so a is bucketed by 11 too.
    expect(d.Loss.a.x.slice(0, 3)).toEqual([0, 11, 22]);
    expect(d.Loss.a.x).toHaveLength(Math.ceil(1000 / 11));
    expect(d.Loss.b.x).toHaveLength(100);
    // c: interval 20, more than 10% above 10: a group of its own.
    expect(d.Other.c.x.slice(0, 2)).toEqual([0, 20]);
  });

  it("reads events add_batch stored: a later event at the same iteration replaces the earlier one; x_axis_label comes along", async () => {
    const a = fakeTask({ name: "a", project: P.id, status: "in_progress" });
    const f = await start({ tasks: [a] });
    const api = await client(f);
    const ev = (iter: number, value: number, extra: Record<string, unknown> = {}) => ({ type: "training_stats_scalar", task: a.id, metric: "Loss", variant: "val", value, iter, timestamp: 1_735_689_600_000 + iter, ...extra });
    const lines = [ev(0, 3), ev(1, 2), ev(1, 5), ev(2, 1, { x_axis_label: "epoch" })].map((e) => JSON.stringify(e)).join("\n");
    const added = await api("events.add_batch", undefined, { raw: lines, contentType: "application/json-lines" });
    expect(added.json.data.added).toBe(4);
    expect((await api(HISTOGRAM, { task: a.id })).json.data).toEqual({ Loss: { val: { name: "val", x: [0, 1, 2], y: [3, 5, 1], x_axis_label: "epoch" } } });
  });

  it("keys by timestamp or ISO time; `metrics` keeps some metrics or variants", async () => {
    const a = fakeTask({ name: "a", project: P.id, created: "2025-01-01T00:00:00.000Z", scalars: { Loss: { val: [[0, 1], [1, 2]], train: [[0, 4]] }, Score: { s: [[0, 1]] } } });
    const f = await start({ tasks: [a] });
    const api = await client(f);
    const t0 = Date.parse("2025-01-01T00:00:00.000Z");
    expect((await api(HISTOGRAM, { task: a.id, key: "timestamp", metrics: [{ metric: "Loss", variants: ["val"] }] })).json.data).toEqual({ Loss: { val: { name: "val", x: [t0, t0 + 1000], y: [1, 2] } } });
    const iso = await api(HISTOGRAM, { task: a.id, key: "iso_time", metrics: [{ metric: "Score" }] });
    expect(iso.json.data).toEqual({ Score: { s: { name: "s", x: ["2025-01-01T00:00:03.000Z"], y: [1] } } });
  });

  it("reads the caller's and public tasks; another company's or an unknown task is 400/101", async () => {
    const pub = fakeTask({ name: "pub", project: P.id, company: "", scalars: { Loss: { val: [[0, 1]] } } });
    const foreign = fakeTask({ name: "foreign", project: P.id, company: "other", scalars: { Loss: { val: [[0, 1]] } } });
    const f = await start({ tasks: [pub, foreign] });
    const api = await client(f);
    expect((await api(HISTOGRAM, { task: pub.id })).json.data).toEqual({ Loss: { val: { name: "val", x: [0], y: [1] } } });
    for (const id of [foreign.id, "f".repeat(32)]) {
      const r = await api(HISTOGRAM, { task: id });
      expect(codes(r)).toEqual([400, 101]);
      expect(r.json.meta.result_msg).toBe(`invalid task id: ids=(${id})`);
    }
    expect(f.takeViolations()).toEqual([]);
  });

  it("drops unknown keys and records them; a missing task, samples out of 1..6000 or a wrong key is 400/12", async () => {
    const a = fakeTask({ name: "a", project: P.id, scalars: { Loss: { val: ramp(3) } } });
    const f = await start({ tasks: [a] });
    const api = await client(f);
    const typo = await api(HISTOGRAM, { task: a.id, sample: 1 });
    expect(typo.status).toBe(200);
    expect(typo.json.data.Loss.val.x).toHaveLength(3);
    expect(f.takeViolations()).toEqual([`${HISTOGRAM}: unknown key 'sample' ignored (the real server drops it silently)`]);
    for (const body of [{}, { task: a.id, samples: 0 }, { task: a.id, samples: 6001 }, { task: a.id, key: "step" }, { task: 5 }]) {
      expect(codes(await api(HISTOGRAM, body)), JSON.stringify(body)).toEqual([400, 12]);
      expect(f.takeViolations(), JSON.stringify(body)).toEqual([expect.stringContaining(`${HISTOGRAM}: validation error`)]);
    }
    // `metrics` came with 2.14: a path that pins an older version is told so.
    await api(HISTOGRAM, { task: a.id, metrics: [{ metric: "Loss" }] }, { version: "2.13" });
    expect(f.takeViolations()).toEqual([expect.stringContaining("'metrics' needs API version 2.14")]);
  });
});

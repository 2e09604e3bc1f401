import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MetricRegistry } from "../../src/core/metrics/registry.js";
import { LocalRunner, liveSnapshotInterval, logPathOf, metricsPathOf } from "../../src/runner/local-runner.js";
import { readOne, RegistryWriter } from "../../src/stores/local/registry-writer.js";
import type { RegistryRecord } from "../../src/stores/local/record.js";
import { tempDir } from "../helpers/cli.js";
import { script, snapshots, waitFor } from "../helpers/runs.js";

// Live metrics (issue 14): while a run trains, its metrics file is read and merged into the
// record, so `run status` shows progress; before, metrics were read only when the run ended.

function setup(metrics = MetricRegistry.standard()): { home: string; writer: RegistryWriter; runner: LocalRunner; events: string[] } {
  const home = tempDir("expflow-live-");
  const writer = new RegistryWriter(join(home, "experiments.jsonl"), { now: () => new Date(), who: "tester@host" });
  const events: string[] = [];
  const runner = new LocalRunner({ writer, home, metrics, host: "test-host", env: { ...process.env }, cwd: home, pollMs: 50, metricsPollMs: 20, graceMs: 2_000, onEvent: (m) => events.push(m) });
  return { home, writer, runner, events };
}

let counter = 0;
async function queued(writer: RegistryWriter, argv: string[]): Promise<string> {
  const id = `exp-live${String(++counter).padStart(4, "0")}`;
  await writer.create({ experiment_id: id, status: "queued", queue: "default", argv, history: [{ event: "queue", from: "dispatched", to: "queued", time: new Date().toISOString(), who: "t" }], metrics: {} });
  return id;
}

/** A training script that writes `lines` to its metrics file, then runs until the file `go` appears. */
function trainer(home: string, lines: readonly object[]): { argv: string[]; go: string } {
  const go = join(home, `go-${++counter}`);
  const code = `const fs = require("fs");
for (const l of ${JSON.stringify(lines)}) fs.appendFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify(l) + "\\n");
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); } }, 10);`;
  return { argv: [process.execPath, script(home, `train-${counter}.cjs`, code)], go };
}

const current = (writer: RegistryWriter, id: string): RegistryRecord => readOne(writer.path, id)!;

describe("live metrics", () => {
  it("while the run trains, run status sees its 9 lines: last values, history by step; nothing is appended when nothing new came", async () => {
    const { home, writer, runner } = setup();
    const lines = Array.from({ length: 9 }, (_, i) => ({ step: (i + 1) * 100, pde_mean: 20 - i, seg_total: i / 10 }));
    const { argv, go } = trainer(home, lines);
    const id = await queued(writer, argv);
    const handle = runner.start((await runner.claim(id))!);
    const live = await waitFor(() => {
      const r = current(writer, id);
      return (r["metric_history"] as Record<string, { count: number }> | undefined)?.["pde_mean"]?.count === 9 && r;
    }, "the live snapshot");
    expect(live.status).toBe("running");
    expect(live.metrics).toEqual({ pde_mean: 12, seg_total: 0.8 });
    expect(live["metric_history"]).toMatchObject({ pde_mean: { last: 12, min: 12, max: 20, count: 9, steps: lines.map((l) => [l.step, l.pde_mean]) } });

    // Nothing new: many looks at the file, no snapshot appended.
    const before = snapshots(writer.path).length;
    await new Promise((r) => setTimeout(r, 400));
    expect(snapshots(writer.path).length).toBe(before);

    // Something new: one more snapshot with it.
    appendFileSync(metricsPathOf(home, id), '{"step": 1000, "pde_mean": 11}\n');
    await waitFor(() => current(writer, id).metrics?.["pde_mean"] === 11, "the appended line");
    writeFileSync(go, "");
    const result = await handle.done;
    expect(result.status).toBe("completed");
    expect(result.record?.metrics).toMatchObject({ pde_mean: 11, seg_total: 0.8, train_time_min: expect.any(Number) });
    expect(result.record?.["metric_history"]).toMatchObject({ pde_mean: { count: 10, min: 11 } });
  });

  it("a half-written line is not read until it is whole", async () => {
    const { home, writer, runner } = setup();
    const { argv, go } = trainer(home, [{ seg1: 1 }]);
    const id = await queued(writer, argv);
    const handle = runner.start((await runner.claim(id))!);
    await waitFor(() => current(writer, id).metrics?.["seg1"] === 1, "the first line");
    const file = metricsPathOf(home, id);
    appendFileSync(file, '{"seg2": 2, "se');
    await new Promise((r) => setTimeout(r, 300));
    expect(current(writer, id).metrics).toEqual({ seg1: 1 });
    expect(current(writer, id)["rejected_metrics"]).toBeUndefined();
    appendFileSync(file, 'g3": 3}\n');
    await waitFor(() => current(writer, id).metrics?.["seg3"] === 3, "the line, once whole");
    writeFileSync(go, "");
    const result = await handle.done;
    expect(result.record?.metrics).toMatchObject({ seg1: 1, seg2: 2, seg3: 3 });
    expect(result.record?.["rejected_metrics"]).toBeUndefined();
  });

  it("a value reported meanwhile (metrics report) is not overwritten by a live snapshot of other metrics", async () => {
    const { home, writer, runner } = setup();
    const { argv, go } = trainer(home, [{ seg1: 1, seg2: 2 }]);
    const id = await queued(writer, argv);
    const handle = runner.start((await runner.claim(id))!);
    await waitFor(() => current(writer, id).metrics?.["seg2"] === 2, "the first snapshot");
    await writer.update(id, (r) => ({ ...r, metrics: { ...(r.metrics ?? {}), seg2: 42 } }));
    appendFileSync(metricsPathOf(home, id), '{"seg1": 5}\n');
    await waitFor(() => current(writer, id).metrics?.["seg1"] === 5, "the next snapshot");
    expect(current(writer, id).metrics?.["seg2"]).toBe(42);
    writeFileSync(go, "");
    expect((await handle.done).record?.metrics).toMatchObject({ seg1: 5, seg2: 42 });
  });

  it("custom metrics are recorded, and the run's events and log carry a note on them; NaN and Infinity are refused per value", async () => {
    const { home, writer, runner, events } = setup();
    // As Python's json.dumps writes them.
    const code = `const fs = require("fs");
fs.appendFileSync(process.env.EXPFLOW_METRICS_FILE, '{"accuracy": 0.85, "val_loss": Infinity}\\n{"step": 2, "val_loss": NaN, "accuracy": 0.9}\\n');`;
    const id = await queued(writer, [process.execPath, script(home, "py.cjs", code)]);
    const result = await runner.start((await runner.claim(id))!).done;
    expect(result.record?.metrics).toMatchObject({ accuracy: 0.9 });
    expect(result.record?.["rejected_metrics"]).toEqual([
      { name: "val_loss", value: "Infinity", reason: "metric 'val_loss' has value Infinity: it must be a finite number" },
      { name: "val_loss", value: "NaN", reason: "metric 'val_loss' has value NaN: it must be a finite number" },
    ]);
    const note = events.find((e) => e.startsWith(`${id}: note: custom metric 'accuracy' (not registered) kept as reported`));
    expect(note).toBeDefined();
    expect(note).toContain("accuracy: {direction: lower} or {direction: higher}");
    expect(events).toContain(`${id}: warning: 2 metrics entries rejected (see ${logPathOf(home, id)})`);
    expect(readFileSync(logPathOf(home, id), "utf8")).toMatch(/note: custom metric 'accuracy'/);
  });

  it("metrics.strict: unregistered names are refused again, each with how to declare it", async () => {
    const { home, writer, runner } = setup(MetricRegistry.create({}, undefined, { strict: true }));
    const code = `require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify({ val_loss: 0.1, pde_mean: 14 }));`;
    const id = await queued(writer, [process.execPath, script(home, "strict.cjs", code)]);
    const result = await runner.start((await runner.claim(id))!).done;
    expect(result.record?.metrics).toMatchObject({ pde_mean: 14 });
    expect(result.record?.metrics).not.toHaveProperty("val_loss");
    expect(result.record?.["rejected_metrics"]).toEqual([{ name: "val_loss", value: 0.1, reason: expect.stringContaining("declare it with its direction under metrics: in expflow.yaml") }]);
  });

  it("the live snapshot interval: the poll interval while the run is young, then a thirtieth of its age, at most a minute", () => {
    expect(liveSnapshotInterval(0)).toBe(2_000);
    expect(liveSnapshotInterval(60_000)).toBe(2_000);
    expect(liveSnapshotInterval(600_000)).toBe(20_000);
    expect(liveSnapshotInterval(10 * 3_600_000)).toBe(60_000);
    expect(liveSnapshotInterval(10 * 3_600_000, 20)).toBe(60_000);
    expect(liveSnapshotInterval(100, 20)).toBe(20);
    // A ten-hour run that logs without pause: how many snapshots it appends at most.
    let n = 0;
    for (let t = 0; t < 10 * 3_600_000; t += liveSnapshotInterval(t)) n++;
    expect(n).toBeLessThan(800);
  });
});

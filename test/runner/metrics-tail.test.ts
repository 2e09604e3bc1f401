import { appendFileSync, closeSync, ftruncateSync, openSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MetricRegistry } from "../../src/core/metrics/registry.js";
import { DEFAULT_METRICS_FILE_LIMITS, ingestMetricsText, MetricsFileTail, MetricsIngest, MetricsLines, readMetricsFile } from "../../src/runner/metrics-file.js";
import { tempDir } from "../helpers/cli.js";

// The metrics file read while the run writes it (issue 14): incremental, bounded, and each value
// judged on its own.

const registry = MetricRegistry.standard();
const strict = MetricRegistry.create({}, undefined, { strict: true });

function tailOf(limits = DEFAULT_METRICS_FILE_LIMITS, reg = registry): { path: string; ingest: MetricsIngest; tail: MetricsFileTail } {
  const path = join(tempDir("expflow-tail-"), "m.jsonl");
  const ingest = new MetricsIngest(reg, limits);
  return { path, ingest, tail: new MetricsFileTail(path, new MetricsLines(ingest, limits), limits) };
}

describe("MetricsFileTail: reading while the run writes", () => {
  it("reads only what was appended since the last read; a missing file is nothing yet", () => {
    const { path, ingest, tail } = tailOf();
    expect(tail.read()).toEqual({ bytes: 0, more: false, notes: [] });
    writeFileSync(path, '{"step": 1, "pde_mean": 20}\n{"step": 2, "pde_mean": 19}\n');
    expect(tail.read().bytes).toBe(56);
    expect(ingest.accepted()).toEqual({ pde_mean: 19 });
    expect(tail.read().bytes).toBe(0);
    appendFileSync(path, '{"step": 3, "pde_mean": 18.5}\n');
    expect(tail.read().bytes).toBe(30);
    expect(ingest.history()["pde_mean"]).toEqual({ last: 18.5, min: 18.5, max: 20, count: 3, steps: [[1, 20], [2, 19], [3, 18.5]] });
  });

  it("a half-written line waits for the rest; a last line that is already a whole object is taken", () => {
    const { path, ingest, tail } = tailOf();
    writeFileSync(path, '{"seg1": 1}\n{"seg2": 2, "se');
    tail.read();
    expect(ingest.accepted()).toEqual({ seg1: 1 });
    appendFileSync(path, 'g3": 3}');
    tail.read();
    expect(ingest.accepted()).toEqual({ seg1: 1, seg2: 2, seg3: 3 });
    // Its line break, when it comes, is no line of its own: the next line is line 3.
    appendFileSync(path, "\nnot json\n");
    tail.read();
    expect(ingest.rejected()).toEqual([{ name: null, value: "not json", reason: "line 3 is not valid JSON" }]);
  });

  it("at the run's end a last line without its line break is read as it is", () => {
    const { path, ingest, tail } = tailOf();
    writeFileSync(path, '{"seg1": 1}\n{"seg1": 2');
    tail.read();
    expect(ingest.accepted()).toEqual({ seg1: 1 });
    tail.read({ final: true });
    expect(ingest.rejected()).toEqual([{ name: null, value: '{"seg1": 2', reason: "line 2 is not valid JSON" }]);
  });

  it("a file replaced by another is read again from its start, and the log is told once", () => {
    const { path, ingest, tail } = tailOf();
    writeFileSync(path, '{"seg1": 1}\n{"seg1": 2}\n');
    tail.read();
    const other = `${path}.new`;
    writeFileSync(other, '{"seg1": 7}\n');
    renameSync(other, path);
    const read = tail.read();
    expect(read.notes).toEqual([expect.stringMatching(/^the metrics file was replaced while the run went on: read again from its start/)]);
    expect(ingest.accepted()).toEqual({ seg1: 7 });
  });

  it("a file truncated, or rewritten in place to the same length (json.dump on every epoch), is read again from its start", () => {
    const { path, ingest, tail } = tailOf();
    writeFileSync(path, '{"seg1": 1}\n{"seg1": 2}\n');
    tail.read();
    truncateSync(path, 0);
    expect(tail.read().notes).toEqual([expect.stringMatching(/^the metrics file was truncated/)]);
    writeFileSync(path, '{"epochs": 1, "seg1": 0.5}');
    tail.read();
    expect(ingest.accepted()).toEqual({ seg1: 0.5, epochs: 1 });
    // The same number of bytes, other values: noticed by the bytes remembered at the start.
    writeFileSync(path, '{"epochs": 2, "seg1": 0.7}');
    expect(tail.read().notes).toEqual([expect.stringMatching(/^the metrics file was rewritten/)]);
    expect(ingest.accepted()).toEqual({ seg1: 0.7, epochs: 2 });
    writeFileSync(path, '{"epochs": 3, "seg1": 0.9}');
    // Said once: the run that rewrites its file every epoch does not fill its log with it.
    expect(tail.read().notes).toEqual([]);
    expect(ingest.history()["epochs"]?.steps).toEqual([[0, 1], [1, 2], [2, 3]]);
  });

  it("a line of 10 MB is refused without being kept in memory whole, written in pieces or at once; the lines around it count", () => {
    const { path, ingest, tail } = tailOf();
    writeFileSync(path, '{"seg1": 1}\n{"seg2": "');
    tail.read();
    const piece = "9".repeat(1024 * 1024);
    for (let i = 0; i < 10; i++) {
      appendFileSync(path, piece);
      tail.read();
    }
    appendFileSync(path, '"}\n{"seg3": 3}\n');
    tail.read();
    expect(ingest.accepted()).toEqual({ seg1: 1, seg3: 3 });
    expect(ingest.rejected()).toEqual([{ name: null, value: `{"seg2": "${"9".repeat(190)}`, reason: "line 2 is longer than 65536 characters" }]);
    const once = tailOf();
    writeFileSync(once.path, `{"seg1": 1}\n{"seg2": "${"9".repeat(10 * 1024 * 1024)}"}\n{"seg3": 3}\n`);
    while (once.tail.read().more) {
      // a look at a time
    }
    expect(once.ingest.accepted()).toEqual({ seg1: 1, seg3: 3 });
    expect(once.ingest.rejected().map((r) => r.reason)).toEqual(["line 2 is longer than 65536 characters"]);
  });

  it("each look reads at most maxReadBytes; what is left is read at the next", () => {
    const limits = { ...DEFAULT_METRICS_FILE_LIMITS, maxReadBytes: 100 };
    const { path, ingest, tail } = tailOf(limits);
    writeFileSync(path, '{"seg1": 1}\n'.repeat(50));
    const first = tail.read();
    expect(first.more).toBe(true);
    expect(first.bytes).toBeLessThanOrEqual(100);
    let looks = 1;
    while (tail.read().more) looks++;
    expect(looks).toBeGreaterThanOrEqual(5);
    expect(ingest.history()["seg1"]?.count).toBe(50);
  });

  it("a file that grows by gigabytes (sparse: 2 GiB of zero bytes) costs a bounded read: the backlog is skipped, and the last line still counts", () => {
    const { path, ingest, tail } = tailOf();
    writeFileSync(path, '{"seg1": 1}\n');
    tail.read();
    const fd = openSync(path, "r+");
    ftruncateSync(fd, 2 * 1024 * 1024 * 1024);
    closeSync(fd);
    appendFileSync(path, '\n{"seg1": 5}\n');
    let looks = 0;
    let bytes = 0;
    for (let more = true; more; looks++) {
      const r = tail.read({ final: true });
      bytes += r.bytes;
      more = r.more;
    }
    expect(bytes).toBeLessThanOrEqual(DEFAULT_METRICS_FILE_LIMITS.maxReadBytes);
    expect(looks).toBe(1);
    expect(ingest.accepted()).toEqual({ seg1: 5 });
    expect(ingest.rejected().map((r) => r.reason)).toEqual([expect.stringMatching(/^the metrics file grew faster than it is read: bytes 12 to \d+ of 2147483661 \(\d+ bytes\) were skipped, over the limit of 67108864 unread/)]);
  });
});

describe("MetricsIngest: each value judged on its own", () => {
  it("Python's bare NaN, Infinity and -Infinity parse; that value is refused with its reason, the rest of the line kept", () => {
    const r = ingestMetricsText('{"accuracy": 0.85, "val_loss": Infinity}\n{"seg1": NaN, "seg2": -Infinity, "seg3": 3, "note": "NaN Infinity"}\n', registry);
    expect(r.accepted).toEqual({ accuracy: 0.85, seg3: 3 });
    expect(r.rejected).toEqual([
      { name: "val_loss", value: "Infinity", reason: "metric 'val_loss' has value Infinity: it must be a finite number" },
      { name: "seg1", value: "NaN", reason: "metric 'seg1' has value NaN: it must be a finite number" },
      { name: "seg2", value: "-Infinity", reason: "metric 'seg2' has value -Infinity: it must be a finite number" },
      { name: "note", value: "NaN Infinity", reason: 'metric \'note\' has value "NaN Infinity": it must be a finite number' },
    ]);
    // Otherwise broken lines are refused whole, as before.
    expect(ingestMetricsText('{"seg1": 1, "seg2": Infinityx}\n{"seg1": NaN,}\n', registry).rejected.map((x) => x.reason)).toEqual(["line 1 is not valid JSON", "line 2 is not valid JSON"]);
  });

  it("unregistered names are kept as custom metrics; strict refuses them, saying how to declare one", () => {
    const text = '{"val_loss": 0.4, "lr": "3e-4", "pde_mean": 17}\n';
    const custom = ingestMetricsText(text, registry);
    expect(custom.accepted).toEqual({ val_loss: 0.4, lr: 0.0003, pde_mean: 17 });
    expect(custom.custom).toEqual(["val_loss", "lr"]);
    expect(custom.rejected).toEqual([]);
    const refused = ingestMetricsText(text, strict);
    expect(refused.accepted).toEqual({ pde_mean: 17 });
    expect(refused.rejected.map((x) => x.name)).toEqual(["val_loss", "lr"]);
    expect(refused.rejected[0]!.reason).toBe(
      "unknown metric 'val_loss' (metrics.strict is set in the configuration, so only registered metrics are kept). To keep it, declare it with its direction under metrics: in expflow.yaml (val_loss: {direction: lower} or {direction: higher})",
    );
  });

  it("values that are strings: a decimal number counts, anything else is refused", () => {
    const r = ingestMetricsText('{"seg1": "12.5", "seg2": "abc", "seg3": "", "val_acc": "0x10", "epochs": true}', registry);
    expect(r.accepted).toEqual({ seg1: 12.5 });
    expect(r.rejected.map((x) => [x.name, x.value])).toEqual([
      ["seg2", "abc"],
      ["seg3", ""],
      ["val_acc", "0x10"],
      ["epochs", true],
    ]);
  });

  it("a name with control characters, bidi controls, white space, or longer than 128 characters is refused, not kept as a custom metric", () => {
    const names = ["val\u001b[2Jloss", "a\u202eb", "a b", "x".repeat(129), "tab\there", "\u009bcsi"];
    const r = ingestMetricsText(JSON.stringify(Object.fromEntries(names.map((n) => [n, 1]))), registry);
    expect(r.accepted).toEqual({});
    expect(r.rejected).toHaveLength(names.length);
    for (const x of r.rejected) expect(x.reason).toMatch(/^not kept as a custom metric: a metric name must/);
  });

  it("step and iteration are the entry's step, not metrics; a bad step is refused and the values count without one", () => {
    const r = ingestMetricsText(
      ['{"step": 10, "val_loss": 0.5}', '{"iteration": 20, "val_loss": 0.4}', '{"step": "x", "val_loss": 0.3}', '{"step": 40, "iteration": 41, "val_loss": 0.2}', '{"step": 50, "iteration": 50, "val_loss": 0.1}'].join("\n"),
      registry,
    );
    expect(r.accepted).toEqual({ val_loss: 0.1 });
    expect(r.history["val_loss"]?.steps).toEqual([
      [10, 0.5],
      [20, 0.4],
      [2, 0.3],
      [40, 0.2],
      [50, 0.1],
    ]);
    expect(r.rejected).toEqual([
      { name: "step", value: "x", reason: "the entry's step must be a finite number; its values count without a step" },
      { name: "iteration", value: 41, reason: "the entry's step is given twice, as step 40 and as iteration: step is used" },
    ]);
  });

  it("100,000 distinct names: the first 1,000 are kept, the rest refused and counted; memory and the record's history stay bounded", () => {
    const ingest = new MetricsIngest(registry);
    const lines = new MetricsLines(ingest);
    for (let l = 0; l < 100; l++) {
      const o: Record<string, number> = {};
      for (let i = 0; i < 1000; i++) o[`m${l * 1000 + i}`] = i;
      lines.line(JSON.stringify(o), 0);
    }
    // Each kept metric gets 100 more entries: the history is thinned to fit the run's budget.
    for (let s = 0; s < 100; s++) {
      const o: Record<string, number> = {};
      for (let i = 0; i < 1000; i++) o[`m${i}`] = s;
      lines.line(JSON.stringify(o), 0);
    }
    expect(Object.keys(ingest.accepted())).toHaveLength(1000);
    const rejected = ingest.rejected();
    expect(rejected).toHaveLength(101);
    expect(rejected[0]).toEqual({ name: "m1000", value: 0, reason: "more than 1000 distinct metric names in one run" });
    expect(rejected[100]!.reason).toBe("98900 more rejected entries not kept (at most 100 are)");
    const history = ingest.history();
    expect(Object.values(history).every((h) => h.steps.length === 2 && h.count === 101)).toBe(true);
    expect(JSON.stringify(history).length).toBeLessThan(100_000);
  });

  it("takeChanges has what came since the last call, and nothing when nothing came", () => {
    const ingest = new MetricsIngest(registry);
    const lines = new MetricsLines(ingest);
    lines.line('{"seg1": 1, "seg2": 2}', 0);
    expect(ingest.takeChanges()).toMatchObject({ metrics: { seg1: 1, seg2: 2 }, rejected: undefined });
    expect(ingest.takeChanges()).toBeUndefined();
    lines.line('{"seg2": 3}', 0);
    const changes = ingest.takeChanges()!;
    // Only the metrics that got entries: a value reported meanwhile for the others stays.
    expect(changes.metrics).toEqual({ seg2: 3 });
    expect(Object.keys(changes.history)).toEqual(["seg1", "seg2"]);
    lines.line("oops", 0);
    expect(ingest.takeChanges()).toMatchObject({ metrics: {}, rejected: [{ reason: "line 3 is not valid JSON" }] });
    // A snapshot that could not be written is carried by the next one.
    lines.line('{"seg1": 9}', 0);
    const lost = ingest.takeChanges()!;
    ingest.restoreChanges(lost);
    expect(ingest.takeChanges()?.metrics).toEqual({ seg1: 9 });
  });

  it("readMetricsFile of a pretty-printed document, as json.dump(indent=2) writes it", () => {
    const path = join(tempDir("expflow-tail-"), "m.json");
    writeFileSync(path, JSON.stringify({ seg_total: 58.2, val_loss: 0.1 }, null, 2));
    expect(readMetricsFile(path, registry).accepted).toEqual({ seg_total: 58.2, val_loss: 0.1 });
  });
});

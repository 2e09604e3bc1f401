import { describe, expect, it } from "vitest";
import type { Experiment } from "../../src/core/experiment.js";
import { diffExperiments } from "../../src/core/experiment-diff.js";
import { MetricRegistry } from "../../src/core/metrics/registry.js";

const registry = MetricRegistry.standard();

function exp(id: string, extra: Partial<Experiment> = {}): Experiment {
  return { id, name: `n-${id}`, status: "completed", project: "P", tags: ["t"], created: null, metrics: {}, params: {}, ...extra };
}

const keys = (rows: readonly { kind: string; key: string }[]): string[] => rows.map((r) => `${r.kind}:${r.key}`);

describe("diffExperiments", () => {
  it("fields, then params in order of first appearance, then registered metrics in registry order, then custom ones", () => {
    const a = exp("a", { params: { "Args/--lr": "1e-3", "Args/--model": "unet" }, metrics: { custom_b: 1, pde_mean: 18, seg_total: 50 } });
    const b = exp("b", { params: { "Args/--epochs": "50", "Args/--lr": "1e-3" }, metrics: { custom_a: 2, seg_total: 50 } });
    const d = diffExperiments([a, b], registry, { all: true });
    expect(keys(d.rows)).toEqual([
      "field:name",
      "field:status",
      "field:project",
      "field:tags",
      "param:Args/--lr",
      "param:Args/--model",
      "param:Args/--epochs",
      "metric:seg_total",
      "metric:pde_mean",
      "metric:custom_b",
      "metric:custom_a",
    ]);
    expect(d.compared).toBe(11);
    // Only what differs by default: the name, a param present in one only, the metrics present in one only.
    const only = diffExperiments([a, b], registry);
    expect(keys(only.rows)).toEqual(["field:name", "param:Args/--model", "param:Args/--epochs", "metric:pde_mean", "metric:custom_b", "metric:custom_a"]);
    expect(only.differing).toBe(6);
    expect(only.compared).toBe(11);
  });

  it("marks each run against the first in the metric's direction, and where the best value is", () => {
    const runs = [exp("a", { metrics: { pde_mean: 18, seg_total: 50 } }), exp("b", { metrics: { pde_mean: 17, seg_total: 40 } }), exp("c", { metrics: { pde_mean: 18, seg_total: 60 } })];
    const d = diffExperiments(runs, registry);
    const pde = d.rows.find((r) => r.key === "pde_mean")!;
    expect(pde).toMatchObject({ kind: "metric", values: [18, 17, 18], differs: true, direction: "lower", marks: [null, "better", "same"], best: [1] });
    const seg = d.rows.find((r) => r.key === "seg_total")!;
    expect(seg).toMatchObject({ direction: "higher", marks: [null, "worse", "better"], best: [2] });
  });

  it("ties share the best; missing values have no mark and are never best; equal present values mark no best", () => {
    const d = diffExperiments([exp("a", { metrics: { pde_mean: 17 } }), exp("b", { metrics: { pde_mean: 17 } }), exp("c", { metrics: { pde_mean: 19 } }), exp("d")], registry);
    expect(d.rows.find((r) => r.key === "pde_mean")).toMatchObject({ values: [17, 17, 19, null], marks: [null, "same", "worse", null], best: [0, 1] });
    const lone = diffExperiments([exp("a", { metrics: { pde_mean: 17 } }), exp("b")], registry).rows.find((r) => r.key === "pde_mean")!;
    expect(lone).toMatchObject({ differs: true, marks: [null, null], best: [] });
    const equal = diffExperiments([exp("a", { metrics: { pde_mean: 17 } }), exp("b", { metrics: { pde_mean: 17 } }), exp("c")], registry).rows.find((r) => r.key === "pde_mean")!;
    expect(equal).toMatchObject({ differs: true, marks: [null, "same", null], best: [] });
  });

  it("a missing first value leaves every mark empty, but the best is still found among the others", () => {
    const row = diffExperiments([exp("a"), exp("b", { metrics: { seg_total: 3 } }), exp("c", { metrics: { seg_total: 4 } })], registry).rows.find((r) => r.key === "seg_total")!;
    expect(row).toMatchObject({ values: [null, 3, 4], marks: [null, null, null], best: [2] });
  });

  it("values that are not finite numbers count as missing: NaN equals absence, a string is no number", () => {
    const d = diffExperiments([exp("a", { metrics: { pde_mean: Number.NaN, seg_total: "55" } }), exp("b", { metrics: { seg_total: null } })], registry, { all: true });
    expect(d.rows.find((r) => r.key === "pde_mean")).toMatchObject({ values: [null, null], differs: false, marks: [null, null] });
    expect(d.rows.find((r) => r.key === "seg_total")).toMatchObject({ values: [null, null], differs: false });
    expect(d.differing).toBe(1); // the name
    expect(diffExperiments([exp("a", { metrics: { x: Number.POSITIVE_INFINITY } }), exp("b", { metrics: { x: 1 } })], registry).rows.at(-1)).toMatchObject({ key: "x", values: [null, 1] });
  });

  it("custom metrics are compared but not marked; a qualified name keeps its metric's direction", () => {
    const d = diffExperiments([exp("a", { metrics: { val_loss: 0.3, "PDE/pde_mean": 18 } }), exp("b", { metrics: { val_loss: 0.2, "PDE/pde_mean": 17 } })], registry);
    expect(d.rows.find((r) => r.key === "val_loss")).toMatchObject({ differs: true, direction: null, marks: [null, null], best: [] });
    expect(d.rows.find((r) => r.key === "PDE/pde_mean")).toMatchObject({ direction: "lower", marks: [null, "better"], best: [1] });
  });

  it("an alias is read under its canonical name, the canonical value winning", () => {
    const mine = MetricRegistry.create({ val_acc: { direction: "higher", aliases: ["vacc"] } });
    const d = diffExperiments([exp("a", { metrics: { vacc: 0.8 } }), exp("b", { metrics: { val_acc: 0.9, vacc: 0.1 } })], mine);
    expect(d.rows.filter((r) => r.kind === "metric")).toEqual([{ kind: "metric", key: "val_acc", values: [0.8, 0.9], differs: true, direction: "higher", marks: [null, "better"], best: [1] }]);
  });

  it("params compare as text; tags as a set; an empty name, project or tag list is missing", () => {
    const d = diffExperiments(
      [exp("a", { name: "", project: null, tags: ["y", "x", "x"], params: { "Args/--lr": "3e-4" } }), exp("b", { name: null, project: "", tags: ["x", "y"], params: { "Args/--lr": "0.0003" } })],
      registry,
      { all: true },
    );
    expect(d.rows.find((r) => r.key === "Args/--lr")).toMatchObject({ values: ["3e-4", "0.0003"], differs: true, marks: [null, null], direction: null });
    expect(d.rows.find((r) => r.key === "tags")).toMatchObject({ values: ["x,y", "x,y"], differs: false });
    expect(d.rows.find((r) => r.key === "name")).toMatchObject({ values: [null, null], differs: false });
    expect(d.rows.find((r) => r.key === "project")).toMatchObject({ values: [null, null], differs: false });
    const none = diffExperiments([exp("a", { tags: [] }), exp("b", { tags: ["t"] })], registry).rows.find((r) => r.key === "tags")!;
    expect(none.values).toEqual([null, "t"]);
  });

  it("runs with no params and no metrics compare by their fields alone", () => {
    const d = diffExperiments([exp("a"), exp("b")], registry, { all: true });
    expect(keys(d.rows)).toEqual(["field:name", "field:status", "field:project", "field:tags"]);
    expect(d.differing).toBe(1);
  });

  it("reads only own keys: a param or metric named like an Object property is data", () => {
    const metrics = JSON.parse('{"__proto__": 5, "constructor": 1}') as Record<string, unknown>;
    const d = diffExperiments([exp("a", { metrics }), exp("b", { params: JSON.parse('{"toString": "x"}') as Record<string, string> })], registry);
    expect(keys(d.rows)).toEqual(["field:name", "param:toString", "metric:__proto__", "metric:constructor"]);
    expect(d.rows.find((r) => r.key === "__proto__")!.values).toEqual([5, null]);
  });
});

import { describe, expect, it } from "vitest";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import { importTaskMetrics } from "../../../src/executors/clearml/clearml-executor.js";
import { FORCED_STOP_REASON, lifecycleTarget, taskStateOf } from "../../../src/executors/clearml/task-state.js";
import { lastMetrics } from "../../../fake-clearml/tasks.js";

describe("lifecycleTarget: ClearML statuses as lifecycle states", () => {
  it.each([
    ["created", null, "created"],
    ["queued", null, "queued"],
    ["in_progress", null, "running"],
    ["completed", null, "completed"],
    ["published", null, "completed"],
    ["publishing", null, "completed"],
    ["closed", null, "completed"],
    ["failed", "worker execution exit code 3", "failed"],
    ["stopped", "task was stopped by tasks.stop", "cancelled"],
    ["stopped", FORCED_STOP_REASON, "failed"],
    ["stopped", ` ${FORCED_STOP_REASON} `, "failed"],
    ["unknown", null, undefined],
  ] as const)("%s (%s) -> %s", (status, statusReason, expected) => {
    expect(lifecycleTarget({ status, statusReason })).toBe(expected);
  });

  it("reads a projected task: the queue from execution.queue, archived from the system tags, nothing invented", () => {
    expect(taskStateOf({ id: "t1", status: "queued", execution: { queue: "q1" }, system_tags: ["archived"], status_reason: "" })).toEqual({
      id: "t1",
      status: "queued",
      statusReason: null,
      statusMessage: null,
      statusChanged: null,
      lastWorker: null,
      queueId: "q1",
      archived: true,
    });
    expect(taskStateOf({ id: "t2" }).status).toBe("unknown");
  });
});

describe("importTaskMetrics: a task's last values through the metric registry", () => {
  const registry = MetricRegistry.standard();

  it("takes registered metrics (0 and negative values too) and keeps the others as custom metrics, as a metrics file does", () => {
    const { values, leftOut } = importTaskMetrics(lastMetrics({ Score: { seg_total: 0 }, PDE: { pde_mean: -1.5 }, Loss: { my_loss: 2 } }), registry);
    expect(values).toEqual({ seg_total: 0, pde_mean: -1.5, my_loss: 2 });
    expect(leftOut).toEqual([]);
  });

  it("with metrics.strict, or for a name that cannot be a metric's, leaves the others out and names them", () => {
    const strict = MetricRegistry.create({}, undefined, { strict: true });
    const { values, leftOut } = importTaskMetrics(lastMetrics({ Score: { seg_total: 0.5 }, Loss: { my_loss: 2 } }), strict);
    expect(values).toEqual({ seg_total: 0.5 });
    expect(leftOut).toEqual(["my_loss"]);
    // A variant with white space or a control character cannot be a metric's name: named, never kept.
    const odd = importTaskMetrics(lastMetrics({ Custom: { fine_name: 1, "two words": 3, "bell\u0007": 4 } }), registry);
    expect(odd.values).toEqual({ fine_name: 1 });
    expect(odd.leftOut.sort()).toEqual(["bell\u0007", "two words"]);
  });

  it("a variant under two titles is taken from the title that is its metric's group, never guessed otherwise", () => {
    const group = registry.get("seg_total")!.group;
    const both = importTaskMetrics(lastMetrics({ [group]: { seg_total: 0.8 }, Other: { seg_total: 0.1 } }), registry);
    expect(both.values).toEqual({ seg_total: 0.8 });
    expect(both.leftOut).toEqual([]);
    const neither = importTaskMetrics(lastMetrics({ A: { seg_total: 0.8 }, B: { seg_total: 0.1 } }), registry);
    expect(neither.values).toEqual({});
    expect(neither.leftOut.sort()).toEqual(["A/seg_total", "B/seg_total"]);
  });
});

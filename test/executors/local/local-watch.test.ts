import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import { LocalExecutor } from "../../../src/executors/local/local-executor.js";
import { waitFor } from "../../helpers/runs.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function executor(): { ex: LocalExecutor; put: (r: Record<string, unknown>) => void } {
  const home = mkdtempSync(join(tmpdir(), "expflow-watch-ex-"));
  made.push(home);
  const path = join(home, "experiments.jsonl");
  writeFileSync(path, "");
  const ex = new LocalExecutor({ path, home, metrics: MetricRegistry.standard(), host: "h", env: {}, cwd: home, writer: { now: () => new Date(), who: "t@h" } });
  return { ex, put: (r) => appendFileSync(path, `${JSON.stringify(r)}\n`) };
}

describe("LocalExecutor.watch", () => {
  it("reads the run again only when the registry changed, and ends at once when aborted in its sleep", async () => {
    const { ex, put } = executor();
    put({ experiment_id: "exp-w1", status: "queued" });
    const require = vi.spyOn(ex.store, "require");
    const seen: string[] = [];
    const controller = new AbortController();
    const done = (async () => {
      for await (const e of ex.watch("exp-w1", { intervalMs: 5, signal: controller.signal })) seen.push(e.status);
    })();
    await waitFor(() => seen.length === 1, "the first state");
    // Idle polls: a stat each, no read of the run.
    await new Promise((r) => setTimeout(r, 100));
    expect(require).toHaveBeenCalledTimes(1);
    put({ experiment_id: "exp-w1", status: "running" });
    await waitFor(() => seen.length === 2, "the new state");
    expect(require).toHaveBeenCalledTimes(2);
    controller.abort();
    await done;
    expect(seen).toEqual(["queued", "running"]);

    // A sleep of a minute is cut short by the abort (the test's timeout would catch a wait).
    const slow = new AbortController();
    const states: string[] = [];
    const long = (async () => {
      for await (const e of ex.watch("exp-w1", { intervalMs: 60_000, signal: slow.signal })) states.push(e.status);
    })();
    await waitFor(() => states.length === 1, "the first state");
    slow.abort();
    await long;
    expect(states).toEqual(["running"]);
  });
});

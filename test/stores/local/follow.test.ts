import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LocalStore } from "../../../src/stores/local/local-store.js";
import { record, writeRegistry } from "../../helpers/cli.js";

const writer = { now: () => new Date("2026-12-01T10:00:00.000Z"), who: "tester@host" };

function lines(path: string): number {
  return readFileSync(path, "utf8").trimEnd().split("\n").length;
}

describe("LocalStore.follow: a linked run follows its remote task through the state machine", () => {
  it("reaches a far state one event at a time, every step in the history, in one snapshot", async () => {
    const path = writeRegistry([record("r1", {}, { status: "queued", history: [] })]);
    const store = new LocalStore({ path, writer });
    const done = await store.follow("r1", () => ({ target: "failed", fields: { clearml: { status: "failed" } }, reason: "worker execution exit code 3" }));
    expect(done.events).toEqual(["fail"]);
    expect(done.record).toMatchObject({ status: "failed", reason: "worker execution exit code 3", clearml: { status: "failed" }, rev: 1 });
    const far = writeRegistry([record("r2", {}, { status: "dispatched", history: [] })]);
    const s2 = new LocalStore({ path: far, writer });
    const moved = await s2.follow("r2", () => ({ target: "completed" }));
    expect(moved.events).toEqual(["queue", "start", "complete"]);
    expect((moved.record.history as { event: string; from: string; to: string }[]).map((h) => `${h.event}:${h.from}->${h.to}`)).toEqual([
      "queue:dispatched->queued",
      "start:queued->running",
      "complete:running->completed",
    ]);
    expect(lines(far)).toBe(2);
  });

  it("appends nothing when nothing changes", async () => {
    const path = writeRegistry([record("r1", {}, { status: "running", clearml: { status: "in_progress" } })]);
    const store = new LocalStore({ path, writer });
    const same = await store.follow("r1", () => ({ target: "running", fields: { clearml: { status: "in_progress" } } }));
    expect(same.written).toBe(false);
    expect(lines(path)).toBe(1);
    const skip = await store.follow("r1", () => undefined);
    expect(skip.written).toBe(false);
    expect(lines(path)).toBe(1);
  });

  it("never moves a finished run back (blocked), but still keeps what the task says", async () => {
    const path = writeRegistry([record("r1", {}, { status: "completed" })]);
    const store = new LocalStore({ path, writer });
    const r = await store.follow("r1", () => ({ target: "running", fields: { clearml: { status: "in_progress" } } }));
    expect(r.blocked).toEqual({ from: "completed", to: "running" });
    expect(r.record).toMatchObject({ status: "completed", clearml: { status: "in_progress" } });
    expect(r.written).toBe(true);
    expect(lines(path)).toBe(2);
  });
});

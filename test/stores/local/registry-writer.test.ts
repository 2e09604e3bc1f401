import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, UsageError } from "../../../src/core/errors.js";
import type { HistoryEntry, RunEvent } from "../../../src/core/lifecycle/lifecycle.js";
import { allowedEvents, TRANSITIONS } from "../../../src/core/lifecycle/lifecycle.js";
import { newExperimentId } from "../../../src/stores/local/ids.js";
import { LocalStore } from "../../../src/stores/local/local-store.js";
import type { RegistryRecord } from "../../../src/stores/local/record.js";
import { readOne, readRaw, RegistryWriter } from "../../../src/stores/local/registry-writer.js";
import { resolvePrefix as resolveId } from "../../../src/stores/store.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
/** A fresh temporary directory, removed after this file's tests. */
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

const T0 = Date.UTC(2031, 0, 15, 8, 0, 0);

/** A clock that moves one second each time it is read, so every snapshot has its own time. */
function tickingClock(start = T0): { now: () => Date; reads: () => number } {
  let n = 0;
  return { now: () => new Date(start + 1000 * n++), reads: () => n };
}

const iso = (k: number): string => new Date(T0 + 1000 * k).toISOString();

function fresh(who = "tester@host"): { path: string; writer: RegistryWriter } {
  const path = join(tempDir("expflow-writer-"), "experiments.jsonl");
  return { path, writer: new RegistryWriter(path, { now: tickingClock().now, who }) };
}

/** Every line of the file parsed (throws on a damaged one). */
function lines(path: string): RegistryRecord[] {
  const text = readFileSync(path, "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text.slice(0, -1).split("\n").map((l) => JSON.parse(l) as RegistryRecord);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection, got none");
}

const base = (id: string, extra: Partial<RegistryRecord> = {}): RegistryRecord => ({
  experiment_id: id,
  name: `run-${id}`,
  status: "created",
  project: "P",
  tags: ["t"],
  metrics: {},
  params: { lr: "3e-4" },
  ...extra,
});

describe("RegistryWriter: snapshots", () => {
  it("create, then updates: complete snapshots with rev 1, 2, 3 and updated_at from the clock", async () => {
    const { path, writer } = fresh();
    const created = await writer.create(base("exp-a"));
    expect(created).toEqual({ ...base("exp-a"), rev: 1, updated_at: iso(0) });
    await writer.update("exp-a", (r) => ({ ...r, metrics: { pde_mean: 16.2 } }));
    const third = await writer.update("exp-a", (r) => ({ ...r, status: "dispatched" }));
    expect(third).toEqual({ ...base("exp-a"), metrics: { pde_mean: 16.2 }, status: "dispatched", rev: 3, updated_at: iso(2) });

    const all = lines(path);
    expect(all).toEqual([
      { ...base("exp-a"), rev: 1, updated_at: iso(0) },
      { ...base("exp-a"), metrics: { pde_mean: 16.2 }, rev: 2, updated_at: iso(1) },
      { ...base("exp-a"), metrics: { pde_mean: 16.2 }, status: "dispatched", rev: 3, updated_at: iso(2) },
    ]);
  });

  it("the latest line wins, for readOne, readRaw and LocalStore", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    await writer.create(base("exp-b"));
    await writer.update("exp-a", (r) => ({ ...r, name: "renamed" }));
    await writer.update("exp-b", (r) => ({ ...r, metrics: { seg_total: 50 } }));
    await writer.update("exp-a", (r) => ({ ...r, metrics: { seg_total: 60 } }));

    expect(readOne(path, "exp-a")).toMatchObject({ name: "renamed", metrics: { seg_total: 60 }, rev: 3 });
    expect(readOne(path, "exp-b")).toMatchObject({ name: "run-exp-b", metrics: { seg_total: 50 }, rev: 2 });
    const raw = readRaw(path);
    expect(raw.lines).toBe(5);
    expect(raw.damaged).toEqual([]);
    expect([...raw.records.keys()]).toEqual(["exp-a", "exp-b"]);
    expect(raw.records.get("exp-a")?.rev).toBe(3);
    const listed = await new LocalStore({ path }).list();
    expect(listed.map((e) => [e.id, e.name, e.metrics])).toEqual([
      ["exp-a", "renamed", { seg_total: 60 }],
      ["exp-b", "run-exp-b", { seg_total: 50 }],
    ]);
  });

  it("readOne does not confuse an id with a longer one that contains it", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-1"));
    await writer.create(base("exp-12"));
    await writer.update("exp-12", (r) => ({ ...r, name: "twelve" }));
    expect(readOne(path, "exp-1")?.name).toBe("run-exp-1");
    expect(readOne(path, "exp-12")?.name).toBe("twelve");
    expect(readOne(path, "exp-")).toBeUndefined();
  });

  it("updates a record of the earlier Python tool (no rev): rev becomes 1, then 2", async () => {
    const path = join(tempDir("expflow-writer-"), "experiments.jsonl");
    // As Python's json.dumps writes it: spaces after separators, NaN for a missing value.
    writeFileSync(path, '{"experiment_id": "exp-74dc9ff8", "status": "running", "metrics": {"pde_mean": NaN, "seg1": 18}, "timestamp": "2026-10-01T10:40:46.032"}\n');
    const writer = new RegistryWriter(path, { now: tickingClock().now, who: "u@h" });
    const first = await writer.update("exp-74dc9ff8", (r) => ({ ...r, metrics: { ...r.metrics, seg2: 20 } }));
    expect(first).toEqual({
      experiment_id: "exp-74dc9ff8",
      status: "running",
      metrics: { pde_mean: null, seg1: 18, seg2: 20 },
      timestamp: "2026-10-01T10:40:46.032",
      rev: 1,
      updated_at: iso(0),
    });
    const second = await writer.transition("exp-74dc9ff8", "complete");
    expect(second.rev).toBe(2);
    expect(second.status).toBe("completed");
    expect(second.history).toEqual([{ event: "complete", from: "running", to: "completed", time: iso(1), who: "u@h" }]);
    // The Python line is kept as it was: the file is only ever appended to.
    expect(readFileSync(path, "utf8").startsWith('{"experiment_id": "exp-74dc9ff8", "status": "running"')).toBe(true);
  });

  it("a non-numeric rev counts as none", async () => {
    const path = join(tempDir("expflow-writer-"), "experiments.jsonl");
    writeFileSync(path, `${JSON.stringify({ experiment_id: "exp-x", rev: "7" })}\n`);
    const writer = new RegistryWriter(path, { now: tickingClock().now, who: "u@h" });
    expect((await writer.update("exp-x", (r) => r)).rev).toBe(1);
  });

  it("a duplicate create is E_DUPLICATE_ID and writes nothing", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    const before = readFileSync(path, "utf8");
    const e = await rejection(writer.create(base("exp-a", { name: "again" })));
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as ConflictError).code).toBe("E_DUPLICATE_ID");
    expect((e as ConflictError).exitCode).toBe(2);
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("create ignores a rev or updated_at it is given", async () => {
    const { writer } = fresh();
    expect(await writer.create({ ...base("exp-a"), rev: 9, updated_at: "1999-01-01T00:00:00.000Z" })).toMatchObject({ rev: 1, updated_at: iso(0) });
  });

  it("update of an unknown id is NotFoundError and writes nothing", async () => {
    const { path, writer } = fresh();
    let e = await rejection(writer.update("exp-nope", (r) => r));
    expect(e).toBeInstanceOf(NotFoundError);
    expect((e as NotFoundError).code).toBe("E_EXPERIMENT_NOT_FOUND");
    await writer.create(base("exp-a"));
    const before = readFileSync(path, "utf8");
    e = await rejection(writer.update("exp-nope", (r) => r));
    expect(e).toBeInstanceOf(NotFoundError);
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("update keeps the id even when the change alters it", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    await writer.update("exp-a", (r) => ({ ...r, experiment_id: "exp-other" }));
    expect(readRaw(path).records.has("exp-other")).toBe(false);
    expect(readOne(path, "exp-a")?.rev).toBe(2);
  });

  it("a change that throws writes nothing", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    const before = readFileSync(path, "utf8");
    await expect(
      writer.update("exp-a", () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(readFileSync(path, "utf8")).toBe(before);
    // The lock was released: the next change goes through.
    expect((await writer.update("exp-a", (r) => r)).rev).toBe(2);
  });

  it("parallel updates in one process are serialised: every change survives", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    const names = Array.from({ length: 12 }, (_v, i) => `m${i}`);
    await Promise.all(names.map((m, i) => writer.update("exp-a", (r) => ({ ...r, metrics: { ...r.metrics, [m]: i } }))));
    const last = readOne(path, "exp-a")!;
    expect(last.rev).toBe(13);
    expect(last.metrics).toEqual(Object.fromEntries(names.map((m, i) => [m, i])));
    expect(lines(path).map((l) => l.rev)).toEqual(Array.from({ length: 13 }, (_v, i) => i + 1));
  });
});

describe("RegistryWriter: lifecycle", () => {
  it("transition records history {event, from, to, time, who}, and a reason when given", async () => {
    const { path, writer } = fresh("ana@gpu-1");
    await writer.create(base("exp-a"));
    await writer.transition("exp-a", "dispatch");
    await writer.transition("exp-a", "queue", () => ({ queue: "gpu" }));
    await writer.transition("exp-a", "start");
    const failed = await writer.transition("exp-a", "fail", () => ({ exit_code: 3 }), "exit code 3");
    expect(failed).toMatchObject({ status: "failed", queue: "gpu", exit_code: 3, rev: 5 });
    // Each update reads the clock twice (history entry, then updated_at).
    expect(failed.history).toEqual([
      { event: "dispatch", from: "created", to: "dispatched", time: iso(1), who: "ana@gpu-1" },
      { event: "queue", from: "dispatched", to: "queued", time: iso(3), who: "ana@gpu-1" },
      { event: "start", from: "queued", to: "running", time: iso(5), who: "ana@gpu-1" },
      { event: "fail", from: "running", to: "failed", time: iso(7), who: "ana@gpu-1", reason: "exit code 3" },
    ]);
    expect(readOne(path, "exp-a")).toEqual(failed);
  });

  it("regression (issue 12): a record without a status is unknown for transitions too, as it lists; no lifecycle event applies to it", async () => {
    const path = join(tempDir("expflow-writer-"), "experiments.jsonl");
    writeFileSync(path, `${JSON.stringify({ experiment_id: "exp-x" })}\n`);
    const writer = new RegistryWriter(path, { now: tickingClock().now, who: "u@h" });
    // Listed as unknown (never ranked or certified as completed) ...
    expect(new LocalStore({ path }).snapshot().experiments[0]).toMatchObject({ status: "unknown" });
    // ... and no longer taken for created by a cancel or a dispatch.
    for (const event of ["dispatch", "cancel"] as const) {
      const e = await rejection(writer.transition("exp-x", event));
      expect(e).toMatchObject({ code: "E_ILLEGAL_TRANSITION", message: expect.stringContaining("it is unknown") as unknown });
    }
  });

  it("an illegal transition throws E_ILLEGAL_TRANSITION naming the id and writes nothing", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    const before = readFileSync(path, "utf8");
    const e = await rejection(writer.transition("exp-a", "complete"));
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as ConflictError).code).toBe("E_ILLEGAL_TRANSITION");
    expect((e as Error).message).toBe("cannot complete exp-a: it is created; allowed from created: dispatch, cancel");
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("archive, restore, archive, delete: only terminal runs, history kept, delete is a tombstone", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    await expect(writer.archive("exp-a", "archive")).rejects.toMatchObject({ code: "E_ILLEGAL_TRANSITION" });
    await expect(writer.archive("exp-a", "delete")).rejects.toMatchObject({ code: "E_ILLEGAL_TRANSITION" });
    await writer.transition("exp-a", "cancel");
    await expect(writer.archive("exp-a", "restore")).rejects.toMatchObject({ code: "E_ILLEGAL_TRANSITION" });
    expect(await writer.archive("exp-a", "archive")).toMatchObject({ archived: true, status: "cancelled" });
    await expect(writer.archive("exp-a", "archive")).rejects.toMatchObject({ code: "E_ILLEGAL_TRANSITION" });
    expect(await writer.archive("exp-a", "restore")).toMatchObject({ archived: false });
    await writer.archive("exp-a", "archive");
    const deleted = await writer.archive("exp-a", "delete");
    expect(deleted).toMatchObject({ deleted: true, archived: true, rev: 6 });
    expect((deleted.history as HistoryEntry[]).map((h) => [h.event, h.from, h.to])).toEqual([
      ["cancel", "created", "cancelled"],
      ["archive", "cancelled", "cancelled"],
      ["restore", "cancelled", "cancelled"],
      ["archive", "cancelled", "cancelled"],
      ["delete", "cancelled", "cancelled"],
    ]);
    // Gone for readers and for further changes; the tombstone stays in the raw file.
    expect(readOne(path, "exp-a")).toBeUndefined();
    expect(readRaw(path).records.get("exp-a")?.deleted).toBe(true);
    expect(await new LocalStore({ path }).list()).toEqual([]);
    await expect(writer.update("exp-a", (r) => r)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("the history recorded equals the sequence of applied events (property)", async () => {
    const events = Object.keys(TRANSITIONS) as RunEvent[];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...events), { maxLength: 12 }), async (seq) => {
        const { path, writer } = fresh();
        await writer.create(base("exp-p"));
        const applied: RunEvent[] = [];
        let state = "created";
        for (const event of seq) {
          if (allowedEvents(state).includes(event)) {
            state = (await writer.transition("exp-p", event)).status!;
            applied.push(event);
          } else {
            await expect(writer.transition("exp-p", event)).rejects.toMatchObject({ code: "E_ILLEGAL_TRANSITION" });
          }
        }
        const last = readOne(path, "exp-p")!;
        const history = (last.history ?? []) as HistoryEntry[];
        expect(history.map((h) => h.event)).toEqual(applied);
        expect(last.status).toBe(state);
        expect(last.rev).toBe(1 + applied.length);
        // Consecutive entries chain: each starts where the previous one ended.
        let from = "created";
        for (const h of history) {
          expect(h.from).toBe(from);
          from = h.to;
        }
        expect(from).toBe(state);
        // One line per applied event, nothing for the refused ones.
        expect(lines(path)).toHaveLength(1 + applied.length);
      }),
      { numRuns: 40 },
    );
  });
});

describe("resolveId", () => {
  const ids = ["exp-aaaa0001", "exp-aaaa0002", "exp-bbbb0001", "exp-b"];

  it("an exact id", () => {
    expect(resolveId(ids, "exp-aaaa0002", "reg")).toBe("exp-aaaa0002");
  });

  it("an exact id wins over the longer ids it prefixes", () => {
    expect(resolveId(ids, "exp-b", "reg")).toBe("exp-b");
  });

  it("a unique prefix", () => {
    expect(resolveId(ids, "exp-bb", "reg")).toBe("exp-bbbb0001");
    expect(resolveId(ids, "exp-aaaa0001", "reg")).toBe("exp-aaaa0001");
  });

  it("an ambiguous prefix: UsageError E_AMBIGUOUS_ID listing the candidates", () => {
    let e: unknown;
    try {
      resolveId(ids, "exp-aaaa", "reg");
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).code).toBe("E_AMBIGUOUS_ID");
    expect((e as UsageError).exitCode).toBe(2);
    expect((e as Error).message).toBe("'exp-aaaa' matches 2 experiments: exp-aaaa0001, exp-aaaa0002");
    expect((e as UsageError).hint).toContain("more of the id");
  });

  it("an ambiguous prefix with many candidates lists ten and elides the rest", () => {
    const many = Array.from({ length: 14 }, (_v, i) => `exp-${String(i).padStart(3, "0")}`);
    expect(() => resolveId(many, "exp-", "reg")).toThrow(/^'exp-' matches 14 experiments: exp-000, .*exp-009, \.\.\.$/);
  });

  it("an unknown id: NotFoundError naming the registry", () => {
    let e: unknown;
    try {
      resolveId(ids, "exp-zz", "/tmp/reg.jsonl");
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(NotFoundError);
    expect((e as NotFoundError).code).toBe("E_EXPERIMENT_NOT_FOUND");
    expect((e as Error).message).toContain("/tmp/reg.jsonl");
    expect(() => resolveId([], "exp", "reg")).toThrow(NotFoundError);
  });
});

describe("a torn last line", () => {
  it("the next append starts on a fresh line; old records and the new one read back; the fragment is reported", async () => {
    const { path, writer } = fresh();
    await writer.create(base("exp-a"));
    await writer.create(base("exp-b"));
    // A writer that died mid-append: part of a line, no line break.
    const fragment = JSON.stringify({ ...base("exp-a"), rev: 2, name: "lost" }).slice(0, 45);
    appendFileSync(path, fragment);

    await writer.create(base("exp-c"));
    await writer.update("exp-a", (r) => ({ ...r, name: "kept" }));

    const text = readFileSync(path, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    const all = text.slice(0, -1).split("\n");
    expect(all).toHaveLength(5);
    expect(all[2]).toBe(fragment);
    expect(JSON.parse(all[3]!)).toMatchObject({ experiment_id: "exp-c", rev: 1 });

    const raw = readRaw(path);
    expect([...raw.records.keys()]).toEqual(["exp-a", "exp-b", "exp-c"]);
    expect(raw.damaged).toHaveLength(1);
    expect(raw.damaged[0]!.line).toBe(3);
    expect(raw.damaged[0]!.reason).toMatch(/not valid JSON/);
    expect(readOne(path, "exp-a")).toMatchObject({ name: "kept", rev: 2 });

    const warnings: string[] = [];
    const listed = await new LocalStore({ path, onWarning: (m) => warnings.push(m) }).list();
    expect(listed.map((e) => e.id)).toEqual(["exp-a", "exp-b", "exp-c"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("line 3 skipped");
  });

  it("a file that ends without a line break after a complete record keeps that record", async () => {
    const path = join(tempDir("expflow-writer-"), "experiments.jsonl");
    writeFileSync(path, JSON.stringify(base("exp-a")));
    const writer = new RegistryWriter(path, { now: tickingClock().now, who: "u@h" });
    await writer.create(base("exp-b"));
    const raw = readRaw(path);
    expect(raw.damaged).toEqual([]);
    expect([...raw.records.keys()]).toEqual(["exp-a", "exp-b"]);
  });

  it("a missing file is created by the first append", async () => {
    const { path, writer } = fresh();
    expect(readRaw(path)).toEqual({ records: new Map(), texts: new Map(), damaged: [], lines: 0 });
    expect(readOne(path, "exp-a")).toBeUndefined();
    await writer.create(base("exp-a"));
    expect(lines(path)).toHaveLength(1);
  });
});

describe("newExperimentId", () => {
  it("100,000 ids: all distinct, all exp- and 12 base-32 characters", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const id = newExperimentId();
      if (!/^exp-[0-9a-z]{12}$/.test(id)) throw new Error(`bad id ${id}`);
      seen.add(id);
    }
    expect(seen.size).toBe(100_000);
  });

  it("uses Crockford's lower-case alphabet: never i, l, o or u", () => {
    const chars = new Set(Array.from({ length: 5_000 }, () => newExperimentId().slice(4)).join(""));
    for (const c of "ilou") expect(chars.has(c)).toBe(false);
    // 60,000 characters drawn from 32: every one of them shows up.
    expect(chars.size).toBe(32);
  });
});

describe("readOne and ids outside the id rule", () => {
  it("finds no record by a non-ASCII id (Python's escaped \\u00e9 included): such lines are damaged", () => {
    const dir = mkdtempSync(join(tmpdir(), "expflow-readone-"));
    const path = join(dir, "experiments.jsonl");
    writeFileSync(path, '{"experiment_id": "exp-caf\\u00e9", "status": "completed"}\n{"experiment_id": "other", "status": "queued"}\n');
    expect(readOne(path, "exp-café")).toBeUndefined();
    expect(readOne(path, "other")).toMatchObject({ status: "queued" });
    expect(readOne(path, "missing")).toBeUndefined();
    expect(readRaw(path).damaged).toEqual([{ line: 1, reason: expect.stringContaining("is not a valid id") }]);
  });

  it("refuses to create or update a record under an id that is a path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "expflow-badid-"));
    const path = join(dir, "experiments.jsonl");
    const writer = new RegistryWriter(path, { now: () => new Date("2026-01-01T00:00:00Z"), who: "t@h" });
    await expect(writer.create({ experiment_id: "../experiments", status: "created" })).rejects.toMatchObject({ code: "E_BAD_ID", exitCode: 2 });
    await expect(writer.update("../x", (r) => r)).rejects.toMatchObject({ code: "E_BAD_ID" });
    expect(() => resolveId(["exp-1"], "", path)).toThrow(/never empty/);
  });
});

describe("create with a generated id", () => {
  it("skips the duplicate scan only when told the id was generated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "expflow-gen-"));
    const path = join(dir, "experiments.jsonl");
    const writer = new RegistryWriter(path, { now: () => new Date("2026-01-01T00:00:00Z"), who: "t@h" });
    await writer.create({ experiment_id: "exp-dup", status: "created" });
    await expect(writer.create({ experiment_id: "exp-dup", status: "created" })).rejects.toBeInstanceOf(ConflictError);
    const id = newExperimentId();
    await writer.create({ experiment_id: id, status: "created" }, { generatedId: true });
    expect(readOne(path, id)).toMatchObject({ experiment_id: id, rev: 1 });
  });
});

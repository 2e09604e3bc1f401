import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../../../src/core/errors.js";
import { LocalStore, MAX_LINE_WARNINGS } from "../../../src/stores/local/local-store.js";
import { record, tempDir, writeRegistry } from "../../helpers/cli.js";

describe("LocalStore", () => {
  it("normalises the earlier Python tool's records unchanged", async () => {
    const path = writeRegistry([
      {
        experiment_id: "py-1",
        status: "queued",
        queue: "gpu",
        command: "python train.py",
        project: "PDEBench",
        tags: ["task1", "final"],
        timestamp: "2025-03-01T12:00:00.123456",
        method: "fno",
        clearml_task_id: "abc123",
      },
    ]);
    const [e] = await new LocalStore({ path }).list();
    expect(e).toEqual({
      id: "py-1",
      name: null,
      status: "queued",
      project: "PDEBench",
      tags: ["task1", "final"],
      created: "2025-03-01T12:00:00.123456",
      metrics: {},
      params: {},
      archived: false,
    });
  });

  it("lets a later line supersede the whole record", async () => {
    const path = writeRegistry([
      record("a", { pde_mean: 1, seg_total: 5 }, { status: "running" }),
      record("b", { pde_mean: 2 }),
      record("a", { pde_mean: 3 }, { status: "completed", tags: ["task2"] }),
    ]);
    const store = new LocalStore({ path });
    const all = await store.list();
    expect(all.map((e) => e.id)).toEqual(["a", "b"]);
    expect(await store.get("a")).toMatchObject({ status: "completed", metrics: { pde_mean: 3 }, tags: ["task2"] });
    expect(await store.get("zzz")).toBeUndefined();
  });

  it("filters by project, all tags and statuses", async () => {
    const path = writeRegistry([
      record("a", {}, { tags: ["task1", "final"] }),
      record("b", {}, { tags: ["task1"], status: "failed" }),
      record("c", {}, { project: "Other", tags: ["task1", "final"] }),
    ]);
    const store = new LocalStore({ path });
    expect((await store.list({ tags: ["task1", "final"] })).map((e) => e.id)).toEqual(["a", "c"]);
    expect((await store.list({ project: "P", tags: ["task1"] })).map((e) => e.id)).toEqual(["a", "b"]);
    expect((await store.list({ statuses: ["failed"] })).map((e) => e.id)).toEqual(["b"]);
  });

  it("warns once per damaged line, names at most MAX_LINE_WARNINGS, and never writes", async () => {
    const bad = Array.from({ length: MAX_LINE_WARNINGS + 5 }, (_, i) => `garbage ${i}`);
    const path = writeRegistry([record("ok", {}), ...bad, '{"name": "no id"}']);
    const before = readFileSync(path);
    const warnings: string[] = [];
    const store = new LocalStore({ path, onWarning: (m) => warnings.push(m) });
    const snap = store.snapshot();
    expect(snap.experiments.map((e) => e.id)).toEqual(["ok"]);
    expect(snap.damaged).toHaveLength(MAX_LINE_WARNINGS + 6);
    expect(snap.damaged.at(-1)).toEqual({ line: MAX_LINE_WARNINGS + 7, reason: "record has no experiment_id" });
    expect(warnings).toHaveLength(MAX_LINE_WARNINGS + 1);
    expect(warnings[0]).toContain("line 2 skipped");
    expect(warnings.at(-1)).toContain(`6 more damaged lines skipped (${MAX_LINE_WARNINGS + 6} in all)`);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("reads a torn last line (a crash mid-write) as damaged, keeping the rest", async () => {
    const dir = tempDir();
    const path = join(dir, "experiments.jsonl");
    writeFileSync(path, `${JSON.stringify(record("a", { pde_mean: 1 }))}\n{"experiment_id": "b", "metrics": {"pde_`);
    const warnings: string[] = [];
    const list = await new LocalStore({ path, onWarning: (m) => warnings.push(m) }).list();
    expect(list.map((e) => e.id)).toEqual(["a"]);
    expect(warnings).toEqual([expect.stringContaining("line 2 skipped: not valid JSON")]);
  });

  it("keeps metric values as recorded: 0 and negatives stay, non-numbers are kept for the caller to treat as missing", async () => {
    const path = writeRegistry([record("a", { seg_total: 0, pde_mean: -2, val_mse: null, epochs: "x" })]);
    const [e] = await new LocalStore({ path }).list();
    expect(e!.metrics).toEqual({ seg_total: 0, pde_mean: -2, val_mse: null, epochs: "x" });
  });

  it("converts epoch-seconds timestamps and stringifies params", async () => {
    const path = writeRegistry([record("a", {}, { timestamp: 1_700_000_000, params: { "Args/--sub_step": 5, "General/flag": true, skip: null } })]);
    const [e] = await new LocalStore({ path }).list();
    expect(e!.created).toBe("2023-11-14T22:13:20.000Z");
    expect(e!.params).toEqual({ "Args/--sub_step": "5", "General/flag": "true" });
  });

  it("throws NotFoundError for a missing file and ValidationError for a directory", async () => {
    const dir = tempDir();
    await expect(new LocalStore({ path: join(dir, "none.jsonl") }).list()).rejects.toBeInstanceOf(NotFoundError);
    await expect(new LocalStore({ path: dir }).list()).rejects.toBeInstanceOf(ValidationError);
  });
});

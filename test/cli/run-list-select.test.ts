// `run list --sort-by`, `--ascending`/`--descending`, `--limit`, `--since` (issue 14): the
// selection and its order change in every format, never the shapes. In this process through
// run(argv, io); times are written relative to the clock the command reads, never asserted.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { record, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import { runListColumns } from "../../src/cli/commands/run.js";
import { STANDARD_METRICS } from "../../src/core/metrics/registry.js";

const env = { env: { EXPFLOW_HOME: join(tempDir(), "home"), EXPFLOW_REGISTRY: undefined, NO_COLOR: "1" } };
const list = (args: readonly string[], options: { cwd?: string } = {}) => runInProcess(["run", "list", ...args], { ...env, ...options });

/** The ids `run list --json` printed, in order. */
const ids = (stdout: string): string[] => (JSON.parse(stdout) as { experiments: { id: string }[] }).experiments.map((e) => e.id);

const iso = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString();
const HOUR = 3_600_000;

/** Four runs in this order in the file: b, a, d, c (by id), with pde_mean 17, 15, missing, 19. */
function registry(): string {
  return writeRegistry([
    record("exp-bbbb0002", { pde_mean: 17, seg_total: 0.5, my_score: 3 }, { name: "bravo", timestamp: iso(30 * 60_000), queue: "gpu", tags: ["x"], updated_at: "2026-10-03T00:00:00.000Z" }),
    record("exp-aaaa0001", { pde_mean: 15, seg_total: 0.9 }, { name: "alpha", timestamp: iso(5 * HOUR), queue: "cpu", tags: ["y", "x"], status: "failed", updated_at: "2026-10-01T00:00:00.000Z" }),
    record("exp-dddd0004", { seg_total: 0.1, my_score: 9 }, { name: "delta", timestamp: iso(26 * HOUR), queue: "gpu", tags: [] }),
    record("exp-cccc0003", { pde_mean: 19, seg_total: 0.9 }, { name: null, timestamp: "2026-01-15T12:00:00Z", queue: "cpu", tags: ["z"] }),
  ]);
}

describe("run list --sort-by", () => {
  it("a metric sorts in its registered direction, best first, missing values last; the table says so", async () => {
    const reg = registry();
    expect(ids((await list(["--registry", reg, "--sort-by", "pde_mean", "--json"])).stdout)).toEqual(["exp-aaaa0001", "exp-bbbb0002", "exp-cccc0003", "exp-dddd0004"]);
    expect(ids((await list(["--registry", reg, "--sort-by", "seg_total", "--json"])).stdout)).toEqual(["exp-aaaa0001", "exp-cccc0003", "exp-bbbb0002", "exp-dddd0004"]);
    const t = await list(["--registry", reg, "--sort-by", "pde_mean"]);
    expect(t.stdout.trimEnd().split("\n").at(-1)).toBe("4 runs, by pde_mean, ascending.");
  });

  it("--descending and --ascending override it; missing values stay last either way; ties keep the file's order", async () => {
    const reg = registry();
    expect(ids((await list(["--registry", reg, "--sort-by", "pde_mean", "--descending", "--json"])).stdout)).toEqual(["exp-cccc0003", "exp-bbbb0002", "exp-aaaa0001", "exp-dddd0004"]);
    // seg_total ties (0.9) keep the file's order in both directions.
    expect(ids((await list(["--registry", reg, "--sort-by", "seg_total", "--ascending", "--json"])).stdout)).toEqual(["exp-dddd0004", "exp-bbbb0002", "exp-aaaa0001", "exp-cccc0003"]);
    const both = await list(["--registry", reg, "--sort-by", "pde_mean", "--ascending", "--descending"]);
    expect(both.code).toBe(2);
  });

  it("an unregistered metric a run reports sorts highest first, as compare-scores does", async () => {
    expect(ids((await list(["--registry", registry(), "--sort-by", "my_score", "--json"])).stdout)).toEqual(["exp-dddd0004", "exp-bbbb0002", "exp-aaaa0001", "exp-cccc0003"]);
  });

  it("a metric's alias from configuration names it", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "expflow.yaml"), "metrics:\n  pde_mean:\n    aliases: [pde]\n");
    const r = await list(["--registry", registry(), "--sort-by", "pde", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(ids(r.stdout)[0]).toBe("exp-aaaa0001");
  });

  it("columns sort lowest (earliest, A to Z) first: name, created, updated_at, tags, queue, status, id", async () => {
    const reg = registry();
    const by = async (field: string, ...more: string[]) => ids((await list(["--registry", reg, "--sort-by", field, ...more, "--json"])).stdout);
    expect(await by("name")).toEqual(["exp-aaaa0001", "exp-bbbb0002", "exp-dddd0004", "exp-cccc0003"]);
    expect(await by("created")).toEqual(["exp-cccc0003", "exp-dddd0004", "exp-aaaa0001", "exp-bbbb0002"]);
    expect(await by("created", "--descending")).toEqual(["exp-bbbb0002", "exp-aaaa0001", "exp-dddd0004", "exp-cccc0003"]);
    expect(await by("updated_at")).toEqual(["exp-aaaa0001", "exp-bbbb0002", "exp-dddd0004", "exp-cccc0003"]);
    expect(await by("tags")).toEqual(["exp-bbbb0002", "exp-aaaa0001", "exp-cccc0003", "exp-dddd0004"]);
    expect(await by("queue")).toEqual(["exp-aaaa0001", "exp-cccc0003", "exp-bbbb0002", "exp-dddd0004"]);
    expect(await by("status")).toEqual(["exp-bbbb0002", "exp-dddd0004", "exp-cccc0003", "exp-aaaa0001"]);
    expect(await by("id")).toEqual(["exp-aaaa0001", "exp-bbbb0002", "exp-cccc0003", "exp-dddd0004"]);
  });

  it("every column key of run list is a field it sorts by", async () => {
    const keys = runListColumns(
      STANDARD_METRICS.filter((m) => m.threshold !== null),
      true,
    ).map((c) => c.key!);
    for (const key of keys) {
      const r = await list(["--registry", registry(), "--include-archived", "--sort-by", key, "--json"]);
      expect(r.code, `${key}: ${r.stderr}`).toBe(0);
    }
  });

  it("an unknown field is exit 2 with the nearest name, in the flag's words, also under --json", async () => {
    const r = await list(["--registry", registry(), "--sort-by", "pde_maen"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown field 'pde_maen' in --sort-by: .* Did you mean 'pde_mean'\?$/m);
    const j = await list(["--registry", registry(), "--sort-by", "creatd", "--json"]);
    expect(j.code).toBe(2);
    expect(j.stdout).toBe("");
    const error = (JSON.parse(j.stderr) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("E_UNKNOWN_METRIC");
    expect(error.message).toContain("Did you mean 'created'?");
  });

  it("--descending without --sort-by lists the newest runs (last in the file) first", async () => {
    expect(ids((await list(["--registry", registry(), "--descending", "--json"])).stdout)).toEqual(["exp-cccc0003", "exp-dddd0004", "exp-aaaa0001", "exp-bbbb0002"]);
  });
});

describe("run list --limit", () => {
  it("keeps the first N after ordering, in every format; the table says how many there were", async () => {
    const reg = registry();
    expect(ids((await list(["--registry", reg, "--sort-by", "pde_mean", "--limit", "2", "--json"])).stdout)).toEqual(["exp-aaaa0001", "exp-bbbb0002"]);
    expect((JSON.parse((await list(["--registry", reg, "--limit", "1", "--raw"])).stdout) as { experiment_id: string }[]).map((r) => r.experiment_id)).toEqual(["exp-bbbb0002"]);
    expect((await list(["--registry", reg, "--limit", "3", "--csv"])).stdout.split("\r\n")).toHaveLength(5);
    const t = await list(["--registry", reg, "--sort-by", "pde_mean", "--limit", "2"]);
    expect(t.stdout.trimEnd().split("\n").at(-1)).toBe("2 of 4 runs (--limit 2), by pde_mean, ascending.");
    // A limit above the count changes nothing.
    expect((await list(["--registry", reg, "--limit", "10"])).stdout.trimEnd().split("\n").at(-1)).toBe("4 runs.");
  });

  it.each(["0", "-1", "1.5", "two", ""])("--limit %j is exit 2", async (n) => {
    const r = await list(["--registry", registry(), "--limit", n]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("expected a positive whole number");
  });
});

describe("run list --since", () => {
  it("a span back from now (30m, 2h, 3d, 1w) keeps the runs created since", async () => {
    const reg = registry();
    const since = async (when: string) => ids((await list(["--registry", reg, "--since", when, "--json"])).stdout);
    expect(await since("2h")).toEqual(["exp-bbbb0002"]);
    expect(await since("90m")).toEqual(["exp-bbbb0002"]);
    expect(await since("6h")).toEqual(["exp-bbbb0002", "exp-aaaa0001"]);
    expect(await since("2d")).toEqual(["exp-bbbb0002", "exp-aaaa0001", "exp-dddd0004"]);
    expect(await since("1w")).toEqual(["exp-bbbb0002", "exp-aaaa0001", "exp-dddd0004"]);
    expect(await since("100000d")).toEqual(["exp-bbbb0002", "exp-aaaa0001", "exp-dddd0004", "exp-cccc0003"]);
  });

  it("an ISO date or time: a date alone from its local midnight, a time without a zone local, with one as given", async () => {
    const reg = writeRegistry([
      record("exp-00000001", {}, { timestamp: "2026-01-14T23:59:59" }),
      record("exp-00000002", {}, { timestamp: "2026-01-15T00:00:00" }),
      record("exp-00000003", {}, { timestamp: "2026-01-15T12:00:00Z" }),
      record("exp-00000004", {}, { timestamp: 1768478400 }), // 2026-01-15T12:00:00Z, as the earlier tool wrote it
      record("exp-00000005", {}, { timestamp: null }),
    ]);
    const since = async (when: string) => ids((await list(["--registry", reg, "--since", when, "--json"])).stdout);
    expect(await since("2026-01-15")).toEqual(["exp-00000002", "exp-00000003", "exp-00000004"]);
    expect(await since("2026-01-15T00:00:00")).toEqual(["exp-00000002", "exp-00000003", "exp-00000004"]);
    expect(await since("2026-01-15T12:00:00Z")).toEqual(["exp-00000003", "exp-00000004"]);
    expect(await since("2026-01-15T12:00:00.001Z")).toEqual([]);
    expect(await since("2026-01-15T14:00+02:00")).toEqual(["exp-00000003", "exp-00000004"]);
    expect(await since("2026-01-15 13:00:00+0100")).toEqual(["exp-00000003", "exp-00000004"]);
  });

  it("combines with the other filters, the order and the limit, and counts hidden archived runs it selects", async () => {
    const reg = registry();
    const r = await list(["--registry", reg, "--since", "2d", "--status", "completed", "--sort-by", "name", "--descending", "--limit", "1", "--json"]);
    expect(ids(r.stdout)).toEqual(["exp-dddd0004"]);
    const t = await list(["--registry", reg, "--since", "2d", "--status", "completed"]);
    expect(t.stdout.trimEnd().split("\n").at(-1)).toBe("2 runs.");
  });

  it("a time in the future selects nothing, with a warning", async () => {
    const future = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
    const r = await list(["--registry", registry(), "--since", future]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: --since \S+ is in the future: no run was created since$/m);
    expect(r.stdout).toMatch(/^No runs match in /);
  });

  it.each(["yesterday", "2h ago", "3x", "-2h", "2026-02-30", "2026-13-01", "2026-01-15T25:00", "2026-1-5", "1.5h", "", "12345678901d"])("--since %j is exit 2 saying what it takes", async (when) => {
    const r = await list(["--registry", registry(), "--since", when]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("expected an ISO 8601 date or time (2026-10-01, 2026-10-01T09:30:00Z) or a span back from now (30m, 2h, 3d, 1w)");
  });
});

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RegistryRecord } from "../../src/stores/local/record.js";
import type { CliResult } from "../helpers/cli.js";
import { CLI, record, runCliAsync, runInProcess, writeRegistry } from "../helpers/cli.js";

// In this process through run(argv, io) (test/helpers/cli.ts); the first case and the concurrent
// reports (one process each) are spawned from dist/cli.js, as a user runs them.

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
/** A fresh temporary directory, removed after this file's tests. */
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "expflow-metrics-report-"));
  made.push(d);
  return d;
}
/** The CLI (in this process), run from a temporary working directory of this file. */
function cli(args: readonly string[]): Promise<CliResult> {
  return runInProcess(args, { cwd: tempDir() });
}

/** {@link cli}, spawned from the built binary. */
function spawned(args: readonly string[]): Promise<CliResult> {
  return runCliAsync(args, { cwd: tempDir() });
}

const A1 = "exp-aaaa00000001";
const A2 = "exp-aaaa00000002";
const B1 = "exp-bbbb00000001";

function registry(): string {
  return writeRegistry([
    record(A1, { pde_mean: 17 }),
    record(A2, { pde_mean: 18 }),
    // The earlier tool's record: no rev, no updated_at.
    record(B1, { seg_total: 55.3, pde_mean: 19.5 }, { status: "running" }),
  ], tempDir());
}

function lines(path: string): RegistryRecord[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as RegistryRecord);
}

describe("expflow metrics report", () => {
  it("merges valid values into the record as a new complete snapshot", async () => {
    const path = registry();
    const before = lines(path);
    const r = await spawned(["metrics", "report", "exp-bb", "pde_mean=16.2", "train_time_min=41", "--registry", path]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(B1);
    const after = lines(path);
    expect(after.slice(0, 3)).toEqual(before);
    expect(after).toHaveLength(4);
    const { updated_at, ...rest } = after[3]!;
    expect(rest).toEqual({ ...before[2], metrics: { seg_total: 55.3, pde_mean: 16.2, train_time_min: 41 }, rev: 1 });
    expect(Number.isNaN(Date.parse(String(updated_at)))).toBe(false);

    // A second report builds on the first: rev 2, every metric kept.
    const r2 = await spawned(["metrics", "report", B1, "seg1=18", "--registry", path, "--json"]);
    expect(r2.code).toBe(0);
    const printed = JSON.parse(r2.stdout) as RegistryRecord;
    expect(printed).toMatchObject({ experiment_id: B1, rev: 2, metrics: { seg_total: 55.3, pde_mean: 16.2, train_time_min: 41, seg1: 18 } });
    expect(lines(path).at(-1)).toEqual(printed);
  });

  it.each([
    // An unknown name is kept as a custom metric (test/cli/custom-metrics.test.ts); one that cannot be a name is not.
    ["a name with white space", ["pde meen=1"], /cannot be kept as a custom metric: a metric name must contain no white space/],
    ["NaN", ["pde_mean=NaN"], /finite number/],
    ["Infinity", ["pde_mean=Infinity"], /finite number/],
    ["-Infinity", ["pde_mean=-Infinity"], /finite number/],
    ["a word", ["pde_mean=abc"], /finite number/],
    ["an empty value", ["pde_mean="], /finite number/],
    ["one bad value among good ones", ["seg1=1", "pde_mean=NaN", "seg2=2"], /finite number/],
    ["not name=value", ["pde_mean"], /expected name=value/],
  ])("%s: exit 2 and nothing written", async (_what, pairs, message) => {
    const path = registry();
    const before = readFileSync(path);
    const r = await cli(["metrics", "report", B1, ...pairs, "--registry", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("a refused name under --json: the error object on stderr", async () => {
    const path = registry();
    const r = await cli(["metrics", "report", B1, "pde\u001bmeen=1", "--registry", path, "--json"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const err = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    expect(err.error.code).toBe("E_METRIC_VALIDATION");
    expect(err.error.message).toContain('metric "pde\\u001bmeen" cannot be kept as a custom metric');
  });

  it("an ambiguous prefix: exit 2 listing the candidates, nothing written", async () => {
    const path = registry();
    const before = readFileSync(path);
    const r = await cli(["metrics", "report", "exp-aaaa", "pde_mean=1", "--registry", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(A1);
    expect(r.stderr).toContain(A2);
    expect(readFileSync(path).equals(before)).toBe(true);
    const j = await cli(["metrics", "report", "exp-aaaa", "pde_mean=1", "--registry", path, "--json"]);
    expect(j.code).toBe(2);
    expect((JSON.parse(j.stderr) as { error: { code: string } }).error.code).toBe("E_AMBIGUOUS_ID");
  });

  it("an unknown id: exit 2, nothing written", async () => {
    const path = registry();
    const before = readFileSync(path);
    const r = await cli(["metrics", "report", "exp-zzzz", "pde_mean=1", "--registry", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("exp-zzzz");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("concurrent reports from several processes to one experiment all survive", async () => {
    const path = registry();
    const names = ["seg1", "seg2", "seg3", "pde_seg1", "pde_seg2", "pde_seg3"];
    const results = await Promise.all(
      names.map(
        (name, i) =>
          new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, [CLI, "metrics", "report", A1, `${name}=${i + 1}`, "--registry", path], {
              cwd: tempDir(),
              stdio: ["ignore", "ignore", "pipe"],
              timeout: 90_000,
            });
            let stderr = "";
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code, stderr }));
          }),
      ),
    );
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const all = lines(path);
    expect(all).toHaveLength(3 + names.length);
    const last = all.filter((l) => l.experiment_id === A1).at(-1)!;
    expect(last.metrics).toEqual({ pde_mean: 17, ...Object.fromEntries(names.map((n, i) => [n, i + 1])) });
    expect(last.rev).toBe(names.length);
    expect(
      all
        .filter((l) => l.experiment_id === A1)
        .slice(1)
        .map((l) => l.rev),
    ).toEqual(names.map((_n, i) => i + 1));
  }, 120_000);
});

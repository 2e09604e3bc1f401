// Human tables fit the terminal (issue 14): at 80 columns the quick start was 104 wide and
// `run list` about 160, so every row wrapped mid-number. In this process through run(argv, io),
// where standard output is not a terminal and COLUMNS stands for the terminal's width; the real
// terminal (a tty's own columns) is tested in terminal-width.test.ts under tmux.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, record, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import type { CliResult } from "../helpers/cli.js";
import { displayWidth } from "../../src/cli/output/text-width.js";

const EXAMPLE = join(ROOT, "examples", "experiments.jsonl");
const QUICK_START = ["compare-scores", "--registry", EXAMPLE, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60", "--max", "10"];

const at = (columns: number | undefined, extra: Record<string, string> = {}) => ({ env: { COLUMNS: columns === undefined ? undefined : String(columns), NO_COLOR: "1", ...extra } });

/** The widest line of an output, in terminal cells. */
function widest(text: string): number {
  return Math.max(...text.trimEnd().split("\n").map(displayWidth));
}

/** The lines of a table: from its header to the line before the summary. */
function tableLines(r: CliResult, header: RegExp): string[] {
  const lines = r.stdout.split("\n");
  const start = lines.findIndex((l) => header.test(l));
  expect(start, r.stdout).toBeGreaterThanOrEqual(0);
  return lines.slice(start).filter((l) => l !== "");
}

describe("tables fit the width they are given", () => {
  it("the quick start at 80 columns: every line fits, every number whole, and the last table line names what was left out", async () => {
    const r = await runInProcess(QUICK_START, at(80));
    expect(r.code).toBe(0);
    expect(widest(r.stdout.split("\n").slice(0, 12).join("\n"))).toBeLessThanOrEqual(80);
    const json = JSON.parse((await runInProcess([...QUICK_START, "--json"])).stdout) as { results: { id: string; value: number; metrics: Record<string, number> }[] };
    for (const res of json.results) {
      const line = r.stdout.split("\n").find((l) => l.includes(res.id))!;
      expect(line).toContain(` ${res.metrics["pde_mean"]}`);
      expect(line).toContain(` ${res.metrics["train_time_min"]}`);
    }
    expect(r.stdout).toContain("\nLeft out to fit 80 columns: status, failed_gates (--wide shows all).\n19 of 60 experiments pass 2 gates (showing 10)");
  });

  it("run list at 80 columns (was about 160): fits, keeps id, name and the metrics, and says what it left out", async () => {
    const r = await runInProcess(["run", "list", "--registry", EXAMPLE], at(80));
    expect(r.code).toBe(0);
    expect(widest(r.stdout)).toBeLessThanOrEqual(93); // the note on what was left out is prose
    const table = tableLines(r, /^ID /).filter((l) => !l.startsWith("Left out") && !/^\d+ runs/.test(l));
    for (const line of table) expect(displayWidth(line)).toBeLessThanOrEqual(80);
    expect(table[0]).toMatch(/^ID +NAME +STATUS +pde_mean +train_time_min$/);
    expect(r.stdout).toMatch(/^Left out to fit 80 columns: updated_at, queue, created, tags, project \(--wide shows all\)\.$/m);
  });

  it("without a terminal or COLUMNS (a pipe, a file) a table keeps its whole width, as before", async () => {
    const r = await runInProcess(["run", "list", "--registry", EXAMPLE], at(undefined));
    expect(r.stdout).toMatch(/^ID +NAME +STATUS +QUEUE +PROJECT +TAGS +CREATED +UPDATED +pde_mean +train_time_min$/m);
    expect(widest(r.stdout)).toBeGreaterThan(150);
    expect(r.stdout).not.toContain("Left out");
  });

  it("a COLUMNS that is not a positive whole number is ignored", async () => {
    const whole = (await runInProcess(["run", "list", "--registry", EXAMPLE], at(undefined))).stdout;
    for (const junk of ["0", "-3", "abc", "80px", ""]) expect((await runInProcess(["run", "list", "--registry", EXAMPLE], at(undefined, { COLUMNS: junk }))).stdout).toBe(whole);
  });

  it("--wide shows every column whole whatever the width, long names included", async () => {
    const reg = writeRegistry([record("exp-00000001", { pde_mean: 1 }, { name: "n".repeat(60) })]);
    const r = await runInProcess(["run", "list", "--registry", reg, "--wide"], at(40));
    expect(r.stdout).toMatch(/^ID +NAME +STATUS +QUEUE +PROJECT +TAGS +CREATED +UPDATED +pde_mean +train_time_min$/m);
    expect(r.stdout).toContain("n".repeat(60));
    expect(r.stdout).not.toContain("Left out");
    const c = await runInProcess([...QUICK_START, "--wide"], at(40));
    expect(c.stdout).toMatch(/^RANK +ID +NAME +STATUS +pde_mean +train_time_min +RESULT +FAILED GATES$/m);
  });

  it("JSON, CSV and Markdown are the same at any width", async () => {
    for (const args of [
      ["run", "list", "--registry", EXAMPLE, "--json"],
      ["run", "list", "--registry", EXAMPLE, "--raw"],
      ["run", "list", "--registry", EXAMPLE, "--csv"],
      ["run", "list", "--registry", EXAMPLE, "--markdown"],
      [...QUICK_START, "--json"],
      [...QUICK_START, "--csv"],
      [...QUICK_START, "--markdown"],
    ]) {
      const whole = await runInProcess(args, at(undefined));
      expect(whole.code).toBeLessThanOrEqual(1);
      for (const width of [20, 80]) expect((await runInProcess([...args, "--wide"], at(width))).stdout, args.join(" ")).toBe(whole.stdout);
      expect((await runInProcess(args, at(20))).stdout, args.join(" ")).toBe(whole.stdout);
    }
  });

  it("a terminal 20 columns wide: run list keeps the id and a cut name; a ranking keeps rank, id and the sort metric, however wide they are", async () => {
    const r = await runInProcess(["run", "list", "--registry", EXAMPLE], at(20));
    expect(r.code).toBe(0);
    const table = tableLines(r, /^ID /).filter((l) => !l.startsWith("Left out") && !/^\d+ runs/.test(l));
    for (const line of table) expect(displayWidth(line)).toBeLessThanOrEqual(20);
    expect(table[1]).toMatch(/^exp-74dc9ff8 {2}task1…$/);
    const c = await runInProcess(QUICK_START, at(20));
    expect(c.code).toBe(0);
    expect(c.stdout.split("\n")[0]).toBe("RANK  ID            pde_mean");
    expect(c.stdout.split("\n")[1]).toBe("   1  exp-b389f873    14.079");
  });
});

describe("--columns", () => {
  const reg = (): string =>
    writeRegistry([record("exp-00000001", { pde_mean: 15.5, seg_total: 0.75 }, { name: "first" }), record("exp-00000002", { pde_mean: 17.25 }, { name: "second", status: "failed" })]);

  it("shows those columns, in that order, by key; a metric that is not a default column too", async () => {
    const r = await runInProcess(["run", "list", "--registry", reg(), "--columns", "pde_mean,id,seg_total,name"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n").slice(0, 3)).toEqual(["pde_mean  ID            seg_total  NAME", "    15.5  exp-00000001       0.75  first", "   17.25  exp-00000002          -  second"]);
  });

  it("a key given twice is shown once; blank items are ignored", async () => {
    const r = await runInProcess(["run", "list", "--registry", reg(), "--columns", "id,,name,id", "--columns", "name"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("ID            NAME");
  });

  it("an unknown key is exit 2 naming the nearest and listing the valid ones; so is naming none", async () => {
    const r = await runInProcess(["run", "list", "--registry", reg(), "--columns", "id,nmae"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: unknown column 'nmae' in --columns. Did you mean 'name'?");
    expect(r.stderr).toContain("hint: the columns of run list: id, name, status, queue, project, tags, created, updated_at, pde_mean, train_time_min; or a metric (registered, or that a run reports)");
    for (const empty of ["", ",", " , "]) {
      const e = await runInProcess(["run", "list", "--registry", reg(), "--columns", empty, "--json"].filter((a) => a !== "--json"));
      expect(e.code, empty).toBe(2);
      expect(e.stderr).toContain("error: --columns names no column");
    }
    const j = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--columns", "rank,bogus", "--csv"]);
    expect(j.code).toBe(2);
    expect(j.stderr).toContain("unknown column 'bogus' in --columns");
    expect(j.stderr).toContain("the columns of compare-scores: rank, id, name, status, pde_mean, passed");
  });

  it("cannot be used with --json or --raw, whose shapes are a contract (exit 2)", async () => {
    for (const format of ["--json", "--raw"]) {
      const r = await runInProcess(["run", "list", "--registry", reg(), "--columns", "id", format]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot be used with/);
    }
  });

  it("chooses the columns of CSV and Markdown too", async () => {
    const csv = await runInProcess(["run", "list", "--registry", reg(), "--columns", "id,pde_mean", "--csv"]);
    expect(csv.stdout).toBe("id,pde_mean\r\nexp-00000001,15.5\r\nexp-00000002,17.25\r\n");
    const md = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--status", "completed,failed", "--columns", "id,passed", "--markdown"]);
    expect(md.stdout).toBe("| ID | RESULT |\n| --- | --- |\n| exp-00000001 | PASS |\n| exp-00000002 | PASS |\n");
  });

  it("chosen columns are cut to fit but never left out", async () => {
    const r = await runInProcess(["run", "list", "--registry", EXAMPLE, "--columns", "id,created,updated_at,name"], at(60));
    expect(r.stdout.split("\n")[0]).toMatch(/^ID +CREATED +UPDATED +NAME$/);
    expect(r.stdout).not.toContain("Left out");
    for (const line of r.stdout.split("\n").slice(0, -2)) expect(displayWidth(line)).toBeLessThanOrEqual(60);
  });
});

describe("hostile names in a narrow table", () => {
  const H = "\u001b[2J\u001b[31m";
  const names = ["実験-名前-とても長い-漢字", "👩‍🔬🧪 emoji run 🇫🇷🇩🇪", "e\u0301te\u0301-combining-ü\u0308", `esc${H}ape`, "\u202eevil.exe"];

  it.each([40, 60, 80])("at %i columns every table line fits, columns line up, no raw control character", async (width) => {
    const reg = writeRegistry(names.map((name, i) => record(`exp-0000000${i}`, { pde_mean: 10 + i, train_time_min: 20 + i }, { name, tags: [name], project: name })));
    for (const args of [
      ["run", "list", "--registry", reg],
      ["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--use-thresholds"],
    ]) {
      const r = await runInProcess(args, at(width));
      expect(r.code, r.stderr).toBe(0);
      // eslint-disable-next-line no-control-regex -- looking for control characters is the point
      expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      const rows = r.stdout.split("\n").filter((l) => /exp-0/.test(l));
      expect(rows).toHaveLength(names.length);
      for (const line of rows) expect(displayWidth(line), line).toBeLessThanOrEqual(width);
      // Columns line up: with a column after the name (the last one right-aligned, or all alike), every row is as wide.
      const header = r.stdout.split("\n").find((l) => /^(RANK|ID) /.test(l))!;
      if (!header.endsWith("NAME")) expect(new Set(rows.map(displayWidth)).size, rows.join("\n")).toBe(1);
    }
  });
});

describe("the spawned binary", () => {
  it("fits COLUMNS when standard output is a pipe", async () => {
    const r = await runCliAsync(["run", "list", "--registry", EXAMPLE], { env: { COLUMNS: "80", NO_COLOR: "1", EXPFLOW_HOME: join(tempDir(), "home") } });
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(/^ID +NAME +STATUS +pde_mean +train_time_min$/);
  });
});

describe("the other tables fit too: metrics list, audit validate", () => {
  const widest = (text: string) => Math.max(...text.split("\n").map((l) => [...l].length));

  it("metrics list cuts its descriptions (then its aliases) to the width, and is whole in a pipe", async () => {
    const whole = await runInProcess(["metrics", "list"], at(undefined));
    expect(widest(whole.stdout)).toBeGreaterThan(80);
    const fitted = await runInProcess(["metrics", "list"], at(80));
    expect(fitted.code).toBe(0);
    expect(widest(fitted.stdout)).toBeLessThanOrEqual(80);
    expect(fitted.stdout).toContain("…");
    // Every metric is still there, with its direction and threshold whole.
    expect(fitted.stdout).toMatch(/pde_mean\s+\S+\s+lower\s+< 18\.09/);
  });

  it("audit validate cuts its rules' details to the width", async () => {
    const r = await runInProcess(["audit", "validate", "exp-b389f873", "--competition-rules", "--registry", EXAMPLE], at(60));
    expect(widest(r.stdout)).toBeLessThanOrEqual(60);
    const whole = await runInProcess(["audit", "validate", "exp-b389f873", "--competition-rules", "--registry", EXAMPLE], at(undefined));
    expect(widest(whole.stdout)).toBeGreaterThan(60);
    expect(r.code).toBe(whole.code);
  });
});

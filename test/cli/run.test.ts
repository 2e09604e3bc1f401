import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { record, runCli, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";

// Every test has its own home and its own registry; none reads ~/.expflow.
function home(): string {
  return join(tempDir(), "home");
}

const env = (h: string, options: { env?: Record<string, string | undefined> }) => ({ EXPFLOW_HOME: h, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined, ...options.env });
/** The CLI in this process (run(argv, io), test/helpers/cli.ts). */
const cli = (h: string, args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) => runInProcess(args, { ...options, env: env(h, options) });
/** The CLI spawned from dist/cli.js, as a user runs it: the first list case. */
const spawned = (h: string, args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) => runCli(args, { ...options, env: env(h, options) });

/** A registry as the earlier Python tool wrote it (no rev, updated_at or history), plus expflow snapshots. */
function mixedRegistry(): string {
  return writeRegistry([
    record("exp-aaa11111", { pde_mean: 15.2, train_time_min: 40 }, { tags: ["task1", "final"], project: "PDE" }),
    record("exp-aaa22222", { pde_mean: 19.1 }, { status: "failed", project: "PDE" }),
    record("exp-bbb33333", {}, { status: "running", project: "Seg", tags: ["task2"], queue: "gpu" }),
    // The Python tool wrote bare NaN: read, and counted as missing.
    '{"experiment_id": "exp-py000001", "name": "legacy", "status": "completed", "project": "PDE", "tags": ["task1"], "timestamp": 1727545330.5, "metrics": {"pde_mean": NaN, "train_time_min": 12}, "params": {"Args/--lr": 0.001}}',
    record("exp-ccc44444", { pde_mean: 14 }, { project: "PDE", archived: true, rev: 2, updated_at: "2026-10-02T00:00:00.000Z" }),
    record("exp-ddd55555", { pde_mean: 13 }, { project: "PDE", archived: true, rev: 1 }),
    { ...record("exp-ddd55555", { pde_mean: 13 }, { project: "PDE", archived: true, rev: 2 }), deleted: true },
    // A later snapshot supersedes the earlier one.
    record("exp-aaa22222", { pde_mean: 18.5 }, { status: "failed", project: "PDE", rev: 2, updated_at: "2026-10-03T00:00:00.000Z" }),
  ]);
}

type Rec = Record<string, unknown> & { experiment_id: string };
/** The ids `run list --json` prints (the contract's experiment list). */
const ids = (stdout: string): string[] => (JSON.parse(stdout) as { experiments: { id: string }[] }).experiments.map((e) => e.id);
/** The ids `run list --raw` prints (raw records). */
const rawIds = (stdout: string): string[] => (JSON.parse(stdout) as Rec[]).map((r) => r.experiment_id);

describe("expflow run list", () => {
  it("lists live runs in registry order with the documented columns; archived hidden, tombstoned never shown", async () => {
    const h = home();
    const reg = mixedRegistry();
    const r = spawned(h, ["run", "list", "--registry", reg]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^ID +NAME +STATUS +QUEUE +PROJECT +TAGS +CREATED +UPDATED +pde_mean +train_time_min$/m);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.slice(1, -1).map((l) => l.split(/\s+/)[0])).toEqual(["exp-aaa11111", "exp-aaa22222", "exp-bbb33333", "exp-py000001"]);
    expect(lines.at(-1)).toBe("4 runs; 1 archived run hidden (--include-archived shows them).");
    // The superseded snapshot's value is not shown; the latest is.
    expect(r.stdout).toMatch(/exp-aaa22222 .* 18\.5 /);
    expect(r.stdout).not.toContain("exp-ddd55555");
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("--include-archived shows archived runs with an ARCHIVED column, never tombstones", async () => {
    const h = home();
    const r = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--include-archived", "--json"]);
    expect(r.code).toBe(0);
    expect(ids(r.stdout)).toEqual(["exp-aaa11111", "exp-aaa22222", "exp-bbb33333", "exp-py000001", "exp-ccc44444"]);
    const t = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--include-archived"]);
    expect(t.stdout).toMatch(/ARCHIVED$/m);
    expect(t.stdout).toMatch(/^exp-ccc44444 .* yes$/m);
  });

  it("--json prints the contract's experiment list: the normalised experiments, as clearml tasks --json does", async () => {
    const h = home();
    const reg = mixedRegistry();
    const r = await cli(h, ["run", "list", "--registry", reg, "--include-archived", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { location: string; experiments: Record<string, unknown>[] };
    expect(Object.keys(out)).toEqual(["location", "experiments"]);
    expect(out.location).toBe(reg);
    for (const e of out.experiments) {
      expect(Object.keys(e)).toEqual(["id", "name", "status", "clearml_status", "project", "tags", "created", "archived", "metrics", "ambiguous_metrics", "params"]);
    }
    expect(out.experiments[1]).toEqual({
      id: "exp-aaa22222",
      name: "run-exp-aaa22222",
      status: "failed",
      clearml_status: null,
      project: "PDE",
      tags: ["task1"],
      created: "2026-10-01T00:00:00",
      archived: false,
      metrics: { pde_mean: 18.5 },
      ambiguous_metrics: {},
      params: {},
    });
    // The earlier tool's record, normalised: epoch seconds as ISO 8601, NaN as null, params as text.
    expect(out.experiments.find((e) => e["id"] === "exp-py000001")).toEqual({
      id: "exp-py000001",
      name: "legacy",
      status: "completed",
      clearml_status: null,
      project: "PDE",
      tags: ["task1"],
      created: "2024-09-28T17:42:10.500Z",
      archived: false,
      metrics: { pde_mean: null, train_time_min: 12 },
      ambiguous_metrics: {},
      params: { "Args/--lr": "0.001" },
    });
    expect(out.experiments.find((e) => e["id"] === "exp-ccc44444")).toMatchObject({ archived: true });
  });

  it("--raw prints the raw latest records, rev, updated_at and unknown fields included", async () => {
    const h = home();
    const r = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--raw"]);
    expect(r.code, r.stderr).toBe(0);
    const recs = JSON.parse(r.stdout) as Rec[];
    expect(recs.find((x) => x.experiment_id === "exp-aaa22222")).toEqual(
      record("exp-aaa22222", { pde_mean: 18.5 }, { status: "failed", project: "PDE", rev: 2, updated_at: "2026-10-03T00:00:00.000Z" }),
    );
    const py = recs.find((x) => x.experiment_id === "exp-py000001")!;
    expect(py["metrics"]).toEqual({ pde_mean: null, train_time_min: 12 });
    expect(py).not.toHaveProperty("rev");
    // With --json too it is raw; with --csv or --markdown it is a usage error.
    expect((await cli(h, ["run", "list", "--registry", mixedRegistry(), "--raw", "--json"])).stdout).toBe(r.stdout);
    const csv = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--raw", "--csv"]);
    expect(csv.code).toBe(2);
    expect(csv.stderr).toContain("option '--raw' cannot be used with option '--csv'");
    const md = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--markdown", "--raw"]);
    expect(md.code).toBe(2);
    expect(md.stderr).toContain("option '--raw' cannot be used with option '--markdown'");
  });

  it("--raw filters as --json does, and its errors are JSON", async () => {
    const h = home();
    const reg = mixedRegistry();
    expect(rawIds((await cli(h, ["run", "list", "--registry", reg, "--status", "failed,running", "--raw"])).stdout)).toEqual(["exp-aaa22222", "exp-bbb33333"]);
    expect(rawIds((await cli(h, ["run", "list", "--registry", reg, "--include-archived", "--raw"])).stdout)).toEqual(ids((await cli(h, ["run", "list", "--registry", reg, "--include-archived", "--json"])).stdout));
    expect((await cli(h, ["run", "list", "--registry", reg, "--project", "Nope", "--raw"])).stdout).toBe("[]\n");
    const bad = await cli(h, ["run", "list", "--registry", reg, "--status", "runing", "--raw"]);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: "E_UNKNOWN_STATUS" } });
  });

  it("filters by --status, --project and --tags (all tags)", async () => {
    const h = home();
    const reg = mixedRegistry();
    expect(ids((await cli(h, ["run", "list", "--registry", reg, "--status", "failed,running", "--json"])).stdout)).toEqual(["exp-aaa22222", "exp-bbb33333"]);
    expect(ids((await cli(h, ["run", "list", "--registry", reg, "--project", "Seg", "--json"])).stdout)).toEqual(["exp-bbb33333"]);
    expect(ids((await cli(h, ["run", "list", "--registry", reg, "--tags", "task1,final", "--json"])).stdout)).toEqual(["exp-aaa11111"]);
    expect(ids((await cli(h, ["run", "list", "--registry", reg, "--tags", "task1", "--status", "completed", "--json"])).stdout)).toEqual(["exp-aaa11111", "exp-py000001"]);
    const none = await cli(h, ["run", "list", "--registry", reg, "--project", "Nope"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`No runs match in ${reg}.\n`);
    expect((await cli(h, ["run", "list", "--registry", reg, "--project", "Nope", "--json"])).stdout).toBe(`${JSON.stringify({ location: reg, experiments: [] })}\n`);
  });

  it("an unknown --status is exit 2 with a did-you-mean, as in compare-scores", async () => {
    const h = home();
    const r = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--status", "runing"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown status 'runing'");
    expect(r.stderr).toContain("Did you mean 'running'?");
    const j = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--status", "runing", "--json"]);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: { code: "E_UNKNOWN_STATUS" } });
  });

  it("CSV and Markdown come from the same columns", async () => {
    const h = home();
    const csv = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--csv"]);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.split("\r\n");
    expect(rows[0]).toBe("id,name,status,queue,project,tags,created,updated_at,pde_mean,train_time_min");
    expect(rows[1]).toBe('exp-aaa11111,run-exp-aaa11111,completed,default,PDE,"task1,final",2026-10-01T00:00:00,,15.2,40');
    // Epoch seconds from the earlier tool become ISO 8601; NaN is empty.
    expect(rows[4]).toBe("exp-py000001,legacy,completed,,PDE,task1,2024-09-28T17:42:10.500Z,,,12");
    const md = await cli(h, ["run", "list", "--registry", mixedRegistry(), "--markdown"]);
    expect(md.stdout.split("\n")[0]).toBe("| ID | NAME | STATUS | QUEUE | PROJECT | TAGS | CREATED | UPDATED | pde\\_mean | train\\_time\\_min |");
    expect(md.stdout).toContain("| exp-aaa11111 | run-exp-aaa11111 | completed |");
  });

  it("warns about damaged lines and lists the rest; a missing registry is exit 2 naming it", async () => {
    const h = home();
    const reg = writeRegistry([record("exp-1", {}), "{not json", record("exp-2", {})]);
    const r = await cli(h, ["run", "list", "--registry", reg, "--json"]);
    expect(r.code).toBe(0);
    expect(ids(r.stdout)).toEqual(["exp-1", "exp-2"]);
    expect(r.stderr).toContain(`${reg}: line 2 skipped: not valid JSON`);
    const missing = join(tempDir(), "nope.jsonl");
    const m = await cli(h, ["run", "list", "--registry", missing]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`registry file not found: ${missing}`);
  });
});

describe("expflow run status", () => {
  it("shows a run by unique prefix: key fields, metrics table, params", async () => {
    const h = home();
    const reg = mixedRegistry();
    const r = await cli(h, ["run", "status", "exp-aaa1", "--registry", reg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^id +exp-aaa11111$/m);
    expect(r.stdout).toMatch(/^status +completed$/m);
    expect(r.stdout).toMatch(/^tags +task1, final$/m);
    // Issue 14: last, best (by direction) and steps (none recorded: an earlier record).
    expect(r.stdout).toMatch(/^ {2}METRIC +LAST +BEST +STEPS +THRESHOLD +NOTE$/m);
    expect(r.stdout).toMatch(/^ {2}pde_mean +15\.2 +15\.2 +- +< 18\.09 +-$/m);
    expect(r.stdout).toMatch(/^History\n {2}\(no history recorded/m);
  });

  it("a record of the earlier tool (no rev, no history, NaN, epoch timestamp) shows; --json prints the raw record", async () => {
    const h = home();
    const reg = mixedRegistry();
    const r = await cli(h, ["run", "status", "exp-py", "--registry", reg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^created +2024-09-28T17:42:10\.500Z$/m);
    expect(r.stdout).toMatch(/^ {2}pde_mean +- +- +- +< 18\.09 +-$/m);
    expect(r.stdout).toContain("  Args/--lr = 0.001");
    const j = await cli(h, ["run", "status", "exp-aaa22222", "--registry", reg, "--json"]);
    expect(JSON.parse(j.stdout)).toEqual(record("exp-aaa22222", { pde_mean: 18.5 }, { status: "failed", project: "PDE", rev: 2, updated_at: "2026-10-03T00:00:00.000Z" }));
  });

  it("an ambiguous prefix is exit 2 listing the candidates; an unknown or deleted id is exit 2", async () => {
    const h = home();
    const reg = mixedRegistry();
    const a = await cli(h, ["run", "status", "exp-aaa", "--registry", reg]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("'exp-aaa' matches 2 experiments: exp-aaa11111, exp-aaa22222");
    const u = await cli(h, ["run", "status", "exp-zzz", "--registry", reg, "--json"]);
    expect(u.code).toBe(2);
    expect(JSON.parse(u.stderr)).toMatchObject({ error: { code: "E_EXPERIMENT_NOT_FOUND" } });
    expect((await cli(h, ["run", "status", "exp-ddd55555", "--registry", reg])).code).toBe(2);
    expect((await cli(h, ["run", "status", "exp-ddd", "--registry", reg])).code).toBe(2);
  });

  it("shows the history written by archive and restore", async () => {
    const h = home();
    const reg = mixedRegistry();
    expect((await cli(h, ["run", "archive", "exp-aaa1", "--registry", reg])).code).toBe(0);
    expect((await cli(h, ["run", "restore", "exp-aaa1", "--registry", reg])).code).toBe(0);
    const r = await cli(h, ["run", "status", "exp-aaa1", "--registry", reg]);
    // The earlier tool's record had no rev: expflow's snapshots count 1, 2.
    expect(r.stdout).toMatch(/^updated +\S+ \(rev 2\)$/m);
    expect(r.stdout).toMatch(/^History\n {2}\S+ {2}archive +\(completed\) {2}by \S+@\S+\n {2}\S+ {2}restore +\(completed\) {2}by \S+$/m);
  });
});

describe("expflow run archive, restore, delete", () => {
  it("archive -> restore -> archive -> delete: each appends a snapshot; delete removes the run everywhere", async () => {
    const h = home();
    const reg = mixedRegistry();
    const a = await cli(h, ["run", "archive", "exp-aaa11111", "--registry", reg]);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("Archived exp-aaa11111 (completed)");
    expect(ids((await cli(h, ["run", "list", "--registry", reg, "--json"])).stdout)).not.toContain("exp-aaa11111");
    expect((await cli(h, ["run", "restore", "exp-aaa11111", "--registry", reg])).stdout).toBe("Restored exp-aaa11111 (completed).\n");
    expect(ids((await cli(h, ["run", "list", "--registry", reg, "--json"])).stdout)).toContain("exp-aaa11111");
    expect((await cli(h, ["run", "archive", "exp-aaa11111", "--registry", reg])).code).toBe(0);
    const d = await cli(h, ["run", "delete", "exp-aaa11111", "--registry", reg]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("Deleted exp-aaa11111 permanently");

    const last = JSON.parse(readFileSync(reg, "utf8").trimEnd().split("\n").at(-1)!) as Rec;
    expect(last).toMatchObject({ experiment_id: "exp-aaa11111", deleted: true, archived: true, rev: 4 });
    expect((last["history"] as { event: string }[]).map((e) => e.event)).toEqual(["archive", "restore", "archive", "delete"]);

    expect(ids((await cli(h, ["run", "list", "--registry", reg, "--include-archived", "--json"])).stdout)).not.toContain("exp-aaa11111");
    expect((await cli(h, ["run", "status", "exp-aaa11111", "--registry", reg])).code).toBe(2);
    const cs = await cli(h, ["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--include-archived", "--json"]);
    expect((JSON.parse(cs.stdout) as { results: { id: string }[] }).results.map((x) => x.id)).not.toContain("exp-aaa11111");
  });

  it("illegal events are exit 2 saying what to do, and change nothing", async () => {
    const h = home();
    const reg = mixedRegistry();
    const before = readFileSync(reg);
    const running = await cli(h, ["run", "archive", "exp-bbb", "--registry", reg]);
    expect(running.code).toBe(2);
    expect(running.stderr).toContain("cannot archive exp-bbb33333: it is running; only completed, failed or cancelled runs can be archived (cancel it first)");
    const notArchived = await cli(h, ["run", "delete", "exp-aaa11111", "--registry", reg]);
    expect(notArchived.code).toBe(2);
    expect(notArchived.stderr).toBe("error: cannot delete exp-aaa11111: only archived runs can be deleted (archive it first)\n");
    expect((await cli(h, ["run", "restore", "exp-aaa11111", "--registry", reg])).stderr).toContain("cannot restore exp-aaa11111: it is not archived");
    expect((await cli(h, ["run", "archive", "exp-ccc", "--registry", reg])).stderr).toContain("it is already archived");
    expect((await cli(h, ["run", "archive", "exp-aaa", "--registry", reg])).stderr).toContain("matches 2 experiments");
    expect(readFileSync(reg).equals(before)).toBe(true);
  });

  it("with a PIN set, archive and delete need it (exit 3, nothing changes); restore does not; the audit log has every decision", async () => {
    const h = home();
    expect((await cli(h, ["pin", "init", "4826"])).code).toBe(0);
    const reg = mixedRegistry();
    const before = readFileSync(reg);

    const denied = await cli(h, ["run", "archive", "exp-aaa11111", "--registry", reg]);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain("(run.archive), and none was supplied");
    expect(readFileSync(reg).equals(before)).toBe(true);
    expect((await cli(h, ["run", "archive", "exp-aaa11111", "--registry", reg], { env: { EXPFLOW_PIN: "1111" } })).code).toBe(3);
    expect(readFileSync(reg).equals(before)).toBe(true);

    expect((await cli(h, ["run", "archive", "exp-aaa11111", "--registry", reg], { env: { EXPFLOW_PIN: "4826" } })).code).toBe(0);
    expect((await cli(h, ["run", "restore", "exp-aaa11111", "--registry", reg])).code).toBe(0);
    expect((await cli(h, ["run", "archive", "exp-aaa11111", "--registry", reg, "--pin-stdin"], { input: "4826\n" })).code).toBe(0);
    const afterArchive = readFileSync(reg);
    expect((await cli(h, ["run", "delete", "exp-aaa11111", "--registry", reg])).code).toBe(3);
    expect(readFileSync(reg).equals(afterArchive)).toBe(true);
    expect((await cli(h, ["run", "delete", "exp-aaa11111", "--registry", reg], { env: { EXPFLOW_PIN: "4826" } })).code).toBe(0);
    // An illegal event fails before the PIN is asked for: no audit record.
    expect((await cli(h, ["run", "delete", "exp-aaa22222", "--registry", reg], { env: { EXPFLOW_PIN: "4826" } })).code).toBe(2);

    const audit = readFileSync(join(h, "audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; target: string; outcome: string });
    expect(audit.filter((a) => a.action.startsWith("run.")).map((a) => [a.action, a.target, a.outcome])).toEqual([
      ["run.archive", "exp-aaa11111", "denied"],
      ["run.archive", "exp-aaa11111", "denied"],
      ["run.archive", "exp-aaa11111", "allowed"],
      ["run.archive", "exp-aaa11111", "allowed"],
      ["run.delete", "exp-aaa11111", "denied"],
      ["run.delete", "exp-aaa11111", "allowed"],
    ]);
    expect((await cli(h, ["audit", "log", "--verify"])).code).toBe(0);
  });
});

// `expflow clearml status | compare-scores | tasks` against the fake ClearML server
// (fake-clearml), in this process through run(argv, io) (test/helpers/cli.ts); one case of each
// command is spawned from dist/cli.js as a user runs it. Every request the CLI makes is
// schema-checked by the fake (assertClean after each test); counts come from the fake's log.
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { record, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import type { CliResult } from "../helpers/cli.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import type { FakeClearmlOptions } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask, manyTasks } from "../../fake-clearml/tasks.js";

interface RankJson {
  sort_by: string;
  ascending: boolean;
  gates: { metric: string; op: string; value: number }[];
  selection: { statuses: string[] | null; default: boolean; ranked: number; excluded: number; excluded_by_status: Record<string, number> };
  pareto: { metric: string; direction: "max" | "min" }[] | null;
  results: {
    rank: number | null;
    id: string;
    name: string | null;
    status: string;
    passed: boolean;
    value: number | null;
    metrics: Record<string, unknown>;
    gates: { metric: string; op: string; threshold: number; actual: number | null; passed: boolean; reason: string | null }[];
  }[];
}

interface TaskJson {
  id: string;
  name: string | null;
  status: string;
  clearml_status: string | null;
  project: string | null;
  tags: string[];
  created: string | null;
  archived: boolean;
  metrics: Record<string, unknown>;
  ambiguous_metrics: Record<string, string[]>;
  params: Record<string, string>;
}

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

// ---------------------------------------------------------------- the server's contents

const PDE = fakeProject("PDEBench");
const ABLATIONS = fakeProject("PDEBench/ablations");
const OLD = fakeProject("PDEBench-2024");
const TIES = fakeProject("Ties");
const AMBIG = fakeProject("Ambig");
const MANY = fakeProject("Many");
const SWEEP = fakeProject("Sweep");

const day = (d: number): string => `2025-01-${String(d).padStart(2, "0")}T00:00:00.000Z`;
const scores = (seg: number, pde: number, train: number) => ({ Score: { seg_total: seg }, PDE: { pde_mean: pde }, Time: { train_time_min: train } });

// PDEBench: statuses, tags, 0 and negative values, a task without metrics, an archived task and a
// subproject's task. Names are the NATO alphabet so an order reads at a glance.
const A = fakeTask({ name: "alpha", project: PDE.id, status: "completed", tags: ["task1", "final"], created: day(1), metrics: scores(0.81, 16.5, 40), params: { "Args/--sub_step": "2" } });
const B = fakeTask({ name: "bravo", project: PDE.id, status: "published", tags: ["task1"], created: day(2), metrics: scores(0.7, 18.5, 50) });
const C = fakeTask({ name: "charlie", project: PDE.id, status: "closed", tags: ["final"], created: day(3), metrics: scores(0.9, 17.9, 70) });
const D = fakeTask({ name: "delta", project: PDE.id, status: "failed", tags: ["ablation"], created: day(4), metrics: scores(0, -0.5, 10) });
const E = fakeTask({ name: "echo", project: PDE.id, status: "completed", tags: ["task1", "final"], archived: true, created: day(5), metrics: scores(0.95, 10, 20) });
const F = fakeTask({ name: "foxtrot", project: PDE.id, status: "in_progress", created: day(6), metrics: scores(0.5, 15, 5) });
const H = fakeTask({ name: "hotel", project: PDE.id, status: "created", created: day(7) });
const G = fakeTask({ name: "golf", project: ABLATIONS.id, status: "completed", tags: ["task1"], created: day(8), metrics: scores(0.99, 12, 30) });
const OLD_TASK = fakeTask({ name: "old", project: OLD.id, created: day(9), metrics: scores(0.1, 30, 90) });

// Ties: equal values are ordered by earlier `created`, then by id (X is created first but has
// the largest id; Y and Z share a creation time).
const TIE_METRICS = {
  x: { seg_total: 0.5, pde_mean: 17 },
  y: { seg_total: 0.5, pde_mean: 17 },
  z: { seg_total: 0.5, pde_mean: 19 },
};
const tie = (key: keyof typeof TIE_METRICS, id: string, created: string) =>
  fakeTask({ id, name: `tie-${key}`, project: TIES.id, created, metrics: { Score: { seg_total: TIE_METRICS[key].seg_total }, PDE: { pde_mean: TIE_METRICS[key].pde_mean } } });
const X = tie("x", "f".repeat(32), "2025-03-01T00:00:00.000Z");
const Y = tie("y", "2".repeat(32), "2025-03-02T00:00:00.000Z");
const Z = tie("z", "1".repeat(32), "2025-03-02T00:00:00.000Z");

// Ambig: seg_total reported under two titles by one task.
const AMB1 = fakeTask({ name: "amb-1", project: AMBIG.id, created: day(10), metrics: { Score: { seg_total: 0.8 }, Loss: { seg_total: 0.1 }, PDE: { pde_mean: 16 } } });
const AMB2 = fakeTask({ name: "amb-2", project: AMBIG.id, created: day(11), metrics: { Score: { seg_total: 0.7 }, PDE: { pde_mean: 17 } } });

const MANY_TASKS = manyTasks(1_200, { project: MANY.id, seed: 7 });

// Sweep: the case. The task with the best pde_mean was stopped (cancelled) at 30 of 200
// epochs; another failed; one is archived and failed.
const sweepTask = (name: string, status: string, pde: number, train: number, extra: { archived?: boolean; day?: number } = {}) =>
  fakeTask({ name, project: SWEEP.id, status, archived: extra.archived, created: day(extra.day ?? 1), metrics: { PDE: { pde_mean: pde }, Time: { train_time_min: train }, Training: { epochs: status === "stopped" ? 30 : 200 } } });
const SWEEP_TASKS = [
  sweepTask("stopped-at-30", "stopped", 9.5, 11, { day: 1 }),
  sweepTask("failed", "failed", 12, 20, { day: 2 }),
  sweepTask("done", "completed", 16.5, 48, { day: 3 }),
  sweepTask("published", "published", 17, 50, { day: 4 }),
  sweepTask("archived-failed", "failed", 1, 1, { archived: true, day: 5 }),
];

// PDEBench holds failed, in_progress and created tasks beside the completed ones: tests of the
// ranking itself (order, gates, values) rank every state, which must be asked for.
const EVERY_STATUS = ["--status", "completed,running,failed,created"];

const OPTIONS: FakeClearmlOptions = {
  projects: [PDE, ABLATIONS, OLD, TIES, AMBIG, MANY, SWEEP],
  tasks: [A, B, C, D, E, F, H, G, OLD_TASK, X, Y, Z, AMB1, AMB2, ...MANY_TASKS, ...SWEEP_TASKS],
};

let fake: FakeClearml;

beforeAll(async () => {
  fake = await FakeClearml.start(OPTIONS);
});
afterEach(() => fake.assertClean());
afterAll(() => fake.close());

function envOf(server: FakeClearml, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { CLEARML_API_HOST: server.url, CLEARML_API_ACCESS_KEY: server.accessKey, CLEARML_API_SECRET_KEY: server.secretKey, NO_COLOR: "1", ...extra };
}

function clearml(args: readonly string[], extra: Record<string, string | undefined> = {}, server: FakeClearml = fake): Promise<CliResult> {
  return runInProcess(["clearml", ...args], { env: envOf(server, extra) });
}

/** {@link clearml}, spawned from the built binary. */
function clearmlSpawned(args: readonly string[], extra: Record<string, string | undefined> = {}, server: FakeClearml = fake): Promise<CliResult> {
  return runCliAsync(["clearml", ...args], { env: envOf(server, extra) });
}

function rank(stdout: string): RankJson {
  return JSON.parse(stdout) as RankJson;
}

function ids(out: RankJson): string[] {
  return out.results.map((r) => r.id);
}

function jsonError(stderr: string): { code: string; message: string } {
  return (JSON.parse(stderr) as { error: { code: string; message: string } }).error;
}

/** A fresh fake for a test that leaves state behind (queued failures), closed and checked after. */
async function withFake<T>(options: FakeClearmlOptions, body: (f: FakeClearml) => Promise<T>): Promise<T> {
  const f = await FakeClearml.start(options);
  try {
    const out = await body(f);
    f.assertClean();
    return out;
  } finally {
    await f.close();
  }
}

/** A port on 127.0.0.1 on which nothing listens (a server was there and is gone). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectNoSecrets(r: CliResult, secrets: readonly string[]): void {
  for (const text of [r.stdout, r.stderr]) {
    for (const s of secrets) expect(text).not.toContain(s);
    expect(text).not.toMatch(JWT);
  }
}

// ---------------------------------------------------------------- status

describe("expflow clearml status", () => {
  it("shows the server, that it answers, that the credentials work and the API version: exit 0", async () => {
    const r = await clearmlSpawned(["status"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`${fake.url} (from CLEARML_API_HOST)`);
    expect(r.stdout).toMatch(/^Reachable +yes$/m);
    expect(r.stdout).toMatch(/^Credentials +work \(from CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY\)$/m);
    expect(r.stdout).toMatch(/^API version +2\.34 \(server 2\.3\.0\)$/m);
    expectNoSecrets(r, [fake.accessKey, fake.secretKey]);
  });

  it("--json: the documented contract", async () => {
    const r = await clearml(["status", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toEqual({
      configured: true,
      server: fake.url,
      server_source: "CLEARML_API_HOST",
      credentials_source: "CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY",
      reachable: true,
      credentials_ok: true,
      version: "2.3.0",
      api_version: "2.34",
      error: null,
    });
  });

  it("refused credentials: exit 4, stderr says so and how to fix it, and no key, secret or token is printed (--verbose too)", async () => {
    const wrongSecret = "wr0ng-s3cr#t$with//parts-and!&(more";
    for (const extra of [[], ["--verbose"], ["--json"]]) {
      const r = await clearml(["status", ...extra], { CLEARML_API_SECRET_KEY: wrongSecret });
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain("credentials were refused");
      expect(r.stderr).toContain("CLEARML_API_ACCESS_KEY");
      expectNoSecrets(r, [fake.accessKey, wrongSecret, fake.secretKey]);
      if (extra.includes("--json")) {
        expect(JSON.parse(r.stdout)).toMatchObject({ reachable: true, credentials_ok: false, error: { code: "E_CLEARML_AUTH" } });
        expect(jsonError(r.stderr).code).toBe("E_CLEARML_AUTH");
      } else {
        expect(r.stdout).toMatch(/^Credentials +refused/m);
      }
      if (extra.includes("--verbose")) expect(r.stderr).toMatch(/^clearml: auth\.login -> 401/m);
    }
  });

  it("a wrong access key is refused the same way, and never printed", async () => {
    const wrongKey = "WRONGACCESSKEY0000XYZ";
    const r = await clearml(["status", "--verbose"], { CLEARML_API_ACCESS_KEY: wrongKey });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("credentials were refused");
    expectNoSecrets(r, [wrongKey, fake.secretKey]);
  });

  it("the secrets of a working login never appear with --verbose either", async () => {
    const r = await clearml(["status", "--verbose"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^clearml: debug\.ping -> 200/m);
    expect(r.stderr).toMatch(/^clearml: auth\.login -> 200/m);
    expect(r.stderr).toMatch(/^clearml: server\.info -> 200/m);
    expectNoSecrets(r, [fake.accessKey, fake.secretKey]);
  });

  it("an unreachable server (nothing listens on the port): exit 4 with a hint", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await runInProcess(["clearml", "status"], { env: { CLEARML_API_HOST: url, CLEARML_API_ACCESS_KEY: "K1234", CLEARML_API_SECRET_KEY: "S1234", NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^Reachable +no$/m);
    expect(r.stderr).toContain(`cannot reach ClearML at ${url}`);
    expect(r.stderr).toContain("ECONNREFUSED");
    expect(r.stderr).toMatch(/^hint: .*CLEARML_API_HOST/m);
    const j = await runInProcess(["clearml", "status", "--json"], { env: { CLEARML_API_HOST: url, CLEARML_API_ACCESS_KEY: "K1234", CLEARML_API_SECRET_KEY: "S1234", NO_COLOR: "1" } });
    expect(j.code).toBe(4);
    expect(JSON.parse(j.stdout)).toMatchObject({ server: url, reachable: false, credentials_ok: false, error: { code: "E_CLEARML_UNREACHABLE" } });
    expect(jsonError(j.stderr).code).toBe("E_CLEARML_UNREACHABLE");
  });

  it("not configured (no variable, no clearml.conf): exit 4 naming each missing setting", async () => {
    const r = await runInProcess(["clearml", "status"], { env: { NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("ClearML is not configured");
    expect(r.stderr).toContain("CLEARML_API_HOST");
    expect(r.stderr).toContain("CLEARML_API_ACCESS_KEY");
    expect(r.stderr).toContain("CLEARML_API_SECRET_KEY");
    expect(r.stderr).toMatch(/^hint: no clearml\.conf found/m);
    const j = await runInProcess(["clearml", "status", "--json"], { env: { NO_COLOR: "1" } });
    expect(j.code).toBe(4);
    expect(jsonError(j.stderr).code).toBe("E_CLEARML_NOT_CONFIGURED");
  });

  it("only the host set: names the two keys, not the host", async () => {
    const r = await runInProcess(["clearml", "status"], { env: { CLEARML_API_HOST: fake.url, NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("the access key (CLEARML_API_ACCESS_KEY");
    expect(r.stderr).toContain("the secret key (CLEARML_API_SECRET_KEY");
    expect(r.stderr).not.toContain("the API server");
  });

  it("reads clearml.conf (CLEARML_CONFIG_FILE): an unquoted URL with a port, and a quoted secret with #, $ and //", async () => {
    expect(fake.secretKey).toMatch(/#.*\$.*\/\//);
    const dir = tempDir();
    const conf = join(dir, "clearml.conf");
    writeFileSync(
      conf,
      `# ClearML SDK configuration file
api {
    # the API server, not the web app
    web_server: http://127.0.0.1:8080
    api_server: ${fake.url}
    files_server: http://127.0.0.1:8081 // a comment after a URL
    credentials {"access_key": "${fake.accessKey}", "secret_key": "${fake.secretKey}"}
}
sdk {
    storage { cache { default_base_dir: "~/.clearml/cache" } }
    development { vcs_repo_detect_async: True }
}
`,
    );
    const r = await runInProcess(["clearml", "status", "--json"], { env: { CLEARML_CONFIG_FILE: conf, NO_COLOR: "1" } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ server: fake.url, server_source: conf, credentials_source: conf, reachable: true, credentials_ok: true, api_version: "2.34" });
    const t = await runInProcess(["clearml", "status"], { env: { CLEARML_CONFIG_FILE: conf, NO_COLOR: "1" } });
    expect(t.code).toBe(0);
    expectNoSecrets(t, [fake.accessKey, fake.secretKey]);
  });

  it("--json: one object of the same shape on stdout whether fine, not configured, misconfigured, unreachable or refused; its error is the one on stderr", async () => {
    const keys = ["configured", "server", "server_source", "credentials_source", "reachable", "credentials_ok", "version", "api_version", "error"];
    const unreachable = `http://127.0.0.1:${await closedPort()}`;
    const cases: [string, Record<string, string | undefined>, number, Record<string, unknown>][] = [
      ["fine", envOf(fake), 0, { configured: true, reachable: true, credentials_ok: true, api_version: "2.34", error: null }],
      ["not configured", { NO_COLOR: "1" }, 4, { configured: false, server: null, server_source: null, credentials_source: null, reachable: false, credentials_ok: false, version: null, api_version: null, error: { code: "E_CLEARML_NOT_CONFIGURED" } }],
      ["only the host", { CLEARML_API_HOST: fake.url, NO_COLOR: "1" }, 4, { configured: false, server: null, error: { code: "E_CLEARML_NOT_CONFIGURED" } }],
      ["a missing CLEARML_CONFIG_FILE", { CLEARML_CONFIG_FILE: join(tempDir(), "nope.conf"), NO_COLOR: "1" }, 4, { configured: false, error: { code: "E_CLEARML_CONFIG" } }],
      ["unreachable", { CLEARML_API_HOST: unreachable, CLEARML_API_ACCESS_KEY: "K1234", CLEARML_API_SECRET_KEY: "S1234", NO_COLOR: "1" }, 4, { configured: true, server: unreachable, reachable: false, credentials_ok: false, error: { code: "E_CLEARML_UNREACHABLE" } }],
      ["credentials refused", envOf(fake, { CLEARML_API_SECRET_KEY: "wrong" }), 4, { configured: true, server: fake.url, reachable: true, credentials_ok: false, version: null, error: { code: "E_CLEARML_AUTH" } }],
    ];
    for (const [what, env, code, expected] of cases) {
      const r = await runInProcess(["clearml", "status", "--json"], { env });
      expect(r.code, what).toBe(code);
      const lines = r.stdout.split("\n").filter((l) => l !== "");
      expect(lines, what).toHaveLength(1);
      const out = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(Object.keys(out), what).toEqual(keys);
      expect(out, what).toMatchObject(expected);
      if (code === 0) {
        expect(r.stderr, what).toBe("");
        continue;
      }
      const error = out["error"] as Record<string, unknown>;
      expect(Object.keys(error), what).toEqual(["code", "message", "hint"]);
      expect(error["message"], what).not.toContain("\n");
      expect({ error }, what).toEqual(JSON.parse(r.stderr));
    }
  });

  it("a CLEARML_CONFIG_FILE that does not exist: exit 4 naming it", async () => {
    const missing = join(tempDir(), "nope.conf");
    const r = await runInProcess(["clearml", "status"], { env: { CLEARML_CONFIG_FILE: missing, NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`CLEARML_CONFIG_FILE names ${missing}, which does not exist`);
  });
});

// ---------------------------------------------------------------- compare-scores

describe("expflow clearml compare-scores", () => {
  it("ranks like the local compare-scores over equivalent records: order, tie-breaks (created, then id), passed flags", async () => {
    // The same experiments as local records: same ids, names, creation times and metrics.
    const path = writeRegistry(
      (["x", "y", "z"] as const).map((k, i) => {
        const t = [X, Y, Z][i]!;
        return record(t.id, TIE_METRICS[k], { name: t.name, project: "Ties", tags: [], timestamp: t.created });
      }),
      tempDir(),
    );
    const cases: { args: string[]; order: string[]; passed: boolean[]; code: number }[] = [
      { args: ["--sort-by", "seg_total"], order: [X.id, Z.id, Y.id], passed: [true, true, true], code: 0 },
      { args: ["--sort-by", "seg_total", "--ascending"], order: [X.id, Z.id, Y.id], passed: [true, true, true], code: 0 },
      { args: ["--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09"], order: [X.id, Y.id, Z.id], passed: [true, true, false], code: 0 },
      { args: ["--sort-by", "pde_mean", "--descending"], order: [Z.id, X.id, Y.id], passed: [true, true, true], code: 0 },
      { args: ["--sort-by", "seg_total", "--gate", "pde_mean:lt:16"], order: [X.id, Z.id, Y.id], passed: [false, false, false], code: 1 },
    ];
    for (const c of cases) {
      const remote = await clearml(["compare-scores", "--project", "Ties", ...c.args, "--json"]);
      const local = await runInProcess(["compare-scores", "--registry", path, "--project", "Ties", ...c.args, "--json"], { env: { NO_COLOR: "1" } });
      expect(remote.code, `${c.args.join(" ")}: ${remote.stderr}`).toBe(c.code);
      expect(local.code, local.stderr).toBe(c.code);
      const r = rank(remote.stdout);
      const l = rank(local.stdout);
      expect(ids(r), c.args.join(" ")).toEqual(c.order);
      expect(r.results.map((x) => x.passed)).toEqual(c.passed);
      // The whole contract, not just the order: same keys, ranks, values, metrics and gate details.
      expect(r).toEqual(l);
    }
  });

  it("gates: pde_mean:lt:18.09 passes some (exit 0); a gate nobody meets is exit 1", async () => {
    const pass = await clearmlSpawned(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "seg_total", "--gate", "pde_mean:lt:18.09", "--json"]);
    expect(pass.code, pass.stderr).toBe(0);
    const out = rank(pass.stdout);
    expect(out.gates).toEqual([{ metric: "pde_mean", op: "lt", value: 18.09 }]);
    expect(out.results.map((r) => [r.name, r.rank, r.passed])).toEqual([
      ["charlie", 1, true],
      ["alpha", 2, true],
      ["foxtrot", 3, true],
      ["delta", 4, true],
      ["bravo", null, false],
      ["hotel", null, false],
    ]);
    expect(out.results.find((r) => r.name === "bravo")!.gates[0]).toEqual({ metric: "pde_mean", op: "lt", threshold: 18.09, actual: 18.5, passed: false, reason: "not_met" });
    expect(out.results.find((r) => r.name === "hotel")!.gates[0]).toMatchObject({ actual: null, passed: false, reason: "missing" });

    const fail = await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "seg_total", "--gate", "pde_mean:lt:-1"]);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/^0 of 6 experiments pass 1 gate; ranked by seg_total, highest first\.$/m);
  });

  it("0 and negative values rank as values, not as missing", async () => {
    const bySeg = rank((await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "seg_total", "--json"])).stdout);
    expect(bySeg.results.map((r) => [r.name, r.value])).toEqual([
      ["charlie", 0.9],
      ["alpha", 0.81],
      ["bravo", 0.7],
      ["foxtrot", 0.5],
      ["delta", 0],
      ["hotel", null],
    ]);
    const byPde = rank((await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "pde_mean", "--gate", "seg_total:ge:0", "--json"])).stdout);
    expect(byPde.results.map((r) => [r.name, r.value, r.passed])).toEqual([
      ["delta", -0.5, true],
      ["foxtrot", 15, true],
      ["alpha", 16.5, true],
      ["charlie", 17.9, true],
      ["bravo", 18.5, true],
      ["hotel", null, false],
    ]);
    // delta's seg_total 0 meets seg_total >= 0: it is a value.
    expect(byPde.results[0]!.gates[0]).toMatchObject({ actual: 0, passed: true, reason: null });
  });

  it("--tags a,b needs all of them; with --any-tag, any", async () => {
    const all = rank((await clearml(["compare-scores", "--project", "PDEBench", "--tags", "task1,final", "--sort-by", "seg_total", "--json"])).stdout);
    expect(all.results.map((r) => r.name)).toEqual(["alpha"]);
    const any = rank((await clearml(["compare-scores", "--project", "PDEBench", "--tags", "task1,final", "--any-tag", "--sort-by", "seg_total", "--json"])).stdout);
    expect(any.results.map((r) => r.name)).toEqual(["charlie", "alpha", "bravo"]);
    // The filter went to the server (not just applied in memory).
    const bodies = fake.requests.filter((q) => q.endpoint === "tasks.get_all").slice(-2).map((q) => (q.body as { tags?: string[] }).tags);
    expect(bodies).toEqual([["__$all", "task1", "final"], ["task1", "final"]]);
  });

  it("archived tasks are left out unless --include-archived", async () => {
    const without = rank((await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--json"])).stdout);
    expect(without.results.map((r) => r.name)).not.toContain("echo");
    const withArchived = rank((await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "seg_total", "--include-archived", "--json"])).stdout);
    expect(withArchived.results.map((r) => r.name)).toEqual(["echo", "charlie", "alpha", "bravo", "foxtrot", "delta", "hotel"]);
  });

  it("--include-subprojects adds the tasks of PDEBench/... (not of PDEBench-2024)", async () => {
    const without = rank((await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--json"])).stdout);
    expect(without.results.map((r) => r.name)).not.toContain("golf");
    const r = await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "seg_total", "--include-subprojects", "--json"]);
    expect(r.code).toBe(0);
    const names = rank(r.stdout).results.map((x) => x.name);
    expect(names[0]).toBe("golf");
    expect(names).not.toContain("old");
    expect(names).toHaveLength(7);
    // The subproject directly, by its full path.
    const sub = rank((await clearml(["compare-scores", "--project", "PDEBench/ablations", "--sort-by", "seg_total", "--json"])).stdout);
    expect(sub.results.map((x) => x.name)).toEqual(["golf"]);
  });

  it("ranks only completed tasks by default (completed, published, closed): a task stopped at 30 of 200 epochs no longer tops it", async () => {
    const r = await clearml(["compare-scores", "--project", "Sweep", "--sort-by", "pde_mean", "--use-thresholds"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[1]).toMatch(/^ +1 +\S+ +done +completed +16\.5 +48 +PASS/);
    expect(lines[2]).toMatch(/^ +2 +\S+ +published +completed +17 +50 +PASS/);
    expect(r.stdout).not.toContain("stopped-at-30");
    expect(lines.at(-2)).toBe("2 of 2 experiments pass 2 gates; ranked by pde_mean, lowest first.");
    // Counted by lifecycle state (stopped is cancelled); the archived failed task is not selected at all.
    expect(lines.at(-1)).toBe("2 unfinished experiments not ranked (1 failed, 1 cancelled); pass --status completed,failed,cancelled to include them.");

    const j = rank((await clearml(["compare-scores", "--project", "Sweep", "--sort-by", "pde_mean", "--use-thresholds", "--json"])).stdout);
    expect(j.results.map((x) => x.name)).toEqual(["done", "published"]);
    expect(j.selection).toEqual({ statuses: ["completed"], default: true, ranked: 2, excluded: 2, excluded_by_status: { failed: 1, cancelled: 1 } });
    const archived = rank((await clearml(["compare-scores", "--project", "Sweep", "--sort-by", "pde_mean", "--include-archived", "--json"])).stdout);
    expect(archived.selection).toMatchObject({ ranked: 2, excluded: 3, excluded_by_status: { failed: 2, cancelled: 1 } });
  });

  it("the summary's --status includes them, by lifecycle state or by ClearML status; a failed task alone is exit 1", async () => {
    const hinted = rank((await clearml(["compare-scores", "--project", "Sweep", "--status", "completed,failed,cancelled", "--sort-by", "pde_mean", "--json"])).stdout);
    expect(hinted.results.map((x) => x.name)).toEqual(["stopped-at-30", "failed", "done", "published"]);
    expect(hinted.selection).toMatchObject({ default: false, excluded: 0 });
    const stopped = rank((await clearml(["compare-scores", "--project", "Sweep", "--status", "stopped", "--sort-by", "pde_mean", "--json"])).stdout);
    expect(stopped.results.map((x) => [x.name, x.status])).toEqual([["stopped-at-30", "cancelled"]]);
    expect(stopped.selection).toMatchObject({ statuses: ["stopped"], excluded: 3, excluded_by_status: { completed: 2, failed: 1 } });
    // A loose gate and no completed task (delta, the only ablation, failed): exit 1, saying why.
    const failedOnly = await clearml(["compare-scores", "--project", "PDEBench", "--tags", "ablation", "--sort-by", "pde_mean", "--gate", "pde_mean:lt:100"]);
    expect(failedOnly.code).toBe(1);
    expect(failedOnly.stdout).toBe("No completed experiment to rank.\n1 unfinished experiment not ranked (1 failed); pass --status completed,failed to include it.\n");
  });

  it("--status completed selects published and closed tasks too; a raw ClearML status selects only it; an unknown one is exit 2", async () => {
    const completed = rank((await clearml(["compare-scores", "--project", "PDEBench", "--status", "completed", "--sort-by", "seg_total", "--json"])).stdout);
    expect(completed.results.map((r) => [r.name, r.status])).toEqual([
      ["charlie", "completed"],
      ["alpha", "completed"],
      ["bravo", "completed"],
    ]);
    const published = rank((await clearml(["compare-scores", "--project", "PDEBench", "--status", "published", "--sort-by", "seg_total", "--json"])).stdout);
    expect(published.results.map((r) => r.name)).toEqual(["bravo"]);
    const running = rank((await clearml(["compare-scores", "--project", "PDEBench", "--status", "running,failed", "--sort-by", "seg_total", "--json"])).stdout);
    expect(running.results.map((r) => [r.name, r.status])).toEqual([
      ["foxtrot", "running"],
      ["delta", "failed"],
    ]);

    fake.resetCounts();
    const bogus = await clearml(["compare-scores", "--project", "PDEBench", "--status", "bogus", "--sort-by", "seg_total"]);
    expect(bogus.code).toBe(2);
    expect(bogus.stdout).toBe("");
    expect(bogus.stderr).toContain("unknown status 'bogus'");
    expect(fake.count()).toBe(0);
    const bogusJson = await clearml(["compare-scores", "--project", "PDEBench", "--status", "bogus", "--sort-by", "seg_total", "--json"]);
    expect(bogusJson.code).toBe(2);
    expect(jsonError(bogusJson.stderr).code).toBe("E_UNKNOWN_STATUS");
  });

  it("an unknown project: exit 2 listing close names", async () => {
    const r = await clearml(["compare-scores", "--project", "pdebench", "--sort-by", "seg_total"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("no ClearML project is named 'pdebench'");
    expect(r.stderr).toContain("'PDEBench'");
    expect(r.stderr).toMatch(/^hint: project names are exact and case-sensitive/m);
    const j = await clearml(["compare-scores", "--project", "Nothing-like-it", "--sort-by", "seg_total", "--json"]);
    expect(j.code).toBe(2);
    expect(jsonError(j.stderr).code).toBe("E_PROJECT_NOT_FOUND");
  });

  it("a metric reported under two titles: the bare name is exit 2 naming both qualified names; a qualified name ranks", async () => {
    for (const args of [["--sort-by", "seg_total"], ["--sort-by", "pde_mean", "--gate", "seg_total:gt:0.5"]]) {
      const r = await clearml(["compare-scores", "--project", "Ambig", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("'seg_total'");
      expect(r.stderr).toContain("'Score/seg_total'");
      expect(r.stderr).toContain("'Loss/seg_total'");
      expect(r.stdout).toBe("");
    }
    const j = await clearml(["compare-scores", "--project", "Ambig", "--sort-by", "seg_total", "--json"]);
    expect(jsonError(j.stderr).code).toBe("E_METRIC_AMBIGUOUS");

    const q = await clearml(["compare-scores", "--project", "Ambig", "--sort-by", "Score/seg_total", "--json"]);
    expect(q.code, q.stderr).toBe(0);
    const out = rank(q.stdout);
    expect(out.sort_by).toBe("Score/seg_total");
    expect(out.results[0]).toMatchObject({ name: "amb-1", value: 0.8 });
    expect(out.results[0]!.metrics).toMatchObject({ "Score/seg_total": 0.8, "Loss/seg_total": 0.1, pde_mean: 16 });
    // Ranking by another, unambiguous metric is not blocked by the ambiguous one.
    const other = await clearml(["compare-scores", "--project", "Ambig", "--sort-by", "pde_mean", "--json"]);
    expect(other.code, other.stderr).toBe(0);
    expect(rank(other.stdout).results.map((r) => r.name)).toEqual(["amb-1", "amb-2"]);
  });

  it("--json has the local command's shape", async () => {
    const r = await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "pde_mean", "--use-thresholds", "--json"]);
    expect(r.code).toBe(0);
    const out = rank(r.stdout);
    expect(Object.keys(out)).toEqual(["sort_by", "ascending", "gates", "selection", "pareto", "results"]);
    expect(out.selection).toEqual({ statuses: ["completed", "running", "failed", "created"], default: false, ranked: 6, excluded: 0, excluded_by_status: {} });
    expect(out.sort_by).toBe("pde_mean");
    expect(out.ascending).toBe(true);
    expect(out.gates).toEqual([
      { metric: "pde_mean", op: "lt", value: 18.09 },
      { metric: "train_time_min", op: "lt", value: 60 },
    ]);
    for (const x of out.results) {
      expect(Object.keys(x)).toEqual(["rank", "id", "name", "status", "passed", "value", "metrics", "gates"]);
      for (const g of x.gates) expect(Object.keys(g)).toEqual(["metric", "op", "threshold", "actual", "passed", "reason"]);
    }
    expect(out.results[0]).toMatchObject({ rank: 1, id: D.id, name: "delta", status: "failed", passed: true, value: -0.5, metrics: { seg_total: 0, pde_mean: -0.5, train_time_min: 10 } });
    // One JSON document, nothing else.
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toBe("");
  });

  it("--use-thresholds, --only-passing and --max", async () => {
    const all = rank((await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "pde_mean", "--use-thresholds", "--json"])).stdout);
    expect(all.results.map((r) => [r.name, r.passed])).toEqual([
      ["delta", true],
      ["foxtrot", true],
      ["alpha", true],
      ["charlie", false],
      ["bravo", false],
      ["hotel", false],
    ]);
    const passing = rank((await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "pde_mean", "--use-thresholds", "--only-passing", "--json"])).stdout);
    expect(passing.results.map((r) => r.name)).toEqual(["delta", "foxtrot", "alpha"]);
    const max = await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "pde_mean", "--use-thresholds", "--max", "2"]);
    expect(max.code).toBe(0);
    expect(max.stdout).toMatch(/^3 of 6 experiments pass 2 gates \(showing 2\); ranked by pde_mean, lowest first\.$/m);
    expect(max.stdout).toContain("delta");
    expect(max.stdout).toContain("foxtrot");
    expect(max.stdout).not.toContain("alpha");
    const none = await clearml(["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:-5", "--only-passing", "--json"]);
    expect(none.code).toBe(1);
    expect(rank(none.stdout).results).toEqual([]);
  });

  it("--pareto ranks by fronts, as the local command does: FRONT, the objectives as columns, failing tasks unranked", async () => {
    // seg_total highest and train_time_min lowest: charlie (0.9), alpha (0.81, 40) and foxtrot
    // (5 min) are beaten by no one; delta by foxtrot; bravo fails the gate (pde_mean 18.5).
    const args = ["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--pareto", "seg_total:max,train_time_min:min", "--gate", "pde_mean:lt:18.09"];
    const out = rank((await clearmlSpawned([...args, "--json"])).stdout);
    expect(out.pareto).toEqual([
      { metric: "seg_total", direction: "max" },
      { metric: "train_time_min", direction: "min" },
    ]);
    expect(out.sort_by).toBe("seg_total");
    expect(out.ascending).toBe(false);
    expect(out.results.map((r) => [r.name, r.rank])).toEqual([
      ["charlie", 1],
      ["alpha", 1],
      ["foxtrot", 1],
      ["delta", 2],
      ["bravo", null],
      ["hotel", null],
    ]);
    const table = await clearml(args);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^FRONT +ID +NAME +STATUS +seg_total +train_time_min +pde_mean +RESULT +FAILED GATES$/m);
    expect(table.stdout).toMatch(/^4 of 6 experiments pass 1 gate; 3 on the Pareto front of seg_total \(highest\) and train_time_min \(lowest\), 2 fronts\.$/m);
    const only = rank((await clearml([...args, "--only-passing", "--max", "2", "--json"])).stdout);
    expect(only.results.map((r) => [r.name, r.rank])).toEqual([
      ["charlie", 1],
      ["alpha", 1],
    ]);
    // Without --sort-by or --pareto, or with a bad objective: exit 2 before any request.
    fake.resetCounts();
    const neither = await clearml(["compare-scores", "--project", "PDEBench"]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("error: clearml compare-scores needs --sort-by or --pareto");
    const bad = await clearml(["compare-scores", "--project", "PDEBench", "--pareto", "seg_total:best,pde_mean:min", "--json"]);
    expect(bad.code).toBe(2);
    expect(jsonError(bad.stderr).code).toBe("E_PARETO_SYNTAX");
    expect(fake.count()).toBe(0);
  });

  it("the table, --csv and --markdown", async () => {
    const args = ["compare-scores", "--project", "PDEBench", ...EVERY_STATUS, "--sort-by", "seg_total", "--gate", "pde_mean:lt:18.09"];
    const table = await clearml(args);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^RANK +ID +NAME +STATUS +seg_total +pde_mean +RESULT +FAILED GATES$/m);
    expect(table.stdout).toMatch(/^4 of 6 experiments pass 1 gate; ranked by seg_total, highest first\.$/m);
    expect(table.stdout).toMatch(new RegExp(`^ *1 +${C.id} +charlie +completed +0\\.9 +17\\.9 +PASS +- *$`, "m"));
    expect(table.stdout).toMatch(/bravo .*FAIL +pde_mean 18\.5 not < 18\.09/);
    expect(table.stdout).not.toContain("\u001b[");

    const csv = await clearml([...args, "--csv"]);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split(/\r?\n/);
    expect(lines).toHaveLength(7);
    expect(lines[0]!.toLowerCase()).toMatch(/^rank,id,name,status,seg_total,pde_mean,(result|passed),failed_gates$/);
    expect(lines[1]).toBe(`1,${C.id},charlie,completed,0.9,17.9,true,`);

    const md = await clearml([...args, "--markdown"]);
    expect(md.code).toBe(0);
    const rows = md.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^\| *RANK *\| *ID *\| *NAME *\|/);
    expect(rows[1]).toMatch(/^\|[ :|-]+\|$/);
    expect(rows).toHaveLength(8);
    expect(md.stdout).toContain("charlie");
  });

  it("1,200 tasks: all ranked, in 5 requests (1 login, 1 project lookup, 3 pages), never one per task", async () => {
    fake.resetCounts();
    const every = ["--status", "completed,running,failed,cancelled,queued,created"];
    const r = await clearml(["compare-scores", "--project", "Many", ...every, "--sort-by", "seg_total", "--include-archived", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = rank(r.stdout);
    expect(out.results).toHaveLength(1_200);
    expect(new Set(ids(out)).size).toBe(1_200);
    expect(fake.count("auth.login")).toBe(1);
    expect(fake.count("projects.get_all")).toBe(1);
    expect(fake.count("tasks.get_all")).toBe(3);
    expect(fake.count()).toBe(5);
    // Zeros and negatives of the generator are ranked values.
    const values = out.results.map((x) => x.value).filter((v): v is number => v !== null);
    expect(values).toContain(0);
    for (let i = 1; i < values.length; i++) expect(values[i - 1]!).toBeGreaterThanOrEqual(values[i]!);
    const neg = rank((await clearml(["compare-scores", "--project", "Many", ...every, "--sort-by", "pde_mean", "--include-archived", "--json"])).stdout);
    expect(neg.results[0]!.value).toBeLessThan(0);

    // Without --include-archived, the archived ones are filtered on the server; by default only
    // completed (and published) tasks are ranked, the others counted, from the same 3 pages.
    fake.resetCounts();
    const live = rank((await clearml(["compare-scores", "--project", "Many", "--sort-by", "seg_total", "--json"])).stdout);
    const unarchived = MANY_TASKS.filter((t) => !t.system_tags.includes("archived"));
    const finished = unarchived.filter((t) => t.status === "completed" || t.status === "published");
    expect(live.results).toHaveLength(finished.length);
    expect(live.selection).toMatchObject({ ranked: finished.length, excluded: unarchived.length - finished.length });
    expect(Object.keys(live.selection.excluded_by_status)).toEqual(["created", "queued", "running", "failed", "cancelled"]);
    expect(fake.count("tasks.get_all")).toBe(3);
  });
});

// ---------------------------------------------------------------- resilience

describe("expflow clearml compare-scores when the server misbehaves", () => {
  // Each test gets its own server: a queued failure a failed run leaves behind cannot leak.
  const small: FakeClearmlOptions = { projects: [PDE], tasks: [A, B, C, D, F, H] };

  it("one 500 on tasks.get_all is retried: exit 0", async () => {
    await withFake(small, async (f) => {
      f.failNext("tasks.get_all", { status: 500 }, 1);
      const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--json"], {}, f);
      expect(r.code, r.stderr).toBe(0);
      // All six tasks read: the three completed ones ranked, the failed, running and created counted.
      expect(rank(r.stdout).selection).toMatchObject({ ranked: 3, excluded: 3 });
      expect(f.requests.filter((q) => q.endpoint === "tasks.get_all").map((q) => q.status)).toEqual([500, 200]);
    });
  });

  it("a server failing every time: exit 4 with a clear message, after a bounded number of tries", async () => {
    await withFake(small, async (f) => {
      f.failNext("tasks.get_all", { status: 500 }, 10);
      const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total"], {}, f);
      expect(r.code).toBe(4);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`ClearML at ${f.url} failed on tasks.get_all (500/0 General error)`);
      expect(r.stderr).toMatch(/^hint: the server is failing/m);
      expect(f.count("tasks.get_all")).toBeGreaterThan(1);
      expect(f.count("tasks.get_all")).toBeLessThan(10);
      const j = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--json"], {}, f);
      expect(j.code).toBe(4);
      expect(jsonError(j.stderr).code).toBe("E_CLEARML_SERVER");
    });
  });

  it("an invalid token (401/30) on the first listing: one more login, then success", async () => {
    await withFake(small, async (f) => {
      f.failNext("tasks.get_all", { status: 401, subcode: 30, msg: "Invalid token" }, 1);
      const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--json"], {}, f);
      expect(r.code, r.stderr).toBe(0);
      expect(rank(r.stdout).selection).toMatchObject({ ranked: 3, excluded: 3 });
      expect(f.count("auth.login")).toBe(2);
      expect(f.requests.map((q) => `${q.endpoint} ${q.status}`)).toEqual(["auth.login 200", "projects.get_all 200", "tasks.get_all 401", "auth.login 200", "tasks.get_all 200"]);
    });
  });

  it("a token refused even after a fresh login: exit 4, not a loop of logins", async () => {
    await withFake(small, async (f) => {
      f.failNext("tasks.get_all", { status: 401, subcode: 30, msg: "Invalid token" }, 5);
      const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total"], {}, f);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain("the session token was refused even after a fresh login");
      expect(f.count("auth.login")).toBe(2);
      expect(f.count("tasks.get_all")).toBe(2);
    });
  });

  it("refused credentials on a listing: exit 4, no secret printed", async () => {
    const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--verbose"], { CLEARML_API_SECRET_KEY: "nope-#$//-nope" });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("credentials were refused");
    expectNoSecrets(r, [fake.accessKey, "nope-#$//-nope"]);
  });

  it("an answer that is not JSON: exit 4 E_CLEARML_BAD_RESPONSE, as a JSON error under --json", async () => {
    await withFake(small, async (f) => {
      f.malformNext("tasks.get_all", "malformed");
      const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--json"], {}, f);
      expect(r.code).toBe(4);
      expect(r.stdout).toBe("");
      const err = jsonError(r.stderr);
      expect(err.code).toBe("E_CLEARML_BAD_RESPONSE");
      expect(err.message).toContain("tasks.get_all");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      // Not retried: a 200 that is not ClearML's will not become one.
      expect(f.count("tasks.get_all")).toBe(1);
    });
  });

  it("--verbose: one line per request on stderr, with the endpoint and status, and no secret", async () => {
    fake.resetCounts();
    const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--verbose", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines.every((l) => /^clearml: [a-z_]+\.[a-z_]+ -> \d{3} in \d+ ms$/.test(l)), r.stderr).toBe(true);
    expect(lines.map((l) => /^clearml: (\S+) -> (\d+)/.exec(l)!.slice(1).join(" "))).toEqual(fake.requests.map((q) => `${q.endpoint} ${q.status}`));
    expect(lines).toHaveLength(3);
    expectNoSecrets(r, [fake.accessKey, fake.secretKey]);
    // stdout is still one JSON document.
    expect(rank(r.stdout).selection).toMatchObject({ ranked: 3, excluded: 3 });
  });

  it("--verbose shows the retries: the failed attempt, then the next", async () => {
    await withFake(small, async (f) => {
      f.failNext("tasks.get_all", { status: 500 }, 1);
      const r = await clearml(["compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--verbose"], {}, f);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^clearml: tasks\.get_all -> 500 \(500\/0\) in \d+ ms$/m);
      expect(r.stderr).toMatch(/^clearml: tasks\.get_all -> 200 in \d+ ms, attempt 2$/m);
    });
  });
});

// ---------------------------------------------------------------- tasks

describe("expflow clearml tasks", () => {
  it("lists the project's tasks oldest first, with both statuses and the standard metrics", async () => {
    const r = await clearmlSpawned(["tasks", "--project", "PDEBench"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ID +NAME +STATUS +CLEARML STATUS +CREATED +seg_total +pde_mean +train_time_min *$/m);
    const names = ["alpha", "bravo", "charlie", "delta", "foxtrot", "hotel"];
    const positions = names.map((n) => r.stdout.indexOf(` ${n} `));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(r.stdout).toMatch(new RegExp(`^${B.id} +bravo +completed +published +`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^${F.id} +foxtrot +running +in_progress +`, "m"));
    expect(r.stdout).not.toContain("echo");
    expect(r.stdout).toMatch(new RegExp(`^6 tasks in PDEBench on ${fake.url.replace(/[.]/g, "\\.")}\\.$`, "m"));
  });

  it("--json: the experiment list {location, experiments}, each with id, name, status, clearml_status, project, tags, created, archived, metrics, ambiguous_metrics, params", async () => {
    const r = await clearml(["tasks", "--project", "PDEBench", "--include-archived", "--include-subprojects", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { location: string; experiments: TaskJson[] };
    expect(Object.keys(out)).toEqual(["location", "experiments"]);
    expect(out.location).toBe(fake.url);
    expect(out.experiments.map((t) => t.name)).toEqual(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "hotel", "golf"]);
    for (const t of out.experiments) {
      expect(Object.keys(t)).toEqual(["id", "name", "status", "clearml_status", "project", "tags", "created", "archived", "metrics", "ambiguous_metrics", "params"]);
    }
    expect(out.experiments[0]).toEqual({
      id: A.id,
      name: "alpha",
      status: "completed",
      clearml_status: "completed",
      project: "PDEBench",
      tags: ["task1", "final"],
      created: day(1),
      archived: false,
      metrics: { pde_mean: 16.5, seg_total: 0.81, train_time_min: 40 },
      ambiguous_metrics: {},
      params: { "Args/--sub_step": "2" },
    });
    expect(out.experiments.find((t) => t.name === "echo")).toMatchObject({ archived: true });
    expect(out.experiments.find((t) => t.name === "golf")).toMatchObject({ project: "PDEBench/ablations" });
    expect(out.experiments.find((t) => t.name === "bravo")).toMatchObject({ status: "completed", clearml_status: "published" });
    expect(out.experiments.find((t) => t.name === "hotel")).toMatchObject({ status: "created", clearml_status: "created", metrics: {} });
  });

  it("--json prints the same experiment shape as run list --json: same keys for a ClearML task and a local run", async () => {
    const home = tempDir();
    const reg = writeRegistry([record("exp-local01", { pde_mean: 16.5, seg_total: 0.81 }, { params: { "Args/--sub_step": "2" } })]);
    const tasks = await clearml(["tasks", "--project", "PDEBench", "--json"]);
    const local = await runCliAsync(["run", "list", "--registry", reg, "--json"], { env: { EXPFLOW_HOME: home } });
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(local.code, local.stderr).toBe(0);
    const remote = JSON.parse(tasks.stdout) as { location: string; experiments: Record<string, unknown>[] };
    const mine = JSON.parse(local.stdout) as { location: string; experiments: Record<string, unknown>[] };
    expect(Object.keys(mine)).toEqual(Object.keys(remote));
    expect(Object.keys(mine.experiments[0]!)).toEqual(Object.keys(remote.experiments[0]!));
    // Each key holds the same kind of value on both sides.
    const kinds = (e: Record<string, unknown>) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? "null" : Array.isArray(v) ? "array" : typeof v]));
    expect(kinds(mine.experiments[0]!)).toEqual({ ...kinds(remote.experiments[0]!), clearml_status: "null" });
    expect(mine.experiments[0]).toEqual({
      id: "exp-local01",
      name: "run-exp-local01",
      status: "completed",
      clearml_status: null,
      project: "P",
      tags: ["task1"],
      created: "2026-10-01T00:00:00",
      archived: false,
      metrics: { pde_mean: 16.5, seg_total: 0.81 },
      ambiguous_metrics: {},
      params: { "Args/--sub_step": "2" },
    });
  });

  it("--json shows a metric reported under two titles as qualified names, listed in ambiguous_metrics", async () => {
    const r = await clearml(["tasks", "--project", "Ambig", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const [one, two] = (JSON.parse(r.stdout) as { experiments: TaskJson[] }).experiments;
    expect(one).toMatchObject({ name: "amb-1", metrics: { "Score/seg_total": 0.8, "Loss/seg_total": 0.1, pde_mean: 16 }, ambiguous_metrics: { seg_total: ["Loss/seg_total", "Score/seg_total"] } });
    expect(one!.metrics).not.toHaveProperty("seg_total");
    expect(two).toMatchObject({ name: "amb-2", metrics: { seg_total: 0.7, pde_mean: 17 }, ambiguous_metrics: {} });
  });

  it("filters like compare-scores (--tags, --status) and an unknown project is exit 2", async () => {
    const r = await clearml(["tasks", "--project", "PDEBench", "--tags", "final", "--status", "completed", "--json"]);
    expect((JSON.parse(r.stdout) as { experiments: TaskJson[] }).experiments.map((t) => t.name)).toEqual(["alpha", "charlie"]);
    const u = await clearml(["tasks", "--project", "PDEBenc"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("'PDEBench'");
  });
});

// ---------------------------------------------------------------- issue 11: complete or loud

describe("issue 11: a ClearML listing is complete or fails loudly", () => {
  const LOST = fakeProject("Lost");
  const LOST_TASKS = manyTasks(2_000, { project: LOST.id, seed: 23 });
  const lost: FakeClearmlOptions = { projects: [LOST], tasks: LOST_TASKS };
  const rankLost = ["compare-scores", "--project", "Lost", "--status", "completed,running,failed,cancelled,queued,created", "--include-archived", "--sort-by", "seg_total", "--json"];
  const okEnvelope = (data: unknown): string =>
    JSON.stringify({ meta: { id: "x", trx: "x", endpoint: { name: "x" }, result_code: 200, result_subcode: 0, result_msg: "OK", error_stack: null, error_data: {} }, data });

  // Regression: a proxy's 502 after the server served page 2 made the scroll retry skip 500 tasks, exit 0.
  it.each(["502", "drop"] as const)("the answer to page 2 lost (%s): all 2,000 tasks ranked, each once", async (kind) => {
    await withFake(lost, async (f) => {
      f.malformNext("tasks.get_all", kind, { skip: 2 });
      const r = await clearml(rankLost, {}, f);
      expect(r.code, r.stderr).toBe(0);
      const out = rank(r.stdout);
      expect(out.results).toHaveLength(2_000);
      expect(new Set(ids(out))).toEqual(new Set(LOST_TASKS.map((t) => t.id)));
      expect(r.stderr).not.toContain("internal error");
    });
  });

  it("the answer to page 2 lost on every try: exit 4, never exit 0 with tasks missing", async () => {
    await withFake(lost, async (f) => {
      f.malformNext("tasks.get_all", "502", { skip: 2, times: 10 });
      const r = await clearml(rankLost, {}, f);
      expect(r.code).toBe(4);
      expect(r.stdout).toBe("");
      expect(jsonError(r.stderr).code).toBe("E_CLEARML_SERVER");
    });
  });

  it("a server that repeats the same page: exit 4 E_CLEARML_LISTING after two pages", async () => {
    await withFake(lost, async (f) => {
      let first: string | undefined;
      f.respondNext("tasks.get_all", (res, answer) => {
        first ??= answer.text;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(first);
      }, Infinity);
      const r = await clearml(rankLost, {}, f);
      expect(r.code).toBe(4);
      expect(r.stdout).toBe("");
      expect(jsonError(r.stderr)).toMatchObject({ code: "E_CLEARML_LISTING" });
      expect(f.count("tasks.get_all")).toBe(2);
    });
  });

  it("a server that returns 200,000 tasks in one page: exit 4 at once", async () => {
    await withFake(lost, async (f) => {
      f.respondNext("tasks.get_all", (res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(okEnvelope({ tasks: Array.from({ length: 200_000 }, (_, i) => ({ id: `t${i}`, project: LOST.id, status: "completed" })) }));
      });
      const r = await clearml(rankLost, {}, f);
      expect(r.code).toBe(4);
      expect(jsonError(r.stderr).message).toContain("200000 tasks where 500 were asked for");
    });
  });

  it("an endless body: exit 4 naming the 256 MiB cap (today: memory without end)", async () => {
    await withFake(lost, async (f) => {
      f.respondNext("tasks.get_all", (res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once("drain", pump);
        };
        res.write('{"meta": {"result_code": 200}, "data": {"tasks": [');
        pump();
      });
      const r = await runInProcess(["clearml", ...rankLost.filter((a) => a !== "--json")], { env: envOf(f) });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain("more than 256 MiB for tasks.get_all");
      expect(r.stderr).not.toContain("internal error");
    });
  });

  it("a redirect to another origin: exit 4 naming it; `status` never says the credentials work on its word", async () => {
    const elsewhere = await FakeClearml.start({});
    try {
      // Whatever is asked, the other origin says yes.
      elsewhere.respondNext("*", (res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(okEnvelope({ token: "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjk5OTk5OTk5OTl9.c2ln", msg: "ClearML server", version: "9.9", api_version: "9.9" }));
      }, Infinity);
      await withFake(lost, async (f) => {
        f.respondNext("*", (res) => {
          res.writeHead(307, { Location: `${elsewhere.url}/v2.30/auth.login`, "Content-Length": "0" });
          res.end();
        }, Infinity);
        const r = await clearml(["status"], {}, f);
        expect(r.code).toBe(4);
        expect(r.stdout).not.toMatch(/Credentials +work/);
        expect(r.stderr).toContain(`redirect to ${elsewhere.url}`);
        expect(r.stderr).toContain("expflow follows no redirects");
        const j = await clearml(["status", "--json"], {}, f);
        expect(j.code).toBe(4);
        expect(JSON.parse(j.stdout)).toMatchObject({ credentials_ok: false, error: { code: "E_CLEARML_REDIRECT" } });
      });
      expect(elsewhere.count()).toBe(0);
      elsewhere.takeViolations();
    } finally {
      await elsewhere.close();
    }
  });

  it("the HTTP reason phrase is never printed, with --verbose neither", async () => {
    await withFake(lost, async (f) => {
      f.respondNext("tasks.get_all", (res) => {
        res.statusMessage = "Bad Gateway \u009b2J LEAKED-REASON";
        res.writeHead(502, { "Content-Type": "text/plain" });
        res.end("gone");
      }, Infinity);
      for (const extra of [[], ["--verbose"]]) {
        const r = await clearml([...rankLost.filter((a) => a !== "--json"), ...extra], {}, f);
        expect(r.code).toBe(4);
        expect(r.stderr).toContain("HTTP 502");
        expect(r.stderr).not.toContain("LEAKED-REASON");
        expect(r.stderr).not.toContain("\u009b");
      }
    });
  });

  it("user information in CLEARML_API_HOST is never printed (nor sent), with --verbose neither", async () => {
    const host = fake.url.replace("http://", "http://alice:pa55w0rd-XYZ@");
    for (const extra of [[], ["--verbose"], ["--json"]]) {
      const r = await clearml(["status", ...extra], { CLEARML_API_HOST: host });
      expect(r.code, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/alice|pa55w0rd/);
    }
    const gone = `http://alice:pa55w0rd-XYZ@127.0.0.1:${await closedPort()}`;
    const r = await runInProcess(["clearml", "status", "--verbose"], { env: { CLEARML_API_HOST: gone, CLEARML_API_ACCESS_KEY: "K1234", CLEARML_API_SECRET_KEY: "S1234", NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/alice|pa55w0rd/);
    const bad = await runInProcess(["clearml", "status"], { env: { CLEARML_API_HOST: "http://alice:pa55w0rd-XYZ@[::1", CLEARML_API_ACCESS_KEY: "K1234", CLEARML_API_SECRET_KEY: "S1234", NO_COLOR: "1" } });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain("not a valid URL");
    expect(`${bad.stdout}${bad.stderr}`).not.toMatch(/alice|pa55w0rd/);
    expect(bad.stderr).not.toContain("internal error");
  });

  it.each([
    ["a line holding only a secret", "api {\n  credentials {\n    sk-TOPSECRET-0123\n  }\n}\n", "line 3", "sk-"],
    ["a bad escape next to a secret", 'api {\n  credentials { secret_key: "TOPSECRET\\q" }\n}\n', "line 2", "\\q"],
    ["text after the closing brace", "{ api { } }\nTOPSECRET\n", "line 2", "'T'"],
  ])("a clearml.conf parse error names the line, never its content: %s", async (_what, text, line, fragment) => {
    const conf = join(tempDir(), "clearml.conf");
    writeFileSync(conf, text);
    const r = await runInProcess(["clearml", "status"], { env: { CLEARML_CONFIG_FILE: conf, NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`cannot parse the ClearML configuration ${conf}: ${line}:`);
    expect(r.stderr).not.toContain("TOPSECRET");
    expect(r.stderr).not.toContain(fragment);
  });

  it("a clearml.conf nested 20,000 deep: exit 4 with a message, no stack trace", async () => {
    const conf = join(tempDir(), "clearml.conf");
    writeFileSync(conf, `${"a {\n".repeat(20_000)}${"}\n".repeat(20_000)}`);
    const r = await runInProcess(["clearml", "status"], { env: { CLEARML_CONFIG_FILE: conf, NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("nest deeper than 64 levels");
    expect(r.stderr).not.toContain("internal error");
  });
});

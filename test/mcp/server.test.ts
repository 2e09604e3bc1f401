// `expflow mcp` as an agent's client sees it: the SDK's Client connected over stdio to the built
// server (`node dist/cli.js mcp`), with EXPFLOW_HOME and the registry in temporary directories,
// and the ClearML double (fake-clearml) for the ClearML cases.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { z } from "zod";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, ROOT, record, runCli, tempDir, writeRegistry } from "../helpers/cli.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";
import { AuditLogSchema, AuditRulesSchema, AuditValidationSchema, AuditVerificationSchema } from "../../src/contracts/audit.js";
import { ErrorOutputSchema } from "../../src/contracts/error.js";
import { ExperimentListSchema } from "../../src/contracts/experiment.js";
import { MetricDefinitionSchema, MetricListSchema, TaskMetricsReportSchema } from "../../src/contracts/metrics.js";
import { RankingSchema } from "../../src/contracts/ranking.js";
import { RegistryRecordSchema, RunDiffSchema, RunRetrySchema, RunStatusSchema, RunSubmitResultSchema } from "../../src/contracts/runs.js";

interface Server {
  readonly client: Client;
  readonly home: string;
  readonly registry: string;
  readonly stderr: () => string;
}

const open: Client[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const LINES = [
  record("exp-a1", { pde_mean: 15, train_time_min: 40 }),
  record("exp-b2", { pde_mean: 17, train_time_min: 70 }),
  record("exp-c3", { pde_mean: 20, train_time_min: 30 }, { status: "failed", reason: "boom", argv: ["true"], cwd: "/" }),
];

async function start(args: readonly string[] = [], env: Record<string, string> = {}, registry = writeRegistry(LINES)): Promise<Server> {
  const home = tempDir("expflow-mcp-home-");
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", "--registry", registry, ...args],
    env: { PATH: process.env["PATH"] ?? "", HOME: home, EXPFLOW_HOME: home, NO_COLOR: "1", ...env },
    cwd: ROOT,
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: "expflow-test", version: "0.0.1" });
  await client.connect(transport);
  open.push(client);
  return { client, home, registry, stderr: () => err };
}

async function call(s: Server, name: string, args: Record<string, unknown> = {}) {
  return (await s.client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent?: Record<string, unknown>; content: { type: string; text: string }[] };
}

function ok<T extends z.ZodType>(r: Awaited<ReturnType<typeof call>>, schema: T): z.infer<T> {
  expect(r.isError, r.content[0]?.text).not.toBe(true);
  return schema.parse(r.structuredContent);
}

function errorOf(r: Awaited<ReturnType<typeof call>>) {
  expect(r.isError).toBe(true);
  expect(r.structuredContent).toBeUndefined();
  return ErrorOutputSchema.parse(JSON.parse(r.content[0]!.text)).error;
}

describe("expflow mcp", () => {
  it("lists its tools, each with a strict input schema and an output schema", async () => {
    const s = await start();
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      "list_experiments",
      "experiment_status",
      "compare_scores",
      "audit_validate",
      "run_diff",
      "metrics_list",
      "metric_show",
      "audit_rules",
      "audit_log",
      "audit_verify",
      "approval_status",
      "approvals_list",
      "submit_run",
      "report_metrics",
      "report_task_metrics",
      "retry_runs",
      "cancel_run",
      "archive_run",
      "restore_run",
      "delete_run",
      "compact_registry",
      "pin_clear",
      "pin_policy",
      "pin_change",
    ]);
    for (const t of tools) {
      expect(t.inputSchema.type).toBe("object");
      expect((t.inputSchema as { additionalProperties?: unknown }).additionalProperties, t.name).toBe(false);
      expect(t.outputSchema?.type, t.name).toBe("object");
      expect(t.description?.length ?? 0).toBeGreaterThan(20);
    }
    const compare = tools.find((t) => t.name === "compare_scores")!;
    expect(Object.keys(compare.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(["sort_by", "pareto", "gates", "use_thresholds", "statuses", "max", "clearml", "project"]));
  });

  it("every read tool returns its command's --json contract as structured content", async () => {
    const s = await start();
    const list = ok(await call(s, "list_experiments", {}), ExperimentListSchema);
    expect(list.experiments.map((e) => e.id)).toEqual(["exp-a1", "exp-b2", "exp-c3"]);
    expect(list.location).toBe(s.registry);
    expect(ok(await call(s, "list_experiments", { statuses: ["failed"] }), ExperimentListSchema).experiments.map((e) => e.id)).toEqual(["exp-c3"]);
    expect(ok(await call(s, "experiment_status", { id: "exp-b" }), RunStatusSchema).experiment_id).toBe("exp-b2");
    const ranking = ok(await call(s, "compare_scores", { sort_by: "pde_mean", use_thresholds: true }), RankingSchema);
    expect(ranking.results.map((r) => [r.id, r.passed])).toEqual([
      ["exp-a1", true],
      ["exp-b2", false],
    ]);
    expect(ranking.selection.excluded_by_status).toEqual({ failed: 1 });
    const pareto = ok(await call(s, "compare_scores", { pareto: "pde_mean:min,train_time_min:min", statuses: ["completed", "failed"], max: 2 }), RankingSchema);
    expect(pareto.pareto).toEqual([
      { metric: "pde_mean", direction: "min" },
      { metric: "train_time_min", direction: "min" },
    ]);
    expect(pareto.results).toHaveLength(2);
    const audit = ok(await call(s, "audit_validate", { id: "exp-a1" }), AuditValidationSchema);
    expect(audit.experiment_id).toBe("exp-a1");
    const diff = ok(await call(s, "run_diff", { ids: ["exp-a1", "exp-b2"] }), RunDiffSchema);
    expect(diff.rows.map((r) => r.key)).toEqual(expect.arrayContaining(["pde_mean", "train_time_min"]));
    expect(MetricListSchema.parse(ok(await call(s, "metrics_list", {}), (await import("../../src/contracts/mcp.js")).McpMetricListSchema).metrics).length).toBeGreaterThan(10);
    expect(ok(await call(s, "metric_show", { name: "pde_mean" }), MetricDefinitionSchema).direction).toBe("lower");
    expect(ok(await call(s, "audit_rules", {}), AuditRulesSchema).name).toBe("pdebench");
    expect(AuditLogSchema.parse(ok(await call(s, "audit_log", {}), (await import("../../src/contracts/mcp.js")).McpAuditLogSchema).records)).toEqual([]);
    expect(ok(await call(s, "audit_verify", {}), AuditVerificationSchema).ok).toBe(true);
  });

  it("the same JSON as the CLI's --json, byte for byte", async () => {
    const s = await start();
    const env = { EXPFLOW_HOME: s.home, NO_COLOR: "1" };
    const cli = runCli(["compare-scores", "--registry", s.registry, "--sort-by", "pde_mean", "--use-thresholds", "--json"], { env });
    const mcp = await call(s, "compare_scores", { sort_by: "pde_mean", use_thresholds: true });
    expect(mcp.content[0]!.text).toBe(cli.stdout.trimEnd());
    const status = runCli(["run", "status", "exp-a1", "--registry", s.registry, "--json"], { env });
    expect(JSON.stringify((await call(s, "experiment_status", { id: "exp-a1" })).structuredContent)).toBe(status.stdout.trimEnd());
  });

  it("writes: submit a run, report metrics, retry a failed one", async () => {
    const s = await start();
    const made = ok(await call(s, "submit_run", { command: ["python", "train.py"], args: { lr: "3e-4" }, name: "from-agent", tags: ["agent"] }), RegistryRecordSchema);
    expect(RunSubmitResultSchema.parse(made)).toMatchObject({ status: "queued", name: "from-agent", argv: ["python", "train.py", "--lr", "3e-4"], params: { "Args/lr": "3e-4" } });
    const reported = ok(await call(s, "report_metrics", { id: "exp-a1", values: { pde_mean: 14.5, my_score: "3" } }), RegistryRecordSchema);
    expect(reported["metrics"]).toMatchObject({ pde_mean: 14.5, my_score: 3 });
    const retried = ok(await call(s, "retry_runs", { id: "exp-c3" }), RunRetrySchema);
    expect(retried.retried).toEqual([expect.objectContaining({ of: "exp-c3", status: "queued" })]);
    const lines = readFileSync(s.registry, "utf8").trim().split("\n");
    expect(lines.length).toBe(LINES.length + 3);
  });

  it("errors come back as tool errors with the code and the hint, and the server goes on", async () => {
    const s = await start();
    const unknown = errorOf(await call(s, "compare_scores", { sort_by: "pde_maen" }));
    expect(unknown.code).toBe("E_UNKNOWN_METRIC");
    expect(unknown.message).toContain("Did you mean 'pde_mean'?");
    expect(unknown.hint).not.toBeNull();
    expect(errorOf(await call(s, "experiment_status", { id: "exp-zz" })).code).toBe("E_EXPERIMENT_NOT_FOUND");
    expect(errorOf(await call(s, "compare_scores", {})).code).toBe("E_USAGE");
    expect(errorOf(await call(s, "retry_runs", { id: "exp-a1" })).code).toBe("E_ILLEGAL_TRANSITION");
    const strict = errorOf(await call(s, "compare_scores", { sort_by: "pde_mean", bogus: true }));
    expect(strict).toMatchObject({ code: "E_USAGE" });
    expect(strict.message).toContain("bogus");
    for (const r of [unknown, strict]) expect(`${r.message}${r.hint}`).not.toMatch(/\n\s+at /);
    expect(ok(await call(s, "metric_show", { name: "pde_mean" }), MetricDefinitionSchema).name).toBe("pde_mean");
  });

  it("a PIN in any argument, at any depth, is refused before anything runs, and logged without its value", async () => {
    const s = await start();
    const before = readFileSync(s.registry, "utf8");
    for (const args of [{ id: "exp-a1", pin: "123456" }, { command: ["true"], args: { PIN: "654321" } }, { id: "exp-a1", options: [{ pin_code: "111111" }] }]) {
      const e = errorOf(await call(s, "submit_run", args));
      expect(e.code).toBe("E_PIN_IN_ARGUMENTS");
      expect(e.message).not.toMatch(/123456|654321|111111/);
    }
    expect(readFileSync(s.registry, "utf8")).toBe(before);
    const log = ok(await call(s, "audit_verify", {}), AuditVerificationSchema);
    expect(log).toMatchObject({ ok: true, records: 3 });
    const text = readFileSync(join(s.home, "audit.jsonl"), "utf8");
    expect(text).not.toMatch(/123456|654321|111111/);
    const records = AuditLogSchema.parse(text.trim().split("\n").map((l) => JSON.parse(l) as unknown));
    expect(records.map((r) => [r.action, r.outcome])).toEqual([
      ["mcp.submit_run", "denied"],
      ["mcp.submit_run", "denied"],
      ["mcp.submit_run", "denied"],
    ]);
    expect(records.map((r) => r.detail)).toEqual([expect.stringContaining("(pin)"), expect.stringContaining("(args.PIN)"), expect.stringContaining("(options[0].pin_code)")]);
    expect(records[0]!.detail).toContain("expflow-test/0.0.1");
    // A parameter or a metric whose name only holds the letters is not a PIN.
    const made = ok(await call(s, "submit_run", { command: ["python", "train.py"], args: { mapping: "linear" }, name: "spin-up" }), RegistryRecordSchema);
    expect(made.status).toBe("queued");
  });

  it("resources: an experiment's record and a ranking by a metric with the registry's thresholds", async () => {
    const s = await start();
    const { resourceTemplates } = await s.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["expflow://experiment/{id}", "expflow://ranking/{metric}"]);
    const exp = await s.client.readResource({ uri: "expflow://experiment/exp-a1" });
    expect(RunStatusSchema.parse(JSON.parse((exp.contents[0] as { text: string }).text)).experiment_id).toBe("exp-a1");
    const rank = await s.client.readResource({ uri: "expflow://ranking/pde_mean" });
    const ranking = RankingSchema.parse(JSON.parse((rank.contents[0] as { text: string }).text));
    expect(ranking.gates.map((g) => g.metric)).toEqual(["pde_mean", "train_time_min"]);
    await expect(s.client.readResource({ uri: "expflow://experiment/exp-zz" })).rejects.toThrow(/E_EXPERIMENT_NOT_FOUND/);
  });

  it("prompts: rank and audit a sweep", async () => {
    const s = await start();
    const { prompts } = await s.client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(["rank_and_audit_sweep", "triage_failed_runs"]);
    const p = await s.client.getPrompt({ name: "rank_and_audit_sweep", arguments: { metric: "pde_mean", tag: "sweep-7" } });
    const text = (p.messages[0]!.content as { text: string }).text;
    expect(text).toContain('compare_scores with sort_by "pde_mean", use_thresholds true, tags ["sweep-7"]');
    expect(text).toContain("audit_validate");
  });

  it("--read-only exposes only the read tools; --tools only those named", async () => {
    const ro = await start(["--read-only"]);
    const names = (await ro.client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain("submit_run");
    expect(names).toContain("compare_scores");
    expect((await call(ro, "submit_run", { command: ["true"] })).isError).toBe(true);
    const two = await start(["--tools", "compare_scores,metric_show"]);
    expect((await two.client.listTools()).tools.map((t) => t.name)).toEqual(["compare_scores", "metric_show"]);
  });

  it("an unknown --tools name is exit 2, listing the tools, before anything is served", () => {
    const home = tempDir();
    const r = runCli(["mcp", "--tools", "compare_scores,nuke_everything"], { env: { EXPFLOW_HOME: home, NO_COLOR: "1" } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("unknown tool 'nuke_everything' in --tools");
    expect(r.stderr).toMatch(/hint: tools: list_experiments, experiment_status, compare_scores/);
  });
});

describe("expflow mcp with ClearML", () => {
  const SWEEP = fakeProject("Sweep");
  let fake: FakeClearml;
  beforeAll(async () => {
    fake = await FakeClearml.start({
      projects: [SWEEP],
      tasks: [
        fakeTask({ name: "good", project: SWEEP.id, status: "completed", metrics: { PDE: { pde_mean: 15 }, Time: { train_time_min: 20 } } }),
        fakeTask({ name: "slow", project: SWEEP.id, status: "completed", metrics: { PDE: { pde_mean: 16 }, Time: { train_time_min: 90 } } }),
      ],
    });
  });
  afterEach(() => fake.assertClean());
  afterAll(() => fake.close());

  const env = (): Record<string, string> => ({ CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey });

  it("compare_scores with clearml ranks a project's tasks; report_task_metrics sends scalars", async () => {
    const s = await start([], env());
    const ranking = ok(await call(s, "compare_scores", { clearml: true, project: "Sweep", sort_by: "pde_mean", use_thresholds: true }), RankingSchema);
    expect(ranking.results.map((r) => [r.name, r.passed])).toEqual([
      ["good", true],
      ["slow", false],
    ]);
    expect(errorOf(await call(s, "compare_scores", { clearml: true, sort_by: "pde_mean" })).code).toBe("E_USAGE");
    const id = ranking.results[0]!.id;
    const sent = ok(await call(s, "report_task_metrics", { task_id: id, values: { pde_mean: 14 } }), TaskMetricsReportSchema);
    expect(sent.scalars).toEqual([{ metric: "PDE", variant: "pde_mean", value: 14 }]);
  });

  it("an unreachable ClearML is a tool error of exit class 4's code, not a crash", async () => {
    const s = await start([], { CLEARML_API_HOST: "http://127.0.0.1:9", CLEARML_API_ACCESS_KEY: "K1234", CLEARML_API_SECRET_KEY: "S1234" });
    const e = errorOf(await call(s, "compare_scores", { clearml: true, project: "Sweep", sort_by: "pde_mean" }));
    expect(e.code).toMatch(/^E_CLEARML_/);
    expect(ok(await call(s, "metric_show", { name: "pde_mean" }), MetricDefinitionSchema).name).toBe("pde_mean");
  });
});

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, ROOT, runCli, runCliAsync, runInProcess, runInProcessOrSpawn, tempDir } from "../helpers/cli.js";

const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** Runs the CLI on a pseudo-terminal (util-linux `script`), so standard output is a TTY. */
function onTty(args: string, env: Record<string, string | undefined> = {}): string {
  const r = spawnSync("script", ["-qec", `"${process.execPath}" "${CLI}" ${args}`, "/dev/null"], {
    encoding: "utf8",
    env: { ...process.env, TERM: "xterm", ...env },
    input: "",
  });
  return r.stdout;
}

const hasScript = spawnSync("script", ["--version"]).status === 0;

// In this process through run(argv, io) (test/helpers/cli.ts), but for what only the built binary
// shows: --version (answered by bin.ts), a usage error's exit code, colour on a real terminal and
// an internal error simulated in the process; the agent's case and the config layers' config show
// are spawned too.

describe("expflow (global)", () => {
  it("--version prints the package version", () => {
    for (const flag of ["--version", "-V"]) {
      const r = runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it("--help lists the commands and exit codes", async () => {
    const r = await runInProcess(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("compare-scores");
    expect(r.stdout).toContain("metrics");
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 negative verdict/);
  });

  it("<cmd> --help shows the command's options", async () => {
    const r = await runInProcess(["compare-scores", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--sort-by", "--gate", "--then-by", "--use-thresholds", "--only-passing", "--max", "--json", "--csv", "--markdown"]) {
      expect(r.stdout).toContain(flag);
    }
    expect((await runInProcess(["metrics", "list", "--help"])).stdout).toContain("--group");
  });

  it("an unknown command or option is a usage error, exit 2, with a suggestion", () => {
    const r = runCli(["compare-score"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'compare-score'");
    expect(r.stderr).toContain("compare-scores");
    const o = runCli(["compare-scores", "--sort-by", "x", "--gates", "a:lt:1"]);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain("unknown option '--gates'");
  });

  it.skipIf(!hasScript)("colours output on a terminal only, never with NO_COLOR or --no-color", async () => {
    expect(onTty("metrics list")).toContain("\u001b[1m");
    expect(onTty("metrics list", { NO_COLOR: "1" })).not.toContain("\u001b[");
    expect(onTty("metrics list --no-color")).not.toContain("\u001b[");
    expect((await runInProcess(["metrics", "list"])).stdout).not.toContain("\u001b[");
  });
});

/** The one `{"error": {code, message, hint}}` object that must be all of standard error under --json. */
function onlyJsonError(stderr: string): { code: string; message: string; hint: string | null } {
  const lines = stderr.split("\n").filter((l) => l !== "");
  expect(lines, stderr).toHaveLength(1);
  const parsed = JSON.parse(lines[0]!) as { error: { code: string; message: string; hint: string | null } };
  expect(Object.keys(parsed)).toEqual(["error"]);
  expect(Object.keys(parsed.error)).toEqual(["code", "message", "hint"]);
  expect(parsed.error.hint === null || typeof parsed.error.hint === "string").toBe(true);
  return parsed.error;
}

describe("errors under --json", () => {
  it.each([
    ["unknown option", ["compare-scores", "--sort-by", "x", "--gates", "a:lt:1", "--json"], "unknown option '--gates'", "Did you mean --gate?"],
    ["unknown command", ["compare-score", "--json"], "unknown command 'compare-score'", "Did you mean compare-scores?"],
    ["missing argument", ["metrics", "show", "--json"], "missing required argument 'name'", "add --help for usage"],
    // compare-scores needs --sort-by or --pareto, which it checks itself; --project is commander's to require.
    ["missing required option", ["clearml", "compare-scores", "--sort-by", "x", "--json"], "required option '--project <name>' not specified", "add --help for usage"],
    ["bad value", ["compare-scores", "--sort-by", "x", "--max", "abc", "--json"], "option '--max <n>' argument 'abc' is invalid", "add --help for usage"],
    ["conflicting options", ["metrics", "list", "--json", "--csv"], "option '--json' cannot be used with option '--csv'", "add --help for usage"],
    ["too many arguments", ["metrics", "show", "a", "b", "--json"], "too many arguments for 'show'", "add --help for usage"],
    ["--json before the command", ["--json", "metrics", "list"], "unknown option '--json'", "add --help for usage"],
    ["a command without --json", ["agent", "--once", "--json"], "unknown option '--json'", "add --help for usage"],
  ])("a usage error from the parser (%s) is exactly one error object on stderr, exit 2; without --json it reads as before", async (_, args, message, hint) => {
    const r = await runInProcessOrSpawn(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const error = onlyJsonError(r.stderr);
    expect(error.code).toBe("E_USAGE");
    expect(error.message).toContain(message);
    expect(error.message).not.toMatch(/^error:|--help for usage|Did you mean/);
    expect(error.hint).toBe(hint);
    const human = await runInProcessOrSpawn(args.filter((a) => a !== "--json"));
    if (human.code === 2) {
      expect(human.stderr).toMatch(/^error: /);
      expect(human.stderr).toContain("(add --help for usage)");
    }
  });

  it("an expflow error carries its hint as its own field (null when it has none), before and after config loads", async () => {
    const withHint = await runInProcess(["run", "submit", "--json", "--arg", "novalue", "--", "true"]);
    expect(withHint.code).toBe(2);
    const e = onlyJsonError(withHint.stderr);
    expect(e).toMatchObject({ code: "E_USAGE", hint: expect.stringMatching(/^e\.g\. --arg lr=3e-4/) });
    expect(e.message).toMatch(/^--arg expects name=value/);
    expect(e.message).not.toContain("e.g.");
    expect(onlyJsonError((await runInProcess(["run", "submit", "--json", "--arg", "a=1", "--arg", "a=2", "--", "true"])).stderr)).toEqual({ code: "E_USAGE", message: "--arg a is given twice", hint: null });
    const dir = tempDir();
    writeFileSync(join(dir, "expflow.yaml"), "regsitry: x.jsonl\n");
    const config = await runInProcess(["metrics", "list", "--json"], { cwd: dir });
    expect(config.code).toBe(2);
    expect(onlyJsonError(config.stderr)).toMatchObject({ code: "E_CONFIG", message: expect.stringContaining(join(dir, "expflow.yaml")) });
  });

  it("--json counts only as the command's own option: not after --, not as another option's value", async () => {
    const submitted = await runInProcess(["run", "submit", "--json", "--", "echo", "--json"]);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stderr).toBe("");
    expect((JSON.parse(submitted.stdout) as { argv: string[] }).argv).toEqual(["echo", "--json"]);
    const afterDashes = await runInProcess(["run", "submit", "--arg", "novalue", "--", "echo", "--json"]);
    expect(afterDashes.code).toBe(2);
    expect(afterDashes.stderr).toMatch(/^error: --arg expects name=value/);
    // The run's name is "--json": the command prints plain text, and so do its errors.
    const asValue = await runInProcess(["run", "submit", "--name", "--json", "--arg", "novalue", "--", "true"]);
    expect(asValue.code).toBe(2);
    expect(asValue.stderr).toMatch(/^error: --arg expects name=value/);
  });

  it("an internal error (a bug) is exit 70 with one E_INTERNAL object and no stack; without --json the stack stays", () => {
    // A bug simulated in the built CLI: its standard output throws a TypeError when written.
    const dir = tempDir();
    const preload = join(dir, "bug.cjs");
    writeFileSync(preload, 'process.stdout.write = () => { throw new TypeError("simulated bug"); };\n');
    const env = { NODE_OPTIONS: `--require ${preload}` };
    const r = runCli(["metrics", "list", "--json"], { env });
    expect(r.code).toBe(70);
    expect(onlyJsonError(r.stderr)).toEqual({ code: "E_INTERNAL", message: "simulated bug", hint: expect.stringContaining("a bug in expflow") });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const human = runCli(["metrics", "list"], { env });
    expect(human.code).toBe(70);
    expect(human.stderr).toMatch(/^internal error \(a bug in expflow; please report it\):\nTypeError: simulated bug\n\s+at /);
  });
});

describe("expflow metrics", () => {
  it("lists the 13 standard metrics as JSON", async () => {
    const r = await runInProcess(["metrics", "list", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; group: string; direction: string; threshold: number | null }[];
    expect(list.map((m) => m.name)).toEqual([
      "seg_total", "seg1", "seg2", "seg3", "val_mse", "val_relmse", "pde_mean", "pde_seg1", "pde_seg2", "pde_seg3", "train_time_min", "arch_params", "epochs",
    ]);
    expect(list.find((m) => m.name === "pde_mean")).toMatchObject({ group: "PDE", direction: "lower", threshold: 18.09 });
    expect(list.find((m) => m.name === "epochs")).toMatchObject({ group: "Training", direction: "lower", threshold: null });
  });

  it("filters by --group (case-insensitive) and rejects an unknown group", async () => {
    const r = await runInProcess(["metrics", "list", "--group", "score", "--csv"]);
    expect(r.stdout.trim().split("\r\n").slice(1).map((l) => l.split(",")[0])).toEqual(["seg_total", "seg1", "seg2", "seg3"]);
    const bad = await runInProcess(["metrics", "list", "--group", "Scor"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Did you mean 'Score'?");
  });

  it("includes the user's metrics from config, and shows one", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "expflow.yaml"), "metrics:\n  f1_macro:\n    direction: higher\n    group: Score\n    threshold: 0.8\n    aliases: [f1]\n    description: Macro F1\n");
    const list = JSON.parse((await runInProcess(["metrics", "list", "--group", "Score", "--json"], { cwd: dir })).stdout) as { name: string }[];
    expect(list.map((m) => m.name)).toContain("f1_macro");
    const show = await runInProcess(["metrics", "show", "f1", "--json"], { cwd: dir });
    expect(JSON.parse(show.stdout)).toMatchObject({ name: "f1_macro", threshold: 0.8, aliases: ["f1"], standard: false });
  });

  it("show: an unknown metric is exit 2 with a suggestion", async () => {
    const r = await runInProcess(["metrics", "show", "seg_totl"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Did you mean 'seg_total'?");
    expect(r.stderr).toContain("known metrics: seg_total");
  });
});

describe("configuration layers", () => {
  it("project expflow.yaml beats $EXPFLOW_HOME/config.yaml; env beats both; config show names the source", async () => {
    const home = tempDir();
    const project = tempDir();
    writeFileSync(join(home, "config.yaml"), "registry: home.jsonl\nmetrics:\n  pde_mean:\n    threshold: 20\n    unit: residual\n");
    writeFileSync(join(project, "expflow.yaml"), "registry: project.jsonl\nmetrics:\n  pde_mean:\n    threshold: 19\n");
    mkdirSync(join(project, "deep", "er"), { recursive: true });
    // Spawned: config show from the built binary, as a user runs it.
    const show = async (env: Record<string, string> = {}) =>
      JSON.parse((await runCliAsync(["config", "show", "--json"], { cwd: join(project, "deep", "er"), env: { EXPFLOW_HOME: home, ...env } })).stdout) as {
        files: string[];
        registry: { value: string; source: string };
        metrics: Record<string, { threshold: number; unit: string; source: string }>;
      };
    const a = await show();
    expect(a.files).toEqual([join(home, "config.yaml"), join(project, "expflow.yaml")]);
    expect(a.registry).toEqual({ value: join(project, "project.jsonl"), source: join(project, "expflow.yaml") });
    // Merged field by field: the project's threshold, the home file's unit.
    expect(a.metrics["pde_mean"]).toMatchObject({ threshold: 19, unit: "residual" });
    const b = await show({ EXPFLOW_REGISTRY: "/tmp/x.jsonl" });
    expect(b.registry).toEqual({ value: "/tmp/x.jsonl", source: "env" });
  });

  it.each([
    ["regsitry: x.jsonl\n", "key 'regsitry'", "Did you mean 'registry'?"],
    ["metrics:\n  pde_mean:\n    treshold: 3\n", "key 'metrics.pde_mean.treshold'", "Did you mean 'threshold'?"],
    ["metrics:\n  newone:\n    group: X\n", "key 'metrics.newone.direction'", "needs a direction"],
    ["metrics:\n  pde_mean:\n    direction: up\n", "key 'metrics.pde_mean.direction'", ""],
    ["metrics:\n  pde_mean:\n    aliases: [seg1]\n", "key 'metrics.pde_mean.aliases'", "already the name of a metric"],
    ["metrics: [1, 2\n", "not valid YAML: line", ""],
    ["- just\n- a list\n", "must hold a mapping", ""],
  ])("a bad config file (%j) is exit 2 naming the file and key", async (text, key, extra) => {
    const dir = tempDir();
    const file = join(dir, "expflow.yaml");
    writeFileSync(file, text);
    const r = await runInProcess(["metrics", "list"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain(key);
    expect(r.stderr).toContain(extra);
    expect(r.stdout).toBe("");
  });

  it("a bad $EXPFLOW_HOME/config.yaml is named too", async () => {
    const home = tempDir();
    writeFileSync(join(home, "config.yaml"), "metrics:\n  epochs:\n    threshold: .inf\n");
    const r = await runInProcess(["metrics", "list"], { env: { EXPFLOW_HOME: home } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(home, "config.yaml"));
    expect(r.stderr).toContain("metrics.epochs.threshold");
  });
});

import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { declareMetric } from "../../src/config/edit.js";
import { loadConfig, metricRegistryOf } from "../../src/config/load.js";
import { validateConfigFile } from "../../src/config/schema.js";
import { ConfigError, UsageError } from "../../src/core/errors.js";
import { tempDir } from "../helpers/cli.js";

// metrics.strict and `metrics add` (issue 14): custom metrics unless strict; declaring one keeps
// the rest of the configuration file as it was.

function layout(): { home: string; project: string; cwd: string; env: Record<string, string> } {
  const root = tempDir("expflow-metrics-cfg-");
  const home = join(root, "home");
  const project = join(root, "project");
  const cwd = join(project, "src", "deep");
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(cwd, { recursive: true });
  return { home, project, cwd, env: { EXPFLOW_HOME: home } };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("metrics.strict", () => {
  it("is off by default; a file sets it, the project's over the home's, and the registry follows", async () => {
    const l = layout();
    expect((await loadConfig({ env: l.env, cwd: l.cwd })).metricsStrict).toEqual({ value: false, source: "default" });
    writeFileSync(join(l.home, "config.yaml"), "metrics:\n  strict: true\n");
    const homeOnly = await loadConfig({ env: l.env, cwd: l.cwd });
    expect(homeOnly.metricsStrict).toEqual({ value: true, source: join(l.home, "config.yaml") });
    expect(metricRegistryOf(homeOnly).strict).toBe(true);
    expect(homeOnly.metrics).toEqual({});
    writeFileSync(join(l.project, "expflow.yaml"), "metrics:\n  strict: false\n  val_loss: {direction: lower}\n");
    const both = await loadConfig({ env: l.env, cwd: l.cwd });
    expect(both.metricsStrict).toEqual({ value: false, source: join(l.project, "expflow.yaml") });
    expect(metricRegistryOf(both).strict).toBe(false);
    expect(Object.keys(both.metrics)).toEqual(["val_loss"]);
  });

  it("must be true or false; a mapping under `strict` is still a metric named strict", () => {
    expect(() => validateConfigFile({ metrics: { strict: "yes" } }, "f.yaml")).toThrow(/f\.yaml: key 'metrics\.strict': must be true or false, got "yes"/);
    expect(validateConfigFile({ metrics: { strict: { direction: "lower" } } }, "f.yaml")).toEqual({ metrics: { strict: { direction: "lower" } } });
    expect(validateConfigFile({ metrics: { strict: true, f1: { direction: "higher" } } }, "f.yaml")).toEqual({ metrics: { f1: { direction: "higher" } }, metricsStrict: true });
  });
});

describe("declareMetric (metrics add)", () => {
  it("writes to the nearest expflow.yaml, keeping its comments and layout byte for byte", async () => {
    const l = layout();
    const file = join(l.project, "expflow.yaml");
    const before = "# the project's settings\nregistry: runs.jsonl   # next to this file\nmetrics:\n  # our score\n  f1: {direction: higher}   # flow style stays\n\npin:\n  allow_force: false\n";
    writeFileSync(file, before);
    const declared = await declareMetric({ env: l.env, cwd: l.cwd }, { name: "val_loss", direction: "lower", threshold: 0.2, unit: "nats" });
    expect(declared).toMatchObject({ file, created: false, definition: { name: "val_loss", direction: "lower", threshold: 0.2, unit: "nats", group: "Custom", standard: false } });
    expect(readFileSync(file, "utf8")).toBe(
      "# the project's settings\nregistry: runs.jsonl   # next to this file\nmetrics:\n  # our score\n  f1: {direction: higher}   # flow style stays\n  val_loss:\n    direction: lower\n    threshold: 0.2\n    unit: nats\n\npin:\n  allow_force: false\n",
    );
    // Read back as the other commands read it.
    const registry = metricRegistryOf(await loadConfig({ env: l.env, cwd: l.cwd }));
    expect(registry.get("val_loss")).toMatchObject({ direction: "lower", threshold: 0.2 });
  });

  it("without a project file, creates $EXPFLOW_HOME/config.yaml (0600, and the home when missing)", async () => {
    const l = layout();
    const env = { EXPFLOW_HOME: join(l.home, "fresh") };
    const declared = await declareMetric({ env, cwd: l.cwd }, { name: "top5", direction: "higher", group: "Score", description: "top-5 accuracy" });
    expect(declared.created).toBe(true);
    expect(declared.file).toBe(join(env.EXPFLOW_HOME, "config.yaml"));
    expect(readFileSync(declared.file, "utf8")).toBe("metrics:\n  top5:\n    direction: higher\n    group: Score\n    description: top-5 accuracy\n");
    expect(statSync(declared.file).mode & 0o777).toBe(0o600);
    expect(statSync(env.EXPFLOW_HOME).mode & 0o777).toBe(0o700);
  });

  it("a file with no metrics yet, one with only comments, a flow-style file, odd indentation, and names YAML would misread", async () => {
    const cases: [string, string, string][] = [
      ["registry: r.jsonl\n# end\n", "odd", "registry: r.jsonl\n# end\nmetrics:\n  odd:\n    direction: lower\n"],
      ["# nothing yet", "n1", "# nothing yet\nmetrics:\n  n1:\n    direction: lower\n"],
      ["metrics:\n    a:\n        direction: higher\n", "b", "metrics:\n    a:\n        direction: higher\n    b:\n        direction: lower\n"],
      ["metrics:\n  a: {direction: higher}\n", "1e3", 'metrics:\n  a: {direction: higher}\n  "1e3":\n    direction: lower\n'],
      // YAML 1.2: `yes` is a string, `~` would be null, `#x` a comment.
      ["metrics:\n  a: {direction: higher}\n", "yes", "metrics:\n  a: {direction: higher}\n  yes:\n    direction: lower\n"],
      ["metrics:\n  a: {direction: higher}\n", "~", 'metrics:\n  a: {direction: higher}\n  "~":\n    direction: lower\n'],
      ["metrics:\n  a: {direction: higher}\n", "#x", 'metrics:\n  a: {direction: higher}\n  "#x":\n    direction: lower\n'],
    ];
    for (const [before, name, after] of cases) {
      const l = layout();
      const file = join(l.project, "expflow.yaml");
      writeFileSync(file, before);
      await declareMetric({ env: l.env, cwd: l.cwd }, { name, direction: "lower" });
      expect(readFileSync(file, "utf8"), before).toBe(after);
      expect(metricRegistryOf(await loadConfig({ env: l.env, cwd: l.cwd })).get(name)?.direction).toBe("lower");
    }
    // A flow mapping at the top is written again through the YAML document: what it holds is kept.
    const l = layout();
    const file = join(l.project, "expflow.yaml");
    writeFileSync(file, "{registry: r.jsonl, metrics: {a: {direction: higher}}}\n");
    await declareMetric({ env: l.env, cwd: l.cwd }, { name: "constructor", direction: "lower" });
    const config = await loadConfig({ env: l.env, cwd: l.cwd });
    expect(Object.keys(config.metrics)).toEqual(["a", "constructor"]);
    expect(config.registry.value).toBe(join(l.project, "r.jsonl"));
    expect(metricRegistryOf(config).get("constructor")?.direction).toBe("lower");
    // __proto__ would be taken for the prototype of the objects keyed by name, and dropped: refused, by the file's check too.
    expect(((await rejection(declareMetric({ env: l.env, cwd: l.cwd }, { name: "__proto__", direction: "lower" }))) as UsageError).code).toBe("E_METRIC_NAME");
    expect(() => validateConfigFile(JSON.parse('{"metrics": {"__proto__": {"direction": "lower"}}}'), "f.yaml")).toThrow(/key 'metrics\.__proto__': __proto__ cannot be a metric's name/);
  });

  it("a name that is already a metric or an alias, standard or declared, is refused and nothing is written", async () => {
    const l = layout();
    const file = join(l.home, "config.yaml");
    writeFileSync(file, "metrics:\n  f1_macro: {direction: higher, aliases: [f1]}\n");
    for (const [name, message] of [
      ["pde_mean", "'pde_mean' is already a metric (a standard metric)"],
      ["f1_macro", `'f1_macro' is already a metric (declared in ${file})`],
      ["f1", `'f1' is already an alias of 'f1_macro' (declared in ${file})`],
    ] as const) {
      const e = await rejection(declareMetric({ env: l.env, cwd: l.cwd }, { name, direction: "lower" }));
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).code).toBe("E_METRIC_EXISTS");
      expect(e.message).toBe(message);
    }
    for (const name of ["step", "a b", "x\u001b[2J", ""]) {
      expect(((await rejection(declareMetric({ env: l.env, cwd: l.cwd }, { name, direction: "lower" }))) as UsageError).code).toBe("E_METRIC_NAME");
    }
    expect(readFileSync(file, "utf8")).toBe("metrics:\n  f1_macro: {direction: higher, aliases: [f1]}\n");
  });

  it("a configuration file that is already invalid is refused as the other commands refuse it, and left as it was", async () => {
    const l = layout();
    const file = join(l.project, "expflow.yaml");
    for (const bad of ["metrics:\n  x: {direction: sideways}\n", "metrics: [\n", "colour: blue\n"]) {
      writeFileSync(file, bad);
      expect(await rejection(declareMetric({ env: l.env, cwd: l.cwd }, { name: "val_loss", direction: "lower" }))).toBeInstanceOf(ConfigError);
      expect(readFileSync(file, "utf8")).toBe(bad);
    }
    writeFileSync(file, "metrics:\n  strict: true\n");
    expect(((await rejection(declareMetric({ env: l.env, cwd: l.cwd }, { name: "strict", direction: "lower" }))) as UsageError).code).toBe("E_METRIC_EXISTS");
    expect(readFileSync(file, "utf8")).toBe("metrics:\n  strict: true\n");
  });

  it("declarations made at once all land (the file's lock), and a symlinked file stays a symlink", async () => {
    const l = layout();
    const real = join(l.project, "real.yaml");
    writeFileSync(real, "# shared\n");
    symlinkSync(real, join(l.project, "expflow.yaml"));
    const names = Array.from({ length: 8 }, (_, i) => `m${i}`);
    await Promise.all(names.map((name) => declareMetric({ env: l.env, cwd: l.cwd }, { name, direction: "lower" })));
    const config = await loadConfig({ env: l.env, cwd: l.cwd });
    expect(Object.keys(config.metrics).sort()).toEqual(names);
    expect(readFileSync(real, "utf8").startsWith("# shared\nmetrics:\n")).toBe(true);
    expect(statSync(join(l.project, "expflow.yaml")).isFile()).toBe(true);
  });

  it("a file that cannot be written is a storage error (exit 4) and nothing changes", async () => {
    if (process.getuid?.() === 0) return; // root writes anywhere
    const l = layout();
    const file = join(l.project, "expflow.yaml");
    writeFileSync(file, "registry: r.jsonl\n");
    chmodSync(l.project, 0o500);
    try {
      const e = await rejection(declareMetric({ env: l.env, cwd: l.cwd }, { name: "val_loss", direction: "lower" }));
      expect((e as { exitCode?: number }).exitCode).toBe(4);
    } finally {
      chmodSync(l.project, 0o700);
    }
    expect(readFileSync(file, "utf8")).toBe("registry: r.jsonl\n");
  });
});

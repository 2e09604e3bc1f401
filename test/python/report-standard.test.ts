// python/expflow_log.py's report_standard() and validate_standard(): the same list of standard
// metrics as the TypeScript registry, the same verdicts and messages as validateMetricValues for
// the same input, and what report_standard writes.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MetricRegistry, STANDARD_METRICS, validateMetricValues } from "../../src/core/metrics/registry.js";
import { ExpflowError } from "../../src/core/errors.js";
import { tempDir } from "../helpers/cli.js";
import { PYTHON_VERSION, needsPython, py } from "./helpers.js";

type Verdict = { ok: Record<string, number> } | { error: string; hint: string | null };

/** Values that JSON cannot carry, marked for the Python side. */
function encode(value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return { $special: String(value) };
  return value;
}

/** validateMetricValues' verdict on `entries` (in order). */
function verdictTs(entries: readonly (readonly [string, unknown])[], registry: MetricRegistry): Verdict {
  try {
    return { ok: validateMetricValues(new Map(entries), registry) };
  } catch (e) {
    if (!(e instanceof ExpflowError)) throw e;
    return { error: e.message, hint: e.hint ?? null };
  }
}

/** The Python helper's verdicts on each case, over the table (name, aliases) of `registry`. */
function verdictsPy(cases: readonly (readonly (readonly [string, unknown])[])[], registry: MetricRegistry): Verdict[] {
  const table = registry.list().map((d) => [d.name, d.aliases]);
  const input = JSON.stringify({ table, cases: cases.map((c) => c.map(([n, v]) => [n, encode(v)])) });
  const r = py(`import json, sys
import expflow_log
def decode(v):
    return float(v["$special"]) if isinstance(v, dict) and list(v) == ["$special"] else v
data = json.loads(sys.stdin.read())
table = [(name, tuple(aliases)) for name, aliases in data["table"]]
out = []
for case in data["cases"]:
    values = {}
    for name, value in case:
        values[name] = decode(value)
    try:
        out.append({"ok": expflow_log._validate(values, table)})
    except expflow_log.MetricValidationError as e:
        out.append({"error": "\\n".join(e.problems), "hint": e.hint})
print(json.dumps(out))`, { input });
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as Verdict[];
}

const CASES: (readonly (readonly [string, unknown])[])[] = [
  [["pde_mean", 16.2], ["seg_total", "0.81"]],
  [["seg1", 0], ["val_mse", -0.5], ["arch_params", 1200000]],
  [["pde_mean", " 1e3 "], ["seg2", "+.5"], ["seg3", "-2E-3"], ["epochs", "50"]],
  [["pde_mean", "\u00a016.5\ufeff"]],
  [["pde_mean", NaN]],
  [["pde_mean", Infinity], ["seg_total", -Infinity]],
  [["epochs", true]],
  [["epochs", false], ["pde_mean", 1]],
  [["pde_mean", "abc"]],
  [["pde_mean", "0x10"]],
  [["pde_mean", "Infinity"], ["seg_total", "NaN"]],
  [["pde_mean", ""]],
  [["pde_mean", "1e999"]],
  [["pde_mean", "1_000"]],
  [["pde_mean", "\u0661\u0662"]],
  [["pde_mean", "16.2\u001c"]],
  [["pde_mean", null]],
  [["pde_mean", [1]]],
  [["pde_mean", {}]],
  [["seg_totl", 1]],
  [["PDE_MEAN", 1]],
  [["zzzzzz", 1]],
  [["pde_maen", 1], ["epochs", "x"], ["seg_total", 0.5]],
  [["__proto__", 1], ["constructor", 2]],
  [["pde", 16]],
  [["pde_mean", 1], ["pde", 2]],
  [["score", 1], ["total", 2]],
  [["scor", 1]],
  [["pdee", "x"]],
  [],
];

describe.skipIf(PYTHON_VERSION === undefined)(needsPython("expflow_log.report_standard"), () => {
  it("holds the TypeScript registry's standard metrics: the same names, in the same order, with the same aliases", () => {
    const r = py(`import json, expflow_log
print(json.dumps({"table": [[n, list(a)] for n, a in expflow_log._STANDARD_TABLE], "names": list(expflow_log.STANDARD_METRICS)}))`);
    expect(r.stderr).toBe("");
    const { table, names } = JSON.parse(r.stdout) as { table: [string, string[]][]; names: string[] };
    expect(table).toEqual(STANDARD_METRICS.map((d) => [d.name, [...d.aliases]]));
    expect(names).toEqual(STANDARD_METRICS.map((d) => d.name));
    expect(names).toHaveLength(13);
  });

  it("gives validateMetricValues' verdict, word for word, on the standard registry", () => {
    const registry = MetricRegistry.standard();
    const py = verdictsPy(CASES, registry);
    CASES.forEach((c, i) => expect(py[i], JSON.stringify(c)).toEqual(verdictTs(c, registry)));
  });

  it("and on a registry with aliases: an alias counts as its metric, a metric given twice through one is refused", () => {
    const registry = MetricRegistry.create({ pde_mean: { aliases: ["pde"] }, seg_total: { aliases: ["score", "total"] } });
    const py = verdictsPy(CASES, registry);
    CASES.forEach((c, i) => expect(py[i], JSON.stringify(c)).toEqual(verdictTs(c, registry)));
    // The cases that matter here say what they should, too.
    expect(py[CASES.findIndex((c) => c.length === 1 && c[0]![0] === "pde")]).toEqual({ ok: { pde_mean: 16 } });
    expect(py[CASES.findIndex((c) => c.length === 2 && c[1]![0] === "pde")]).toMatchObject({ error: "metric 'pde_mean' is given twice (as 'pde' and under another name)" });
  });

  it("report_standard logs the validated values under their canonical names; a refusal lists the problems and the known metrics, and writes nothing", () => {
    const file = join(tempDir("expflow-py-"), "metrics.jsonl");
    const r = py(`import json
from expflow_log import report_standard, MetricValidationError
print(json.dumps(report_standard(pde_mean="16.2", seg_total=0.81, epochs=50)))
try:
    report_standard(seg_totl=1, pde_mean=float("nan"), epochs=True, seg1=0.5)
except MetricValidationError as e:
    print(json.dumps({"message": str(e), "code": e.code}))`, { env: { EXPFLOW_METRICS_FILE: file } });
    expect(r.stderr).toBe("");
    const [validated, refused] = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(validated).toEqual({ pde_mean: 16.2, seg_total: 0.81, epochs: 50 });
    expect(refused).toEqual({
      code: "E_METRIC_VALIDATION",
      message: [
        "unknown metric 'seg_totl'. Did you mean 'seg_total'?",
        "metric 'pde_mean' has value NaN: it must be a finite number",
        "metric 'epochs' has value boolean: it must be a finite number",
        `known metrics: ${STANDARD_METRICS.map((d) => d.name).join(", ")}; declare it with its direction under metrics: in expflow.yaml (seg_totl: {direction: lower} or {direction: higher})`,
      ].join("\n"),
    });
    expect(readFileSync(file, "utf8")).toBe('{"pde_mean": 16.2, "seg_total": 0.81, "epochs": 50}\n');
  });

  it("report_standard without EXPFLOW_METRICS_FILE still validates (and refuses) before warning", () => {
    const dir = tempDir("expflow-py-");
    const r = py(`from expflow_log import report_standard
report_standard(pde_meen=1)`, { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MetricValidationError: unknown metric 'pde_meen'. Did you mean 'pde_mean'\?/);
    expect(r.stderr).not.toMatch(/ExpflowLogWarning/);
    expect(existsSync(join(dir, "metrics.jsonl"))).toBe(false);
  });
});

// python/expflow_log.py's log(), run with python3 itself: the lines it writes, how it writes them
// (one write on an O_APPEND descriptor), concurrent writers, what it refuses, and no
// EXPFLOW_METRICS_FILE.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../helpers/cli.js";
import { HELPER, PYTHON_VERSION, needsPython, py } from "./helpers.js";

/** A fresh metrics file path (not created) and the environment that names it. */
function metricsFile(): { file: string; env: Record<string, string> } {
  const file = join(tempDir("expflow-py-"), "metrics.jsonl");
  return { file, env: { EXPFLOW_METRICS_FILE: file } };
}

function ok(code: string, env: Record<string, string | undefined> = {}): string {
  const r = py(code, { env });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

describe.skipIf(PYTHON_VERSION === undefined)(needsPython("expflow_log.log"), () => {
  it("appends one JSON line per call: step first as \"step\", then the metrics as given, ints as ints", () => {
    const { file, env } = metricsFile();
    ok(`from expflow_log import log
log(step=0, val_mse=0.5, epochs=1)
log(step=1, val_mse=0.25, lr=3e-4)
log(**{"train/loss": 0.125})`, env);
    expect(readFileSync(file, "utf8")).toBe('{"step": 0, "val_mse": 0.5, "epochs": 1}\n{"step": 1, "val_mse": 0.25, "lr": 0.0003}\n{"train/loss": 0.125}\n');
  });

  it("writes NaN and the infinities as the tokens NaN, Infinity and -Infinity", () => {
    const { file, env } = metricsFile();
    ok(`import math
from expflow_log import log
log(step=7, val_mse=float("nan"), up=math.inf, down=-math.inf, fine=1.5)`, env);
    expect(readFileSync(file, "utf8")).toBe('{"step": 7, "val_mse": NaN, "up": Infinity, "down": -Infinity, "fine": 1.5}\n');
  });

  it("each call is one os.write on a descriptor opened with O_APPEND, even for a line of 60,000 characters", () => {
    const { file, env } = metricsFile();
    const out = ok(`import fcntl, json, os
import expflow_log
calls = []
real_write = os.write
def spy(fd, data):
    calls.append({"append": bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND), "bytes": len(data), "lines": data.count(b"\\n"), "ends": data.endswith(b"\\n")})
    return real_write(fd, data)
os.write = spy
expflow_log.log(step=1, a=1.0, b=2.0)
expflow_log.log(step=2, **{"pad_" + "x" * 60000: 1.0})
expflow_log.report_standard(pde_mean=16.2, seg_total=0.8)
print(json.dumps(calls))`, env);
    const calls = JSON.parse(out) as { append: boolean; bytes: number; lines: number; ends: boolean }[];
    expect(calls).toHaveLength(3);
    for (const c of calls) expect(c).toMatchObject({ append: true, lines: 1, ends: true });
    expect(calls[1]!.bytes).toBeGreaterThan(60_000);
    expect(readFileSync(file, "utf8").split("\n")).toHaveLength(4);
  });

  it("concurrent writers in several processes never interleave their lines", () => {
    const { file, env } = metricsFile();
    const writers = 6;
    const lines = 150;
    // Lines of 2 to 40 KB: well over the pipe-atomic size and Python's 8 KB buffer, so writes
    // split in pieces would interleave.
    const writer = `import sys
from expflow_log import log
w = int(sys.argv[1])
for i in range(${lines}):
    log(step=i, **{"w%d_%s" % (w, "p" * (2000 + (i * 977 + w * 3001) % 38000)): float(i)})`;
    const script = join(tempDir("expflow-py-"), "writer.py");
    writeFileSync(script, writer);
    ok(`import subprocess, sys
procs = [subprocess.Popen([sys.executable, ${JSON.stringify(script)}, str(w)]) for w in range(${writers})]
sys.exit(max(p.wait() for p in procs))`, env);
    const text = readFileSync(file, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    const seen = new Map<number, number[]>();
    for (const line of text.slice(0, -1).split("\n")) {
      const o = JSON.parse(line) as Record<string, number>;
      const keys = Object.keys(o);
      expect(keys).toHaveLength(2);
      expect(keys[0]).toBe("step");
      const w = Number(/^w(\d+)_/.exec(keys[1]!)![1]);
      expect(o[keys[1]!]).toBe(o["step"]);
      seen.set(w, [...(seen.get(w) ?? []), o["step"]!]);
    }
    expect([...seen.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const steps of seen.values()) expect(steps).toEqual(Array.from({ length: lines }, (_, i) => i));
  });

  it("without EXPFLOW_METRICS_FILE (unset or empty): one warning on standard error, however many calls, and nothing written", () => {
    for (const value of [undefined, ""]) {
      const dir = tempDir("expflow-py-");
      const r = py(`from expflow_log import log, report_standard
print(log(step=1, val_mse=0.5))
log(step=2, val_mse=0.25)
report_standard(pde_mean=16.2)`, { env: { EXPFLOW_METRICS_FILE: value }, cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("{'step': 1, 'val_mse': 0.5}\n");
      expect(r.stderr.match(/ExpflowLogWarning: EXPFLOW_METRICS_FILE is not set/g)).toHaveLength(1);
      expect(r.stderr).toMatch(/metrics are not recorded/);
    }
  });

  it("refuses booleans, strings, None, lists, a bad step and an empty call with a clear MetricValidationError, writing nothing", () => {
    const { file, env } = metricsFile();
    const out = ok(`import json
from expflow_log import log, MetricValidationError
cases = [
    dict(step=1, ok=1.0, flag=True),
    dict(step=1, acc="0.9"),
    dict(step=1, acc=None),
    dict(step=1, acc=[0.9]),
    dict(step=-1, acc=0.9),
    dict(step=1.5, acc=0.9),
    dict(step=True, acc=0.9),
    dict(step="3", acc=0.9),
    dict(step=3),
    dict(),
]
out = []
for kwargs in cases:
    try:
        log(**kwargs)
        out.append("written")
    except MetricValidationError as e:
        assert isinstance(e, ValueError) and e.code == "E_METRIC_VALIDATION"
        out.append(str(e))
print(json.dumps(out))`, env);
    expect(JSON.parse(out)).toEqual([
      "metric 'flag' has value True, a boolean: log() takes numbers",
      "metric 'acc' has value '0.9' (str): log() takes numbers (int or float; NaN and infinities are allowed), so convert it first, e.g. float(x)",
      "metric 'acc' has value None (NoneType): log() takes numbers (int or float; NaN and infinities are allowed), so convert it first, e.g. float(x)",
      "metric 'acc' has value [0.9] (list): log() takes numbers (int or float; NaN and infinities are allowed), so convert it first, e.g. float(x)",
      "step must be a whole number 0 or greater, got -1 (int)\ne.g. log(step=epoch, val_mse=0.12)",
      "step must be a whole number 0 or greater, got 1.5 (float)\ne.g. log(step=epoch, val_mse=0.12)",
      "step must be a whole number 0 or greater, got True (bool)\ne.g. log(step=epoch, val_mse=0.12)",
      "step must be a whole number 0 or greater, got '3' (str)\ne.g. log(step=epoch, val_mse=0.12)",
      "no metrics given: nothing to log\ne.g. log(step=3, val_mse=0.12)",
      "no metrics given: nothing to log\ne.g. log(step=3, val_mse=0.12)",
    ]);
    expect(existsSync(file)).toBe(false);
  });

  it("takes any real number: fractions, NumPy-style scalars and objects whose item() gives one (a one-element tensor)", () => {
    const { file, env } = metricsFile();
    ok(`from fractions import Fraction
from expflow_log import log
class Tensor:
    def item(self):
        return 0.75
log(step=2, a=Fraction(1, 4), b=Tensor())`, env);
    expect(readFileSync(file, "utf8")).toBe('{"step": 2, "a": 0.25, "b": 0.75}\n');
  });

  it("refuses a line longer than the 65,536 characters expflow reads, instead of writing one the runner would reject", () => {
    const { file, env } = metricsFile();
    const out = ok(`from expflow_log import log, MetricValidationError
try:
    log(**{"x" * 70000: 1.0})
except MetricValidationError as e:
    print(e)`, env);
    expect(out).toMatch(/^the line would be 7\d{4} characters long, over the 65536 expflow reads/);
    expect(existsSync(file)).toBe(false);
  });

  it("is Python 3.8 syntax, imports nothing outside the standard library, and defines what it exports", () => {
    const out = ok(`import ast, json, sys
source = open(${JSON.stringify(HELPER)}).read()
tree = ast.parse(source, feature_version=(3, 8))
imported = sorted({a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} |
                  {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module})
stdlib = getattr(sys, "stdlib_module_names", None)
import expflow_log
print(json.dumps({"imported": imported, "outside": [m for m in imported if stdlib is not None and m not in stdlib],
                  "missing": [n for n in expflow_log.__all__ if not hasattr(expflow_log, n)]}))`);
    const r = JSON.parse(out) as { imported: string[]; outside: string[]; missing: string[] };
    expect(r.outside).toEqual([]);
    expect(r.missing).toEqual([]);
    expect(r.imported).toContain("json");
  });
});

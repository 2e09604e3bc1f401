// report_standard(task=...) of python/expflow_log.py reports to a ClearML task through the
// package's CLI (`expflow metrics report --task-id`), against the fake ClearML server.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask, md5 } from "../../fake-clearml/tasks.js";
import { tempDir } from "../helpers/cli.js";
import { PYTHON_VERSION, needsPython, pyAsync } from "./helpers.js";

const PROJECT = fakeProject("Competition");
const TARGET = fakeTask({ name: "target", project: PROJECT.id, status: "in_progress" });
const PUBLISHED = fakeTask({ name: "published", project: PROJECT.id, status: "published" });
const UNKNOWN_ID = "0123456789abcdef0123456789abcdef";

let fake: FakeClearml;

describe.skipIf(PYTHON_VERSION === undefined)(needsPython("expflow_log.report_standard(task=...)"), () => {
  beforeAll(async () => {
    fake = await FakeClearml.start({ projects: [PROJECT], tasks: [TARGET, PUBLISHED] });
  });
  afterEach(() => fake.assertClean());
  afterAll(() => fake.close());

  function clearmlEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return { CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey, ...extra };
  }

  function lastValue(taskId: string, metric: string, variant: string): number | undefined {
    return fake.tasks.find((t) => t.id === taskId)?.last_metrics[md5(metric)]?.[md5(variant)]?.value;
  }

  it("validates, writes the metrics file, then sends the values to the task as scalars in one events.add_batch", async () => {
    const file = join(tempDir("expflow-py-"), "metrics.jsonl");
    fake.resetCounts();
    const before = fake.events.length;
    const r = await pyAsync(`import json
from expflow_log import report_standard
print(json.dumps(report_standard(task=${JSON.stringify(TARGET.id)}, pde_mean=16.2, seg_total="0.8", epochs=40)))`, { env: clearmlEnv({ EXPFLOW_METRICS_FILE: file }) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ pde_mean: 16.2, seg_total: 0.8, epochs: 40 });
    expect(readFileSync(file, "utf8")).toBe('{"pde_mean": 16.2, "seg_total": 0.8, "epochs": 40}\n');
    expect(fake.count("events.add_batch")).toBe(1);
    const events = fake.events.slice(before);
    expect(Object.fromEntries(events.map((e) => [e["variant"], [e["metric"], e["value"]]]))).toEqual({ pde_mean: ["PDE", 16.2], seg_total: ["Score", 0.8], epochs: ["Training", 40] });
    expect(lastValue(TARGET.id, "PDE", "pde_mean")).toBe(16.2);
  });

  it("takes an object with an id (a clearml.Task), and without EXPFLOW_METRICS_FILE says nothing: the values went to the task", async () => {
    const before = fake.events.length;
    const r = await pyAsync(`from expflow_log import report_standard
class Task:
    id = ${JSON.stringify(TARGET.id)}
report_standard(task=Task(), train_time_min=41)`, { env: clearmlEnv() });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(fake.events.slice(before).map((e) => [e["metric"], e["variant"], e["value"]])).toEqual([["Time", "train_time_min", 41]]);
  });

  it("an unknown or published task, or no ClearML at all, is an ExpflowCliError with expflow's code, message, hint and exit code", async () => {
    const r = await pyAsync(`import json
from expflow_log import report_standard, ExpflowCliError
out = []
for task, env in [(${JSON.stringify(UNKNOWN_ID)}, None), (${JSON.stringify(PUBLISHED.id)}, None), (${JSON.stringify(TARGET.id)}, "unset")]:
    import os
    if env == "unset":
        for k in ("CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY"):
            os.environ.pop(k, None)
    try:
        report_standard(task=task, pde_mean=16.2)
        out.append(None)
    except ExpflowCliError as e:
        out.append({"code": e.code, "exit": e.exit_code, "message": str(e)})
print(json.dumps(out))`, { env: clearmlEnv() });
    expect(r.stderr).toBe("");
    const [unknown, published, unconfigured] = JSON.parse(r.stdout) as { code: string; exit: number; message: string }[];
    expect(unknown).toMatchObject({ code: "E_TASK_NOT_FOUND", exit: 2 });
    expect(unknown!.message).toContain(UNKNOWN_ID);
    expect(published).toMatchObject({ code: "E_TASK_PUBLISHED", exit: 2 });
    expect(unconfigured!.exit).toBe(4);
    expect(unconfigured!.message).toMatch(/\nhint: /);
  });

  it("a refused value sends nothing, not even a login; a task that is no id is a TypeError", async () => {
    fake.resetCounts();
    const r = await pyAsync(`from expflow_log import report_standard, MetricValidationError
try:
    report_standard(task=${JSON.stringify(TARGET.id)}, pde_mean=float("inf"))
except MetricValidationError as e:
    print("refused:", e)
try:
    report_standard(task=42, pde_mean=1)
except TypeError as e:
    print("type:", e)`, { env: clearmlEnv() });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("refused: metric 'pde_mean' has value Infinity: it must be a finite number\ntype: task must be a ClearML task id (a str) or an object with an id, such as a clearml.Task; got 42\n");
    expect(fake.count()).toBe(0);
  });
});

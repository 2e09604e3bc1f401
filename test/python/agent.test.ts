// A real training-like Python script that imports the package's helper (python/ on PYTHONPATH)
// and logs as it trains, run by the local agent and by `run submit --wait`: the run's record then
// holds the metrics it logged.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runInProcessOrSpawn, tempDir } from "../helpers/cli.js";
import { latest, script } from "../helpers/runs.js";
import { PYTHON_DIR, PYTHON_VERSION, needsPython } from "./helpers.js";

const TRAIN = `import sys
from expflow_log import log, report_standard

epochs = int(sys.argv[1])
for epoch in range(epochs):
    # A loss that falls, and a residual that improves, logged every epoch.
    log(step=epoch, val_mse=1.0 / (epoch + 1), pde_mean=30.0 - epoch)
report_standard(pde_mean="16.2", seg_total=0.81, epochs=epochs)
print("trained", epochs, "epochs")
`;

function setup(): { home: string; registry: string; train: string; run: (args: string[]) => ReturnType<typeof runInProcessOrSpawn> } {
  const home = tempDir("expflow-py-agent-");
  const registry = join(home, "experiments.jsonl");
  const train = script(home, "train.py", TRAIN);
  // EXPFLOW_METRICS_FILE of this process (none) never reaches the run: the runner sets its own.
  const env = { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry, PYTHONPATH: PYTHON_DIR, PYTHONDONTWRITEBYTECODE: "1" };
  return { home, registry, train, run: (args) => runInProcessOrSpawn(args, { env, cwd: home }) };
}

/** What the record of a run of TRAIN with `epochs` must hold. */
function expectTrained(record: Record<string, unknown>, epochs: number): void {
  expect(record["status"]).toBe("completed");
  expect(record["metrics"]).toMatchObject({ val_mse: 1 / epochs, pde_mean: 16.2, seg_total: 0.81, epochs });
  expect(typeof (record["metrics"] as Record<string, unknown>)["train_time_min"]).toBe("number");
  // Whatever the runner makes of "step" (a runner that keeps no step history rejects it as an
  // unknown metric), nothing the helper wrote is refused for any other reason.
  const rejected = (record["rejected_metrics"] ?? []) as { name: string | null; reason: string }[];
  expect(rejected.filter((r) => r.name !== "step"), JSON.stringify(rejected)).toEqual([]);
}

describe.skipIf(PYTHON_VERSION === undefined)(needsPython("a Python training script logging through expflow_log"), () => {
  it("under `expflow agent --once`: the run's record holds the metrics of every step and the final report", async () => {
    const { home, registry, train, run } = setup();
    const submitted = await run(["run", "submit", "--name", "py-train", "--", "python3", train, "4"]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = submitted.stdout.trim();
    const agent = await run(["agent", "--once"]);
    expect(agent.code, agent.stdout + agent.stderr).toBe(0);
    expectTrained(latest(registry, id)!, 4);
    // The file holds one line per call, as written.
    const lines = readFileSync(join(home, "metrics", `${id}.jsonl`), "utf8").trim().split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('{"step": 0, "val_mse": 1.0, "pde_mean": 30.0}');
    expect(lines[4]).toBe('{"pde_mean": 16.2, "seg_total": 0.81, "epochs": 4}');
    expect(readFileSync(join(home, "logs", `${id}.log`), "utf8")).toContain("trained 4 epochs\n");
  });

  it("under `expflow run submit --wait`: the same, in the foreground", async () => {
    const { registry, train, run } = setup();
    const r = await run(["run", "submit", "--wait", "--json", "--", "python3", train, "3"]);
    expect(r.code, r.stderr).toBe(0);
    const id = (JSON.parse(r.stdout) as { experiment_id: string }).experiment_id;
    expectTrained(latest(registry, id)!, 3);
  });
});

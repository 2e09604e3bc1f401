// Try the ClearML commands without a ClearML server: `npm run demo:clearml`.
//
// Starts the test suite's fake ClearML server on 127.0.0.1 with the example registry
// (examples/experiments.jsonl, read by LocalStore) loaded as tasks of the project PDEBench: each
// experiment becomes a task with its name, status (running -> in_progress), tags, creation time,
// parameters as hyperparameters, an id that sorts as the experiment id does, and metrics as
// last_metrics under their registry group's title (`Score/seg_total`, `PDE/pde_mean`, ...;
// unregistered metrics under `Custom`). Prints the variables to export and a command to try, then
// serves until Ctrl-C.
//
//   EXPFLOW_DEMO_PORT   port to listen on (default: any free port)
//   EXPFLOW_DEMO_LATENCY_MS  milliseconds added to every answer (default 0)
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleEntry } from "../../scripts/bundle-entry.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REGISTRY = join(ROOT, "examples", "experiments.jsonl");

const STATUS = { created: "created", dispatched: "queued", queued: "queued", running: "in_progress", completed: "completed", failed: "failed", cancelled: "stopped" };

/**
 * A 32-hex task id for an experiment id, in the same order: ties in a ranking are broken by id, so
 * the demo's tasks must sort as the experiments do. Ids longer than 16 bytes are hashed instead.
 */
export function taskIdOf(experimentId) {
  const bytes = Buffer.from(experimentId, "utf8");
  if (bytes.length <= 16) return bytes.toString("hex").padEnd(32, "0");
  return createHash("md5").update(bytes).digest("hex");
}

/**
 * Task inputs for the fake's `fakeTask`, from the experiments LocalStore reads (latest snapshot of
 * each, deleted ones gone); `groupOf(metric)` names a metric's title.
 */
export function tasksFromExperiments(experiments, projectId, groupOf) {
  return experiments.map((e) => {
    const metrics = {};
    for (const [name, value] of Object.entries(e.metrics)) {
      if (typeof value !== "number" || !Number.isFinite(value)) continue;
      (metrics[groupOf(name) ?? "Custom"] ??= {})[name] = value;
    }
    const createdMs = e.created === null ? Number.NaN : Date.parse(e.created);
    return {
      id: taskIdOf(e.id),
      name: e.name ?? e.id,
      project: projectId,
      status: STATUS[e.status] ?? "completed",
      tags: [...e.tags],
      archived: e.archived === true,
      created: Number.isNaN(createdMs) ? undefined : new Date(createdMs).toISOString(),
      metrics,
      params: { ...e.params },
    };
  });
}

async function bundleFake(dir) {
  const file = await bundleEntry(dir, "fake-server", join(ROOT, "examples", "clearml-demo", "fake-server.ts"));
  return createRequire(import.meta.url)(file);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "expflow-clearml-demo-"));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let fake;
  try {
    const lib = await bundleFake(dir);
    const { LocalStore, STANDARD_METRICS } = await import(join(ROOT, "dist", "index.js"));
    const groups = new Map(STANDARD_METRICS.map((m) => [m.name, m.group]));
    const project = lib.fakeProject("PDEBench");
    const experiments = await new LocalStore({ path: REGISTRY }).list({ includeArchived: true });
    const tasks = tasksFromExperiments(experiments, project.id, (m) => groups.get(m)).map((t) => lib.fakeTask(t));
    const port = Number(process.env.EXPFLOW_DEMO_PORT ?? 0);
    fake = await lib.FakeClearml.start({ projects: [project], tasks, latencyMs: Number(process.env.EXPFLOW_DEMO_LATENCY_MS ?? 0), port });
    const secret = fake.secretKey.replace(/'/g, "'\\''");
    process.stdout.write(
      [
        `A fake ClearML server is serving the ${tasks.length} example experiments as tasks of project PDEBench at ${fake.url}.`,
        "In another terminal, in this directory:",
        "",
        `  export CLEARML_API_HOST=${fake.url} CLEARML_API_ACCESS_KEY=${fake.accessKey} CLEARML_API_SECRET_KEY='${secret}'`,
        "  npx expflow clearml status",
        "  npx expflow clearml compare-scores --project PDEBench --sort-by pde_mean --gate pde_mean:lt:18.09 --gate train_time_min:lt:60 --max 10",
        "",
        "Ctrl-C stops it.",
        "",
      ].join("\n"),
    );
  } catch (e) {
    cleanup();
    throw e;
  }
  const stop = async () => {
    for (const v of fake.takeViolations()) process.stderr.write(`fake server: unexpected request: ${v}\n`);
    await fake.close();
    cleanup();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}

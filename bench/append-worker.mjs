// A worker of the append benchmark (bench/run.mjs). Loads the registry writer from the bundle
// the harness built, waits at a barrier (so several workers start together), then appends
// through RegistryWriter, each change a read-modify-append under the registry lock: <ops>
// creates, then <ops> updates (a metric each) spread over the experiments it created. Prints
// one JSON line: {start, end} (ms since the epoch, sub-millisecond) around the timed part.
//
//   node bench/append-worker.mjs <bundle.cjs> <syncDir> <n> <registry> <ops>
import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const [bundle, syncDir, n, registry, opsText] = process.argv.slice(2);
const ops = Number(opsText);
const lib = createRequire(import.meta.url)(bundle);
const writer = new lib.RegistryWriter(registry, { now: () => new Date(), who: `bench-${n}@bench` });
const clock = () => performance.timeOrigin + performance.now();

writeFileSync(join(syncDir, `ready-${n}`), "");
const deadline = Date.now() + 120_000;
while (!existsSync(join(syncDir, "go"))) {
  if (Date.now() > deadline) throw new Error("the barrier was never released");
  await new Promise((r) => setTimeout(r, 1));
}

const start = clock();
const ids = [];
for (let j = 0; j < ops; j++) {
  // About the size of a real record (the generated registry's median line is ~600 bytes).
  const r = await writer.create({
    experiment_id: lib.newExperimentId(),
    name: `bench-${n}-${j}`,
    status: "created",
    queue: "default",
    command: `python train.py --model fno --seed ${j}`,
    project: "bench",
    tags: ["task1"],
    timestamp: new Date().toISOString(),
    metrics: {},
    params: { "Args/--seed": String(j), "Args/--lr": "3e-4" },
  }, { generatedId: true }); // as `run submit` does: a generated id needs no duplicate scan
  ids.push(r.experiment_id);
}
for (let j = 0; j < ops; j++) {
  await writer.update(ids[j % ids.length], (cur) => ({ ...cur, metrics: { ...cur.metrics, pde_mean: 10 + (j % 13), seg_total: 50 + (j % 7) } }));
}
const end = clock();
process.stdout.write(`${JSON.stringify({ n, start, end, ops: 2 * ops })}\n`);

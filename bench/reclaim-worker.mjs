// A worker of the lock-reclaim benchmark (bench/run.mjs), loading the registry writer from the
// bundle the harness built.
//
//   node bench/reclaim-worker.mjs <bundle.cjs> hold <registry> <heldFile>
//     takes the registry lock, writes <heldFile>, and holds the lock until killed.
//   node bench/reclaim-worker.mjs <bundle.cjs> take <registry>
//     appends one experiment (waiting for the lock) and prints {ms}: the time the change took.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const [bundle, mode, registry, held] = process.argv.slice(2);
const lib = createRequire(import.meta.url)(bundle);
const writer = new lib.RegistryWriter(registry, { now: () => new Date(), who: "bench@bench" });
if (mode === "hold") {
  await writer.locked(async () => {
    writeFileSync(held, "");
    await new Promise(() => setInterval(() => {}, 1000));
  });
} else {
  const t0 = performance.now();
  await writer.create({ experiment_id: lib.newExperimentId(), status: "created" }, { generatedId: true });
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0 })}\n`);
}

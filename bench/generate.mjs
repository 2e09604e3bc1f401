// Deterministic generator of a synthetic local registry (`experiments.jsonl`) for the benchmarks.
// Same seed and count → byte-identical file. Used by bench/run.mjs; runnable on its own:
//   node bench/generate.mjs OUT_FILE [COUNT] [SEED]
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** mulberry32: a small, fast, seeded 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METRICS = [
  "seg_total",
  "seg1",
  "seg2",
  "seg3",
  "val_mse",
  "val_relmse",
  "pde_mean",
  "pde_seg1",
  "pde_seg2",
  "pde_seg3",
  "train_time_min",
  "arch_params",
  "epochs",
];
const MODELS = ["fno", "unet", "deeponet", "transolver", "gnot", "mlp"];
const WIDTHS = [32, 48, 64, 96, 128];
const LRS = ["0.001", "0.0005", "0.0003", "0.0001"];
const QUEUES = ["gpu-a100", "gpu-v100", "gpu-l4", "cpu-default"];
const PROJECTS = ["pde-task1", "pde-task2", "pde-ablations"];
const METHODS = ["baseline", "sweep", "ablation", "manual"];
const SUB_STEPS = ["1", "2", "5", "10"];

/** Rounds to `d` decimals (keeps lines at a realistic length). */
const round = (x, d) => Number(x.toFixed(d));

/**
 * Generates `count` registry lines (each ending with "\n") with the given `seed`.
 * About 90% `completed`, 7% `failed`, 3% `running`; about 5% of records miss 1-3 metrics.
 * @returns {{ text: string, count: number, bytes: number, missingMetrics: number }}
 */
export function generateRegistry(count = 100_000, seed = 20260101) {
  const lines = new Array(count);
  const stats = eachLine(count, seed, (line, i) => {
    lines[i] = line;
  });
  const text = lines.join("");
  return { text, count, bytes: Buffer.byteLength(text), missingMetrics: stats.missingMetrics, statusCount: stats.statusCount };
}

/**
 * The registry {@link generateRegistry} makes, written to `path` in chunks of about 1 MiB, so a
 * registry larger than a string may be (V8: ~512 MiB) can be made: the same bytes for the same
 * count and seed.
 */
export function generateRegistryFile(path, count = 100_000, seed = 20260101) {
  const fd = openSync(path, "w");
  let chunk = "";
  let bytes = 0;
  try {
    const stats = eachLine(count, seed, (line) => {
      chunk += line;
      if (chunk.length >= 1 << 20) {
        bytes += writeSync(fd, chunk);
        chunk = "";
      }
    });
    if (chunk !== "") bytes += writeSync(fd, chunk);
    return { count, bytes, missingMetrics: stats.missingMetrics, statusCount: stats.statusCount };
  } finally {
    closeSync(fd);
  }
}

/** Calls `onLine(text, index)` for each generated line (its newline included). */
function eachLine(count, seed, onLine) {
  const rnd = mulberry32(seed);
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const uniform = (lo, hi) => lo + (hi - lo) * rnd();
  const ids = new Set();
  let t = Date.UTC(2025, 0, 1, 8, 0, 0);
  let missingMetrics = 0;
  const statusCount = {};

  for (let i = 0; i < count; i++) {
    let id;
    do id = `exp-${Math.floor(rnd() * 0x100000000).toString(16).padStart(8, "0")}`;
    while (ids.has(id));
    ids.add(id);

    const r = rnd();
    const status = r < 0.9 ? "completed" : r < 0.97 ? "failed" : "running";
    statusCount[status] = (statusCount[status] ?? 0) + 1;
    const model = pick(MODELS);
    const width = pick(WIDTHS);
    const lr = pick(LRS);
    const subStep = pick(SUB_STEPS);
    const seedArg = Math.floor(rnd() * 100);
    const project = pick(PROJECTS);
    const task = project.endsWith("task2") ? "task2" : "task1";
    t += Math.floor(uniform(1, 15) * 60_000);

    const seg = [uniform(20, 36), uniform(18, 34), uniform(15, 32)];
    const pdeMean = uniform(12, 26);
    const pde = [pdeMean * uniform(0.8, 1.2), pdeMean * uniform(0.8, 1.2)];
    pde.push(3 * pdeMean - pde[0] - pde[1]);
    const valMse = 10 ** uniform(-3.5, -1.5);
    const metrics = {
      seg_total: round(seg[0] + seg[1] + seg[2], 3),
      seg1: round(seg[0], 3),
      seg2: round(seg[1], 3),
      seg3: round(seg[2], 3),
      val_mse: Number(valMse.toPrecision(4)),
      val_relmse: round(uniform(0.02, 0.35), 4),
      pde_mean: round(pdeMean, 3),
      pde_seg1: round(pde[0], 3),
      pde_seg2: round(pde[1], 3),
      pde_seg3: round(pde[2], 3),
      train_time_min: round(uniform(4, 110), 2),
      arch_params: Math.floor(width * width * uniform(40, 4000)),
      epochs: Math.floor(uniform(20, 500)),
    };
    if (rnd() < 0.05) {
      missingMetrics++;
      const drop = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < drop; k++) delete metrics[pick(METRICS)];
    }

    const name = `${model}-w${width}-s${seedArg}`;
    const record = {
      experiment_id: id,
      name,
      status,
      queue: pick(QUEUES),
      command: `python train.py --model ${model} --sub_step ${subStep} --seed ${seedArg}`,
      project,
      tags: [task],
      timestamp: new Date(t).toISOString(),
      method: pick(METHODS),
      clearml_task_id: null,
      metrics,
      params: {
        "Args/--sub_step": subStep,
        "Args/--lr": lr,
      },
    };
    onLine(`${JSON.stringify(record)}\n`, i);
  }
  return { missingMetrics, statusCount };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [out, count, seed] = process.argv.slice(2);
  if (!out) {
    process.stderr.write("usage: node bench/generate.mjs OUT_FILE [COUNT] [SEED]\n");
    process.exit(2);
  }
  const g = generateRegistry(count ? Number(count) : undefined, seed ? Number(seed) : undefined);
  writeFileSync(out, g.text);
  process.stdout.write(`${g.count} records, ${g.bytes} bytes → ${out}\n`);
}

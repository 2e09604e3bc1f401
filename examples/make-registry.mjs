#!/usr/bin/env node
// Writes examples/experiments.jsonl: a realistic registry for the README's quick start.
// Deterministic (seeded), so the example and the README's sample output do not drift.
// Run: node examples/make-registry.mjs
import { writeFileSync } from "node:fs";

let seed = 20261125;
function rand() {
  // mulberry32
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const round = (x, d = 3) => Number(x.toFixed(d));
const hex = (n) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");

const methods = [
  { method: "fno", params: 2.4e6, pde: 16.2, seg: 19.5, time: 38 },
  { method: "unet", params: 7.8e6, pde: 18.6, seg: 18.1, time: 52 },
  { method: "pinn", params: 0.6e6, pde: 21.0, seg: 15.2, time: 71 },
  { method: "deeponet", params: 1.1e6, pde: 17.4, seg: 17.6, time: 44 },
];
const tasks = ["task1", "task2", "task3"];
const lines = [];
let time = Date.parse("2026-10-01T08:00:00Z");

for (let i = 0; i < 66; i++) {
  const task = tasks[i % 3];
  const m = pick(methods);
  const subStep = pick([1, 2, 5, 5, 10]);
  const lr = pick(["1e-3", "5e-4", "3e-4"]);
  const epochs = pick([50, 100, 150, 200]);
  const pde = [0, 1, 2].map(() => Math.max(4, m.pde + (rand() - 0.5) * 6));
  const seg = [0, 1, 2].map(() => Math.max(5, m.seg + (rand() - 0.5) * 5));
  const trainTime = Math.max(8, m.time * (epochs / 120) + (rand() - 0.5) * 20);
  const id = `exp-${hex(8)}`;
  time += Math.floor(rand() * 5 * 3600 * 1000) + 600_000;
  const metrics = {
    seg_total: round(seg[0] + seg[1] + seg[2]),
    seg1: round(seg[0]),
    seg2: round(seg[1]),
    seg3: round(seg[2]),
    val_mse: round(0.002 + rand() * 0.01, 5),
    val_relmse: round(0.02 + rand() * 0.08, 4),
    pde_mean: round((pde[0] + pde[1] + pde[2]) / 3),
    pde_seg1: round(pde[0]),
    pde_seg2: round(pde[1]),
    pde_seg3: round(pde[2]),
    train_time_min: round(trainTime, 1),
    arch_params: Math.round(m.params * (0.8 + rand() * 0.4)),
    epochs,
  };
  let status = "completed";
  // Some runs crashed or are still going: their metrics are partial or absent.
  if (i % 17 === 5) {
    status = "failed";
    for (const k of ["seg_total", "seg1", "seg2", "seg3", "pde_mean", "pde_seg1", "pde_seg2", "pde_seg3"]) delete metrics[k];
  } else if (i % 19 === 7) {
    status = "running";
    delete metrics.pde_mean;
    delete metrics.train_time_min;
    delete metrics.seg_total;
  } else if (i % 13 === 3) {
    delete metrics.train_time_min; // the timing hook was added later
  }
  const extra = i % 11 === 0 ? ["baseline"] : i % 7 === 0 ? ["ablation"] : [];
  lines.push({
    experiment_id: id,
    name: `${task}-${m.method}-ss${subStep}-lr${lr}`,
    status,
    queue: pick(["default", "gpu", "gpu"]),
    command: `python train.py --task ${task} --model ${m.method} --sub_step ${subStep} --lr ${lr} --epochs ${epochs}`,
    project: "PDEBench",
    tags: [task, ...extra],
    timestamp: new Date(time).toISOString().replace("Z", ""),
    method: m.method,
    clearml_task_id: null,
    metrics,
    params: { "Args/--task": task, "Args/--model": m.method, "Args/--sub_step": String(subStep), "Args/--lr": lr, "Args/--epochs": String(epochs) },
  });
}

// An older record written by the earlier Python tool: no name, metrics or params.
lines.splice(2, 0, {
  experiment_id: "exp-legacy01",
  status: "completed",
  queue: "default",
  command: "python train.py --task task1",
  project: "PDEBench",
  tags: ["task1"],
  timestamp: "2026-09-28T17:42:10.512331",
  method: "fno",
  clearml_task_id: null,
});

// A run whose third segment diverged: seg3 is a real 0, not a missing value.
const zero = structuredClone(lines[10]);
Object.assign(zero, { experiment_id: "exp-zero0001", name: `${zero.name}-seg3-diverged` });
zero.metrics.seg3 = 0;
zero.metrics.seg_total = round(zero.metrics.seg1 + zero.metrics.seg2);
lines.push(zero);

// A superseded record: the run was first logged as running, then completed with its metrics.
const best = lines.find((l) => l.status === "completed" && l.metrics?.pde_mean < 15 && l.metrics?.train_time_min < 60) ?? lines[4];
const idx = lines.indexOf(best);
lines.splice(idx, 0, { ...best, status: "running", metrics: { epochs: best.metrics.epochs } });

// Step histories, as the local runner keeps them while a run reports metrics (metric_history):
// pde_mean and val_mse of every completed run, a point every few epochs, falling to the final
// value. A seed of their own, so that adding them changed none of the values above.
seed = 20261201;
for (const l of lines) {
  if (l.status !== "completed" || typeof l.metrics?.pde_mean !== "number") continue;
  const every = Math.max(1, Math.round(l.metrics.epochs / 50));
  const history = {};
  for (const name of ["pde_mean", "val_mse"]) {
    const final = l.metrics[name];
    const start = 1.8 + rand() * 1.5;
    const tau = l.metrics.epochs * (0.15 + rand() * 0.2);
    const steps = [];
    for (let e = 0; e <= l.metrics.epochs; e += every) {
      const noise = e === l.metrics.epochs ? 0 : (rand() - 0.5) * 0.03;
      const v = final * (1 + (start - 1) * Math.exp(-e / tau) + noise);
      steps.push([e, name === "val_mse" ? round(v, 5) : round(v)]);
    }
    steps[steps.length - 1][1] = final;
    const values = steps.map((p) => p[1]);
    history[name] = { last: final, min: Math.min(...values), max: Math.max(...values), count: steps.length, steps };
  }
  l.metric_history = history;
}

writeFileSync(new URL("./experiments.jsonl", import.meta.url), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
console.log(`wrote ${lines.length} lines`);

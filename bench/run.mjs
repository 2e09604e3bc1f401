// expflow benchmark harness: `npm run bench` (builds dist/ first, then runs this file).
//
// 1. Cold start: `node dist/cli.js --version` against bare `node -e 0`, interleaved.
// 2. Throughput: `compare-scores` on a generated 100,000-experiment registry against a floor
//    (bench/floor.mjs: read the file and JSON.parse each line, nothing else), interleaved.
// 3. Peak memory (max RSS) of the throughput commands, through bench/rss-probe-hwm.mjs.
// 4. Append throughput through RegistryWriter (a read-modify-append under the registry lock,
//    fsynced, per change): one process alone, then BENCH_APPEND_PROCS processes at once,
//    interleaved. The writer is bundled from src/ (bench/fixtures/registry-entry.ts) with tsup
//    into the temporary directory; each worker is bench/append-worker.mjs.
// 5. `run list --json` and `run status <id>` on the generated registry, in the throughput group
//    (same floor), when dist/ has them working; otherwise reported as not yet available.
//
// Prints the tables to stdout (progress goes to stderr) and overwrites BENCHMARKS.md with them.
// It reports; it does not assert: a missed goal still exits 0. A command that fails (an exit
// code it should not have, a signal) makes it print that command's stderr and exit 1.
//
// Knobs (environment variables, defaults in brackets): BENCH_COLD_RUNS [30],
// BENCH_COLD_WARMUP [3], BENCH_RUNS [7], BENCH_WARMUP [1], BENCH_RECORDS [100000],
// BENCH_SEED [20260101], BENCH_APPEND_OPS [250] (creates, then as many updates, per process),
// BENCH_APPEND_PROCS [4], BENCH_APPEND_RUNS [5], BENCH_APPEND_BIG_OPS [10] (per run, on a copy of
// the generated registry), BENCH_KEEP=1 keeps the temporary directory.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { generateRegistry } from "./generate.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
const FLOOR = fileURLToPath(new URL("./floor.mjs", import.meta.url));
// rss-probe-hwm.mjs, not rss-probe.mjs: maxRSS is inherited from the harness across fork + exec.
const PROBE = pathToFileURL(fileURLToPath(new URL("./rss-probe-hwm.mjs", import.meta.url))).href;
const OUT_MD = join(ROOT, "BENCHMARKS.md");
const APPEND_ENTRY = fileURLToPath(new URL("./fixtures/registry-entry.ts", import.meta.url));
const APPEND_WORKER = fileURLToPath(new URL("./append-worker.mjs", import.meta.url));
const NODE = process.execPath;

const intEnv = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got '${v}'`);
  return n;
};
const COLD_RUNS = Math.max(1, intEnv("BENCH_COLD_RUNS", 30));
const COLD_WARMUP = intEnv("BENCH_COLD_WARMUP", 3);
const RUNS = Math.max(1, intEnv("BENCH_RUNS", 7));
const WARMUP = Math.max(1, intEnv("BENCH_WARMUP", 1)); // the first warm-up also checks the output
const RECORDS = Math.max(1, intEnv("BENCH_RECORDS", 100_000));
const SEED = intEnv("BENCH_SEED", 20260101);
const APPEND_OPS = Math.max(1, intEnv("BENCH_APPEND_OPS", 250));
const APPEND_PROCS = Math.max(2, intEnv("BENCH_APPEND_PROCS", 4));
const APPEND_RUNS = Math.max(1, intEnv("BENCH_APPEND_RUNS", 5));
const APPEND_BIG_OPS = Math.max(1, intEnv("BENCH_APPEND_BIG_OPS", 10));

const GOAL_COLD = 1.5;
const GOAL_THROUGHPUT = 2.5;

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const log = (s) => process.stderr.write(s);

/** A command that failed: reported with its stderr, then the harness exits 1. */
class CommandFailed extends Error {}

// ---------------------------------------------------------------------------------------------
// Running and timing

/**
 * Runs `node ...args` once and returns its wall time in ms (process.hrtime.bigint around
 * spawnSync). `stdout`: "ignore" (/dev/null), "pipe" (returned) or a file descriptor.
 */
function runOnce(spec, { stdout = "ignore", env = spec.env, nodeArgs = [] } = {}) {
  const args = [...nodeArgs, ...spec.args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(NODE, args, {
    cwd: spec.cwd,
    env,
    stdio: ["ignore", stdout, "pipe"],
    maxBuffer: 1024 * 1024 * 1024,
    encoding: "utf8",
  });
  const t1 = process.hrtime.bigint();
  const ok = r.error === undefined && r.status !== null && spec.okCodes.includes(r.status);
  if (!ok) {
    const why = r.error ? `could not run: ${r.error.message}` : r.status === null ? `killed by ${r.signal}` : `exit code ${r.status}`;
    throw new CommandFailed(
      `command failed (${why}; expected exit ${spec.okCodes.join(" or ")}):\n  ${[NODE, ...args].join(" ")}\n` +
        `--- stderr ---\n${r.stderr ?? ""}${r.stderr && !r.stderr.endsWith("\n") ? "\n" : ""}--------------`,
    );
  }
  return { ms: Number(t1 - t0) / 1e6, status: r.status, stdout: typeof r.stdout === "string" ? r.stdout : "", stderr: r.stderr ?? "" };
}

/**
 * Runs the specs interleaved (A, B, C, A, B, C, ...): `warmup` untimed rounds, then `runs` timed
 * ones. `check(spec, result)` sees the first warm-up run of each spec (its stdout captured).
 */
function interleaved(specs, { runs, warmup, capture, check }) {
  const times = new Map(specs.map((s) => [s.key, []]));
  for (let round = 0; round < warmup + runs; round++) {
    const timed = round >= warmup;
    for (const spec of specs) {
      const first = round === 0 && check !== undefined;
      const r = runOnce(spec, { stdout: first ? capture(spec) : "ignore" });
      if (first) check(spec, r);
      if (timed) times.get(spec.key).push(r.ms);
    }
    log(timed ? "." : "w");
  }
  log("\n");
  return times;
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  const p90 = s[Math.min(n - 1, Math.ceil(0.9 * n) - 1)]; // nearest rank
  return { n, median, p90, min: s[0], max: s[n - 1] };
}

const ms = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (x) => `${x.toFixed(2)}x`;
const mib = (kib) => (kib / 1024).toFixed(1);
const verdict = (value, goal) => (value <= goal ? "met" : "not met");

/** A Markdown table with padded columns, so it reads as well in a terminal. */
function table(header, rows, align) {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(3, ...all.map((r) => String(r[c]).length)));
  const cell = (text, c) => (align[c] === "r" ? String(text).padStart(widths[c]) : String(text).padEnd(widths[c]));
  const line = (r) => `| ${r.map(cell).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (align[c] === "r" ? `${"-".repeat(w + 1)}:` : `${"-".repeat(w + 2)}`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Context

function gitDescribe() {
  const git = (args) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
  const head = git(["rev-parse", "--short", "HEAD"]);
  if (head.status !== 0) return null;
  const dirty = git(["status", "--porcelain", "--", "src", "package.json", "tsup.config.ts"]);
  return `${head.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() !== "" ? " (with uncommitted changes under src/)" : ""}`;
}

/** A fingerprint of dist/, to notice a rebuild (say, by a concurrent `npm test`) during the run. */
function distFingerprint() {
  const h = createHash("sha256");
  try {
    for (const f of readdirSync(join(ROOT, "dist")).sort()) h.update(f).update("\0").update(readFileSync(join(ROOT, "dist", f))).update("\0");
  } catch (e) {
    h.update(String(e));
  }
  return h.digest("hex");
}

/** An `expflow.yaml` the CLI would pick up from `dir` (it searches upwards), if any. */
function strayProjectConfig(dir) {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "expflow.yaml"))) return join(d, "expflow.yaml");
    if (dirname(d) === d) return null;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * PIN verification cost, in-process through the built library: `verifyPin` with the right PIN
 * (scrypt at the shipped setting, plus the lockout lock and state file), the bare scrypt hash,
 * and what an offline brute force of all 10,000 PINs costs on this machine, against the earlier
 * tool's unsalted SHA-256.
 */
async function benchPin(tmp) {
  const lib = await import(pathToFileURL(join(ROOT, "dist", "index.js")).href);
  const { createHash } = await import("node:crypto");
  const home = join(tmp, "pin-home");
  const ctx = { home, env: {}, cwd: tmp, warn: () => {}, now: () => new Date(), user: "bench", host: "bench" };
  await lib.initPin("4826", ctx);
  const runs = Math.max(5, intEnv("BENCH_PIN_RUNS", 15));
  const verify = [];
  const hash = [];
  log(`pin: ${runs} verifications and ${runs} hashes `);
  for (let i = 0; i < runs; i++) {
    let t = process.hrtime.bigint();
    const r = await lib.verifyPin("4826", ctx);
    verify.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (!r.ok) throw new CommandFailed("verifyPin rejected the right PIN");
    t = process.hrtime.bigint();
    await lib.hashPin("4826");
    hash.push(Number(process.hrtime.bigint() - t) / 1e6);
    log(".");
  }
  log("\n");
  // The earlier tool's format: all 10,000 unsalted SHA-256 hashes, measured.
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < 10_000; p++) createHash("sha256").update(String(p).padStart(4, "0")).digest();
  const legacyAllMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const v = stats(verify);
  const h = stats(hash);
  const cores = os.cpus().length;
  return { params: lib.SCRYPT_DEFAULTS, verify: v, hash: h, cores, bruteMs: (10_000 * h.median) / cores, legacyAllMs };
}

/**
 * Append throughput through RegistryWriter, in worker processes that load the writer from a
 * bundle of src/ built here (dist/ does not export it). Each worker makes APPEND_OPS creates,
 * then APPEND_OPS updates, every one a read-modify-append under the registry lock with an
 * fsync. Single (one worker) and multi (APPEND_PROCS workers released together at a barrier,
 * one registry) alternate; each run starts from an empty registry. A run's time is from the
 * first worker's start to the last one's end, as the workers report it (process start-up
 * excluded); ops/s is every change made in the run over that time.
 */
async function benchAppend(tmp) {
  const outDir = join(tmp, "bundle");
  const { build } = await import("tsup");
  log("append: bundling the registry writer from src/ ... ");
  await build({
    config: false,
    entry: { "bench-registry": APPEND_ENTRY },
    outDir,
    format: ["cjs"],
    platform: "node",
    target: "node20",
    noExternal: [/.*/],
    dts: false,
    sourcemap: false,
    splitting: false,
    clean: false,
    silent: true,
    define: { __EXPFLOW_VERSION__: JSON.stringify(pkg.version) },
    tsconfig: join(ROOT, "tsconfig.json"),
  });
  const bundle = join(outDir, readdirSync(outDir).find((f) => /^bench-registry\.c?js$/.test(f)) ?? "missing");
  if (!existsSync(bundle)) throw new CommandFailed(`tsup built no bundle in ${outDir}`);
  log("done\n");

  // A copy of the generated registry, for appends to a large file (every change reads it).
  const big = join(tmp, "append-base.jsonl");
  const bigGen = generateRegistry(RECORDS, SEED);
  writeFileSync(big, bigGen.text);
  const bigLines = bigGen.count;
  bigGen.text = "";

  let runNo = 0;
  const once = async (procs, { perProc = APPEND_OPS, base = null, baseLines = 0 } = {}) => {
    const dir = join(tmp, `append-${runNo++}`);
    mkdirSync(dir);
    const registry = join(dir, "experiments.jsonl");
    if (base !== null) copyFileSync(base, registry);
    const children = Array.from({ length: procs }, (_v, n) => {
      const child = spawn(NODE, [APPEND_WORKER, bundle, dir, String(n), registry, String(perProc)], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const done = new Promise((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
      });
      return { done, exited: false };
    });
    children.forEach((c) => void c.done.then(() => (c.exited = true)));
    while (!children.every((c, n) => c.exited || existsSync(join(dir, `ready-${n}`)))) await new Promise((r) => setTimeout(r, 2));
    writeFileSync(join(dir, "go"), "");
    const results = await Promise.all(children.map((c) => c.done));
    for (const r of results) {
      if (r.code !== 0) throw new CommandFailed(`append worker failed (${r.signal ?? `exit code ${r.code}`}):\n--- stderr ---\n${r.stderr}--------------`);
    }
    const reports = results.map((r) => JSON.parse(r.stdout));
    const start = Math.min(...reports.map((r) => r.start));
    const end = Math.max(...reports.map((r) => r.end));
    const ops = reports.reduce((a, r) => a + r.ops, 0);
    // Every change must be in the file, whole, after the base registry's lines.
    const lines = readFileSync(registry, "utf8").split("\n").filter((l) => l !== "");
    if (lines.length !== baseLines + ops) throw new CommandFailed(`append run wrote ${lines.length - baseLines} lines for ${ops} changes`);
    for (const l of lines.slice(baseLines)) JSON.parse(l);
    rmSync(dir, { recursive: true, force: true });
    return { ms: end - start, ops, opsPerSec: (ops * 1000) / (end - start) };
  };

  log(
    `append: 1 warm-up + ${APPEND_RUNS} timed runs each of 1 process and ${APPEND_PROCS} processes (${APPEND_OPS} creates + ${APPEND_OPS} updates each) ` +
      `and 1 process on the ${RECORDS}-record registry (${APPEND_BIG_OPS} + ${APPEND_BIG_OPS}), interleaved `,
  );
  const single = [];
  const multi = [];
  const large = [];
  for (let round = 0; round < 1 + APPEND_RUNS; round++) {
    const a = await once(1);
    const b = await once(APPEND_PROCS);
    const c = await once(1, { perProc: APPEND_BIG_OPS, base: big, baseLines: bigLines });
    if (round > 0) {
      single.push(a);
      multi.push(b);
      large.push(c);
    }
    log(round > 0 ? "." : "w");
  }
  log("\n");
  const summary = (runs) => ({ ops: runs[0].ops, ms: stats(runs.map((r) => r.ms)), rate: stats(runs.map((r) => r.opsPerSec)) });
  rmSync(big);
  return { single: summary(single), multi: summary(multi), large: summary(large) };
}

/**
 * Whether `run list` and `run status` work in dist/: `--help` must succeed, and a run on a
 * one-record registry must exit 0 (a placeholder that throws "in development" does not).
 */
function runCommandsAvailability(tmp, env) {
  const probe = join(tmp, "probe.jsonl");
  const id = "exp-probe0000001";
  writeFileSync(probe, `${JSON.stringify({ experiment_id: id, name: "probe", status: "completed", metrics: { pde_mean: 1 } })}\n`);
  const node = (args) => spawnSync(NODE, [CLI, ...args], { cwd: tmp, env, encoding: "utf8", timeout: 60_000 });
  const why = (r) => (r.error ? r.error.message : `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split("\n").slice(0, 2).join(" ")}`);
  const check = (sub, args, ok) => {
    const help = node(["run", sub, "--help"]);
    if (help.status !== 0) return { ok: false, why: `\`run ${sub} --help\` fails (${why(help)})` };
    const r = node(["run", sub, ...args, "--registry", probe]);
    if (r.status !== 0 || /in development/i.test(r.stderr)) return { ok: false, why: `\`run ${sub}\` does not work yet (${why(r)})` };
    if (!ok(r.stdout)) return { ok: false, why: `\`run ${sub}\` printed something unexpected: ${r.stdout.slice(0, 120)}` };
    return { ok: true, why: "" };
  };
  const available = {
    list: check("list", ["--json"], (out) => out.includes(id)),
    status: check("status", [id, "--json"], (out) => out.includes(id)),
  };
  rmSync(probe);
  return available;
}

/** The rows of `run list --json` output, whatever the top-level shape (an array, or an object holding one). */
function jsonRows(json) {
  if (Array.isArray(json)) return json;
  if (json !== null && typeof json === "object") for (const v of Object.values(json)) if (Array.isArray(v)) return v;
  return null;
}

function main(tmp, pin, append) {
  if (!existsSync(CLI)) throw new CommandFailed(`${CLI} does not exist: run \`npm run bench\` (it builds first).`);
  const cpus = os.cpus();
  const machine = {
    node: process.version,
    cpu: cpus[0]?.model?.trim() ?? "unknown",
    cores: cpus.length,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memGiB: (os.totalmem() / 1024 ** 3).toFixed(1),
    load: os.loadavg().map((l) => l.toFixed(2)).join(", "),
  };
  const date = new Date().toISOString();
  const distAtStart = distFingerprint();
  const source = gitDescribe();

  // The children get a clean, isolated environment: an empty EXPFLOW_HOME (no config.yaml),
  // the temporary directory as working directory (no expflow.yaml), no colour, no NODE_OPTIONS.
  const env = { ...process.env, EXPFLOW_HOME: join(tmp, "home"), NO_COLOR: "1" };
  delete env.NODE_OPTIONS;
  delete env.EXPFLOW_REGISTRY;
  delete env.FORCE_COLOR;
  const stray = strayProjectConfig(tmp);
  if (stray) log(`warning: ${stray} exists and will be read by expflow as project configuration\n`);

  // 1. Cold start ------------------------------------------------------------------------------
  log(`cold start: ${COLD_WARMUP} warm-up + ${COLD_RUNS} timed runs each, interleaved `);
  const bare = { key: "bare", label: "node -e 0", args: ["-e", "0"], cwd: tmp, env, okCodes: [0] };
  const version = { key: "version", label: "node dist/cli.js --version", args: [CLI, "--version"], cwd: tmp, env, okCodes: [0] };
  const coldSpecs = [version, bare];
  const cold = interleaved(coldSpecs, {
    runs: COLD_RUNS,
    warmup: COLD_WARMUP,
    capture: () => "pipe",
    check: (spec, r) => {
      if (spec === version && r.stdout.trim() !== pkg.version) {
        throw new CommandFailed(`--version printed '${r.stdout.trim()}', expected '${pkg.version}'`);
      }
    },
  });
  const coldStats = { bare: stats(cold.get("bare")), version: stats(cold.get("version")) };
  const coldRatio = coldStats.version.median / coldStats.bare.median;

  // 2. Throughput ------------------------------------------------------------------------------
  log(`generating ${RECORDS} experiments (seed ${SEED}) ... `);
  const registry = join(tmp, "experiments.jsonl");
  const gen = generateRegistry(RECORDS, SEED);
  writeFileSync(registry, gen.text);
  const lineLengths = gen.text.split("\n").filter((l) => l !== "").map((l) => Buffer.byteLength(l)).sort((a, b) => a - b);
  const statusCount = {};
  for (const m of gen.text.matchAll(/"status":"([a-z]+)"/g)) statusCount[m[1]] = (statusCount[m[1]] ?? 0) + 1;
  // The last record's id, for `run status` (a full-file scan either way).
  const statusId = JSON.parse(gen.text.slice(gen.text.lastIndexOf("\n", gen.text.length - 2) + 1)).experiment_id;
  gen.text = ""; // let the harness's copy go
  log(`${(gen.bytes / 1024 ** 2).toFixed(1)} MiB\n`);

  const gateArgs = ["--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60"];
  const A = {
    key: "A",
    label: "compare-scores --sort-by pde_mean --gate pde_mean:lt:18.09 --gate train_time_min:lt:60 --max 20",
    args: [CLI, "compare-scores", "--registry", registry, ...gateArgs, "--max", "20"],
    cwd: tmp,
    env,
    okCodes: [0, 1],
  };
  const A2 = {
    key: "A2",
    label: "compare-scores --sort-by pde_mean --gate pde_mean:lt:18.09 --gate train_time_min:lt:60 --json",
    args: [CLI, "compare-scores", "--registry", registry, ...gateArgs, "--json"],
    cwd: tmp,
    env,
    okCodes: [0, 1],
  };
  const F = { key: "floor", label: "floor: node bench/floor.mjs (readFileSync + split + JSON.parse per line)", args: [FLOOR, registry], cwd: tmp, env, okCodes: [0] };
  const runAvail = runCommandsAvailability(tmp, env);
  const L = {
    key: "L",
    label: "run list --json",
    args: [CLI, "run", "list", "--registry", registry, "--json"],
    cwd: tmp,
    env,
    okCodes: [0],
  };
  const S = {
    key: "S",
    label: `run status ${statusId} --json`,
    args: [CLI, "run", "status", statusId, "--registry", registry, "--json"],
    cwd: tmp,
    env,
    okCodes: [0],
  };
  for (const [name, a] of Object.entries(runAvail)) if (!a.ok) log(`run ${name}: not yet available: ${a.why}\n`);
  const tpSpecs = [A, A2, ...(runAvail.list.ok ? [L] : []), ...(runAvail.status.ok ? [S] : []), F];

  const warnings = [];
  let passing = null;
  const outFile = (spec) => join(tmp, `out-${spec.key}.txt`);
  const fds = new Map();
  log(`throughput: ${WARMUP} warm-up + ${RUNS} timed runs each of ${tpSpecs.map((s) => s.key).join(", ")}, interleaved `);
  const tp = interleaved(tpSpecs, {
    runs: RUNS,
    warmup: WARMUP,
    capture: (spec) => {
      const fd = openSync(outFile(spec), "w");
      fds.set(spec.key, fd);
      return fd;
    },
    check: (spec, r) => {
      closeSync(fds.get(spec.key));
      const out = readFileSync(outFile(spec), "utf8");
      if (r.stderr.trim() !== "") warnings.push(`${spec.key} wrote to stderr: ${r.stderr.trim().split("\n")[0]}`);
      if (spec === F && out.trim() !== String(RECORDS)) throw new CommandFailed(`floor parsed ${out.trim()} lines, expected ${RECORDS}`);
      if (spec === A && !out.includes(String(RECORDS))) warnings.push(`A's output does not mention ${RECORDS} experiments`);
      if (spec === A2) {
        let json;
        try {
          json = JSON.parse(out);
        } catch (e) {
          throw new CommandFailed(`compare-scores --json did not print valid JSON: ${e.message}`);
        }
        const results = Array.isArray(json?.results) ? json.results : [];
        if (results.length !== RECORDS) warnings.push(`A2 returned ${results.length} results, expected ${RECORDS}`);
        passing = results.filter((x) => x.passed === true).length;
      }
      if (spec === L) {
        let json;
        try {
          json = JSON.parse(out);
        } catch (e) {
          throw new CommandFailed(`run list --json did not print valid JSON: ${e.message}`);
        }
        const rows = jsonRows(json);
        if (rows === null) warnings.push("run list --json printed no array of runs");
        else if (rows.length !== RECORDS) warnings.push(`run list --json listed ${rows.length} runs, expected ${RECORDS}`);
      }
      if (spec === S && !out.includes(statusId)) warnings.push(`run status did not print ${statusId}`);
      rmSync(outFile(spec));
    },
  });
  const tpStats = Object.fromEntries(tpSpecs.map((s) => [s.key, stats(tp.get(s.key))]));
  const ratioA = tpStats.A.median / tpStats.floor.median;
  const ratioA2 = tpStats.A2.median / tpStats.floor.median;
  const ratioL = runAvail.list.ok ? tpStats.L.median / tpStats.floor.median : null;
  const ratioS = runAvail.status.ok ? tpStats.S.median / tpStats.floor.median : null;

  // 3. Peak memory -----------------------------------------------------------------------------
  log("peak memory: one probed run each ");
  const rss = {};
  for (const spec of tpSpecs) {
    const file = join(tmp, `rss-${spec.key}.txt`);
    runOnce(spec, { env: { ...env, BENCH_RSS_FILE: file }, nodeArgs: ["--import", PROBE] });
    if (!existsSync(file)) throw new CommandFailed(`the RSS probe wrote nothing for ${spec.key} (${file})`);
    rss[spec.key] = Number(readFileSync(file, "utf8").trim());
    log(".");
  }
  log("\n");

  if (distFingerprint() !== distAtStart) warnings.push("dist/ changed during the run (rebuilt concurrently?): the figures may mix two builds; run again");

  // Report ---------------------------------------------------------------------------------------
  const coldHeader = ["Command", "Runs", "Median (ms)", "p90 (ms)", "Min (ms)", "Max (ms)"];
  const coldRows = [version, bare].map((s) => {
    const st = coldStats[s.key];
    return [`\`${s.label}\``, st.n, ms(st.median), ms(st.p90), ms(st.min), ms(st.max)];
  });
  const coldTable = table(coldHeader, coldRows, ["l", "r", "r", "r", "r", "r"]);

  const tpHeader = ["Command", "Runs", "Median (ms)", "p90 (ms)", "Min (ms)", "Max (ms)", "Median / floor", "Min / floor", "Peak RSS (MiB)"];
  const tpRows = [
    ["A: `compare-scores ... --max 20` (table)", A],
    ["A2: `compare-scores ... --json` (all rows)", A2],
    ...(runAvail.list.ok ? [["L: `run list --json`", L]] : []),
    ...(runAvail.status.ok ? [["S: `run status <id> --json`", S]] : []),
    ["Floor: `bench/floor.mjs`", F],
  ].map(([name, s]) => {
    const st = tpStats[s.key];
    return [name, st.n, ms(st.median), ms(st.p90), ms(st.min), ms(st.max), ratio(st.median / tpStats.floor.median), ratio(st.min / tpStats.floor.min), mib(rss[s.key])];
  });
  const tpTable = table(tpHeader, tpRows, ["l", "r", "r", "r", "r", "r", "r", "r", "r"]);
  const notAvailable = Object.entries(runAvail)
    .filter(([, a]) => !a.ok)
    .map(([name, a]) => `\`run ${name}\`: not yet available in this build (${a.why}).`);

  const rate = (x) => x.toFixed(0);
  const appendHeader = ["Writers", "Runs", "Changes per run", "Median (ops/s)", "Min (ops/s)", "Max (ops/s)", "Median run (ms)"];
  const appendRows = [
    ["1 process, new registry", append.single],
    [`${APPEND_PROCS} processes at once (total), new registry`, append.multi],
    [`1 process, on the ${RECORDS.toLocaleString("en-US")}-record registry`, append.large],
  ].map(([name, a]) => [name, a.rate.n, a.ops, rate(a.rate.median), rate(a.rate.min), rate(a.rate.max), ms(a.ms.median)]);
  const appendTable = table(appendHeader, appendRows, ["l", "r", "r", "r", "r", "r", "r"]);
  const appendScale = append.multi.rate.median / append.single.rate.median;

  const human = (msv) => (msv >= 60_000 ? `${(msv / 60_000).toFixed(1)} min` : `${(msv / 1000).toFixed(1)} s`);
  const pinTable = table(
    ["Measure", "Runs", "Median (ms)", "p90 (ms)", "Min (ms)", "Max (ms)"],
    [
      ["`verifyPin` (right PIN: scrypt + lockout state)", pin.verify.n, ms(pin.verify.median), ms(pin.verify.p90), ms(pin.verify.min), ms(pin.verify.max)],
      ["scrypt hash alone (`hashPin`)", pin.hash.n, ms(pin.hash.median), ms(pin.hash.p90), ms(pin.hash.min), ms(pin.hash.max)],
    ],
    ["l", "r", "r", "r", "r", "r"],
  );
  const pinParams = `scrypt ln=${pin.params.ln} (N=${2 ** pin.params.ln}), r=${pin.params.r}, p=${pin.params.p}, ${(128 * 2 ** pin.params.ln * pin.params.r) / 1024 ** 2} MiB per hash`;
  const bruteText =
    `An offline brute force of all 10,000 PINs against a stolen \`pin.hash\` costs about ` +
    `**${human(pin.bruteMs)}** on this machine (10,000 × ${ms(pin.hash.median)} ms median, on ${pin.cores} cores; ` +
    `half that on average to hit the PIN). The earlier tool's unsalted SHA-256 took ${pin.legacyAllMs.toFixed(1)} ms for all 10,000 ` +
    `(measured) and could be looked up in a precomputed table. A 4-digit PIN cannot resist a determined offline attack: ` +
    `the hash makes it slow and per-installation (salted), and the 0600/0700 permissions keep the file from other users.`;

  const goalsTable = table(
    ["Goal", "Measured", "Target", "Verdict"],
    [
      ["Cold start: median `--version` / median `node -e 0`", ratio(coldRatio), `≤ ${GOAL_COLD}x`, verdict(coldRatio, GOAL_COLD)],
      ["Throughput: median A / median floor", ratio(ratioA), `≤ ${GOAL_THROUGHPUT}x`, verdict(ratioA, GOAL_THROUGHPUT)],
      ["Throughput: median A2 (`--json`) / median floor", ratio(ratioA2), "none", "reported"],
      ["`run list --json`: median L / median floor", ratioL === null ? "not yet available" : ratio(ratioL), `≤ ${GOAL_THROUGHPUT}x`, ratioL === null ? "not measured" : verdict(ratioL, GOAL_THROUGHPUT)],
      ["`run status <id>`: median S / median floor", ratioS === null ? "not yet available" : ratio(ratioS), `≤ ${GOAL_THROUGHPUT}x`, ratioS === null ? "not measured" : verdict(ratioS, GOAL_THROUGHPUT)],
      [`Appends: ${APPEND_PROCS} processes (total) / 1 process, median ops/s`, ratio(appendScale), "none", "reported"],
      ["PIN verification: median `verifyPin`", `${ms(pin.verify.median)} ms`, "50–150 ms", pin.verify.median >= 50 && pin.verify.median <= 150 ? "met" : "not met"],
    ],
    ["l", "r", "r", "l"],
  );

  const statusText = Object.entries(statusCount)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
  const registryText =
    `${RECORDS.toLocaleString("en-US")} experiments (seed ${SEED}), ${(gen.bytes / 1024 ** 2).toFixed(1)} MiB; ` +
    `line length ${lineLengths[0]}–${lineLengths[lineLengths.length - 1]} bytes (median ${lineLengths[Math.floor(lineLengths.length / 2)]}); ` +
    `${statusText}; ${gen.missingMetrics} records miss 1–3 metrics.` +
    (passing !== null ? ` ${passing} of them pass both gates.` : "");

  const stdoutReport = [
    "",
    `expflow ${pkg.version} benchmarks — ${date}`,
    `node ${machine.node}, ${machine.cpu}, ${machine.cores} cores, load ${machine.load}`,
    "",
    "Cold start",
    coldTable,
    "",
    `Throughput — registry: ${registryText}`,
    tpTable,
    ...notAvailable,
    "",
    `Append throughput — RegistryWriter, lock + read + append + fsync per change, ${APPEND_OPS} creates + ${APPEND_OPS} updates per process`,
    appendTable,
    "",
    `PIN verification — ${pinParams}`,
    pinTable,
    bruteText.replace(/\*\*/g, "").replace(/`/g, ""),
    "",
    "Goals",
    goalsTable,
    ...(warnings.length ? ["", ...warnings.map((w) => `warning: ${w}`)] : []),
    "",
    `written to ${relative(process.cwd(), OUT_MD) || OUT_MD}`,
    "",
  ].join("\n");

  const md = `# Benchmarks

Figures from \`bench/run.mjs\`. Reproduce them with:

\`\`\`sh
npm run bench
\`\`\`

It builds \`dist/\` with tsup, then runs every command below as a fresh \`node\` process
(\`child_process.spawnSync\`, wall time measured with \`process.hrtime.bigint()\`, so process
start-up and exit are included), interleaving the commands compared (A, B, A, B, ...) so that
drift in the machine's load hits them alike. It rewrites this file each time. The children run
in a temporary directory with an empty \`EXPFLOW_HOME\` (no configuration files) and
\`NO_COLOR=1\`; standard output goes to \`/dev/null\` in timed runs (the first, untimed run of
each throughput command is captured and checked instead). Timings on a shared machine vary
from run to run: compare ratios, not absolute times.

## Machine

- Date: ${date}
- Node: ${machine.node}
- CPU: ${machine.cpu}, ${machine.cores} cores (\`os.cpus()\`)
- OS: ${machine.platform}, ${machine.memGiB} GiB RAM
- Load average at start (1, 5, 15 min): ${machine.load}
- expflow: ${pkg.version}${source ? `, commit ${source}` : ""}

## Cold start

\`node dist/cli.js --version\` against bare \`node -e 0\`: ${COLD_WARMUP} warm-up round${COLD_WARMUP === 1 ? "" : "s"}, then
${COLD_RUNS} timed runs of each, interleaved.

${coldTable}

Ratio of medians: **${ratio(coldRatio)}** (goal ≤ ${GOAL_COLD}x: ${verdict(coldRatio, GOAL_COLD)}).

## Throughput and peak memory

Registry: ${registryText} Generated by \`bench/generate.mjs\` (deterministic, seeded PRNG) into a
temporary directory, removed afterwards.

- A: \`node dist/cli.js compare-scores --registry FILE --sort-by pde_mean --gate pde_mean:lt:18.09 --gate train_time_min:lt:60 --max 20\`
- A2: the same with \`--json\` and without \`--max\` (every experiment in the JSON output)
- Floor: \`node bench/floor.mjs FILE\` — \`readFileSync\` + \`split("\\n")\` + \`JSON.parse\` of each
  non-empty line, nothing else: the least any tool reading this file must do.

${WARMUP} warm-up round${WARMUP === 1 ? "" : "s"}, then ${RUNS} timed runs of each, interleaved (${tpSpecs.map((x) => x.key).join(", ")}, A, ...).
Peak RSS: one more run of each under \`node --import bench/rss-probe-hwm.mjs\`, which records
the process's own high-water mark (\`VmHWM\` on Linux; \`process.resourceUsage().maxRSS\`
elsewhere, which on Linux would carry over the harness's size) when the process exits. The goal is judged on medians; the
ratio of minimums is shown too, as it is less sensitive to other load on a shared machine.

${tpTable}
${notAvailable.length ? `\n${notAvailable.map((t) => `- ${t}`).join("\n")}\n` : ""}
L and S, when available, are \`node dist/cli.js run list --registry FILE --json\` and
\`node dist/cli.js run status <id> --registry FILE --json\` (the id of the file's last record),
run in the same interleaved group and judged against the same floor (goal ≤ ${GOAL_THROUGHPUT}x).

## Append throughput

\`RegistryWriter\` (bundled from \`src/\` by tsup into the temporary directory; \`dist/\` does not
export it) in worker processes (\`bench/append-worker.mjs\`): each makes ${APPEND_OPS} creates, then
${APPEND_OPS} updates (one metric each) of the experiments it created. Every change takes the
registry lock (proper-lockfile: an atomic \`mkdir\`), reads the current record, appends one
complete snapshot and fsyncs. "1 process" is one worker alone; "${APPEND_PROCS} processes" are
${APPEND_PROCS} workers released together at a barrier on one registry, the figure being all of
their changes over the time from the first one's start to the last one's end (process start-up
excluded). Each of their runs starts from an empty registry; every run checks that every change
is in the file, one whole line each. The third row makes ${APPEND_BIG_OPS} creates and ${APPEND_BIG_OPS} updates on a copy of
the generated ${RECORDS.toLocaleString("en-US")}-record registry: every change reads the whole file under the lock
(\`readOne\`, to find the current record or a duplicate id), so its cost grows with the registry.
1 warm-up round, then ${APPEND_RUNS} timed rounds, the three alternating.

${appendTable}

Several processes at once make ${ratio(appendScale)} the changes per second of one alone. The
lock serialises the changes, so more writers cannot add throughput; a writer waiting for the
lock polls for it with backoff (proper-lockfile), which is the cost shown here.

## PIN verification

${pinParams}; ${pin.verify.n} runs each, in-process through the built library.

${pinTable}

${bruteText}

## Goals

${goalsTable}
${warnings.length ? `\nWarnings:\n\n${warnings.map((w) => `- ${w}`).join("\n")}\n` : ""}`;

  writeFileSync(OUT_MD, md);
  process.stdout.write(stdoutReport);
}

const tmp = mkdtempSync(join(os.tmpdir(), "expflow-bench-"));
try {
  const pin = await benchPin(tmp);
  const append = await benchAppend(tmp);
  main(tmp, pin, append);
} catch (e) {
  if (e instanceof CommandFailed) {
    process.stderr.write(`\nbench: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
} finally {
  if (process.env.BENCH_KEEP === "1") log(`kept ${tmp}\n`);
  else rmSync(tmp, { recursive: true, force: true });
}

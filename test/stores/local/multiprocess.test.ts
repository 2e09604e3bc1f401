import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropKeptLocks } from "../../../src/util/lock.js";
import { LocalStore } from "../../../src/stores/local/local-store.js";
import type { RegistryRecord } from "../../../src/stores/local/record.js";
import { readOne, readRaw, RegistryWriter } from "../../../src/stores/local/registry-writer.js";
import { bundleForChildren } from "../../helpers/bundle.js";

const WORKER = fileURLToPath(new URL("./fixtures/registry-worker.mjs", import.meta.url));
const ENTRY = fileURLToPath(new URL("./fixtures/registry-entry.ts", import.meta.url));

const made: string[] = [];
function newDir(): string {
  const d = mkdtempSync(join(tmpdir(), "expflow-mp-"));
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

// The children load the writer from a bundle of the current TypeScript source, built into a
// temporary directory: they test src/ as it is, and a concurrent rebuild of dist/ cannot pull
// the code out from under them.
let bundle = "";
beforeAll(async () => {
  bundle = await bundleForChildren("expflow-registry", ENTRY);
}, 120_000);

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startWorker(sync: string, n: number, args: string[]): { child: ReturnType<typeof spawn>; done: Promise<ChildResult> } {
  const child = spawn(process.execPath, [WORKER, bundle, sync, String(n), ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

async function waitFor(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  // A generous guard only, never a timing assertion.
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Spawns one worker per argument list, releases them together at a barrier, waits for all. */
async function runWorkers(argLists: string[][]): Promise<ChildResult[]> {
  const sync = newDir();
  const workers = argLists.map((args, i) => startWorker(sync, i, args));
  const exited = argLists.map(() => false);
  workers.forEach((w, i) => void w.done.then(() => (exited[i] = true)));
  await waitFor("the workers to reach the barrier", () => argLists.every((_a, i) => existsSync(join(sync, `ready-${i}`)) || exited[i]));
  writeFileSync(join(sync, "go"), "");
  const results = await Promise.all(workers.map((w) => w.done));
  for (const r of results) expect(r.code, r.stderr).toBe(0);
  return results;
}

/** Every line of the registry, each parsed: throws on a torn or interleaved line. */
function parseAll(path: string): RegistryRecord[] {
  const text = readFileSync(path, "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l, i) => {
      try {
        return JSON.parse(l) as RegistryRecord;
      } catch (e) {
        throw new Error(`line ${i + 1} does not parse (${(e as Error).message}): ${l.slice(0, 120)}`);
      }
    });
}

describe("RegistryWriter across processes", () => {
  it("4 processes x 50 creates at once: 200 distinct ids, every line whole, registry readable", async () => {
    const path = join(newDir(), "experiments.jsonl");
    const results = await runWorkers([0, 1, 2, 3].map(() => ["create", path, "50"]));
    const lines = parseAll(path);
    expect(lines).toHaveLength(200);
    const ids = lines.map((l) => l.experiment_id);
    expect(new Set(ids).size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^exp-[0-9a-z]{12}$/);
    for (const l of lines) expect(l.rev).toBe(1);
    // Each child's experiments are all there, once, in the order it created them.
    for (const r of results) {
      const { n, ids: mine } = JSON.parse(r.stdout) as { n: string; ids: string[] };
      expect(mine).toHaveLength(50);
      expect(lines.filter((l) => l.name?.startsWith(`w${n}-`)).map((l) => l.experiment_id)).toEqual(mine);
    }
    const raw = readRaw(path);
    expect(raw.damaged).toEqual([]);
    expect(raw.records.size).toBe(200);
    const warnings: string[] = [];
    expect(await new LocalStore({ path, onWarning: (m) => warnings.push(m) }).list()).toHaveLength(200);
    expect(warnings).toEqual([]);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("6 processes x 5 metric reports to one experiment at once: every metric survives, rev ends at 31", async () => {
    const path = join(newDir(), "experiments.jsonl");
    const writer = new RegistryWriter(path, { now: () => new Date(), who: "parent@test" });
    await writer.create({ experiment_id: "exp-shared000001", status: "running", metrics: { seed_metric: 1 } });
    const results = await runWorkers([0, 1, 2, 3, 4, 5].map(() => ["report", path, "exp-shared000001", "5"]));

    const last = readOne(path, "exp-shared000001")!;
    const expected: Record<string, number> = { seed_metric: 1 };
    for (let n = 0; n < 6; n++) for (let j = 0; j < 5; j++) expected[`w${n}_${j}`] = n * 100 + j;
    expect(last.metrics).toEqual(expected);
    expect(last.rev).toBe(1 + 30);
    // No lost update: revs 1..31, one line each, in file order; each snapshot has one metric more.
    const lines = parseAll(path);
    expect(lines.map((l) => l.rev)).toEqual(Array.from({ length: 31 }, (_v, i) => i + 1));
    expect(lines.map((l) => Object.keys(l.metrics ?? {}).length)).toEqual(Array.from({ length: 31 }, (_v, i) => i + 1));
    // What each child was told matches the file.
    const allRevs = results.flatMap((r) => (JSON.parse(r.stdout) as { revs: number[] }).revs).sort((a, b) => a - b);
    expect(allRevs).toEqual(Array.from({ length: 30 }, (_v, i) => i + 2));
  });

  it("a writer killed with SIGKILL mid-append: the registry reads (at most a torn last line, with a warning) and the next append works", async () => {
    const path = join(newDir(), "experiments.jsonl");
    // The lines an earlier round's kill tore: they stay, in the middle of the file, once the
    // next append starts on a fresh line.
    let earlier: readonly { line: number; reason: string }[] = [];
    for (let round = 0; round < 2; round++) {
      const sync = newDir();
      const before = existsSync(path) ? statSync(path).size : 0;
      // Large records (about 1 MiB each), so a kill has a fair chance to land inside a write.
      // (Its ids are spin-<round>-<j>: each round's writer has its own.)
      const { child, done } = startWorker(sync, round, ["spin", path, String(1024 * 1024)]);
      let exited = false;
      void done.then(() => (exited = true));
      await waitFor("the spinning writer to append some lines", () => exited || (existsSync(path) && statSync(path).size > before + 4 * 1024 * 1024));
      child.kill("SIGKILL");
      const r = await done;
      expect(r.signal, r.stderr).toBe("SIGKILL");

      const raw = readRaw(path);
      const text = readFileSync(path, "utf8");
      const total = text.split("\n").filter((l) => l !== "").length;
      expect(raw.lines).toBe(total);
      // Besides those, only the last line may be damaged, and only when the file does not end
      // with a line break.
      expect(raw.damaged.slice(0, earlier.length)).toEqual(earlier);
      const torn = raw.damaged.slice(earlier.length);
      expect(torn.length).toBeLessThanOrEqual(text.endsWith("\n") ? 0 : 1);
      for (const d of torn) expect(d.line).toBe(total);
      const warnings: string[] = [];
      const listed = await new LocalStore({ path, onWarning: (m) => warnings.push(m) }).list();
      expect(listed.length).toBe(raw.records.size);
      expect(warnings).toHaveLength(raw.damaged.length);
      raw.damaged.forEach((d, k) => expect(warnings[k]).toContain(`line ${d.line} skipped`));

      // The next append works, even if the killed writer left its lock behind (it goes stale).
      const writer = new RegistryWriter(path, { now: () => new Date(), who: "parent@test" });
      await writer.create({ experiment_id: `after-kill-${round}`, status: "created" });
      const after = readRaw(path);
      expect(after.records.get(`after-kill-${round}`)).toMatchObject({ rev: 1 });
      expect(after.records.size).toBe(raw.records.size + 1);
      // The damage, if any, stays where it was; the new line is whole.
      expect(after.damaged).toEqual(raw.damaged);
      expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
      expect(existsSync(`${path}.lock`)).toBe(false);
      earlier = after.damaged;
    }
  }, 180_000);

  it("a writer killed while holding the lock, after writing part of a line: torn line skipped with a warning, lock taken over, next append on a fresh line", async () => {
    const path = join(newDir(), "experiments.jsonl");
    const writer = new RegistryWriter(path, { now: () => new Date(), who: "parent@test" });
    await writer.create({ experiment_id: "exp-before000001", status: "created" });
    await writer.create({ experiment_id: "exp-before000002", status: "created" });
    const fragment = '{"experiment_id":"exp-torn00000001","status":"crea';
    const { done } = startWorker(newDir(), 0, ["tear", path, fragment]);
    const r = await done;
    expect(r.signal, r.stderr).toBe("SIGKILL");
    expect(readFileSync(path, "utf8").endsWith(fragment)).toBe(true);
    expect(existsSync(`${path}.lock`)).toBe(true);

    const warnings: string[] = [];
    const listed = await new LocalStore({ path, onWarning: (m) => warnings.push(m) }).list();
    expect(listed.map((e) => e.id)).toEqual(["exp-before000001", "exp-before000002"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("line 3 skipped");

    // Waits for the dead writer's lock to go stale, then appends on a fresh line.
    await writer.transition("exp-before000001", "dispatch");
    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe(fragment);
    expect(JSON.parse(lines[3]!)).toMatchObject({ experiment_id: "exp-before000001", status: "dispatched", rev: 2 });
    expect(lines[4]).toBe("");
    const raw = readRaw(path);
    expect(raw.damaged.map((d) => d.line)).toEqual([3]);
    expect([...raw.records.keys()]).toEqual(["exp-before000001", "exp-before000002"]);
    expect(existsSync(`${path}.lock`)).toBe(false);
  }, 120_000);

  // Issue 11: `registry compact` blocked the event loop past proper-lockfile's 10 s stale time,
  // other writers took the lock as stale, and the rewrite dropped their acknowledged submits.
  // Staleness is now the holder's liveness: a stopped holder (SIGSTOP) is alive. proper-lockfile
  // judged a lock's age by its mtime, which its holder refreshed while its event loop ran; the
  // stopped compaction's lock is aged an hour that way instead of the test waiting out 10 s, and
  // the submitters keep polling it (its holder's liveness every 50 ms) for 2 s meanwhile.
  it("regression: a compaction stopped (SIGSTOP), its lock aged an hour, past the old 10 s stale time, keeps the lock; 3 concurrent submitters lose nothing", async () => {
    const dir = newDir();
    const path = join(dir, "experiments.jsonl");
    // 2,000 experiments, 30 snapshots each (about 18 MB): compacting takes a while.
    const pad = "p".repeat(200);
    const parts: string[] = [];
    for (let k = 1; k <= 30; k++) for (let i = 0; i < 2000; i++) parts.push(JSON.stringify({ experiment_id: `exp-base-${i}`, status: "created", rev: k, params: { pad } }));
    writeFileSync(path, `${parts.join("\n")}\n`);

    const sync = newDir();
    const compact = startWorker(sync, 9, ["compact", path]);
    let compactExited = false;
    void compact.done.then(() => (compactExited = true));
    await waitFor("the compaction to take the lock", () => compactExited || existsSync(`${path}.lock`), 60_000);
    compact.child.kill("SIGSTOP");
    try {
      expect(compactExited, "the compaction finished before it could be stopped").toBe(false);
      expect(existsSync(`${path}.lock`)).toBe(true);
      const submitters = [0, 1, 2].map((n) => startWorker(sync, n, ["create", path, "20"]));
      await waitFor("the submitters to reach the barrier", () => [0, 1, 2].every((n) => existsSync(join(sync, `ready-${n}`))));
      writeFileSync(join(sync, "go"), "");
      const anHourAgo = new Date(Date.now() - 3_600_000);
      for (const p of [`${path}.lock`, ...readdirSync(`${path}.lock`).map((f) => join(`${path}.lock`, f))]) utimesSync(p, anHourAgo, anHourAgo);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(existsSync(`${path}.lock`)).toBe(true);
      // Still the stopped compaction's lock, and still an hour old: nobody refreshed or replaced it.
      expect(Date.now() - statSync(`${path}.lock`).mtimeMs).toBeGreaterThan(3_500_000);
      compact.child.kill("SIGCONT");
      const results = await Promise.all(submitters.map((w) => w.done));
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const c = await compact.done;
      expect(c.code, c.stderr).toBe(0);
      expect(JSON.parse(c.stdout)).toMatchObject({ linesBefore: 60_000, linesAfter: 2000, superseded: 58_000 });

      // Every acknowledged submit is in the compacted file, after the 2,000 compacted lines.
      const lines = parseAll(path);
      expect(lines).toHaveLength(2000 + 60);
      expect(lines.slice(0, 2000).map((l) => l.rev)).toEqual(Array.from({ length: 2000 }, () => 30));
      const acknowledged = results.flatMap((r) => (JSON.parse(r.stdout) as { ids: string[] }).ids);
      expect(new Set(lines.slice(2000).map((l) => l.experiment_id))).toEqual(new Set(acknowledged));
      expect(readdirSync(dir).sort()).toEqual(["experiments.jsonl"]);
    } finally {
      compact.child.kill("SIGCONT");
    }
  }, 120_000);

  it("regression: a registry reached through a symlink and by its real path takes one lock: 4 processes x 10 reports, 2 through each, lose no update", async () => {
    const dir = newDir();
    const path = join(dir, "experiments.jsonl");
    const link = join(newDir(), "linked.jsonl");
    symlinkSync(path, link);
    const writer = new RegistryWriter(link, { now: () => new Date(), who: "parent@test" });
    await writer.create({ experiment_id: "exp-shared000001", status: "running", metrics: {} });
    await runWorkers([path, link, path, link].map((p) => ["report", p, "exp-shared000001", "10"]));
    const last = readOne(path, "exp-shared000001")!;
    expect(last.rev).toBe(41);
    expect(Object.keys(last.metrics ?? {})).toHaveLength(40);
    expect(parseAll(path).map((l) => l.rev)).toEqual(Array.from({ length: 41 }, (_v, i) => i + 1));
    dropKeptLocks(); // the lock directory this test process keeps a second for its next change
    expect(readdirSync(dir)).toEqual(["experiments.jsonl"]);
  }, 120_000);

  it("a holder killed (SIGKILL) while holding the lock: one of 4 waiters takes it over, race-free; 4 x 25 creates all land, nothing left behind", async () => {
    const dir = newDir();
    const path = join(dir, "experiments.jsonl");
    const writer = new RegistryWriter(path, { now: () => new Date(), who: "parent@test" });
    await writer.create({ experiment_id: "exp-before000001", status: "created" });
    const { done } = startWorker(newDir(), 0, ["tear", path, '{"experiment_id":"exp-torn']);
    expect((await done).signal).toBe("SIGKILL");
    expect(existsSync(`${path}.lock`)).toBe(true);
    const results = await runWorkers([0, 1, 2, 3].map(() => ["create", path, "25"]));
    const acknowledged = results.flatMap((r) => (JSON.parse(r.stdout) as { ids: string[] }).ids);
    expect(acknowledged).toHaveLength(100);
    const raw = readRaw(path);
    expect(raw.damaged.map((d) => d.line)).toEqual([2]);
    expect([...raw.records.keys()].sort()).toEqual(["exp-before000001", ...acknowledged].sort());
    dropKeptLocks();
    expect(readdirSync(dir)).toEqual(["experiments.jsonl"]);
  }, 120_000);
});

import { spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openLocalBackend } from "../../src/app/backend.js";
import type { LogEvent, RunsView } from "../../src/app/logs.js";
import { LOG_CHUNK_BYTES, followRunLog, locateRunLog, readRunLog, watchRuns } from "../../src/app/logs.js";
import { loadConfig } from "../../src/config/load.js";
import { dropKeptLocks } from "../../src/util/lock.js";
import { waitFor } from "../helpers/runs.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
afterEach(() => dropKeptLocks());

/** A local backend on a fresh home (registry and logs in it), polled fast. */
async function backend() {
  const home = mkdtempSync(join(tmpdir(), "expflow-logs-"));
  made.push(home);
  mkdirSync(join(home, "logs"));
  const env = { EXPFLOW_HOME: home };
  const config = await loadConfig({ env, cwd: home });
  const warnings: string[] = [];
  const b = openLocalBackend({ config, authorize: async () => {}, env, cwd: home, host: "test-host", who: "t@test-host", now: () => new Date(), warn: (m) => warnings.push(m) });
  const registry = config.registry.value;
  writeFileSync(registry, "");
  const put = (id: string, fields: Record<string, unknown>): void => appendFileSync(registry, `${JSON.stringify({ experiment_id: id, name: `n-${id}`, status: "queued", queue: "default", method: "local", clearml_task_id: null, metrics: {}, ...fields })}\n`);
  return { b, home, registry, put, log: (id: string) => join(home, "logs", `${id}.log`), warnings };
}

/** Collects what a generator yields, in the background, until it ends. */
function collect<T>(it: AsyncIterable<T>): { items: T[]; done: Promise<void> } {
  const items: T[] = [];
  const done = (async () => {
    for await (const x of it) items.push(x);
  })();
  return { items, done };
}

function bytesOf(events: readonly LogEvent[]): string {
  return Buffer.concat(events.flatMap((e) => (e.kind === "data" ? [Buffer.from(e.bytes)] : []))).toString("utf8");
}

describe("readRunLog", () => {
  it("gives a missing log as undefined, and a log in chunks of at most LOG_CHUNK_BYTES that make it up exactly", async () => {
    const { log } = await backend();
    expect(readRunLog(log("exp-a"))).toBeUndefined();
    const content = Buffer.concat([Buffer.alloc(LOG_CHUNK_BYTES * 3 + 5, 0x61), Buffer.from([0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x0a])]);
    writeFileSync(log("exp-a"), content);
    const chunks = [...readRunLog(log("exp-a"))!.chunks()];
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.length <= LOG_CHUNK_BYTES)).toBe(true);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
  });

  it("tailLines starts at the last lines, a last line without its line break counting as one, and reads only from there", async () => {
    const { log } = await backend();
    const path = log("exp-t");
    const text = (lines: number, content: string): string => {
      writeFileSync(path, content);
      return Buffer.concat([...readRunLog(path, { tailLines: lines })!.chunks()]).toString();
    };
    expect(text(2, "a\nb\nc\n")).toBe("b\nc\n");
    expect(text(1, "a\nb\nc")).toBe("c");
    expect(text(2, "a\nb\nc")).toBe("b\nc");
    expect(text(0, "a\nb\n")).toBe("");
    expect(text(9, "a\nb\n")).toBe("a\nb\n");
    expect(text(1, "\n\n")).toBe("\n");
    // A large log: the last 3 lines are found from the end, not by reading it from the start.
    const big = `${"x".repeat(99)}\n`.repeat(50_000);
    writeFileSync(path, `${big}one\ntwo\nthree\n`);
    const reader = readRunLog(path, { tailLines: 3 })!;
    expect(reader.start).toBe(big.length);
    expect(Buffer.concat([...reader.chunks()]).toString()).toBe("one\ntwo\nthree\n");
  });

  it("refuses a log that is a directory, a symlink to /dev/zero or a FIFO, without reading or blocking; follows a symlink to a file", async () => {
    const { log, home } = await backend();
    mkdirSync(log("exp-dir"));
    expect(() => readRunLog(log("exp-dir"))).toThrow(expect.objectContaining({ code: "E_LOG_NOT_A_FILE", exitCode: 2, message: expect.stringMatching(/is a directory/) }));
    symlinkSync("/dev/zero", log("exp-zero"));
    expect(() => readRunLog(log("exp-zero"))).toThrow(expect.objectContaining({ code: "E_LOG_NOT_A_FILE", message: expect.stringMatching(/is a device/) }));
    if (spawnSync("mkfifo", [log("exp-fifo")]).status === 0) {
      expect(() => readRunLog(log("exp-fifo"))).toThrow(expect.objectContaining({ code: "E_LOG_NOT_A_FILE", message: expect.stringMatching(/FIFO/) }));
    }
    writeFileSync(join(home, "elsewhere.log"), "moved\n");
    symlinkSync(join(home, "elsewhere.log"), log("exp-link"));
    expect(Buffer.concat([...readRunLog(log("exp-link"))!.chunks()]).toString()).toBe("moved\n");
  });
});

describe("locateRunLog", () => {
  it("names the local log, or the ClearML task and its page for a run dispatched there; an unknown id is exit 2", async () => {
    const { b, put, log } = await backend();
    put("exp-local1", { status: "running" });
    put("exp-remote1", { method: "clearml", clearml_task_id: "abc123", clearml_web_url: "https://app.clear.ml/projects/*/experiments/abc123" });
    expect(await locateRunLog(b, "exp-local")).toEqual({ kind: "local", id: "exp-local1", status: "running", path: log("exp-local1") });
    expect(await locateRunLog(b, "exp-remote1")).toMatchObject({ kind: "clearml", taskId: "abc123", webUrl: "https://app.clear.ml/projects/*/experiments/abc123" });
    await expect(locateRunLog(b, "exp-nope")).rejects.toMatchObject({ code: "E_EXPERIMENT_NOT_FOUND", exitCode: 2 });
  });
});

describe("followRunLog", () => {
  it("waits for the log, gives lines as they are written (cut anywhere), and ends once the run is finished and its log read to the end", async () => {
    const { b, put, log } = await backend();
    put("exp-f", { status: "queued" });
    const f = collect(followRunLog(b, "exp-f", { intervalMs: 10 }));
    await waitFor(() => f.items.some((e) => e.kind === "waiting"), "the waiting event");
    expect(f.items[0]).toEqual({ kind: "waiting", status: "queued" });
    put("exp-f", { status: "running" });
    appendFileSync(log("exp-f"), "epoch 1 lo");
    await waitFor(() => bytesOf(f.items) === "epoch 1 lo", "the partial line");
    appendFileSync(log("exp-f"), "ss=0.5\nepoch 2\n");
    await waitFor(() => bytesOf(f.items).endsWith("epoch 2\n"), "the second line");
    put("exp-f", { status: "failed", reason: "exit code 3" });
    // The runner's last line comes just after the registry says the run is finished.
    appendFileSync(log("exp-f"), "expflow: run failed\n");
    await f.done;
    expect(bytesOf(f.items)).toBe("epoch 1 loss=0.5\nepoch 2\nexpflow: run failed\n");
    expect(f.items.at(-1)).toEqual({ kind: "end", id: "exp-f", status: "failed", reason: "exit code 3" });
  });

  it("reads a truncated log again from its start, and a replaced one from the new file's start", async () => {
    const { b, put, log } = await backend();
    put("exp-r", { status: "running" });
    writeFileSync(log("exp-r"), "first version of the log\n");
    const f = collect(followRunLog(b, "exp-r", { intervalMs: 10 }));
    await waitFor(() => bytesOf(f.items).includes("first version"), "the first content");
    // Truncated and written past its old length before the follower looks again (nothing runs
    // between these two calls): the bytes it read last are not there any more.
    truncateSync(log("exp-r"), 0);
    appendFileSync(log("exp-r"), "after truncation, longer than before\n");
    await waitFor(() => bytesOf(f.items).includes("after truncation"), "the truncated log read again");
    expect(f.items.some((e) => e.kind === "restarted" && e.why === "truncated")).toBe(true);
    writeFileSync(`${log("exp-r")}.new`, "a new file\n");
    renameSync(`${log("exp-r")}.new`, log("exp-r"));
    await waitFor(() => bytesOf(f.items).includes("a new file"), "the replacement read");
    expect(f.items.some((e) => e.kind === "restarted" && e.why === "replaced")).toBe(true);
    put("exp-r", { status: "completed" });
    await f.done;
    expect(bytesOf(f.items)).toBe("first version of the log\nafter truncation, longer than before\na new file\n");
    expect(f.items.at(-1)).toMatchObject({ kind: "end", status: "completed" });
  });

  it("ends as deleted when the run is deleted while followed, and without an end when the signal aborts", async () => {
    const { b, put, log, registry } = await backend();
    put("exp-d", { status: "running" });
    put("exp-s", { status: "running" });
    writeFileSync(log("exp-d"), "x\n");
    const deleted = collect(followRunLog(b, "exp-d", { intervalMs: 10 }));
    await waitFor(() => bytesOf(deleted.items) === "x\n", "the log");
    appendFileSync(registry, `${JSON.stringify({ experiment_id: "exp-d", deleted: true })}\n`);
    await deleted.done;
    expect(deleted.items.at(-1)).toEqual({ kind: "end", id: "exp-d", status: "deleted", reason: null });

    const controller = new AbortController();
    const stopped = collect(followRunLog(b, "exp-s", { intervalMs: 10, signal: controller.signal }));
    await waitFor(() => stopped.items.length > 0, "the waiting event");
    controller.abort();
    await stopped.done;
    expect(stopped.items.some((e) => e.kind === "end")).toBe(false);
  });

  it("with `finished`, reads the log to its end once that settles, whatever the registry says; a huge log comes in bounded chunks", async () => {
    const { b, put, log } = await backend();
    put("exp-w", { status: "running" });
    let finish: (v: { id: string; status: string; reason: string | null }) => void = () => undefined;
    const finished = new Promise<{ id: string; status: string; reason: string | null }>((resolve) => (finish = resolve));
    const f = collect(followRunLog(b, "exp-w", { intervalMs: 10, finished }));
    await waitFor(() => f.items.some((e) => e.kind === "waiting"), "the waiting event");
    const big = Buffer.alloc(LOG_CHUNK_BYTES * 20 + 3, 0x62);
    writeFileSync(log("exp-w"), big);
    finish({ id: "exp-w", status: "completed", reason: null });
    await f.done;
    const data = f.items.filter((e): e is LogEvent & { kind: "data" } => e.kind === "data");
    expect(data.every((e) => e.bytes.length <= LOG_CHUNK_BYTES)).toBe(true);
    expect(Buffer.concat(data.map((e) => Buffer.from(e.bytes))).equals(big)).toBe(true);
    expect(f.items.at(-1)).toMatchObject({ kind: "end", status: "completed" });
  });

  it("tailLines starts a follow at the last lines; a log that is not a file is an error, not a wait", async () => {
    const { b, put, log } = await backend();
    put("exp-t", { status: "completed" });
    writeFileSync(log("exp-t"), "1\n2\n3\n");
    const f = collect(followRunLog(b, "exp-t", { intervalMs: 10, tailLines: 1 }));
    await f.done;
    expect(bytesOf(f.items)).toBe("3\n");
    // A log that appears while it is waited for is new from its first line, whatever --tail says.
    put("exp-late", { status: "queued" });
    const late = collect(followRunLog(b, "exp-late", { intervalMs: 10, tailLines: 1 }));
    await waitFor(() => late.items.some((e) => e.kind === "waiting"), "the waiting event");
    writeFileSync(log("exp-late"), "a\nb\n");
    put("exp-late", { status: "completed" });
    await late.done;
    expect(bytesOf(late.items)).toBe("a\nb\n");
    put("exp-dir", { status: "running" });
    mkdirSync(log("exp-dir"));
    await expect(collect(followRunLog(b, "exp-dir", { intervalMs: 10 })).done).rejects.toMatchObject({ code: "E_LOG_NOT_A_FILE" });
  });
});

describe("watchRuns", () => {
  it("by default: the local runs running or queued, those that become so, their metrics and states as they change, deletion, a compaction", async () => {
    const { b, put, registry } = await backend();
    put("exp-run1", { status: "running", metrics: { loss: 1 } });
    put("exp-q1", { status: "queued" });
    put("exp-done1", { status: "completed" });
    put("exp-cml1", { status: "running", method: "clearml", clearml_task_id: "task1" });
    const controller = new AbortController();
    const w = collect(watchRuns(b, { intervalMs: 10, signal: controller.signal }));
    const last = (): RunsView => w.items.at(-1)!;
    await waitFor(() => w.items.length > 0, "the first view");
    expect(w.items[0]!.runs.map((r) => [r.id, r.status])).toEqual([
      ["exp-run1", "running"],
      ["exp-q1", "queued"],
    ]);
    expect([...w.items[0]!.changed]).toEqual(["exp-run1", "exp-q1"]);

    put("exp-run1", { status: "running", metrics: { loss: 0.5, "acc\u001b[2J": 0.9 } });
    put("exp-q2", { status: "queued" });
    await waitFor(() => last().runs.some((r) => r.id === "exp-q2"), "the new queued run");
    expect(last().runs.find((r) => r.id === "exp-run1")!.metrics).toEqual({ loss: 0.5, "acc\u001b[2J": 0.9 });

    put("exp-q1", { status: "completed" });
    appendFileSync(registry, `${JSON.stringify({ experiment_id: "exp-q2", deleted: true })}\n`);
    await waitFor(() => last().runs.find((r) => r.id === "exp-q2")?.status === "deleted", "the deletion");
    expect(last().runs.find((r) => r.id === "exp-q1")!.status).toBe("completed");
    // A finished run stays in the view; a quiet poll changes nothing.
    await waitFor(() => w.items.length > 3 && last().changed.size === 0, "a quiet poll");

    // Compacted (another file, written anew): read afresh.
    writeFileSync(`${registry}.tmp`, `${JSON.stringify({ experiment_id: "exp-run1", status: "completed", metrics: { loss: 0.25 } })}\n`);
    renameSync(`${registry}.tmp`, registry);
    await waitFor(() => last().runs.find((r) => r.id === "exp-run1")?.status === "completed", "the compacted registry");
    expect(last().runs.find((r) => r.id === "exp-run1")!.metrics).toEqual({ loss: 0.25 });
    expect(last().runs.find((r) => r.id === "exp-q1")!.status).toBe("deleted");
    controller.abort();
    await w.done;
  });

  it("with ids (or prefixes): those runs, until they are all finished; an unknown id is exit 2 before anything is watched", async () => {
    const { b, put } = await backend();
    put("exp-a1", { status: "running" });
    put("exp-b1", { status: "queued" });
    put("exp-c1", { status: "running" });
    await expect(collect(watchRuns(b, { ids: ["exp-zz"], intervalMs: 10 })).done).rejects.toMatchObject({ code: "E_EXPERIMENT_NOT_FOUND", exitCode: 2 });
    const w = collect(watchRuns(b, { ids: ["exp-a", "exp-b1", "exp-a1"], intervalMs: 10 }));
    await waitFor(() => w.items.length > 0, "the first view");
    expect(w.items[0]!.runs.map((r) => r.id)).toEqual(["exp-a1", "exp-b1"]);
    put("exp-a1", { status: "completed", history: [{ event: "start", time: "2030-01-01T00:00:00.000Z" }], finished_at: "2030-01-01T00:01:30.000Z" });
    put("exp-b1", { status: "cancelled" });
    await w.done;
    const final = w.items.at(-1)!.runs;
    expect(final.map((r) => r.status)).toEqual(["completed", "cancelled"]);
    expect(final[0]).toMatchObject({ since: Date.parse("2030-01-01T00:00:00.000Z"), until: Date.parse("2030-01-01T00:01:30.000Z") });
  });
});

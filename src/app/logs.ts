/**
 * Runs' output and live state: where a run's log is, its bytes (all, the last lines, or followed
 * as they are written), and a live view of several runs. The CLI renders what these return.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { ExpflowError, NotFoundError, ValidationError } from "../core/errors.js";
import { isTerminal } from "../core/lifecycle/lifecycle.js";
import type { RunsSnapshot } from "../executors/local/registry-watch.js";
import { sleep } from "../executors/local/registry-watch.js";
import { isRemoteRun, logPathOf, queueTime } from "../runner/local-runner.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { linkOf, plainObject, statusOf } from "../stores/local/record.js";
import { storageError } from "../util/fs-errors.js";
import type { LocalBackend } from "./backend.js";

/** Bytes read at a time from a log: what a reader of a huge log holds in memory at once. */
export const LOG_CHUNK_BYTES = 64 * 1024;
/** How often a followed log is looked at (ms). */
const FOLLOW_INTERVAL_MS = 250;
/**
 * After a followed run is finished, its log is read until one interval brings nothing new, for at
 * most this many intervals (the runner's last lines come just after the registry says so; a
 * process that outlives the run and keeps writing does not keep the follower forever).
 */
const MAX_SETTLE_ROUNDS = 8;
/** Bytes a follower keeps of what it read last, to notice a log rewritten under it. */
const CHECK_BYTES = 64;

/** Where a run's output is. */
export type RunLogPlace =
  | {
      /** A local run: its log file, written by the local runner (it may not exist yet). */
      readonly kind: "local";
      readonly id: string;
      readonly status: string;
      readonly path: string;
    }
  | {
      /** A run dispatched to ClearML: its console output is on the ClearML server, not here. */
      readonly kind: "clearml";
      readonly id: string;
      readonly status: string;
      /** The task (`null`: the record names one that breaks the id rule, or the earlier tool's `method` alone). */
      readonly taskId: string | null;
      /** The task's page in the ClearML web app, when the record holds it. */
      readonly webUrl: string | null;
      readonly server: string | null;
    };

function text(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/**
 * Where the output of a run (an id or unique prefix) is: its local log file, or its ClearML task.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`, `E_EXPERIMENT_NOT_FOUND` (exit 2).
 * @throws {UsageError} `E_AMBIGUOUS_ID` listing the candidates; `E_BAD_ID` (exit 2).
 */
export async function locateRunLog(backend: LocalBackend, idOrPrefix: string): Promise<RunLogPlace> {
  const id = await backend.store.resolve(idOrPrefix);
  const record = backend.store.latestRaw(id);
  if (record === undefined) throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${id}' in ${backend.path}`, { hint: "`expflow run list` shows the ids" });
  const status = statusOf(record);
  if (isRemoteRun(record)) {
    return { kind: "clearml", id, status, taskId: linkOf(record)?.taskId ?? null, webUrl: text(record["clearml_web_url"]), server: text(record["clearml_server"]) };
  }
  return { kind: "local", id, status, path: logPathOf(backend.home, id) };
}

/**
 * A log file open for reading. Only a regular file is read (a symlink to one is followed): a
 * directory, a device (`/dev/zero`), a FIFO or a socket is refused, never read or waited on.
 */
class LogFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly dev: number,
    readonly ino: number,
  ) {}

  /**
   * Opens `path`, or `undefined` when there is no such file.
   *
   * @throws {ValidationError} `E_LOG_NOT_A_FILE` (exit 2) for anything but a regular file.
   * @throws {BackendError} `E_PERMISSION` and the other storage errors (exit 4) when it cannot be read.
   */
  static open(path: string): LogFile | undefined {
    let fd: number;
    try {
      // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw storageError(e, path, "reading");
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) {
        const what = st.isDirectory() ? "a directory" : st.isCharacterDevice() || st.isBlockDevice() ? "a device" : st.isFIFO() ? "a FIFO" : "not a regular file";
        throw new ValidationError("E_LOG_NOT_A_FILE", `the log ${path} is ${what}, not a file: it is not read`, {
          hint: "a run's log is a regular file the runner writes; move what is there away",
        });
      }
      return new LogFile(path, fd, st.dev, st.ino);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  size(): number {
    return fstatSync(this.fd).size;
  }

  /** The (up to {@link CHECK_BYTES}) bytes just before `pos`. */
  bytesBefore(pos: number): Buffer {
    const buf = Buffer.allocUnsafe(Math.min(CHECK_BYTES, pos));
    return buf.subarray(0, this.read(buf, pos - buf.length));
  }

  /** Whether the bytes just before `pos` are still `expected`. */
  endsWith(pos: number, expected: Buffer): boolean {
    return expected.length === 0 || this.bytesBefore(pos).equals(expected);
  }

  /** Reads into `buf` at `position`; how many bytes (0 at the end of the file). */
  read(buf: Buffer, position: number): number {
    try {
      return readSync(this.fd, buf, 0, buf.length, position);
    } catch (e) {
      throw storageError(e, this.path, "reading");
    }
  }

  /** Whether `path` still names this file (`missing`: nothing is there now). */
  sameAsPath(): boolean | "missing" {
    try {
      const st = statSync(this.path);
      return st.dev === this.dev && st.ino === this.ino;
    } catch {
      return "missing";
    }
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/**
 * Where the last `lines` lines of a file of `size` bytes start: read backwards a chunk at a
 * time. A last line without its line break counts as a line.
 */
function tailOffset(file: LogFile, size: number, lines: number): number {
  if (lines <= 0 || size === 0) return size;
  const buf = Buffer.allocUnsafe(Math.min(LOG_CHUNK_BYTES, size));
  // The file's last byte, when it is a line break, ends the last line: it starts none.
  let end = size;
  let left = lines;
  let first = true;
  while (end > 0) {
    const from = Math.max(0, end - buf.length);
    const got = file.read(buf.subarray(0, end - from), from);
    if (got < end - from) return 0;
    for (let i = got - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) continue;
      if (first && from + i === size - 1) continue;
      if (--left === 0) return from + i + 1;
    }
    first = false;
    end = from;
  }
  return 0;
}

/** A log read once, as it is now. */
export interface LogReader {
  /** The file's size when it was opened: what {@link chunks} reads up to. */
  readonly size: number;
  /** Where reading starts (the start, or of the last lines asked for). */
  readonly start: number;
  /** The bytes, a chunk of at most {@link LOG_CHUNK_BYTES} at a time; closes the file at the end. */
  chunks(): Generator<Uint8Array>;
  /** Closes the file (when {@link chunks} is not read to its end). */
  close(): void;
}

/**
 * Opens a log to read it once: from the start, or its last `tailLines` lines. What is appended
 * while it is read is left for a follower: the reader stops at the size the file had.
 *
 * @returns `undefined` when there is no log (yet).
 * @throws {ValidationError} `E_LOG_NOT_A_FILE` for a log that is a directory, a device, a FIFO.
 * @throws {BackendError} (exit 4) when it cannot be read (`E_PERMISSION`, ...).
 */
export function readRunLog(path: string, options: { tailLines?: number } = {}): LogReader | undefined {
  const file = LogFile.open(path);
  if (file === undefined) return undefined;
  let size: number;
  let start: number;
  try {
    size = file.size();
    start = options.tailLines === undefined ? 0 : tailOffset(file, size, options.tailLines);
  } catch (e) {
    file.close();
    throw e;
  }
  return {
    size,
    start,
    *chunks() {
      try {
        yield* readRange(file, start, size);
      } finally {
        file.close();
      }
    },
    close: () => file.close(),
  };
}

/** The bytes of `file` in [from, to), a chunk at a time (fewer when it shrinks meanwhile). */
function* readRange(file: LogFile, from: number, to: number): Generator<Uint8Array> {
  for (let pos = from; pos < to; ) {
    const buf = Buffer.allocUnsafe(Math.min(LOG_CHUNK_BYTES, to - pos));
    const got = file.read(buf, pos);
    if (got === 0) return;
    pos += got;
    yield buf.subarray(0, got);
  }
}

/** How a followed run ended. */
export interface RunEnd {
  readonly id: string;
  /** Its state: `completed`, `failed`, `cancelled`, or `deleted` when it was deleted meanwhile. */
  readonly status: string;
  /** Why it failed (the record's `reason`), when it says. */
  readonly reason: string | null;
}

/** What following a log gives, in order. */
export type LogEvent =
  /** Bytes of the log as written: any length, lines possibly cut anywhere (a multi-byte character too). */
  | { readonly kind: "data"; readonly bytes: Uint8Array }
  /** There is no log yet (given once): it is waited for. */
  | { readonly kind: "waiting"; readonly status: string }
  /** The log was truncated (or replaced by another file) and is read again from its start. */
  | { readonly kind: "restarted"; readonly why: "truncated" | "replaced" }
  /** The run is finished and its log read to the end: the last event. */
  | ({ readonly kind: "end" } & RunEnd);

/** Options of {@link followRunLog}. */
export interface FollowOptions {
  /** Start with the last `tailLines` lines (default: the whole log; 0: only what comes next). */
  readonly tailLines?: number;
  /** Stops following (the iteration ends without an `end` event). */
  readonly signal?: AbortSignal;
  /** How often the log is looked at (ms; default 250). */
  readonly intervalMs?: number;
  /**
   * Settles when the run is finished, when the caller knows it first (`run submit --wait`
   * runs it in this process): the log is then read to its end once, and followed no longer.
   * Absent: the registry says when (the executor's `watch`), and the log is read until it stops
   * growing.
   */
  readonly finished?: Promise<RunEnd>;
}

function endOf(id: string, record: RegistryRecord | undefined): RunEnd {
  if (record === undefined) return { id, status: "deleted", reason: null };
  return { id, status: statusOf(record), reason: text(record["reason"]) };
}

/**
 * When the run is finished, from the executor's `watch` (which polls the registry): a run
 * deleted meanwhile ends as `deleted`. Other errors reject.
 */
async function registryEnd(backend: LocalBackend, id: string, signal: AbortSignal): Promise<RunEnd> {
  try {
    for await (const e of backend.executor.watch(id, { signal })) {
      if (isTerminal(e.status)) break;
    }
  } catch (e) {
    if (e instanceof ExpflowError && e.code === "E_EXPERIMENT_NOT_FOUND") return { id, status: "deleted", reason: null };
    throw e;
  }
  return endOf(id, backend.store.raw(id));
}

/**
 * Follows the log of local run `id` (a full id: see {@link locateRunLog}) as it is written, until
 * the run is finished and its log read to the end (then the `end` event), or `signal` aborts.
 * A log that does not exist yet is waited for; one truncated is read again from its start, one
 * replaced by another file is read from the new file's start (the rest of the old one first).
 * Bytes are read a chunk of at most {@link LOG_CHUNK_BYTES} at a time: a huge log, or one
 * written faster than it is read, never fills memory.
 *
 * @throws {ValidationError} `E_LOG_NOT_A_FILE`; {@link BackendError} when it cannot be read.
 */
export async function* followRunLog(backend: LocalBackend, id: string, options: FollowOptions = {}): AsyncGenerator<LogEvent> {
  const path = logPathOf(backend.home, id);
  const interval = options.intervalMs ?? FOLLOW_INTERVAL_MS;
  // Ends the registry's watch with the follower, whichever way the follower ends.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const quiet = options.finished === undefined;
  let outcome: { end: RunEnd } | { error: unknown } | undefined;
  (options.finished ?? registryEnd(backend, id, stop.signal)).then(
    (end) => (outcome = { end }),
    (error: unknown) => (outcome = { error }),
  );
  let file: LogFile | undefined;
  let pos = 0;
  let opened = false;
  let waiting = false;
  let settleRounds = 0;
  /** The last bytes read (up to {@link CHECK_BYTES}), just before `pos`. */
  let lastBytes: Buffer = Buffer.alloc(0);
  // (A function: the flag changes while the generator is suspended.)
  const aborted = (): boolean => options.signal?.aborted === true;
  try {
    for (;;) {
      if (aborted()) return;
      // Read before the log is: whatever the runner wrote before it said it was finished is then read below.
      const seen = outcome;
      if (file === undefined) {
        file = LogFile.open(path);
        if (file !== undefined) {
          // A log that appeared while it was waited for is all new: read from its start.
          pos = !opened && !waiting && options.tailLines !== undefined ? tailOffset(file, file.size(), options.tailLines) : 0;
          lastBytes = file.bytesBefore(pos);
          if (opened) yield { kind: "restarted", why: "replaced" };
          opened = true;
        } else if (!waiting && !opened && seen === undefined) {
          waiting = true;
          yield { kind: "waiting", status: statusOf(backend.store.raw(id) ?? { experiment_id: id }) };
        }
      } else {
        const same = file.sameAsPath();
        if (same === false) {
          // Another file now has the log's name: the rest of the old one, then the new one.
          for (const bytes of readRange(file, pos, file.size())) yield { kind: "data", bytes };
          file.close();
          file = undefined;
          continue;
        }
        // Shorter than what was read, or other bytes where the last ones read were (truncated,
        // then written past the old length before this look): read again from the start.
        if (file.size() < pos || !file.endsWith(pos, lastBytes)) {
          pos = 0;
          lastBytes = Buffer.alloc(0);
          yield { kind: "restarted", why: "truncated" };
        }
      }
      let got = 0;
      if (file !== undefined) {
        for (const bytes of readRange(file, pos, file.size())) {
          pos += bytes.length;
          got += bytes.length;
          lastBytes = Buffer.concat([lastBytes, bytes.subarray(Math.max(0, bytes.length - CHECK_BYTES))]).subarray(-CHECK_BYTES);
          yield { kind: "data", bytes };
          if (aborted()) return;
        }
      }
      if (seen !== undefined) {
        if ("error" in seen) throw seen.error;
        // Known finished before that read: the log is whole when the caller said so, or once an
        // interval brings nothing new.
        if (!quiet || file === undefined || (got === 0 && settleRounds > 0) || settleRounds >= MAX_SETTLE_ROUNDS) {
          yield { kind: "end", ...seen.end };
          return;
        }
        settleRounds++;
      }
      await sleep(interval, options.signal);
    }
  } finally {
    file?.close();
    stop.abort();
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** One run of a live view. */
export interface WatchedRun {
  readonly id: string;
  readonly name: string | null;
  /** Its state; `deleted` once it is deleted. */
  readonly status: string;
  readonly queue: string | null;
  /** Dispatched to ClearML: its state is as last synced (refreshed while it is watched by id). */
  readonly remote: boolean;
  /**
   * When the time shown began (ms since the epoch): its start for a run that started, its queue
   * time for one still waiting; `null` when the record does not say.
   */
  readonly since: number | null;
  /** When it finished (ms since the epoch); `null` while it has not. */
  readonly until: number | null;
  /** The record's `metrics`, as they are (another process adds to them as the run goes). */
  readonly metrics: Readonly<Record<string, unknown>>;
}

/** What {@link watchRuns} gives at each poll. */
export interface RunsView {
  /** The watched runs, in the order first seen. */
  readonly runs: readonly WatchedRun[];
  /** The ids whose run changed since the last view (every one in the first). */
  readonly changed: ReadonlySet<string>;
}

/** Options of {@link watchRuns}. */
export interface WatchOptions {
  /** Runs to watch (ids or unique prefixes); absent: every local run that is running or queued, and those that become so. */
  readonly ids?: readonly string[];
  /** Time between polls (ms; default 500). */
  readonly intervalMs?: number;
  /** Ends the watch. */
  readonly signal?: AbortSignal;
  /** Where a problem refreshing a ClearML run goes (the watch goes on). */
  readonly warn?: (message: string) => void;
  /** Clock (ms since the epoch), for how often ClearML runs are refreshed. */
  readonly now?: () => number;
}

/** A run dispatched to ClearML and watched by id is refreshed from its task this often (ms). */
const REMOTE_REFRESH_MS = 5_000;

function timeOf(v: unknown): number | null {
  if (typeof v !== "string") return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

/** The time of the last history entry of `event` (or reaching a finished state, for `finish`). */
function lastEventTime(r: RegistryRecord, match: (h: Record<string, unknown>) => boolean): number | null {
  const history = Array.isArray(r.history) ? r.history : [];
  for (let i = history.length - 1; i >= 0; i--) {
    const h = plainObject(history[i]);
    if (h !== null && match(h)) return timeOf(h["time"]);
  }
  return null;
}

function viewOf(id: string, r: RegistryRecord): WatchedRun {
  const status = statusOf(r);
  const runner = plainObject(r["runner"]);
  const started = timeOf(runner?.["started_at"]) ?? lastEventTime(r, (h) => h["event"] === "start");
  const queued = queueTime(r);
  const finished = isTerminal(status) ? (timeOf(r["finished_at"]) ?? lastEventTime(r, (h) => typeof h["to"] === "string" && isTerminal(h["to"]))) : null;
  return {
    id,
    name: text(r.name),
    status,
    queue: text(r.queue),
    remote: isRemoteRun(r),
    since: started ?? (Number.isFinite(queued) ? queued : null),
    until: finished,
    metrics: plainObject(r.metrics) ?? {},
  };
}

/**
 * A live view of runs: yields a {@link RunsView} at every poll (every `intervalMs`), until
 * `signal` aborts or, when `ids` are given, every one of them is finished (or deleted). Runs are
 * read from the local registry through the local executor (an idle poll is one `stat` of the
 * registry, a busy one reads what was appended since: see `watchRegistryRuns`). A run dispatched
 * to ClearML and named in `ids` is refreshed from its task every 5 s (one request); when ClearML
 * cannot be reached it is shown as last synced and `warn` says so (once).
 *
 * @throws {NotFoundError} `E_EXPERIMENT_NOT_FOUND` (exit 2) for an unknown id, before anything is watched.
 * @throws {UsageError} `E_AMBIGUOUS_ID`, `E_BAD_ID` (exit 2).
 */
export async function* watchRuns(backend: LocalBackend, options: WatchOptions = {}): AsyncGenerator<RunsView> {
  let ids: string[] | undefined;
  if (options.ids !== undefined && options.ids.length > 0) {
    ids = [];
    for (const given of options.ids) {
      const id = await backend.store.resolve(given);
      if (!ids.includes(id)) ids.push(id);
    }
  }
  const now = options.now ?? Date.now;
  const views = new Map<string, WatchedRun>();
  const refreshed = new Map<string, number>();
  let warned = false;
  const snapshots: AsyncGenerator<RunsSnapshot> = backend.executor.local.watchRuns({
    ...(ids === undefined ? {} : { ids, untilFinished: true }),
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  for await (const snapshot of snapshots) {
    for (const id of snapshot.changed) {
      const r = snapshot.runs.get(id) ?? null;
      const before = views.get(id);
      if (r !== null) views.set(id, viewOf(id, r));
      else views.set(id, { ...(before ?? { id, name: null, queue: null, remote: false, since: null, metrics: {} }), status: "deleted", until: before?.until ?? null });
    }
    yield { runs: [...views.values()], changed: snapshot.changed };
    if (ids === undefined || options.signal?.aborted === true) continue;
    // Runs on ClearML change there: ask their task now and then (what changes lands in the registry).
    for (const view of views.values()) {
      if (!view.remote || isTerminal(view.status) || view.status === "deleted" || linkOf(snapshot.runs.get(view.id) ?? { experiment_id: view.id }) === undefined) continue;
      const last = refreshed.get(view.id);
      if (last !== undefined && now() - last < REMOTE_REFRESH_MS) continue;
      refreshed.set(view.id, now());
      try {
        await backend.executor.status(view.id);
      } catch (e) {
        if (!(e instanceof ExpflowError) || e.exitCode !== 4) throw e;
        if (!warned) options.warn?.(`${e.message}; runs on ClearML are shown as last synced`);
        warned = true;
      }
    }
  }
}

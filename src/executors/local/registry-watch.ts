import { closeSync, fstatSync, openSync, statSync } from "node:fs";
import { isTerminal } from "../../core/lifecycle/lifecycle.js";
import { isRemoteRun } from "../../runner/local-runner.js";
import type { LocalStore } from "../../stores/local/local-store.js";
import type { RegistryRecord } from "../../stores/local/record.js";
import { checkedRecordId, statusOf } from "../../stores/local/record.js";
import { parseObjectLine, readFully } from "../../util/jsonl.js";

/** What {@link watchRegistryRuns} sees at one poll. */
export interface RunsSnapshot {
  /**
   * The watched runs, in the order they were first seen: each one's latest record, or `null`
   * once it is deleted (a tombstone, or gone from a compacted registry).
   */
  readonly runs: ReadonlyMap<string, RegistryRecord | null>;
  /** The ids whose record changed since the previous snapshot (every id in the first one). */
  readonly changed: ReadonlySet<string>;
}

/** Options of {@link watchRegistryRuns}. */
export interface WatchRunsOptions {
  /**
   * Exact ids to watch. Absent: every local run that is running or queued, and every one that
   * becomes so while it is watched (a run dispatched to ClearML never is one).
   */
  readonly ids?: readonly string[];
  /** Time between polls (ms; default 500). */
  readonly intervalMs?: number;
  /** Ends the iteration (at the next poll, or at once while it sleeps). */
  readonly signal?: AbortSignal;
  /** End once every watched run is finished or deleted (after the snapshot that shows it). */
  readonly untilFinished?: boolean;
}

/** Bytes kept from just before the followed end, to notice a registry rewritten in place. */
const TAIL_BYTES = 64;
/** The largest read of appended lines (they are parsed a chunk at a time). */
const CHUNK_BYTES = 1024 * 1024;

/** Whether a record is one the default selection shows: a live local run that is running or queued. */
function wanted(r: RegistryRecord): boolean {
  const status = statusOf(r);
  return r.deleted !== true && (status === "running" || status === "queued") && !isRemoteRun(r);
}

/** Whether a watched run is over: finished, or deleted. */
function over(r: RegistryRecord | null): boolean {
  return r === null || isTerminal(statusOf(r));
}

/** Sleeps `ms`, or less when `signal` aborts (then it resolves at once). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Follows the registry file from a known offset: reads only the lines appended since the last
 * look, and says when the file is another one (compacted, replaced), shorter than it was, or
 * rewritten in place (the bytes before the followed end differ), so the caller starts again.
 */
class RegistryTail {
  private dev = -1;
  private ino = -1;
  /** Bytes accounted for, always just after a line break (or 0). */
  offset = 0;
  private tail: Buffer = Buffer.alloc(0);
  /** The last stat seen (`ino:size:mtime`): an unchanged file is not even opened. */
  private signature = "";

  constructor(private readonly path: string) {}

  /** A cheap fingerprint of the file; `missing` when it is not there. */
  private stat(): string {
    try {
      const s = statSync(this.path);
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return "missing";
    }
  }

  /** Starts following at the last line break of the file as it is now (before it is read in full or in part). */
  start(): void {
    this.signature = this.stat();
    this.dev = -1;
    this.offset = 0;
    this.tail = Buffer.alloc(0);
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return;
    }
    try {
      const st = fstatSync(fd);
      this.dev = st.dev;
      this.ino = st.ino;
      const back = Buffer.allocUnsafe(Math.min(st.size, 64 * 1024));
      for (let end = st.size; end > 0; ) {
        const from = Math.max(0, end - back.length);
        const got = readFully(fd, back, end - from, from);
        const nl = got <= 0 ? -1 : back.lastIndexOf(0x0a, got - 1);
        if (nl >= 0) {
          this.offset = from + nl + 1;
          break;
        }
        end = from;
      }
      this.tail = this.bytesBefore(fd, this.offset);
    } finally {
      closeSync(fd);
    }
  }

  private bytesBefore(fd: number, offset: number): Buffer {
    const b = Buffer.allocUnsafe(Math.min(TAIL_BYTES, offset));
    return b.subarray(0, readFully(fd, b, b.length, offset - b.length));
  }

  /**
   * The records of the whole lines appended since the last look, in file order, or `"restart"`
   * when the file is not the one followed any more. `[]` when nothing changed (one `stat`).
   */
  read(): RegistryRecord[] | "restart" {
    const signature = this.stat();
    if (signature === this.signature) return [];
    this.signature = signature;
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return "restart";
    }
    try {
      const st = fstatSync(fd);
      if (st.dev !== this.dev || st.ino !== this.ino || st.size < this.offset || !this.bytesBefore(fd, this.offset).equals(this.tail)) return "restart";
      const out: RegistryRecord[] = [];
      let carry: Buffer = Buffer.alloc(0);
      let pos = this.offset;
      while (pos < st.size) {
        const want = Math.min(CHUNK_BYTES, st.size - pos);
        const chunk = Buffer.allocUnsafe(carry.length + want);
        carry.copy(chunk);
        const got = readFully(fd, chunk.subarray(carry.length), want, pos);
        if (got === 0) break;
        pos += got;
        const data = chunk.subarray(0, carry.length + got);
        const end = data.lastIndexOf(0x0a) + 1;
        for (let s = 0; s < end; ) {
          const nl = data.indexOf(0x0a, s);
          const text = data.toString("utf8", s, nl).replace(/\r$/, "");
          s = nl + 1;
          if (text.trim() === "") continue;
          const parsed = parseObjectLine(text);
          if (!("value" in parsed)) continue;
          const checked = checkedRecordId(parsed.value);
          if ("id" in checked) out.push({ ...(parsed.value as RegistryRecord), experiment_id: checked.id });
        }
        this.offset += end;
        // A line longer than a chunk is carried into the next read (it grows the chunk).
        carry = Buffer.from(data.subarray(end));
      }
      this.tail = this.bytesBefore(fd, this.offset);
      return out;
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Watches runs of the local registry: yields a {@link RunsSnapshot} at every poll (every
 * `intervalMs`), until `signal` aborts (or, with `untilFinished`, every run is over).
 *
 * What a poll costs: one `stat` of the registry while nothing is written; otherwise a read of
 * the bytes appended since the last poll (a few hundred bytes a snapshot), parsed line by line.
 * The first poll, and a poll after the registry was compacted or replaced, reads the runs
 * afresh: every record for the default selection (one full read), or the store's targeted read
 * of each watched id (the lines that mention it, from the end).
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the registry does not exist at the start.
 */
export async function* watchRegistryRuns(store: LocalStore, options: WatchRunsOptions = {}): AsyncGenerator<RunsSnapshot> {
  const interval = options.intervalMs ?? 500;
  const ids = options.ids;
  const runs = new Map<string, RegistryRecord | null>();
  const tail = new RegistryTail(store.location);

  /** Reads the watched runs afresh; returns the ids whose record changed. */
  const reload = (): Set<string> => {
    tail.start();
    const changed = new Set<string>();
    const put = (id: string, r: RegistryRecord | null): void => {
      // A reload is rare (the first poll, a compaction): comparing whole records is fine.
      if (!runs.has(id) || JSON.stringify(runs.get(id)) !== JSON.stringify(r)) changed.add(id);
      runs.set(id, r);
    };
    if (ids !== undefined) {
      for (const id of ids) put(id, store.raw(id) ?? null);
    } else {
      const all = store.rawAll().records;
      for (const [id, r] of all) if (runs.has(id) || wanted(r)) put(id, r.deleted === true ? null : r);
      // Watched runs no longer in the file (a compaction dropped their tombstones).
      for (const id of runs.keys()) if (!all.has(id)) put(id, null);
    }
    return changed;
  };

  let changed = reload();
  for (const id of runs.keys()) changed.add(id);
  for (;;) {
    yield { runs, changed };
    if (options.untilFinished === true && [...runs.values()].every(over)) return;
    await sleep(interval, options.signal);
    if (options.signal?.aborted === true) return;
    const lines = tail.read();
    if (lines === "restart") {
      changed = reload();
      continue;
    }
    changed = new Set<string>();
    for (const r of lines) {
      const id = r.experiment_id;
      const known = runs.has(id);
      if (!known && (ids !== undefined || !wanted(r))) continue;
      runs.set(id, r.deleted === true ? null : r);
      changed.add(id);
    }
  }
}

import { BackendError, ConflictError, NotFoundError, UsageError } from "../../core/errors.js";
import type { ArchiveEvent, HistoryEntry, RunEvent } from "../../core/lifecycle/lifecycle.js";
import { checkArchiveEvent, nextState } from "../../core/lifecycle/lifecycle.js";
import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import { assertValidId, isValidId } from "../../core/ids.js";
import { ensurePrivateDir } from "../../util/private-files.js";
import { realFilePath, withFileLock } from "../../util/lock.js";
import { storageError } from "../../util/fs-errors.js";
import { forEachLineBackwards, parseObjectLine } from "../../util/jsonl.js";
import type { RegistryRecord } from "./record.js";
import { recordId, statusOf } from "./record.js";
import type { PendingAppend } from "../../util/append-file.js";
import { appendLinesUnsynced, fileExists } from "./writer.js";
import { scanRegistry } from "./registry-file.js";
import { RegistryIndex } from "./registry-index.js";

/** What the registry writer needs from outside; injected so tests control time and identity. */
export interface WriterContext {
  readonly now: () => Date;
  /** Who acts, for `history` (`user@host`). */
  readonly who: string;
  /**
   * Whether the registry's directory may be created (the default registry in the home, made
   * 0700); otherwise a registry in a directory that does not exist is refused (exit 2).
   */
  readonly createDirectory?: boolean;
}

/** Every latest raw record, tombstones included, with the file's damage. */
export interface RawRegistry {
  readonly records: Map<string, RegistryRecord>;
  /**
   * With `keepText`: each latest record's line as written, when it is valid JSON as it stands
   * (so it can be printed without serialising the record again).
   */
  readonly texts: Map<string, string>;
  readonly damaged: { line: number; reason: string }[];
  readonly lines: number;
}

/** Reads the latest raw snapshot of every experiment (tombstones included). */
export function readRaw(path: string, options: { keepText?: boolean } = {}): RawRegistry {
  const records = new Map<string, RegistryRecord>();
  const texts = new Map<string, string>();
  if (!fileExists(path)) return { records, texts, damaged: [], lines: 0 };
  const { damaged, lines } = scanRegistry(path, (id, record, text, repaired) => {
    records.set(id, record as RegistryRecord);
    if (options.keepText) {
      if (repaired) texts.delete(id);
      else texts.set(id, text);
    }
  });
  return { records, texts, damaged, lines };
}

/**
 * The latest raw snapshot of one experiment. The latest line wins, so the file is searched from
 * its end, and only lines containing the id's JSON text are parsed: a change to a recent run
 * of a large registry reads little of it. (A valid id is plain ASCII, so no writer escapes it.)
 * An id that breaks the id rule names no record: `undefined`.
 */
export function readOne(path: string, id: string, options: { includeDeleted?: boolean } = {}): RegistryRecord | undefined {
  // Lines whose id breaks the id rule are damaged, so no such id names a record.
  if (!isValidId(id) || !fileExists(path)) return undefined;
  const needle = JSON.stringify(id).slice(1, -1);
  let found: RegistryRecord | undefined;
  forEachLineBackwards(path, (text) => {
    const parsed = parseObjectLine(text);
    if ("value" in parsed && recordId(parsed.value) === id) {
      found = parsed.value as RegistryRecord;
      return true;
    }
    return false;
  }, { containing: needle });
  return found?.deleted === true && options.includeDeleted !== true ? undefined : found;
}

/**
 * Checks that the registry's directory is there to be written in (or creates it, private, when
 * `create`), before the lock is taken in it.
 *
 * @throws {UsageError} `E_NO_DIRECTORY` / `E_NOT_DIRECTORY` (exit 2); {@link BackendError}
 *   (exit 4) when it cannot be created (full, read-only, no permission).
 */
function prepareRegistryDir(path: string, create: boolean): void {
  const dir = dirname(path);
  try {
    if (create) ensurePrivateDir(dir);
    else if (!statSync(dir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    // The lock is made in the directory: say a read-only one as it is, not as a busy lock.
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!create && code === "ENOENT") {
      throw new UsageError("E_NO_DIRECTORY", `the registry ${path} is in a directory that does not exist (${dir})`, {
        hint: "create the directory first, or name a registry in an existing one",
      });
    }
    throw storageError(e, path);
  }
}

/**
 * Writes to the append-only registry. Every change appends a complete new snapshot of the
 * record with `rev` incremented and `updated_at` set; the latest line for an id wins. Each
 * read-modify-append runs under an inter-process lock (`<registry>.lock`), so a change computed
 * from the current record cannot overwrite a concurrent one, and every append is one write.
 */
export class RegistryWriter {
  /** Where this writer last saw each record: a change reads only what was appended since. */
  private readonly index = new RegistryIndex();

  constructor(
    readonly path: string,
    private readonly ctx: WriterContext,
  ) {}

  /** The current record of `id` (undefined: none, or deleted); under the lock. */
  private current(id: string): RegistryRecord | undefined {
    const found = this.index.lookup(this.path, id);
    return found?.deleted === true ? undefined : found;
  }

  /**
   * Runs `make` under the registry lock and appends the snapshot it returns; the flush to disk
   * runs after the lock is released (group commit: the flushes of several writers overlap, and
   * one journal commit can carry several changes), and the snapshot is returned only once it
   * is on disk. Nothing is acknowledged before: a reader under the lock may see the line
   * meanwhile, but a later writer's flush flushes it too, so nothing acknowledged after it
   * can outlive it. A failed flush takes the line back under the lock when nothing was
   * appended after it, and is exit 4 either way, saying which.
   */
  private async change(make: () => { id: string; snapshot: RegistryRecord }): Promise<RegistryRecord>;
  private async change(make: () => { id: string; snapshot: RegistryRecord } | undefined): Promise<RegistryRecord | undefined>;
  private async change(make: () => { id: string; snapshot: RegistryRecord } | undefined): Promise<RegistryRecord | undefined> {
    const [snapshot] = await this.changeMany(() => {
      const made = make();
      return made === undefined ? [] : [made];
    });
    return snapshot;
  }

  /**
   * As {@link change}, for several snapshots at once: `make` returns them (none: nothing is
   * appended), they are appended in one write under one lock, and flushed once.
   */
  private async changeMany(make: () => { id: string; snapshot: RegistryRecord }[]): Promise<RegistryRecord[]> {
    let pending: PendingAppend | undefined;
    const snapshots = await this.locked(() => {
      const made = make();
      // Nothing to change: nothing is appended.
      if (made.length === 0) return [];
      const lines = made.map((m) => JSON.stringify(m.snapshot));
      pending = appendLinesUnsynced(this.path, lines);
      let offset = pending.offset;
      made.forEach((m, i) => {
        const line = `${lines[i]!}\n`;
        this.index.appended(m.id, offset, line);
        offset += Buffer.byteLength(line, "utf8");
      });
      return made.map((m) => m.snapshot);
    });
    if (snapshots.length === 0) return [];
    const written = pending!;
    try {
      written.flush();
    } catch (e) {
      const takenBack = await this.locked(() => written.takeBack()).catch(() => (written.close(), false));
      this.index.reset();
      const detail = takenBack ? "the change was taken back" : "the change stays in the file (others were appended after it) but may not survive a crash";
      throw new BackendError((e as BackendError).code ?? "E_IO", `${(e as Error).message}; ${detail}`, { hint: "check the disk; `expflow registry check` shows what the registry holds", cause: e });
    }
    return snapshots;
  }

  /**
   * Applies `change` to several experiments under one lock, appending the changed snapshots in
   * one write and flushing once (a sync of 1,000 runs is one append, not 1,000). `change` returns
   * `undefined` for a record to leave as it is. Ids that do not exist (any more) are skipped.
   *
   * @returns the snapshots written, by id.
   */
  async updateEach(ids: readonly string[], change: (current: RegistryRecord) => RegistryRecord | undefined): Promise<Map<string, RegistryRecord>> {
    for (const id of ids) assertValidId(id);
    const written = await this.changeMany(() => {
      const out: { id: string; snapshot: RegistryRecord }[] = [];
      for (const id of new Set(ids)) {
        const current = this.current(id);
        if (current === undefined) continue;
        const next = change(current);
        if (next === undefined) continue;
        out.push({ id, snapshot: { ...next, experiment_id: id, rev: (typeof current.rev === "number" ? current.rev : 0) + 1, updated_at: this.ctx.now().toISOString() } });
      }
      return out;
    });
    return new Map(written.map((r) => [r.experiment_id, r]));
  }

  /** `<registry>.lock` beside the registry's real path: a symlink and its target share one lock. */
  private lockPath(): string {
    return `${realFilePath(this.path)}.lock`;
  }

  /**
   * Checks, before anything is done elsewhere that must then be recorded here, that the
   * registry's directory is there to write in (or is made, for the default registry).
   *
   * @throws what a write would: {@link UsageError} `E_NO_DIRECTORY` / `E_NOT_DIRECTORY` (exit 2),
   *   {@link BackendError} (exit 4) for a directory that cannot be written.
   */
  assertWritable(): void {
    prepareRegistryDir(this.path, this.ctx.createDirectory === true);
  }

  /** Runs `fn` under the registry lock. */
  locked<T>(fn: () => Promise<T> | T): Promise<T> {
    prepareRegistryDir(this.path, this.ctx.createDirectory === true);
    return withFileLock(this.lockPath(), fn, { keep: true });
  }

  /**
   * Appends a new experiment (rev 1).
   *
   * @param options.generatedId the id comes from `newExperimentId` (60 random bits), so the
   *   duplicate check, which must read the whole registry to prove an id absent, is skipped.
   * @throws {ConflictError} `E_DUPLICATE_ID` when the id exists already.
   * @throws {UsageError} `E_BAD_ID` when the id breaks the id rule (`src/core/ids.ts`).
   */
  async create(record: RegistryRecord, options: { generatedId?: boolean } = {}): Promise<RegistryRecord> {
    assertValidId(record.experiment_id);
    return this.change(() => {
      if (options.generatedId) this.index.sync(this.path);
      else if (this.current(record.experiment_id) !== undefined) {
        throw new ConflictError("E_DUPLICATE_ID", `experiment ${record.experiment_id} exists already`);
      }
      return { id: record.experiment_id, snapshot: { ...record, rev: 1, updated_at: this.ctx.now().toISOString() } };
    });
  }

  /**
   * Appends a changed snapshot of an experiment: `change` receives the current record (read
   * under the lock) and returns the new one; `rev` and `updated_at` are set here.
   *
   * @throws {NotFoundError} when the experiment does not exist (or was deleted).
   * @throws {UsageError} `E_BAD_ID` when the id breaks the id rule.
   */
  async update(id: string, change: (current: RegistryRecord) => RegistryRecord): Promise<RegistryRecord> {
    return (await this.updateIf(id, change))!;
  }

  /**
   * As {@link update}, but `change` may return `undefined` when nothing is to change: then
   * nothing is appended and `undefined` is returned (a refresh that finds a run as it was
   * leaves the registry as it was).
   *
   * @throws {NotFoundError} when the experiment does not exist (or was deleted).
   */
  async updateIf(id: string, change: (current: RegistryRecord) => RegistryRecord | undefined): Promise<RegistryRecord | undefined> {
    assertValidId(id);
    return this.change(() => {
      const current = this.current(id);
      if (current === undefined) throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${id}' in ${this.path}`);
      const next = change(current);
      if (next === undefined) return undefined;
      return { id, snapshot: { ...next, experiment_id: id, rev: (typeof current.rev === "number" ? current.rev : 0) + 1, updated_at: this.ctx.now().toISOString() } };
    });
  }

  /** A history entry for now. */
  entry(event: HistoryEntry["event"], from: string | null, to: string, reason?: string): HistoryEntry {
    return { event, from, to, time: this.ctx.now().toISOString(), who: this.ctx.who, ...(reason === undefined ? {} : { reason }) };
  }

  /**
   * Applies a lifecycle event, recording it in `history`.
   *
   * @throws {ConflictError} `E_ILLEGAL_TRANSITION` naming the state and the allowed events.
   */
  async transition(id: string, event: RunEvent, extra: (r: RegistryRecord) => Partial<RegistryRecord> = () => ({}), reason?: string): Promise<RegistryRecord> {
    return this.update(id, (r) => {
      const from = statusOf(r);
      const to = nextState(from, event, id);
      return { ...r, ...extra(r), status: to, history: [...(Array.isArray(r.history) ? r.history : []), this.entry(event, from, to, reason)] };
    });
  }

  /**
   * Archives, restores or deletes (a tombstone; permanent) an experiment.
   *
   * @throws {ConflictError} `E_ILLEGAL_TRANSITION` when the run is not in a state for it.
   */
  async archive(id: string, event: ArchiveEvent, extra: (r: RegistryRecord) => Partial<RegistryRecord> = () => ({})): Promise<RegistryRecord> {
    return this.update(id, (r) => {
      const state = statusOf(r);
      checkArchiveEvent(state, r.archived === true, event, id);
      const history = [...(Array.isArray(r.history) ? r.history : []), this.entry(event, state, state)];
      if (event === "delete") return { ...r, ...extra(r), history, deleted: true };
      return { ...r, ...extra(r), history, archived: event === "archive" };
    });
  }
}

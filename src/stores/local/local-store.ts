import { closeSync, openSync } from "node:fs";
import type { Experiment, ExperimentFilter } from "../../core/experiment.js";
import type { ExperimentList } from "../../core/ranking/compare-scores.js";
import { matchesFilter } from "../../core/experiment.js";
import type { MetricHistory } from "../../core/metrics/history.js";
import { readMetricHistory } from "../../core/metrics/history.js";
import { UsageError, ValidationError } from "../../core/errors.js";
import { assertValidId } from "../../core/ids.js";
import type { ArchiveEvent, HistoryEntry, RunEvent, RunState } from "../../core/lifecycle/lifecycle.js";
import { checkArchiveEvent, nextState, pathTo } from "../../core/lifecycle/lifecycle.js";
import type { LinkedTasks, NewExperiment, RankingListing, RemoteLink, StoreCapability, TransitionOptions, WarningSink } from "../store.js";
import { BaseStore, resolvePrefix } from "../store.js";
import type { DamagedLine } from "../../util/jsonl.js";
import { lineText, parseObjectLine, readFully } from "../../util/jsonl.js";
import { StringMap } from "../../util/string-map.js";
import { PackedStringMap } from "../../util/packed-strings.js";
import type { RegistryRecord } from "./record.js";
import { checkedRecordId, experimentFromRecord, LeanColumns, LeanExperiment, linkOf, plainObject, statusOf } from "./record.js";
import type { FastLineSink } from "./registry-file.js";
import { assertRegistryFile, scanRegistry, warnDamaged } from "./registry-file.js";
import { LeanLineReader } from "./lean-line.js";
import type { RawRegistry, WriterContext } from "./registry-writer.js";
import { readOne, readRaw, RegistryWriter } from "./registry-writer.js";
import type { CompactResult, RegistryHealth } from "./maintenance.js";
import { assertCompactable, checkRegistry, compactRegistry } from "./maintenance.js";

export { MAX_LINE_WARNINGS } from "./registry-file.js";

/**
 * The whole experiments of lean ones, read again at their lines in the open registry `fd`;
 * `null` when a line no longer holds the record it was listed with (the file was rewritten in
 * place meanwhile).
 */
function readWhole(fd: number, some: readonly LeanExperiment[], path: string): Experiment[] | null {
  const out: Experiment[] = [];
  let buf = Buffer.alloc(0);
  for (const e of some) {
    if (buf.length < e.bytes) buf = Buffer.allocUnsafe(Math.max(e.bytes, 2 * buf.length, 4096));
    let got: number;
    try {
      got = readFully(fd, buf, e.bytes, e.offset);
    } catch (err) {
      throw new ValidationError("E_REGISTRY_UNREADABLE", `cannot read registry ${path}: ${(err as Error).message}`);
    }
    if (got < e.bytes) return null;
    const parsed = parseObjectLine(lineText(buf, 0, e.bytes, e.offset === 0));
    if ("reason" in parsed) return null;
    const checked = checkedRecordId(parsed.value);
    if ("reason" in checked || checked.id !== e.id || parsed.value["deleted"] === true) return null;
    const whole = experimentFromRecord(parsed.value, e.id);
    if (!e.isMadeOf(whole)) return null;
    out.push(whole);
  }
  return out;
}

/**
 * What a filter reads of the record `reader` read (lean, with the project and tags) from
 * `line`, as row `row` of `columns`: the experiment `experimentFromRecord` makes, but for what
 * no filter reads (name, creation time, metrics, parameters).
 */
function filteredExperiment(reader: LeanLineReader, line: Buffer, columns: LeanColumns, row: number): Experiment {
  const tags: string[] = [];
  for (let j = 0; j < reader.tags.length; j++) tags.push(line.toString("utf8", reader.tags.starts[j]!, reader.tags.ends[j]!));
  return {
    // Made only if the filter reads it (none does today).
    get id() {
      return columns.idOf(row);
    },
    name: null,
    status: columns.statusOf(row),
    project: reader.hasProject ? line.toString("utf8", reader.projectStart, reader.projectEnd) : null,
    tags,
    created: null,
    metrics: {},
    params: {},
    archived: reader.archived,
  };
}

/** Options of {@link LocalStore}. */
export interface LocalStoreOptions {
  /** The registry file (`$EXPFLOW_HOME/experiments.jsonl` by default in the CLI). */
  path: string;
  /** Receives one message per damaged line (up to {@link MAX_LINE_WARNINGS}, then a summary). */
  onWarning?: WarningSink;
  /** Clock, who acts and whether the registry's directory may be made: given, the store can write. */
  writer?: WriterContext;
  /**
   * The remote tasks of linked runs (opened only when a linked run is archived, restored or
   * deleted). Absent: a linked run changes only here.
   */
  linked?: () => LinkedTasks | Promise<LinkedTasks>;
}

/** What {@link LocalStore.follow} is told to apply. */
export interface FollowChange {
  /** The state to reach, through the state machine (every step a history entry). */
  readonly target?: RunState;
  /** Fields merged into the record (with the state, in one snapshot). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** Recorded with the last step (a failure's reason). */
  readonly reason?: string;
}

/** What {@link LocalStore.follow} did. */
export interface FollowResult {
  /** The record written, or the current one when nothing changed. */
  readonly record: RegistryRecord;
  /** Whether a snapshot was appended. */
  readonly written: boolean;
  /** The events applied, in order. */
  readonly events: readonly RunEvent[];
  /** The state before. */
  readonly from: string;
  /** Set when the target cannot be reached from the record's state (a finished run seen running again): the state stays. */
  readonly blocked?: { readonly from: string; readonly to: RunState };
}

/** What a full read of the registry found. */
export interface RegistrySnapshot {
  /** The latest record of each experiment, in order of first appearance. */
  readonly experiments: Experiment[];
  /** Lines skipped because they are not a JSON object with an `experiment_id`. */
  readonly damaged: DamagedLine[];
  /** Non-blank lines read. */
  readonly lines: number;
}

/**
 * The local registry: a JSON-lines file, one record a line, where a later line with the same
 * `experiment_id` supersedes the earlier one (whole record). Reads the earlier Python tool's
 * records unchanged. Reading never modifies the file.
 */
export class LocalStore extends BaseStore {
  readonly kind = "local";
  readonly location: string;
  override readonly capabilities: ReadonlySet<StoreCapability>;
  /** The registry's writer (under its lock), when the store was opened for writing; never handed out. */
  private readonly writer: RegistryWriter | undefined;
  private readonly onWarning: WarningSink;
  private readonly linked: (() => LinkedTasks | Promise<LinkedTasks>) | undefined;

  constructor(options: LocalStoreOptions) {
    super();
    this.linked = options.linked;
    this.location = options.path;
    this.onWarning = options.onWarning ?? (() => {});
    this.writer = options.writer === undefined ? undefined : new RegistryWriter(options.path, options.writer);
    this.capabilities = new Set<StoreCapability>(this.writer === undefined ? [] : ["write", "metrics", "link"]);
  }

  /**
   * Reads the whole registry.
   *
   * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the file does not exist.
   * @throws {ValidationError} `E_REGISTRY_UNREADABLE` when the path is not a readable file.
   */
  snapshot(): RegistrySnapshot {
    const path = this.location;
    assertRegistryFile(path);

    const latest = new StringMap<Experiment>();
    let scan: { damaged: DamagedLine[]; lines: number };
    try {
      scan = scanRegistry(path, (id, record) => {
        // A later line replaces the whole record (it keeps its first position in the map).
        // Normalising now lets the parsed line's other fields be collected young.
        if (record["deleted"] === true) latest.delete(id);
        else latest.set(id, experimentFromRecord(record, id));
      });
    } catch (e) {
      throw new ValidationError("E_REGISTRY_UNREADABLE", `cannot read registry ${path}: ${(e as Error).message}`);
    }
    const { damaged, lines } = scan;
    warnDamaged(path, damaged, this.onWarning);
    return { experiments: [...latest.values()], damaged, lines };
  }

  /** {@inheritDoc Store.list} */
  override async list(filter: ExperimentFilter = {}): Promise<Experiment[]> {
    const all = this.snapshot().experiments;
    return all.filter((e) => matchesFilter(e, filter));
  }

  /**
   * {@inheritDoc Store.rankingListing} One read of the file, keeping of each experiment only its
   * ranking fields and where its line is; the file stays open until `close`, so the lines shown
   * are read again from the very file that was listed, even if a compaction replaced it since
   * (appends leave the bytes read in place). With `"all"`, every field is kept, packed, and
   * nothing is read again. The damaged lines are warned about as `list` does.
   *
   * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the file does not exist.
   * @throws {ValidationError} `E_REGISTRY_UNREADABLE` when the path is not a readable file.
   */
  rankingListing(filter: ExperimentFilter, metrics: ReadonlySet<string> | "all"): RankingListing {
    const path = this.location;
    assertRegistryFile(path);
    const hold = metrics === "all";
    // Each experiment's latest row; one whose latest record the filter leaves out keeps its
    // place (-1), as in list. Only numbers and bytes survive the scan, so the garbage collector
    // has little to copy while the lines are parsed.
    const latest = new PackedStringMap();
    const columns = new LeanColumns(hold ? [] : [...metrics], latest.keys, hold);
    // Only whether it is archived, unless the filter reads more of the record.
    const onlyArchived = filter.project === undefined && (filter.tags?.length ?? 0) === 0 && (filter.statuses?.length ?? 0) === 0;
    // Whether row `row` is listed, read from the row (holding, or only archived to know), or from its record.
    const keepsRow = (row: number): boolean => (onlyArchived ? filter.includeArchived === true || !columns.archivedOf(row) : matchesFilter(columns.experiment(row), filter));
    const keeps = (record: Record<string, unknown>, id: string, row: number): boolean =>
      hold || onlyArchived ? keepsRow(row) : matchesFilter(experimentFromRecord(record, id), filter);
    let fd: number | undefined;
    let damaged: DamagedLine[];
    try {
      fd = hold ? undefined : openSync(path, "r");
      const onRecord = (id: string, record: Record<string, unknown>, _text: string, _repaired: boolean, offset: number, bytes: number): void => {
        if (record["deleted"] === true) {
          latest.delete(id);
          return;
        }
        const entry = latest.set(id, -1);
        const row = columns.add(record, latest.keyAt(entry), offset, bytes);
        if (keeps(record, id, row)) latest.setValueOf(entry, row);
      };
      // Most lines are read from their bytes, without their object (see LeanLineReader); the
      // others go the general way. A filter by more than the archived flag reads a row whole
      // when holding, else the fields it reads, with the reader reading them too.
      const fields = hold ? "held" : onlyArchived ? "ranked" : "filtered";
      const reader = new LeanLineReader(columns.names, fields);
      const fast: FastLineSink = (bytes, start, end, offset) => {
        if (!reader.read(bytes, start, end)) return false;
        if (reader.deleted) {
          latest.deleteBytes(bytes, reader.idStart, reader.idEnd);
          return true;
        }
        if (hold && !columns.canHold(reader, bytes)) return false;
        const entry = latest.setBytes(bytes, reader.idStart, reader.idEnd, -1);
        const row = columns.addRead(reader, bytes, latest.keyAt(entry), offset, end - start);
        if (fields === "filtered" ? matchesFilter(filteredExperiment(reader, bytes, columns, row), filter) : keepsRow(row)) latest.setValueOf(entry, row);
        return true;
      };
      ({ damaged } = scanRegistry(fd === undefined ? path : { fd }, onRecord, fast));
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      throw new ValidationError("E_REGISTRY_UNREADABLE", `cannot read registry ${path}: ${(e as Error).message}`);
    }
    warnDamaged(path, damaged, this.onWarning);
    // The rows listed, by number; each experiment is made when asked for (see ExperimentList).
    let rows = new Int32Array(latest.size);
    let n = 0;
    for (const entry of latest.entries()) {
      const row = latest.valueOf(entry);
      if (row >= 0) rows[n++] = row;
    }
    rows = rows.subarray(0, n);
    const experiments: ExperimentList = {
      length: n,
      at: (i) => (i >= 0 && i < n ? columns.experiment(rows[i]!) : undefined),
      createdTime: (i) => columns.createdTimeOf(rows[i]!),
      metricOf: (i, name) => columns.metricOf(rows[i]!, name),
    };
    let open: number | undefined = fd;
    let closed = false;
    return {
      experiments,
      whole: (some) => {
        if (closed) throw new Error("LocalStore.rankingListing: whole() after close()");
        const lean: LeanExperiment[] = [];
        for (const e of some) {
          if (!(e instanceof LeanExperiment && e.isOf(columns))) throw new Error(`LocalStore.rankingListing: ${e.id} is not an experiment of this listing`);
          lean.push(e);
        }
        // Held, the experiments are whole already.
        return open === undefined ? lean : readWhole(open, lean, path);
      },
      close: () => {
        if (open !== undefined) closeSync(open);
        open = undefined;
        closed = true;
      },
    };
  }

  /**
   * {@inheritDoc Store.histories} One read of the file: the `metric_history` of each id's latest
   * record (a value that is not a history is left out, as `run status` leaves it).
   */
  async histories(ids: readonly string[]): Promise<ReadonlyMap<string, Readonly<Record<string, MetricHistory>>>> {
    const wanted = new Set(ids);
    const out = new Map<string, Record<string, MetricHistory>>();
    if (wanted.size === 0) return out;
    assertRegistryFile(this.location);
    try {
      scanRegistry(this.location, (id, record) => {
        if (!wanted.has(id)) return;
        // A later line replaces the whole record, its history included.
        out.delete(id);
        const raw = plainObject(record["metric_history"]);
        if (record["deleted"] === true || raw === null) return;
        const kept: Record<string, MetricHistory> = {};
        for (const [name, value] of Object.entries(raw)) {
          const h = readMetricHistory(value);
          if (h !== undefined && h.steps.length > 0) kept[name] = h;
        }
        if (Object.keys(kept).length > 0) out.set(id, kept);
      });
    } catch (e) {
      throw new ValidationError("E_REGISTRY_UNREADABLE", `cannot read registry ${this.location}: ${(e as Error).message}`);
    }
    return out;
  }

  /** {@inheritDoc Store.get} Reads only the lines that mention the id. */
  override async get(id: string): Promise<Experiment | undefined> {
    const record = this.raw(id);
    return record === undefined ? undefined : experimentFromRecord(record, id);
  }

  /**
   * The latest raw record of an experiment as written (undefined: none, or deleted): the
   * registry's own shape, for `--raw` and the local runner.
   *
   * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the file does not exist.
   */
  raw(id: string): RegistryRecord | undefined {
    assertRegistryFile(this.location);
    return readOne(this.location, id);
  }

  /**
   * Every latest raw record (tombstones included), with the file's damage passed to the warning
   * sink: the registry as written, for `run list --raw`.
   *
   * @param options.keepText keep each record's line as written (printed without serialising it again).
   * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the file does not exist.
   */
  rawAll(options: { keepText?: boolean } = {}): RawRegistry {
    assertRegistryFile(this.location);
    const raw = readRaw(this.location, options);
    warnDamaged(this.location, raw.damaged, this.onWarning);
    return raw;
  }

  /**
   * The latest live record of `id`: the targeted read first, then a full read, which also finds
   * ids the earlier tool wrote with `\u` escapes (which the targeted read's text match misses).
   */
  latestRaw(id: string): RegistryRecord | undefined {
    const quick = this.raw(id);
    if (quick !== undefined) return quick;
    const r = readRaw(this.location).records.get(id);
    return r === undefined || r.deleted === true ? undefined : r;
  }

  /** {@inheritDoc Store.resolve} An exact id reads only the lines that mention it; a prefix reads every id. */
  override async resolve(prefix: string): Promise<string> {
    // Before any read: an empty or path-like prefix is exit 2, never "the only run".
    assertValidId(prefix);
    assertRegistryFile(this.location);
    if (readOne(this.location, prefix) !== undefined) return prefix;
    const ids = [...readRaw(this.location).records].filter(([, r]) => r.deleted !== true).map(([id]) => id);
    return resolvePrefix(ids, prefix, this.location);
  }

  /**
   * {@inheritDoc Store.create} One snapshot: the record with `status` and a `history` of its
   * creation and of `spec.events` applied in order (a submitted run: created, dispatched, queued).
   */
  override async create(spec: NewExperiment & { readonly events?: readonly RunEvent[] }): Promise<Experiment> {
    const writer = this.writable();
    const history: HistoryEntry[] = [writer.entry("create", null, "created", spec.reason)];
    let status = "created";
    for (const event of spec.events ?? []) {
      const to = nextState(status, event, spec.id);
      history.push(writer.entry(event, status, to));
      status = to;
    }
    // An existing `status` or `history` key keeps its place in the line: the values are replaced.
    const record: RegistryRecord = { experiment_id: spec.id, ...spec.fields, status, history };
    const created = await writer.create(record, { generatedId: spec.generatedId === true });
    return experimentFromRecord(created, spec.id);
  }

  /** {@inheritDoc Store.transition} The state machine applied in one place, with the history entry, under the registry lock. */
  override async transition(id: string, event: RunEvent, options: TransitionOptions = {}): Promise<Experiment> {
    return experimentFromRecord(await this.transitionRaw(id, event, options), id);
  }

  /** {@link transition}, returning the raw record written. */
  async transitionRaw(id: string, event: RunEvent, options: TransitionOptions = {}): Promise<RegistryRecord> {
    const writer = this.writable();
    return writer.transition(
      id,
      event,
      (r) => options.fields?.(r) ?? {},
      options.reason,
    );
  }

  /**
   * {@inheritDoc Store.archive} A run linked to a remote task (with the store's `linked` tasks)
   * has its task archived, restored or deleted first, once the event is known to be possible
   * here; a refusal there changes nothing here.
   */
  override async archive(id: string, event: ArchiveEvent): Promise<Experiment> {
    const writer = this.writable();
    const record = this.linked === undefined ? undefined : readOne(this.location, id);
    const link = record === undefined || record.deleted === true ? undefined : linkOf(record);
    let gone = false;
    if (record !== undefined && link !== undefined) {
      checkArchiveEvent(statusOf(record), record.archived === true, event, id);
      gone = !(await (await this.linked!()).archive(link, event));
    }
    // The record says what happened to its task: gone, or archived (or not) with it.
    const extra = (r: RegistryRecord): Partial<RegistryRecord> => {
      if (link === undefined) return {};
      const previous = plainObject(r["clearml"]) ?? {};
      const { archived: _archived, ...rest } = previous;
      if (gone) return { clearml: { ...previous, missing: true } };
      return { clearml: event === "restore" ? rest : { ...rest, archived: true } };
    };
    return experimentFromRecord(await writer.archive(id, event, extra), id);
  }

  /**
   * Throws what a write would throw for the registry's place (a directory that does not exist or
   * cannot be written), before anything is done elsewhere that must then be recorded here.
   */
  assertWritable(): void {
    this.writable().assertWritable();
  }

  /** The last snapshot of `id` as written, a tombstone included (`undefined`: no such experiment). */
  lastSnapshot(id: string): RegistryRecord | undefined {
    assertRegistryFile(this.location);
    return readOne(this.location, id, { includeDeleted: true });
  }

  /**
   * Applies what the remote task of a linked run says of it: `decide` receives the record as it
   * is under the registry lock and returns the state to reach and the fields to merge, or
   * `undefined` to leave it. The state is reached through the state machine, one history entry
   * per event; a state it cannot reach is left (`blocked`) while the fields are still merged.
   * Nothing is appended when nothing changes.
   *
   * @throws {NotFoundError} `E_EXPERIMENT_NOT_FOUND` when the run does not exist (or was deleted).
   */
  async follow(id: string, decide: (current: Readonly<RegistryRecord>) => FollowChange | undefined): Promise<FollowResult> {
    const writer = this.writable();
    let outcome: FollowResult | undefined;
    const written = await writer.updateIf(id, (r) => {
      outcome = this.#followed(writer, id, r, decide(r));
      return outcome.written ? outcome.record : undefined;
    });
    return { ...outcome!, record: written ?? outcome!.record };
  }

  /**
   * {@link follow} for many runs at once: under one lock, the changed snapshots appended in one
   * write and flushed once. Runs that do not exist (any more) are left out of the answer.
   */
  async followEach(ids: readonly string[], decide: (current: Readonly<RegistryRecord>) => FollowChange | undefined): Promise<Map<string, FollowResult>> {
    const writer = this.writable();
    const outcomes = new Map<string, FollowResult>();
    const written = await writer.updateEach(ids, (r) => {
      const id = String(r.experiment_id);
      const outcome = this.#followed(writer, id, r, decide(r));
      outcomes.set(id, outcome);
      return outcome.written ? outcome.record : undefined;
    });
    for (const [id, record] of written) outcomes.set(id, { ...outcomes.get(id)!, record });
    return outcomes;
  }

  /** The record `change` makes of `r` (not yet written), and what it did. */
  #followed(writer: RegistryWriter, id: string, r: RegistryRecord, change: FollowChange | undefined): FollowResult {
    const from = statusOf(r);
    if (change === undefined) return { record: r, written: false, events: [], from };
    const events = change.target === undefined ? [] : pathTo(from, change.target);
    const fieldsChanged = change.fields !== undefined && Object.entries(change.fields).some(([k, v]) => JSON.stringify(r[k]) !== JSON.stringify(v));
    const merged: RegistryRecord = { ...r, ...(change.fields ?? {}) };
    if (events === undefined || events.length === 0) {
      const blocked = events === undefined && change.target !== undefined ? { blocked: { from, to: change.target } } : {};
      return { record: fieldsChanged ? merged : r, written: fieldsChanged, events: [], from, ...blocked };
    }
    const history = [...(Array.isArray(r.history) ? r.history : [])];
    let state = from;
    events.forEach((event, i) => {
      const to = nextState(state, event, id);
      history.push(writer.entry(event, state, to, i === events.length - 1 ? change.reason : undefined));
      state = to;
    });
    const reason = change.reason !== undefined && state === "failed" ? { reason: change.reason } : {};
    return { record: { ...merged, status: state, history, ...reason }, written: true, events, from };
  }

  /** {@inheritDoc Store.logMetrics} Merged into the record's metrics under the registry lock, so concurrent reports all survive. */
  override async logMetrics(id: string, values: Readonly<Record<string, number>>): Promise<Experiment> {
    return experimentFromRecord(await this.logMetricsRaw(id, values), id);
  }

  /** {@link logMetrics}, returning the raw record written. */
  async logMetricsRaw(id: string, values: Readonly<Record<string, number>>): Promise<RegistryRecord> {
    return this.writable().update(id, (r) => ({ ...r, metrics: { ...(plainObject(r.metrics) ?? {}), ...values } }));
  }

  /** {@inheritDoc Store.link} Sets the record's `clearml_task_id` (the earlier tool's field). */
  override async link(id: string, link: RemoteLink): Promise<Experiment> {
    const record = await this.writable().update(id, (r) => ({ ...r, clearml_task_id: link.taskId, clearml_server: link.server }));
    return experimentFromRecord(record, id);
  }

  /** The registry's health: counts, and every damaged line (`registry check`). */
  check(): RegistryHealth {
    return checkRegistry(this.location);
  }

  /**
   * Checks, before anything is asked or changed, that the registry exists and can be rewritten.
   *
   * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`; {BackendError} for a read-only registry.
   */
  assertCompactable(): void {
    assertRegistryFile(this.location);
    assertCompactable(this.location);
  }

  /**
   * Rewrites the registry with the latest snapshot of each experiment (protected:
   * `registry.compact`, guarded when the store is opened through `security/guarded.ts`).
   */
  async compact(): Promise<CompactResult> {
    // compactRegistry checks the file itself, before and under the lock.
    return compactRegistry(this.location, this.writable());
  }

  private writable(): RegistryWriter {
    if (this.writer === undefined) {
      throw new UsageError("E_STORE_UNSUPPORTED", `the local store ${this.location} was opened read-only (capability 'write')`, { hint: "open it with a writer context to change it" });
    }
    return this.writer;
  }
}

import { NotFoundError, UsageError } from "../core/errors.js";
import type { MetricHistory } from "../core/metrics/history.js";
import type { Experiment, ExperimentFilter } from "../core/experiment.js";
import type { ExperimentList } from "../core/ranking/compare-scores.js";
import { assertValidId } from "../core/ids.js";
import type { ArchiveEvent, RunEvent } from "../core/lifecycle/lifecycle.js";

/**
 * What a store can do besides reading. Asking a store for what it lacks is exit 2
 * (`E_STORE_UNSUPPORTED`) naming the store; {@link Store.capabilities} says it beforehand.
 * - `write`: create, transition, archive/restore/delete (the local registry; ClearML with dispatch).
 * - `metrics`: log metric values to an experiment.
 * - `link`: record that an experiment is (also) a remote task.
 */
export type StoreCapability = "write" | "metrics" | "link";

/** A new experiment for {@link Store.create}: what the caller decides; the store adds id-independent bookkeeping. */
export interface NewExperiment {
  /** The id (the id rule of `core/ids.ts`); a generated one skips the duplicate scan. */
  readonly id: string;
  readonly generatedId?: boolean;
  /** The record's fields as the store keeps them (for the local registry: a registry record without `rev`/`updated_at`/`history`). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** Why it was made, recorded with its `create` history entry (a retry: of which run, and why that one ended). */
  readonly reason?: string;
}

/** Extra effects of a {@link Store.transition}. */
export interface TransitionOptions {
  /** Fields set with the new state, computed from the record as it is under the store's lock. */
  readonly fields?: (current: Readonly<Record<string, unknown>>) => Readonly<Record<string, unknown>>;
  /** Why (a failure's reason), recorded in the history entry. */
  readonly reason?: string;
}

/** A remote task an experiment is linked to. */
export interface RemoteLink {
  readonly kind: "clearml";
  /** The API server; absent in records of the earlier tool, which kept none (then: the configured server). */
  readonly server?: string;
  readonly taskId: string;
}

/**
 * The remote side of linked experiments, for a store whose records may be linked to remote
 * tasks (the local registry with ClearML): archive, restore and delete reach the task before the
 * record changes, so a refusal there leaves the record as it was.
 */
export interface LinkedTasks {
  /**
   * Archives, restores or deletes the task behind `link`.
   *
   * @returns `false` when the task no longer exists there (the record may change all the same).
   */
  archive(link: RemoteLink, event: ArchiveEvent): Promise<boolean>;
}

/**
 * Where experiments live. Every backend (the local JSONL registry, a ClearML server) implements
 * this one interface, in the spirit of MLflow's AbstractStore, and the application layer calls it
 * without knowing which backend it holds.
 *
 * Contract, for every implementation:
 * - `pages` yields every matching experiment once, in its latest state, filtered by every
 *   criterion given (`project` exact, all `tags`, any of `statuses`); the order is unspecified
 *   (ranking orders). `list` is all pages at once.
 * - `get` returns the experiment with exactly that id, or `undefined`; `require` the same or
 *   `NotFoundError` `E_EXPERIMENT_NOT_FOUND`; `resolve` the full id of an id or unique prefix.
 * - Reading never modifies the store.
 * - Writes apply the lifecycle state machine in one place (`transition`), record a history
 *   entry with the store's clock and who acts, and never lose a concurrent change.
 * - A store without a capability throws `UsageError` `E_STORE_UNSUPPORTED` (exit 2) naming itself.
 * - Problems the caller can act on but that do not stop the read (a damaged line skipped) are
 *   passed to the `onWarning` callback given to the store, never printed by it.
 * - Failures throw the error hierarchy of `core/errors.ts`: `NotFoundError` when the store
 *   itself does not exist, `BackendError` when a backend cannot be reached or fails.
 * - Destructive writes (archive, delete) are guarded when the store is opened through
 *   `security/guarded.ts`, which every command does.
 */
export interface Store {
  /** Which backend: `local` or `clearml`. */
  readonly kind: string;
  /** Where the store is, for messages: a file path or a server URL. */
  readonly location: string;
  /** What the store can do besides reading. */
  readonly capabilities: ReadonlySet<StoreCapability>;
  /**
   * Statuses this backend knows besides the lifecycle states (ClearML's `published`,
   * `in_progress`, ...), accepted by `--status` even when no selected experiment has them.
   */
  readonly statuses?: readonly string[];
  /**
   * Throws `UsageError` `E_UNKNOWN_STATUS` (exit 2) for a status no experiment of this store can
   * have, before anything is read, so a typo costs no listing. Left out by a store whose records
   * may carry any status (the local registry: records of the earlier tool), where a status is
   * known only once some experiment is seen with it.
   */
  assertStatuses?(statuses: readonly string[]): void;
  /** The experiments matching `filter`, a page at a time. */
  pages(filter?: ExperimentFilter): AsyncIterable<readonly Experiment[]>;
  /** The experiments matching `filter` (all of them when omitted). */
  list(filter?: ExperimentFilter): Promise<Experiment[]>;
  /**
   * The step history of each of these experiments that recorded one, by id then metric: what the
   * HTML report plots. Left out by a store that keeps none it can read cheaply.
   */
  histories?(ids: readonly string[]): Promise<ReadonlyMap<string, Readonly<Record<string, MetricHistory>>>>;
  /**
   * A listing for a ranking (see {@link RankingListing}) that keeps only what the ranking reads
   * of each experiment, for a ranking that shows few of them, or every field packed, for one that
   * shows many: far less memory and time on a large store than whole objects. Left out by a
   * store whose listing costs the same either way.
   *
   * @param metrics the metric names the ranking reads (`rankingMetricNames` in core/ranking), or
   *   `"all"`: every field of each experiment is kept, and `whole` reads nothing again.
   */
  rankingListing?(filter: ExperimentFilter, metrics: ReadonlySet<string> | "all"): RankingListing;
  /** The experiment with this id, or `undefined`. */
  get(id: string): Promise<Experiment | undefined>;
  /** The experiment with this id; `NotFoundError` `E_EXPERIMENT_NOT_FOUND` (exit 2) when there is none. */
  require(id: string): Promise<Experiment>;
  /** The full id of an id or unique prefix (`E_AMBIGUOUS_ID`, `E_EXPERIMENT_NOT_FOUND`, `E_BAD_ID`: exit 2). */
  resolve(prefix: string): Promise<string>;
  /** Creates an experiment (`write`). */
  create(spec: NewExperiment): Promise<Experiment>;
  /** Applies a lifecycle event (`write`): `E_ILLEGAL_TRANSITION` (exit 2) from a state that does not allow it. */
  transition(id: string, event: RunEvent, options?: TransitionOptions): Promise<Experiment>;
  /** Archives, restores or deletes (a tombstone; permanent) an experiment (`write`). */
  archive(id: string, event: ArchiveEvent): Promise<Experiment>;
  /** Merges validated metric values into an experiment (`metrics`). */
  logMetrics(id: string, values: Readonly<Record<string, number>>): Promise<Experiment>;
  /** Records that the experiment is also the remote task `link` (`link`). */
  link(id: string, link: RemoteLink): Promise<Experiment>;
}

/** What {@link Store.rankingListing} gives: lean experiments, and the way back to whole ones. */
export interface RankingListing {
  /**
   * The experiments `list(filter)` gives, in its order, each with its id, status, creation time
   * and archived flag, `metrics` holding only the names asked for, and `name`, `project`, `tags`
   * and `params` empty: for ranking only, never shown. With `"all"` metrics asked for, each is
   * whole, as `list` gives it. Each is made when asked for (`at`), so the listing need not hold
   * them all as objects.
   */
  readonly experiments: ExperimentList;
  /**
   * The whole experiments (as `list` gives them) of some of `experiments`, in that order (with
   * `"all"` metrics asked for: those very experiments); `null` when the store changed so that
   * they can no longer be read as they were listed (a file rewritten in place): list again.
   */
  whole(some: readonly Experiment[]): Experiment[] | null;
  /** Releases what the listing holds (an open file). Calling it again does nothing. */
  close(): void;
}

/** Receives non-fatal problems met while reading a store. */
export type WarningSink = (message: string) => void;

/**
 * Shared defaults of a {@link Store}: `pages` from `list`, `require` from `get`, `resolve` from
 * the ids listed, and every write refused with `E_STORE_UNSUPPORTED` (a rejected promise, like
 * every failure of a store) until a backend implements it.
 */
export abstract class BaseStore implements Store {
  abstract readonly kind: string;
  abstract readonly location: string;
  readonly capabilities: ReadonlySet<StoreCapability> = new Set();

  /** Default: one page, the whole listing. */
  async *pages(filter: ExperimentFilter = {}): AsyncIterable<readonly Experiment[]> {
    yield await this.list(filter);
  }

  abstract list(filter?: ExperimentFilter): Promise<Experiment[]>;

  async get(id: string): Promise<Experiment | undefined> {
    return (await this.list({ includeArchived: true })).find((e) => e.id === id);
  }

  async require(id: string): Promise<Experiment> {
    const found = await this.get(id);
    if (found === undefined) {
      throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${id}' in ${this.location}`, { hint: "`expflow run list` shows the ids" });
    }
    return found;
  }

  async resolve(prefix: string): Promise<string> {
    assertValidId(prefix);
    if ((await this.get(prefix)) !== undefined) return prefix;
    const ids = (await this.list({ includeArchived: true })).map((e) => e.id);
    return resolvePrefix(ids, prefix, this.location);
  }

  async create(_spec: NewExperiment): Promise<Experiment> {
    return this.unsupported("write", "creating experiments");
  }

  async transition(_id: string, _event: RunEvent, _options?: TransitionOptions): Promise<Experiment> {
    return this.unsupported("write", "changing an experiment's state");
  }

  async archive(_id: string, event: ArchiveEvent): Promise<Experiment> {
    return this.unsupported("write", `${event === "delete" ? "deleting" : event === "restore" ? "restoring" : "archiving"} experiments`);
  }

  async logMetrics(_id: string, _values: Readonly<Record<string, number>>): Promise<Experiment> {
    return this.unsupported("metrics", "logging metrics");
  }

  async link(_id: string, _link: RemoteLink): Promise<Experiment> {
    return this.unsupported("link", "linking experiments to remote tasks");
  }

  /** Throws `E_STORE_UNSUPPORTED` (exit 2) naming this store and what it cannot do. */
  protected unsupported(capability: StoreCapability, what: string): never {
    throw new UsageError("E_STORE_UNSUPPORTED", `the ${this.kind} store ${this.location} does not support ${what} (capability '${capability}')`, {
      hint: `this store can: ${["read", ...this.capabilities].join(", ")}`,
    });
  }
}

/**
 * The full id for a unique prefix among `ids` (an exact id always wins).
 *
 * @throws {NotFoundError} `E_EXPERIMENT_NOT_FOUND` when nothing matches (with a hint).
 * @throws {UsageError} `E_AMBIGUOUS_ID` listing the candidates when several match; `E_BAD_ID`
 *   when the prefix breaks the id rule (`src/core/ids.ts`): an empty prefix is never "any run".
 */
export function resolvePrefix(ids: Iterable<string>, prefix: string, where: string): string {
  assertValidId(prefix);
  const all = [...ids];
  if (all.includes(prefix)) return prefix;
  const matches = all.filter((id) => id.startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new NotFoundError("E_EXPERIMENT_NOT_FOUND", `no experiment '${prefix}' in ${where}`, { hint: "`expflow run list` shows the ids" });
  }
  const shown = matches.slice(0, 10).join(", ");
  throw new UsageError("E_AMBIGUOUS_ID", `'${prefix}' matches ${matches.length} experiments: ${shown}${matches.length > 10 ? ", ..." : ""}`, {
    hint: "type more of the id",
  });
}

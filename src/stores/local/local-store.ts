import type { Experiment, ExperimentFilter } from "../../core/experiment.js";
import { matchesFilter } from "../../core/experiment.js";
import { ValidationError } from "../../core/errors.js";
import type { Store, WarningSink } from "../store.js";
import type { DamagedLine } from "./jsonl.js";
import { experimentFromRecord } from "./record.js";
import { assertRegistryFile, scanRegistry, warnDamaged } from "./registry-file.js";

export { MAX_LINE_WARNINGS } from "./registry-file.js";

/** Options of {@link LocalStore}. */
export interface LocalStoreOptions {
  /** The registry file (`$EXPFLOW_HOME/experiments.jsonl` by default in the CLI). */
  path: string;
  /** Receives one message per damaged line (up to {@link MAX_LINE_WARNINGS}, then a summary). */
  onWarning?: WarningSink;
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
export class LocalStore implements Store {
  readonly location: string;
  private readonly onWarning: WarningSink;

  constructor(options: LocalStoreOptions) {
    this.location = options.path;
    this.onWarning = options.onWarning ?? (() => {});
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

    const latest = new Map<string, Experiment>();
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
  async list(filter: ExperimentFilter = {}): Promise<Experiment[]> {
    const all = this.snapshot().experiments;
    return all.filter((e) => matchesFilter(e, filter));
  }

  /** {@inheritDoc Store.get} */
  async get(id: string): Promise<Experiment | undefined> {
    return this.snapshot().experiments.find((e) => e.id === id);
  }
}

import { UsageError } from "../errors.js";
import type { Experiment } from "../experiment.js";
import { LIFECYCLE_STATES, matchesStatus } from "../experiment.js";

/**
 * The statuses a ranking keeps when none are asked for. Only a run that finished can earn a
 * rank: a cancelled or failed run's metrics describe a partial training, and a running one's
 * are not final.
 */
export const DEFAULT_RANKED_STATUSES: readonly string[] = Object.freeze(["completed"]);

/** Which experiments a ranking kept for their status, and how many it left out. */
export interface StatusSelection {
  /** The statuses kept (lifecycle states or a backend's own); `"all"` when none was applied. */
  readonly statuses: readonly string[] | "all";
  /** `true` when `statuses` is {@link DEFAULT_RANKED_STATUSES} because none was asked for. */
  readonly isDefault: boolean;
  /** How many experiments were left out for their status. */
  readonly excluded: number;
  /**
   * The experiments left out, counted by `status` (the lifecycle state): lifecycle states in
   * lifecycle order, then any other status by name. Empty when none was left out.
   */
  readonly excludedByStatus: Readonly<Record<string, number>>;
}

/**
 * Splits rows `0 .. count - 1` (each read by `row`) by status: those whose status or backend
 * status is one of `statuses` are kept, by number, in their order; the others are only counted.
 * Pure.
 *
 * @param statuses the statuses to keep; `undefined` means {@link DEFAULT_RANKED_STATUSES};
 *   `"all"` keeps every row.
 * @throws {UsageError} `E_USAGE` for an empty list (say `"all"` to keep everything).
 */
export function selectRowsByStatus(
  count: number,
  row: (i: number) => Pick<Experiment, "status" | "backendStatus">,
  statuses?: readonly string[] | "all",
): { kept: Int32Array; selection: StatusSelection } {
  if (statuses === "all") return { kept: Int32Array.from({ length: count }, (_, i) => i), selection: { statuses: "all", isDefault: false, excluded: 0, excludedByStatus: {} } };
  if (statuses !== undefined && statuses.length === 0) {
    throw new UsageError("E_USAGE", "statuses must name at least one status; pass \"all\" to rank every status", { field: "statuses" });
  }
  const wanted = statuses ?? DEFAULT_RANKED_STATUSES;
  const all = new Int32Array(count);
  let n = 0;
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const e = row(i);
    if (matchesStatus(e, wanted)) all[n++] = i;
    else counts.set(e.status, (counts.get(e.status) ?? 0) + 1);
  }
  const lifecycle = LIFECYCLE_STATES as readonly string[];
  const order = [...lifecycle.filter((s) => counts.has(s)), ...[...counts.keys()].filter((s) => !lifecycle.includes(s)).sort()];
  // fromEntries defines own properties: a status named `__proto__` stays a count, not a prototype.
  const excludedByStatus: Record<string, number> = Object.fromEntries(order.map((s) => [s, counts.get(s)!]));
  return {
    kept: all.subarray(0, n),
    selection: {
      statuses: Object.freeze([...new Set(wanted)]),
      isDefault: statuses === undefined,
      excluded: count - n,
      excludedByStatus,
    },
  };
}

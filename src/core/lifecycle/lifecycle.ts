import { ConflictError } from "../errors.js";

/** The states of a run. `completed`, `failed` and `cancelled` are terminal. */
export type RunState = "created" | "dispatched" | "queued" | "running" | "completed" | "failed" | "cancelled";

/** Events that move a run between states. */
export type RunEvent = "dispatch" | "queue" | "start" | "complete" | "fail" | "cancel";

/** Events on the orthogonal `archived` flag and permanent deletion. */
export type ArchiveEvent = "archive" | "restore" | "delete";

/** Every state, in lifecycle order. */
export const RUN_STATES: readonly RunState[] = Object.freeze(["created", "dispatched", "queued", "running", "completed", "failed", "cancelled"]);

/** The terminal states. */
export const TERMINAL_STATES: readonly RunState[] = Object.freeze(["completed", "failed", "cancelled"]);

/** The transition table: event -> (from states) -> to state. */
export const TRANSITIONS: Readonly<Record<RunEvent, { readonly from: readonly RunState[]; readonly to: RunState }>> = Object.freeze({
  dispatch: { from: ["created"], to: "dispatched" },
  queue: { from: ["dispatched"], to: "queued" },
  start: { from: ["queued"], to: "running" },
  complete: { from: ["running"], to: "completed" },
  fail: { from: ["queued", "running"], to: "failed" },
  cancel: { from: ["created", "dispatched", "queued", "running"], to: "cancelled" },
});

/** Whether `state` is one of the lifecycle states. */
export function isRunState(state: string): state is RunState {
  return (RUN_STATES as readonly string[]).includes(state);
}

/** Whether `state` is terminal. */
export function isTerminal(state: string): boolean {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

/** The events allowed from `state`, in table order. */
export function allowedEvents(state: string): RunEvent[] {
  return (Object.keys(TRANSITIONS) as RunEvent[]).filter((e) => (TRANSITIONS[e].from as readonly string[]).includes(state));
}

/** One entry of a record's `history`. */
export interface HistoryEntry {
  readonly event: RunEvent | ArchiveEvent | "create";
  readonly from: string | null;
  readonly to: string;
  readonly time: string;
  readonly who: string;
  /** Why, when there is more to say (a failure's reason). */
  readonly reason?: string;
}

/**
 * The state `event` leads to from `state`.
 *
 * @throws {ConflictError} `E_ILLEGAL_TRANSITION` naming the current state and the events allowed
 *   from it (exit 2).
 */
export function nextState(state: string, event: RunEvent, id = "the run"): RunState {
  const t = TRANSITIONS[event];
  if (!(t.from as readonly string[]).includes(state)) {
    const allowed = allowedEvents(state);
    throw new ConflictError(
      "E_ILLEGAL_TRANSITION",
      `cannot ${event} ${id}: it is ${state}; ${
        allowed.length > 0
          ? `allowed from ${state}: ${allowed.join(", ")}`
          : isTerminal(state)
            ? `${state} is terminal (archive is the only next step)`
            : `'${state}' is not a lifecycle state (one of ${RUN_STATES.join(", ")})`
      }`,
    );
  }
  return t.to;
}

/**
 * Checks an archive event against the record's state and flag.
 *
 * - `archive`: terminal runs that are not archived;
 * - `restore`: archived runs;
 * - `delete` (permanent): archived runs only.
 *
 * @throws {ConflictError} `E_ILLEGAL_TRANSITION` saying what is needed first.
 */
export function checkArchiveEvent(state: string, archived: boolean, event: ArchiveEvent, id = "the run"): void {
  if (event === "archive") {
    if (archived) throw new ConflictError("E_ILLEGAL_TRANSITION", `cannot archive ${id}: it is already archived`);
    if (!isTerminal(state)) {
      throw new ConflictError("E_ILLEGAL_TRANSITION", `cannot archive ${id}: it is ${state}; only completed, failed or cancelled runs can be archived (cancel it first)`);
    }
    return;
  }
  if (!archived) {
    throw new ConflictError(
      "E_ILLEGAL_TRANSITION",
      event === "restore" ? `cannot restore ${id}: it is not archived` : `cannot delete ${id}: only archived runs can be deleted (archive it first)`,
    );
  }
}

/**
 * The shortest sequence of events that leads from `from` to `to` (`[]` when they are the same
 * state), or `undefined` when the state machine allows no way there (from a terminal state, or
 * from or to a state that is not a lifecycle state). Used to follow a run that moved elsewhere
 * (a ClearML task seen completed while the record says queued: `start`, `complete`), so every
 * step is recorded as the state machine allows it, never a jump.
 */
export function pathTo(from: string, to: string): RunEvent[] | undefined {
  if (from === to) return isRunState(from) ? [] : undefined;
  if (!isRunState(from) || !isRunState(to)) return undefined;
  // Breadth first over the table: the states are few, the first path found is a shortest one.
  const seen = new Set<string>([from]);
  let frontier: { state: RunState; path: RunEvent[] }[] = [{ state: from, path: [] }];
  while (frontier.length > 0) {
    const next: { state: RunState; path: RunEvent[] }[] = [];
    for (const { state, path } of frontier) {
      for (const event of allowedEvents(state)) {
        const target = TRANSITIONS[event].to;
        if (seen.has(target)) continue;
        const p = [...path, event];
        if (target === to) return p;
        seen.add(target);
        next.push({ state: target, path: p });
      }
    }
    frontier = next;
  }
  return undefined;
}

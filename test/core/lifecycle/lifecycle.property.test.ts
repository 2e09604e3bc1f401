import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConflictError } from "../../../src/core/errors.js";
import type { RunEvent, RunState } from "../../../src/core/lifecycle/lifecycle.js";
import { allowedEvents, isTerminal, nextState, RUN_STATES, TRANSITIONS } from "../../../src/core/lifecycle/lifecycle.js";

const EVENTS = Object.keys(TRANSITIONS) as RunEvent[];
const eventArb = fc.constantFrom(...EVENTS);
const stateArb = fc.constantFrom(...RUN_STATES);

/** Applies the events from `start`, skipping illegal ones (which must throw a ConflictError). */
function walk(start: RunState, events: readonly RunEvent[]): { states: RunState[]; applied: RunEvent[] } {
  let state = start;
  const states: RunState[] = [start];
  const applied: RunEvent[] = [];
  for (const event of events) {
    const legal = allowedEvents(state).includes(event);
    let next: RunState | undefined;
    try {
      next = nextState(state, event);
    } catch (e) {
      if (legal) throw e;
      expect(e).toBeInstanceOf(ConflictError);
      expect((e as ConflictError).code).toBe("E_ILLEGAL_TRANSITION");
      continue;
    }
    if (!legal) throw new Error(`${event} from ${state} was accepted though not allowed`);
    state = next;
    states.push(state);
    applied.push(event);
  }
  return { states, applied };
}

describe("random event sequences", () => {
  it("never leave RUN_STATES; illegal events throw and change nothing", () => {
    fc.assert(
      fc.property(stateArb, fc.array(eventArb, { maxLength: 40 }), (start, events) => {
        const { states } = walk(start, events);
        for (const s of states) expect(RUN_STATES).toContain(s);
      }),
      { numRuns: 2000 },
    );
  });

  it("once terminal, stays terminal (and nothing more is applied)", () => {
    fc.assert(
      fc.property(stateArb, fc.array(eventArb, { maxLength: 40 }), (start, events) => {
        const { states } = walk(start, events);
        const firstTerminal = states.findIndex((s) => isTerminal(s));
        if (firstTerminal >= 0) expect(states.length - 1).toBe(firstTerminal);
      }),
      { numRuns: 2000 },
    );
  });

  it("from created, at most four events apply and the states go forward in lifecycle order", () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 60 }), (events) => {
        const { states, applied } = walk("created", events);
        expect(applied.length).toBeLessThanOrEqual(4);
        const order = states.map((s) => RUN_STATES.indexOf(s));
        for (let i = 1; i < order.length; i++) expect(order[i]!).toBeGreaterThan(order[i - 1]!);
      }),
      { numRuns: 2000 },
    );
  });

  it("nextState is total over (state, event): a state or a ConflictError, nothing else", () => {
    fc.assert(
      fc.property(fc.oneof(stateArb, fc.string()), eventArb, (state, event) => {
        try {
          const to = nextState(state, event);
          expect(RUN_STATES).toContain(to);
          expect(allowedEvents(state)).toContain(event);
        } catch (e) {
          expect(e).toBeInstanceOf(ConflictError);
          expect(allowedEvents(state)).not.toContain(event);
        }
      }),
    );
  });
});

import { z } from "zod";

/**
 * Building blocks shared by the contracts. Arrays are `readonly` in the inferred types, so the
 * readonly arrays of the core (an experiment's tags, a rule's allowed values) fit without a copy.
 */

/** A time expflow wrote itself: `Date#toISOString()`, UTC with a `Z` (`2026-10-01T09:12:44.120Z`). */
export const isoTime = z.iso.datetime();

/** A count: 0, 1, 2, ... */
export const count = z.number().int().nonnegative();

/** A 1-based position (a line number, a sequence number, a rank). */
export const position = z.number().int().positive();

/** A readonly array of `item`. */
export function list<T extends z.ZodType>(item: T) {
  return z.array(item).readonly();
}

/** Text, or `null` when there is none. */
export const textOrNull = z.string().nullable();

/**
 * Metric values as recorded, by name. A value is usually a number; a registry record may hold
 * anything the earlier tool wrote (non-finite numbers become `null` in JSON).
 */
export const metricValues = z.record(z.string(), z.unknown());

/** Parameters of the normalised experiment, `Section/name` to text (`{"Args/--sub_step": "2"}`). */
export const paramValues = z.record(z.string(), z.string());

/** The gate operators (`core/gates/gate.ts`). */
export const gateOp = z.enum(["lt", "le", "gt", "ge", "eq", "ne"]);

/** The lifecycle states of a run (`core/lifecycle/lifecycle.ts`), in lifecycle order. */
export const runState = z.enum(["created", "dispatched", "queued", "running", "completed", "failed", "cancelled"]);

/** An SHA-256 digest in lower-case hex. */
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

import { z } from "zod";
import { count, gateOp, list, textOrNull } from "./primitives.js";
import { RankingSchema } from "./ranking.js";

/** A metric as the report's plots and table show it: its direction and threshold, when registered. */
export const ReportMetricSchema = z.strictObject({
  name: z.string().min(1),
  /** Which way is better; `null` for a custom metric that is not registered. */
  direction: z.enum(["lower", "higher"]).nullable(),
  /** The registered threshold, or `null`. */
  threshold: z.number().nullable(),
  unit: textOrNull,
  /** The registered description, or `null`. */
  description: textOrNull,
});
export type ReportMetricJson = z.infer<typeof ReportMetricSchema>;

/** One `[step, value]` point of a metric's history. */
const stepPoint = z.tuple([z.number(), z.number()]).readonly();

/** How many of the rows shown failed a gate, and how many of those only for a missing value. */
export const ReportGateCountSchema = z.strictObject({
  metric: z.string().min(1),
  op: gateOp,
  value: z.number(),
  /** Rows shown that fail this gate (a missing value included). */
  failed: count,
  /** Of those, the rows that miss the metric. */
  missing: count,
});
export type ReportGateCountJson = z.infer<typeof ReportGateCountSchema>;

/** The report's summary: what passed, what failed, what was left out and why. */
export const ReportSummarySchema = z.strictObject({
  /** Experiments the store listed for the selection, every status. */
  listed: count,
  /** Experiments ranked: those listed, less those left out for their status. */
  ranked: count,
  /** Ranked experiments that pass every gate. */
  passed: count,
  /** Ranked experiments that fail a gate. */
  failed: count,
  /** Rows in the report (after only-passing and max). */
  shown: count,
  /** Rows shown whose run did not complete (when other statuses were asked for). */
  unfinished: count,
  /** Each gate, with how many rows shown fail it. */
  gates: list(ReportGateCountSchema),
  /**
   * What was left out and why, one sentence each (statuses not ranked, failing rows left out,
   * rows cut by a maximum, gates that the scatter plot cannot draw).
   */
  notes: list(z.string()),
});
export type ReportSummaryJson = z.infer<typeof ReportSummarySchema>;

/**
 * The data of an HTML report (`expflow report`), embedded in the page: the ranking in the shape of
 * `compare-scores --json`, the metrics the plots show, and the step history of the top runs.
 */
export const ReportDataSchema = z
  .strictObject({
    /** `expflow-report/1`: the page reads only this version. */
    format: z.literal("expflow-report/1"),
    title: z.string().min(1),
    /** When the report was made (ISO 8601, UTC). */
    generated_at: z.iso.datetime(),
    expflow_version: z.string().min(1),
    /** The command that made the report, to make it again (`null` for a library caller). */
    command: textOrNull,
    source: z.strictObject({
      kind: z.enum(["local", "clearml"]),
      /** The registry file, or the ClearML API server. */
      location: z.string().min(1),
      /** The project selected, or `null`. */
      project: textOrNull,
    }),
    /** Exactly what `compare-scores --json` prints for the same options. */
    ranking: RankingSchema,
    /** Every metric a plot or a column of the report shows. */
    metrics: list(ReportMetricSchema),
    /** The axes of the parallel-coordinates plot, in order. */
    axes: list(z.string().min(1)),
    /** The metrics of the scatter plot. */
    scatter: z.strictObject({ x: z.string().min(1), y: z.string().min(1) }),
    history: z.strictObject({
      /** The top rows whose history was read (the others have none in the report). */
      runs: count,
      /** `[step, value]` points by run id, then by metric; runs without history are absent. */
      series: z.record(z.string(), z.record(z.string(), list(stepPoint))),
      /** Why there is no history at all, when there is none to read (`null` otherwise). */
      note: textOrNull,
    }),
    summary: ReportSummarySchema,
  })
  .refine((r) => r.axes.every((a) => r.metrics.some((m) => m.name === a)), { message: "every axis is a metric of the report" })
  .refine((r) => [r.scatter.x, r.scatter.y].every((a) => r.metrics.some((m) => m.name === a)), { message: "the scatter's metrics are metrics of the report" })
  .refine((r) => Object.keys(r.history.series).every((id) => r.ranking.results.some((x) => x.id === id)), { message: "history only for runs in the ranking" })
  .refine((r) => r.summary.shown === r.ranking.results.length, { message: "shown counts the rows of the ranking" });
export type ReportDataJson = z.infer<typeof ReportDataSchema>;

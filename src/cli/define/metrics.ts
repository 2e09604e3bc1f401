/** The definitions of `expflow metrics ...`; the implementations are `commands/metrics.ts` and `commands/metrics-report.ts`. */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { formatOptions, jsonOption, registryOption, verboseOption } from "./options.js";

function declareMetrics(program: Command) {
  return program.command("metrics").description("the metrics registry: standard metrics and your own");
}

type Metrics = ReturnType<typeof declareMetrics>;

function declareList(metrics: Metrics) {
  return formatOptions(metrics.command("list").description("list registered metrics").option("--group <group>", "only this group (Score, Loss, PDE, Time, Model, Training, ...)"));
}

function declareShow(metrics: Metrics) {
  return jsonOption(metrics.command("show").description("show one metric's definition").argument("<name>", "metric name or alias"));
}

function declareReport(metrics: Metrics) {
  const cmd = verboseOption(metrics.command("report"))
    .description("report metric values to an experiment (or, with --task-id, to a ClearML task), validated through the metrics registry")
    .argument("[id]", "experiment id or unique prefix (not with --task-id)")
    .argument("[name=value...]", "metric values, e.g. pde_mean=16.2 train_time_min=41")
    .option("--task-id <id>", "report to this ClearML task instead, as scalars (metric = the registry group, variant = the name, iteration 0)");
  return jsonOption(registryOption(cmd), "print the updated record (or what was sent) as JSON").addHelpText(
    "after",
    `
Examples:
  expflow metrics report exp-1a2b3c4d5e6f pde_mean=16.2 train_time_min=41
  expflow metrics report --task-id 4f2c0e... seg_total=0.81 pde_mean=16.2

A value the registry refuses (unknown name, not a finite number) is exit 2 and nothing is sent.`,
  );
}

/** The options of `expflow metrics list`. */
export type MetricsListOptions = OptionsOf<ReturnType<typeof declareList>>;
/** The options of `expflow metrics show`. */
export type MetricsShowOptions = OptionsOf<ReturnType<typeof declareShow>>;
/** The options of `expflow metrics report`. */
export type MetricsReportOptions = OptionsOf<ReturnType<typeof declareReport>>;

/** Adds `expflow metrics` (list, show, report) to `program`. */
export function defineMetrics(program: Command, ctx: CommandContext, setExit: SetExit): void {
  const metrics = declareMetrics(program);
  declareList(metrics).action(async (opts) => {
    const { metricsListCommand } = await import("../commands/metrics.js");
    setExit(await metricsListCommand(opts, ctx));
  });
  declareShow(metrics).action(async (name, opts) => {
    const { metricsShowCommand } = await import("../commands/metrics.js");
    setExit(await metricsShowCommand(name, opts, ctx));
  });
  declareReport(metrics).action(async (id, pairs, opts) => {
    const { metricsReportCommand } = await import("../commands/metrics-report.js");
    setExit(await metricsReportCommand(id, pairs, opts, ctx));
  });
}

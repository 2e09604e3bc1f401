/** The definitions of `expflow metrics ...`; the implementations are `commands/metrics.ts` and `commands/metrics-report.ts`. */
import type { Command } from "@commander-js/extra-typings";
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { parseDecimal } from "../../core/metrics/registry.js";
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

A name the registry does not know is kept as a custom metric (with a note; \`expflow metrics add
NAME --direction lower|higher\` declares it), unless metrics.strict is set in the configuration.
A value that is not a finite number (or, strict, an unknown name) is exit 2 and nothing is sent.`,
  );
}

/** A finite decimal number, as thresholds are written (`0.2`, `-1e3`). */
function decimal(value: string): number {
  const n = parseDecimal(value.trim());
  if (n === undefined) throw new InvalidArgumentError(`expected a finite decimal number, got '${value}'.`);
  return n;
}

/** A non-empty text. */
function text(value: string): string {
  if (value.trim() === "") throw new InvalidArgumentError("expected a non-empty value.");
  return value;
}

function declareAdd(metrics: Metrics) {
  const cmd = metrics
    .command("add")
    .description("declare a metric of your own in the nearest configuration file (expflow.yaml, else $EXPFLOW_HOME/config.yaml)")
    .argument("<name>", "the metric's name, as runs report it")
    .addOption(new Option("--direction <direction>", "which way is better: lower (losses, errors) or higher (scores)").choices(["lower", "higher"] as const).makeOptionMandatory())
    .option("--threshold <value>", "the value a run must beat, strictly, in the metric's direction (gated by --use-thresholds)", decimal)
    .option("--group <group>", "display group (default Custom)", text)
    .option("--unit <unit>", "unit of measure", text)
    .option("--description <text>", "one line saying what it measures");
  return jsonOption(cmd, "print the file written and the metric's definition as JSON").addHelpText(
    "after",
    `
Examples:
  expflow metrics add val_loss --direction lower
  expflow metrics add f1_macro --direction higher --threshold 0.8 --group Score --unit ratio

The rest of the file is kept as it was, comments included. A name that is already a metric or an
alias is exit 2; so is a file or definition the configuration refuses (nothing is written then).`,
  );
}

/** The options of `expflow metrics list`. */
export type MetricsListOptions = OptionsOf<ReturnType<typeof declareList>>;
/** The options of `expflow metrics show`. */
export type MetricsShowOptions = OptionsOf<ReturnType<typeof declareShow>>;
/** The options of `expflow metrics report`. */
export type MetricsReportOptions = OptionsOf<ReturnType<typeof declareReport>>;
/** The options of `expflow metrics add`. */
export type MetricsAddOptions = OptionsOf<ReturnType<typeof declareAdd>>;

/** Adds `expflow metrics` (list, show, report, add) to `program`. */
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
  declareAdd(metrics).action(async (name, opts) => {
    const { metricsAddCommand } = await import("../commands/metrics-add.js");
    setExit(await metricsAddCommand(name, opts, ctx));
  });
}

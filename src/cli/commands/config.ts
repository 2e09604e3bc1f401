import { metricRegistryOf } from "../../config/load.js";
import type { ConfigShowJson } from "../../contracts/config.js";
import type { CommandContext } from "../context.js";
import type { ConfigShowOptions } from "../define/config.js";
import { policyOf } from "../../app/pin.js";

/**
 * `expflow config show`: the effective settings and the layer each came from. It validates as
 * the other commands do, through the same functions: the metric definitions (as every command
 * that opens the registry) and the rule pack named by `audit.rules` (as the audit commands).
 *
 * @throws {ConfigError} (exit 2) naming the file and the key at fault.
 */
export async function configShowCommand(flags: ConfigShowOptions, ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  metricRegistryOf(config);
  if (config.auditRules !== undefined) {
    const { activeRulePack } = await import("./audit.js");
    await activeRulePack(ctx, undefined);
  }
  const policy = policyOf(config.home, config.forceForbiddenBy);
  const view: ConfigShowJson = {
    home: config.home,
    files: config.files,
    registry: { value: config.registry.value, source: config.registry.source },
    metrics: Object.fromEntries(Object.entries(config.metrics).map(([k, v]) => [k, { ...v, source: config.metricSources[k] ?? "config" }])),
    metrics_strict: { value: config.metricsStrict.value, source: config.metricsStrict.source },
    pin: { allow_force: { value: policy.allow_force, source: policy.source } },
    audit: { rules: config.auditRules ? { value: config.auditRules.value, source: config.auditRules.source } : { value: "pdebench (built in)", source: "default" } },
  };
  if (flags.json) {
    ctx.io.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    return 0;
  }
  const c = ctx.colors;
  const lines = [
    `${c.bold("home")}             ${view.home}`,
    `${c.bold("files")}            ${view.files.length > 0 ? view.files.join(", ") : "none (defaults only)"}`,
    `${c.bold("registry")}         ${view.registry.value}  ${c.dim(`(from ${view.registry.source})`)}`,
    `${c.bold("pin.allow_force")}  ${view.pin.allow_force.value}  ${c.dim(`(from ${view.pin.allow_force.source})`)}`,
    `${c.bold("audit.rules")}      ${view.audit.rules.value}  ${c.dim(`(from ${view.audit.rules.source})`)}`,
    `${c.bold("metrics.strict")}   ${view.metrics_strict.value}  ${c.dim(`(from ${view.metrics_strict.source}${view.metrics_strict.value ? "; unregistered metrics are refused" : "; unregistered metrics are kept as custom metrics"})`)}`,
  ];
  const overridden = Object.entries(view.metrics);
  lines.push(`${c.bold("metrics")}          ${overridden.length === 0 ? "standard only" : `${overridden.length} added or overridden`}`);
  for (const [name, m] of overridden) {
    const { source, ...fields } = m;
    lines.push(`  ${name}: ${JSON.stringify(fields)}  ${c.dim(`(from ${source})`)}`);
  }
  ctx.io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

import type { RegistryCheckJson } from "../../contracts/runs.js";
import type { CompactResult, RegistryHealth } from "../../app/runs.js";
import { openLocal } from "../backend.js";
import type { CommandContext } from "../context.js";
import type { RegistryCheckOptions, RegistryCompactOptions } from "../define/registry.js";
import { printable } from "../output/sanitize.js";
import { plural } from "../../core/number-text.js";

/** The human report of `registry check`. */
export function renderRegistryHealth(h: RegistryHealth): string {
  const rows: [string, number][] = [
    ["lines", h.lines],
    ["records", h.records],
    ["experiments", h.experiments],
    ["archived", h.archived],
    ["deleted", h.deleted],
    ["damaged", h.damaged.length],
  ];
  const out = [`Registry ${printable(h.path)}`, ...rows.map(([k, v]) => `  ${k.padEnd(12)}${String(v).padStart(8)}`)];
  for (const d of h.damaged) out.push(`  line ${d.line}: ${printable(d.reason)}`);
  out.push(
    h.healthy
      ? "Healthy: every line is readable."
      : `Damaged: ${plural(h.damaged.length, "line")} cannot be read and ${h.damaged.length === 1 ? "is" : "are"} skipped by every command; \`expflow registry compact\` moves them to ${printable(h.path)}.damaged.`,
  );
  return `${out.join("\n")}\n`;
}

/**
 * `expflow registry check [--json]`: counts lines, records, experiments, archived and deleted
 * runs, and lists every damaged line. Returns 0 when healthy, 1 when any line is damaged.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` (exit 2) naming the path.
 */
export async function registryCheckCommand(flags: RegistryCheckOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, { registry: flags.registry });
  const health = backend.store.check();
  const json: RegistryCheckJson = health;
  ctx.io.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : renderRegistryHealth(health));
  return health.healthy ? 0 : 1;
}

/**
 * `expflow registry compact`: protected (`registry.compact`). Under the registry lock, rewrites
 * the file atomically with the latest snapshot of each experiment, dropping tombstoned ones and
 * moving damaged lines to `<registry>.damaged`. Prints the counts before and after.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` (exit 2); {DeniedError} (exit 3) from the guard.
 */
export async function registryCompactCommand(flags: RegistryCompactOptions, ctx: CommandContext): Promise<number> {
  // The guarded store checks that the registry exists and can be rewritten before it asks the PIN.
  const backend = await openLocal(ctx, flags);
  ctx.io.stdout.write(compactReport(await backend.store.compact()));
  return 0;
}

/** What `registry compact` (and an approved agent's `registry.compact`) says: the counts before and after. */
export function compactReport(r: CompactResult): string {
  const out = [
    `Compacted ${r.path}: ${plural(r.linesBefore, "line")} -> ${plural(r.linesAfter, "line")} (${plural(r.experiments, "experiment")}).`,
    `  superseded snapshots dropped  ${r.superseded}`,
    `  deleted experiments dropped   ${r.tombstonesDropped}`,
    `  damaged lines moved           ${r.damagedMoved}${r.damagedMoved > 0 ? ` (to ${r.damagedPath})` : ""}`,
  ];
  return `${out.join("\n")}\n`;
}

import { hostname } from "node:os";
import type { ApprovalJson, Approvals } from "../../app/approvals.js";
import { openApprovals } from "../../app/approvals.js";
import { changeForcePolicy, changePin, removePin } from "../../app/pin.js";
import { cancelRun } from "../../app/runs.js";
import { loadConfig } from "../../config/load.js";
import type { ResolvedConfig } from "../../config/load.js";
import type { ApprovalJson as ApprovalContractJson, ApprovalListJson } from "../../contracts/approvals.js";
import { ValidationError } from "../../core/errors.js";
import type { ArchiveEvent } from "../../core/lifecycle/lifecycle.js";
import type { GuardOptions } from "../../security/guard.js";
import { describeAction } from "../../security/guard.js";
import { humanDuration } from "../../security/pin.js";
import { openLocal } from "../backend.js";
import type { CommandContext } from "../context.js";
import type { ApprovalsOptions, ApproveOptions, DenyOptions } from "../define/approvals.js";
import { currentUser, whoAmI } from "../identity.js";
import type { Column } from "../output/render.js";
import { renderTable } from "../output/render.js";
import { printable } from "../output/sanitize.js";
import { tableWidth } from "../output/table-fit.js";
import { guardContext, LineReader } from "../security.js";
import { newPinSource, pinChangedReport, pinClearedReport, policyChangedMessage } from "./pin.js";
import { compactReport } from "./registry.js";
import { archiveAndSay } from "./run.js";
import { cancelMessage } from "./run-cancel.js";

/** The requests of the configured home, their warnings (damaged lines) on standard error. */
async function approvalsOf(ctx: CommandContext): Promise<Approvals> {
  const config = await ctx.config();
  return openApprovals({ home: config.home, now: () => new Date(), warn: ctx.warn, user: currentUser(ctx.io.env), host: hostname() });
}

/** `2031-01-15 08:00:00Z`: a time, to the second. */
function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** What the request would do, in the terminal's words. */
function actionText(a: ApprovalJson): string {
  if (a.action === "pin.policy") return a.params["allow_force"] === true ? "let --force stand in for the PIN" : "forbid --force in place of the PIN again";
  return describeAction(a.action, a.target);
}

/** Who asked: what the agent said of itself (its words are data: made printable by the renderers). */
function requesterText(a: ApprovalJson): string {
  return `${a.requester.client} / ${a.requester.tool}`;
}

function columns(now: number): Column<ApprovalJson>[] {
  return [
    { header: "ID", get: (a) => a.id },
    { header: "ACTION", get: (a) => a.action },
    { header: "TARGET", get: (a) => a.target, maxWidth: 48, shrink: { min: 12, order: 2 } },
    { header: "REQUESTER", get: requesterText, maxWidth: 32, shrink: { min: 10, order: 1 }, drop: 2 },
    { header: "CREATED", get: (a) => shortTime(a.created_at), drop: 1 },
    { header: "EXPIRES IN", get: (a) => (a.state === "pending" ? humanDuration(Date.parse(a.expires_at) - now) : null), align: "right" },
    {
      header: "STATE",
      get: (a) => a.state,
      paint: (a, t, c) => (a.state === "pending" ? c.yellow(t) : a.state === "approved" ? c.green(t) : c.red(t)),
    },
    // The agent's reason: cut first to fit, and left out first.
    { header: "NOTE", get: (a) => a.requester.note, maxWidth: 60, shrink: { min: 10, order: 0 }, drop: 0 },
  ];
}

/**
 * `expflow approvals [--all] [--json] [--wide]`: the pending requests (every one with `--all`),
 * newest first, as a table fitted to the terminal. The agent's words (client, tool, note) are
 * shown printable, never as they came.
 */
export async function approvalsCommand(flags: ApprovalsOptions, ctx: CommandContext): Promise<number> {
  const approvals = await approvalsOf(ctx);
  const list = await approvals.list({ all: flags.all === true });
  if (flags.json) {
    const json: ApprovalListJson = list;
    ctx.io.stdout.write(`${JSON.stringify(json)}\n`);
    return 0;
  }
  if (list.length === 0) {
    ctx.io.stdout.write(flags.all ? "No approval requests.\n" : "No pending approval requests (`expflow approvals --all` shows decided ones).\n");
    return 0;
  }
  const now = Date.now();
  ctx.io.stdout.write(renderTable(list, columns(now), ctx.colors, { width: tableWidth(ctx.io.stdout, ctx.io.env), wide: flags.wide === true }));
  const pending = list.filter((a) => a.state === "pending").length;
  if (pending > 0) ctx.io.stdout.write(`${pending} pending: \`expflow approve ID\` shows one and performs it with the PIN; \`expflow deny ID\` refuses it.\n`);
  return 0;
}

/** The request as `approve` shows it before asking anything. */
export function describeRequest(a: ApprovalJson, now: number): string {
  const ago = (iso: string): string => {
    const ms = now - Date.parse(iso);
    return ms >= 0 ? `${humanDuration(ms)} ago` : `in ${humanDuration(-ms)}`;
  };
  const rows: [string, string][] = [
    ["action", `${actionText(a)} (${a.action})`],
    ["target", a.target],
    ...Object.entries(a.params).map(([k, v]): [string, string] => [k, String(v)]),
    ["requested", `by ${requesterText(a)}, ${ago(a.created_at)} (${a.created_at})`],
    ["note", a.requester.note ?? "-"],
  ];
  if (a.state === "pending") rows.push(["expires", `${Date.parse(a.expires_at) > now ? `in ${humanDuration(Date.parse(a.expires_at) - now)}` : "now"} (${a.expires_at})`]);
  else rows.push(["state", `${a.state}${a.decided_by === null ? "" : ` by ${a.decided_by}`} (${a.decided_at})`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  // Every value may hold the agent's words: one printable line each.
  return `Approval request ${a.id}\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${printable(v.replace(/(?:\r?\n|\t)+/g, " "))}`).join("\n")}\n`;
}

/** The registry a run or registry request is about: its `registry` param, else (compact) its target, else the approver's configured one. */
function registryOf(a: ApprovalJson): string | undefined {
  const r = a.params["registry"];
  if (typeof r === "string" && r !== "") return r;
  if (r !== undefined && r !== null) throw new ValidationError("E_APPROVAL_INVALID", `the request's registry param is not a path: ${String(r)}`, { field: "params" });
  return a.action === "registry.compact" ? a.target : undefined;
}

/**
 * The command context the request's own command would have run with: `--registry` set to the
 * request's registry (configuration is loaded once per context, so a context of its own).
 */
function contextFor(ctx: CommandContext, registry: string | undefined): CommandContext {
  if (registry === undefined) return ctx;
  let config: Promise<ResolvedConfig> | undefined;
  return { ...ctx, config: () => (config ??= loadConfig({ env: ctx.io.env, cwd: ctx.io.cwd }, { registry })) };
}

/**
 * Performs a request as its own command does (`run cancel`, `run archive|restore|delete`,
 * `registry compact`, `pin init`, `pin clear`, `pin policy`), through the same application
 * functions and so the same guard, with the approver's PIN channels. Returns what the command
 * would print: the request's outcome.
 */
async function perform(a: ApprovalJson, flags: ApproveOptions, ctx: CommandContext, lines: LineReader): Promise<string> {
  const channels: GuardOptions = { pin: flags.pin, pinStdin: flags.pinStdin, force: flags.force };
  switch (a.action) {
    case "run.cancel": {
      const backend = await openLocal(contextFor(ctx, registryOf(a)), channels);
      return cancelMessage(await cancelRun(backend, a.target), ctx);
    }
    case "run.archive":
    case "run.restore":
    case "run.delete": {
      const backend = await openLocal(contextFor(ctx, registryOf(a)), channels);
      return archiveAndSay(backend, a.action.slice(4) as ArchiveEvent, a.target);
    }
    case "registry.compact": {
      const backend = await openLocal(contextFor(ctx, registryOf(a)), channels);
      return compactReport(await backend.store.compact()).trimEnd();
    }
    case "pin.change": {
      const config = await ctx.config();
      const g = await guardContext(ctx, lines);
      // The new PIN is the approver's, from the terminal (or standard input): never from the request.
      const obtain = newPinSource(g, lines, flags.newPinStdin, "give it on standard input with --new-pin-stdin (after the current PIN, with --pin-stdin), or run on a terminal to be asked");
      const changed = await changePin(g, { guard: channels, registry: config.registry.value, obtain });
      const report = pinChangedReport(changed, config.registry.value, g.home);
      for (const w of report.warnings) ctx.warn(w);
      return report.message;
    }
    case "pin.clear": {
      const report = pinClearedReport(await removePin(await guardContext(ctx, lines), channels));
      for (const w of report.warnings) ctx.warn(w);
      return report.message;
    }
    case "pin.policy": {
      const allow = a.params["allow_force"];
      if (typeof allow !== "boolean") throw new ValidationError("E_APPROVAL_INVALID", "the request's allow_force param is neither true nor false", { field: "params" });
      await changeForcePolicy(await guardContext(ctx, lines), allow, channels);
      const config = await ctx.config();
      if (allow && config.forceForbiddenBy !== undefined) ctx.warn(`pin.allow_force: false in ${config.forceForbiddenBy} still forbids --force here`);
      return policyChangedMessage(allow);
    }
  }
}

/**
 * `expflow approve ID [--pin-stdin | --pin PIN] [--force] [--new-pin-stdin] [--json]`: shows the
 * request, then performs it as its own command would (the guard asks the PIN and logs its
 * decision), and prints the outcome. Exit 0 performed; 3 a wrong or missing PIN (the request
 * stays pending), force disallowed, or the request expired; 2 unknown or already decided; 4
 * storage or backend; the action's own failure (a finished run) makes the request failed.
 */
export async function approveCommand(id: string, flags: ApproveOptions, ctx: CommandContext): Promise<number> {
  const approvals = await approvalsOf(ctx);
  const full = await approvals.resolve(id);
  const shown = await approvals.get(full);
  if (shown !== undefined && !flags.json) ctx.io.stdout.write(describeRequest(shown, Date.now()));
  const lines = new LineReader(ctx.io.stdin);
  const done = await approvals.approve(full, whoAmI(ctx.io.env), (a) => perform(a, flags, ctx, lines));
  if (flags.json) {
    const json: ApprovalContractJson = done;
    ctx.io.stdout.write(`${JSON.stringify(json)}\n`);
  } else {
    ctx.io.stdout.write(`Approved ${done.id}: ${printable(done.outcome ?? "", { multiline: true })}\n`);
  }
  return 0;
}

/** `expflow deny ID [--reason TEXT] [--json]`: refuses a pending request; nothing is done, no PIN is asked. */
export async function denyCommand(id: string, flags: DenyOptions, ctx: CommandContext): Promise<number> {
  const approvals = await approvalsOf(ctx);
  const done = await approvals.deny(id, whoAmI(ctx.io.env), flags.reason);
  if (flags.json) {
    const json: ApprovalContractJson = done;
    ctx.io.stdout.write(`${JSON.stringify(json)}\n`);
  } else {
    ctx.io.stdout.write(`Denied ${done.id} (${printable(actionText(done))}): nothing was done; the agent sees it as denied.\n`);
  }
  return 0;
}

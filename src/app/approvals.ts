import { randomBytes } from "node:crypto";
import { lstatSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { BackendError, ConflictError, DeniedError, ExpflowError, InterruptedError, NotFoundError, UsageError, ValidationError } from "../core/errors.js";
import { didYouMean } from "../core/suggest.js";
import type { AuditActor, AuditOutcome } from "../security/audit-log.js";
import { appendAudit } from "../security/audit-log.js";
import { describeAction } from "../security/guard.js";
import { appendText } from "../util/append-file.js";
import { storageError } from "../util/fs-errors.js";
import { forEachLineBackwards, parseObjectLine } from "../util/jsonl.js";
import type { ProcessIdentity } from "../util/lock.js";
import { processAlive, thisProcess, withLock } from "../util/lock.js";

/**
 * Approval requests: a destructive action an agent (the MCP server's tools) asks for is never
 * performed by the agent; it becomes a pending request that a human approves with the PIN
 * (`expflow approve ID`, through the guard, as the command itself would) or denies. The PIN
 * never passes through the agent.
 *
 * Storage: `$EXPFLOW_HOME/approvals.jsonl`, private (0600 in the 0700 home), append-only JSON
 * lines, one per event: `request`, `claim` (an approver took it, before performing), `release`
 * (the approver was refused by the guard: pending again), `decision` (approved, denied, expired,
 * failed; the first one counts). Every write is under `approvals.lock` (util/lock.ts) through
 * util/append-file.ts; reads take no lock and read backwards from the end, so a file of many
 * requests costs what its recent part does. Damaged lines are skipped with a warning.
 */

/** What an agent may ask a human to approve. */
export type ApprovalAction = "run.cancel" | "run.archive" | "run.restore" | "run.delete" | "registry.compact" | "pin.change" | "pin.clear" | "pin.policy";

/** Every {@link ApprovalAction}, in the order of the contract. */
export const APPROVAL_ACTIONS: readonly ApprovalAction[] = Object.freeze(["run.cancel", "run.archive", "run.restore", "run.delete", "registry.compact", "pin.change", "pin.clear", "pin.policy"]);

/** How long a request waits for a human by default (ms): 15 minutes. */
export const DEFAULT_APPROVAL_TTL_MS = 15 * 60 * 1000;
/** The longest a request may wait (ms): 24 hours. */
export const MAX_APPROVAL_TTL_MS = 24 * 60 * 60 * 1000;
/** The file of the requests, in expflow's home. */
export const APPROVALS_FILE = "approvals.jsonl";

/** Who asked: what the agent said of itself. Data, shown to the human; never trusted. */
export interface ApprovalRequester {
  /** The MCP client's name and version. */
  readonly client: string;
  /** The tool that asked. */
  readonly tool: string;
  /** The agent's stated reason. */
  readonly note?: string;
}

/** A request to make. */
export interface NewApproval {
  readonly action: ApprovalAction;
  /** A run id (full, resolved), a registry path, `pin`. */
  readonly target: string;
  /** What else the action needs: `{ registry: "/abs/path.jsonl" }` for run actions, `{ allow_force: true }` for `pin.policy`. */
  readonly params?: Readonly<Record<string, string | number | boolean | null>>;
  readonly requester: ApprovalRequester;
  /** How long it waits for a human (ms); default {@link DEFAULT_APPROVAL_TTL_MS}, at most {@link MAX_APPROVAL_TTL_MS}. */
  readonly ttlMs?: number;
}

/** Where a request stands. */
export type ApprovalState = "pending" | "approved" | "denied" | "expired" | "failed";

/**
 * A request as it is read and printed: exactly `z.infer<typeof ApprovalSchema>` of
 * `src/contracts/approvals.ts` (test/contracts/contracts.test.ts checks that the two are the same
 * type), written out so that the library's types do not need zod's.
 */
export type ApprovalJson = {
  id: string;
  action: ApprovalAction;
  /** A run id (full), a registry path, or `pin`. */
  target: string;
  params: Record<string, string | number | boolean | null>;
  /** What the agent said of itself: data, never trusted. */
  requester: { client: string; tool: string; note: string | null };
  created_at: string;
  expires_at: string;
  state: ApprovalState;
  /** When it was decided (for `expired`: when it expired); `null` while pending. */
  decided_at: string | null;
  /** Who approved or denied it; `null` while pending and for `expired`. */
  decided_by: string | null;
  /** What was done, or why it failed, was denied or expired; `null` while pending. */
  outcome: string | null;
  /** `expflow approve <id>`. */
  approve_command: string;
  /** `expflow deny <id>`. */
  deny_command: string;
};

/** What {@link openApprovals} needs; injected so tests control the clock and the ids. */
export interface ApprovalsContext {
  /** expflow's home: the requests are `approvals.jsonl` in it, the audit records in its log. */
  readonly home: string;
  readonly now: () => Date;
  /** 12 lower-case hex digits for a new id (the part after `apr-`); default random bytes. */
  readonly random?: () => string;
  /** Receives warnings (damaged lines skipped, an observation that could not be recorded); default: dropped. */
  readonly warn?: (message: string) => void;
  /** Who the audit records name as the user of this process; default the account running it. */
  readonly user?: string;
  /** The host the audit records name; default this host. */
  readonly host?: string;
}

/** Options of {@link Approvals.list}. */
export interface ApprovalListOptions {
  /** Every request, decided ones too (default: pending ones only). */
  readonly all?: boolean;
  /** At most this many, newest first (default: 1000 with `all`, else every pending one). */
  readonly limit?: number;
}

/** The requests of one home. */
export interface Approvals {
  /**
   * Records a new pending request (and an audit record `approval.request`, outcome `requested`).
   *
   * @throws {ValidationError} `E_APPROVAL_INVALID` (exit 2) naming the field at fault (an unknown
   *   action, empty or overlong text, a TTL out of range).
   * @throws {BackendError} (exit 4) when it cannot be written.
   */
  request(n: NewApproval): Promise<ApprovalJson>;
  /**
   * A request by id or unique prefix (with or without `apr-`), or `undefined`. A pending request
   * past its expiry reads as `expired` (and the expiry is recorded, once).
   *
   * @throws {UsageError} `E_APPROVAL_AMBIGUOUS` for a prefix of several.
   */
  get(id: string): Promise<ApprovalJson | undefined>;
  /** Pending requests (every one with `all`), newest first. Expiries observed are recorded. */
  list(options?: ApprovalListOptions): Promise<ApprovalJson[]>;
  /**
   * The full id of a request given by id or unique prefix.
   *
   * @throws {NotFoundError} `E_APPROVAL_NOT_FOUND` (exit 2), with the nearest id when there is one.
   * @throws {UsageError} `E_APPROVAL_AMBIGUOUS` (exit 2).
   */
  resolve(idOrPrefix: string): Promise<string>;
  /**
   * Denies a pending request (no PIN needed: refusing is safe); recorded (`approval.deny`).
   *
   * @throws {NotFoundError} `E_APPROVAL_NOT_FOUND`; {UsageError} `E_APPROVAL_AMBIGUOUS`;
   *   {ConflictError} `E_APPROVAL_DECIDED` (exit 2) naming its state (or that it is being
   *   approved); {DeniedError} `E_APPROVAL_EXPIRED` (exit 3).
   */
  deny(id: string, by: string, reason?: string): Promise<ApprovalJson>;
  /**
   * Approves a pending request: claims it atomically (a second approver gets
   * `E_APPROVAL_DECIDED`), then runs `perform` (outside the lock: it asks the PIN through the
   * guard and acts), then records the outcome it returns (`approved`, audit `approval.approve`
   * `done`). When `perform` throws, the error is rethrown after recording: a refusal by the
   * guard or the approver (see {@link leavesPending}: a wrong or missing PIN, a lockout, a
   * cancelled prompt) leaves the request pending for another try; anything else makes it
   * `failed` (audit `failed`, with the reason).
   *
   * @throws what {@link Approvals.deny} throws, before anything is performed; then whatever `perform` throws.
   */
  approve(id: string, by: string, perform: (a: ApprovalJson) => Promise<string>): Promise<ApprovalJson>;
}

/**
 * Whether an error thrown while performing an approved request leaves it pending (the approver
 * may try again): a refusal by governance (a wrong or missing PIN, a lockout, force disallowed),
 * a prompt cancelled, a PIN that is not one, or a new PIN not given. Nothing was done then.
 */
export function leavesPending(e: unknown): boolean {
  if (e instanceof DeniedError || e instanceof InterruptedError) return true;
  return e instanceof ExpflowError && ["E_PIN_FORMAT", "E_STDIN_LINE", "E_PIN_NEW_REQUIRED", "E_PIN_MISMATCH"].includes(e.code);
}

// ---- the lines of the file -------------------------------------------------------------------

type Params = Record<string, string | number | boolean | null>;

interface RequestLine {
  readonly kind: "request";
  readonly id: string;
  readonly action: ApprovalAction;
  readonly target: string;
  readonly params: Params;
  readonly requester: { readonly client: string; readonly tool: string; readonly note: string | null };
  readonly created_at: string;
  readonly expires_at: string;
}

interface ClaimLine extends ProcessIdentity {
  readonly kind: "claim";
  readonly id: string;
  readonly at: string;
  readonly by: string;
}

interface ReleaseLine {
  readonly kind: "release";
  readonly id: string;
  readonly at: string;
  readonly reason: string;
}

interface DecisionLine {
  readonly kind: "decision";
  readonly id: string;
  readonly state: Exclude<ApprovalState, "pending">;
  readonly at: string;
  readonly by: string | null;
  readonly outcome: string;
}

type Line = RequestLine | ClaimLine | ReleaseLine | DecisionLine;

const ID = /^apr-[0-9a-f]{12}$/;
const LIMITS = { client: 200, tool: 100, note: 2000, target: 4096, by: 200, reason: 2000, paramKeys: 16, paramKey: 64, paramValue: 4096 } as const;

const isString = (v: unknown): v is string => typeof v === "string";
const isTime = (v: unknown): v is string => typeof v === "string" && !Number.isNaN(Date.parse(v));
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isScalar = (v: unknown): v is string | number | boolean | null => v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));

/** The line as one of ours, or why it is not. */
function lineOf(v: Record<string, unknown>): Line | { damage: string } {
  if (!isString(v["id"]) || !ID.test(v["id"])) return { damage: "no approval id" };
  switch (v["kind"]) {
    case "request": {
      const r = v["requester"];
      const p = v["params"];
      if (!APPROVAL_ACTIONS.includes(v["action"] as ApprovalAction)) return { damage: "an unknown action" };
      if (!isString(v["target"]) || v["target"] === "") return { damage: "no target" };
      if (!isRecord(p) || !Object.values(p).every(isScalar)) return { damage: "params that are not a flat object" };
      if (!isRecord(r) || !isString(r["client"]) || !isString(r["tool"]) || !(r["note"] === null || isString(r["note"]))) return { damage: "no requester" };
      if (!isTime(v["created_at"]) || !isTime(v["expires_at"])) return { damage: "no times" };
      return v as unknown as RequestLine;
    }
    case "claim":
      if (!isTime(v["at"]) || !isString(v["by"]) || !Number.isSafeInteger(v["pid"]) || !isString(v["host"]) || !(v["start"] === null || isString(v["start"]))) return { damage: "a claim without its process" };
      return v as unknown as ClaimLine;
    case "release":
      if (!isTime(v["at"]) || !isString(v["reason"])) return { damage: "a release without its time" };
      return v as unknown as ReleaseLine;
    case "decision":
      if (!["approved", "denied", "expired", "failed"].includes(v["state"] as string)) return { damage: "a decision without a state" };
      if (!isTime(v["at"]) || !(v["by"] === null || isString(v["by"])) || !isString(v["outcome"])) return { damage: "a decision without its time" };
      return v as unknown as DecisionLine;
    default:
      return { damage: "not an approval event" };
  }
}

/** What the lines of one request say, in file order. */
interface Folded {
  readonly request: RequestLine;
  /** The claim in force: the last one not followed by a release, while undecided. */
  readonly claim: ClaimLine | undefined;
  /** The first decision. */
  readonly decision: DecisionLine | undefined;
}

/** Folds the lines of one id (file order); `undefined` without its request line. */
function fold(lines: readonly Line[]): Folded | undefined {
  let request: RequestLine | undefined;
  let claim: ClaimLine | undefined;
  let decision: DecisionLine | undefined;
  for (const l of lines) {
    if (l.kind === "request") {
      request ??= l;
      continue;
    }
    if (request === undefined || decision !== undefined) continue;
    if (l.kind === "claim") claim = l;
    else if (l.kind === "release") claim = undefined;
    else decision = l;
  }
  return request === undefined ? undefined : { request, claim, decision };
}

/** What a reader has observed that a write should record: an expiry, or an approver that died. */
type Observation = { readonly state: "expired" | "failed"; readonly decision: Omit<DecisionLine, "kind" | "id" | "state"> };

/** A request as it reads now; `observed` when that differs from what the file records. */
function viewOf(f: Folded, now: Date): { json: ApprovalJson; observed: Observation | undefined } {
  const r = f.request;
  const base = {
    id: r.id,
    action: r.action,
    target: r.target,
    params: { ...r.params },
    requester: { client: r.requester.client, tool: r.requester.tool, note: r.requester.note },
    created_at: r.created_at,
    expires_at: r.expires_at,
  };
  // In the contract's order of keys.
  const decided = (state: ApprovalState, at: string | null, by: string | null, outcome: string | null): ApprovalJson => ({
    ...base,
    state,
    decided_at: at,
    decided_by: by,
    outcome,
    approve_command: `expflow approve ${r.id}`,
    deny_command: `expflow deny ${r.id}`,
  });
  if (f.decision !== undefined) return { json: decided(f.decision.state, f.decision.at, f.decision.by, f.decision.outcome), observed: undefined };
  if (f.claim !== undefined) {
    if (processAlive(f.claim)) return { json: decided("pending", null, null, null), observed: undefined };
    // The approver ended between its claim and its outcome: whether the action was done is for
    // the audit log to say, so it is never performed a second time from this request.
    const d = { at: now.toISOString(), by: f.claim.by, outcome: `the approval by ${f.claim.by} (process ${f.claim.pid} on ${f.claim.host}) ended before its outcome was recorded; the audit log shows whether the action was done` };
    return { json: decided("failed", d.at, d.by, d.outcome), observed: { state: "failed", decision: d } };
  }
  if (now.getTime() >= Date.parse(r.expires_at)) {
    const d = { at: r.expires_at, by: null, outcome: `not approved before it expired at ${r.expires_at}` };
    return { json: decided("expired", d.at, d.by, d.outcome), observed: { state: "expired", decision: d } };
  }
  return { json: decided("pending", null, null, null), observed: undefined };
}

// ---- errors ----------------------------------------------------------------------------------

function invalid(field: string, message: string, value?: string): ValidationError {
  return new ValidationError("E_APPROVAL_INVALID", `invalid approval request: ${message}`, { field, ...(value === undefined ? {} : { value }) });
}

function decidedError(a: ApprovalJson, claim: ClaimLine | undefined): ConflictError {
  if (a.state === "pending" && claim !== undefined) {
    return new ConflictError("E_APPROVAL_DECIDED", `approval request ${a.id} is being approved by ${claim.by} (process ${claim.pid} on ${claim.host}, since ${claim.at})`, {
      hint: "wait for that approval to finish; the request then shows its outcome",
    });
  }
  return new ConflictError("E_APPROVAL_DECIDED", `approval request ${a.id} is already ${a.state}${a.decided_by === null ? "" : ` by ${a.decided_by}`} (${a.decided_at}): ${a.outcome}`, {
    hint: "a decided request cannot be decided again; the agent can ask anew",
  });
}

function expiredError(a: ApprovalJson): DeniedError {
  return new DeniedError("E_APPROVAL_EXPIRED", `approval request ${a.id} (${describeAction(a.action, a.target)}) expired at ${a.expires_at}: it can no longer be approved or denied`, {
    hint: "the agent can ask again if the action is still wanted",
  });
}

function unreadable(path: string, why: string): BackendError {
  return new BackendError("E_APPROVALS_UNREADABLE", `the approvals file ${path} cannot be used: ${why}`, {
    hint: "restore it as a regular file readable and writable by you, or move it aside (its requests are then gone)",
  });
}

/** Text of the agent, clipped for an audit record's detail. */
function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function checkText(field: string, v: unknown, max: number, options: { empty?: boolean } = {}): string {
  if (typeof v !== "string") throw invalid(field, `${field} must be text`);
  if (v.length > max) throw invalid(field, `${field} is longer than ${max} characters`);
  if (!options.empty && v.trim() === "") throw invalid(field, `${field} is empty`);
  return v;
}

// ---- the store -------------------------------------------------------------------------------

/**
 * The approval requests of `ctx.home` (see {@link Approvals}). Opening reads nothing.
 */
export function openApprovals(ctx: ApprovalsContext): Approvals {
  const path = join(ctx.home, APPROVALS_FILE);
  const warn = ctx.warn ?? (() => undefined);
  let user = ctx.user;
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      user = "unknown";
    }
  }
  const actor: AuditActor = { now: ctx.now, user, host: ctx.host ?? hostname() };

  /** Whether the file exists (a regular file). @throws {BackendError} anything else in its place. */
  const exists = (): boolean => {
    try {
      const st = lstatSync(path);
      if (st.isFile()) return true;
      throw unreadable(path, st.isDirectory() ? "it is a directory" : st.isSymbolicLink() ? "it is a symbolic link" : "it is not a regular file");
    } catch (e) {
      if (e instanceof ExpflowError) throw e;
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw unreadable(path, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
  };

  /** Warnings for damaged lines: the first 20, then how many more. */
  const damageReporter = (): { damaged(offset: number, reason: string): void; done(): void } => {
    let n = 0;
    return {
      damaged(offset, reason) {
        if (++n <= 20) warn(`${path}: a damaged line at byte ${offset} skipped: ${reason}`);
      },
      done() {
        if (n > 20) warn(`${path}: ${n - 20} more damaged lines skipped (${n} in all)`);
      },
    };
  };

  /**
   * Reads the file backwards (newest line first), each readable line given to `onLine` until it
   * returns true; damaged lines are skipped with a warning.
   */
  const scanBackwards = (onLine: (l: Line) => boolean, containing?: string): void => {
    if (!exists()) return;
    const report = damageReporter();
    try {
      forEachLineBackwards(
        path,
        (text, offset) => {
          const parsed = parseObjectLine(text);
          const line = "reason" in parsed ? { damage: parsed.reason } : lineOf(parsed.value);
          if ("damage" in line) {
            report.damaged(offset, line.damage);
            return false;
          }
          return onLine(line);
        },
        containing === undefined ? {} : { containing },
      );
    } catch (e) {
      if (e instanceof ExpflowError) throw e;
      throw unreadable(path, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
    } finally {
      report.done();
    }
  };

  /** The lines of one id, in file order (read backwards, as far as its request line). */
  const linesOf = (id: string): Line[] => {
    const out: Line[] = [];
    scanBackwards((l) => {
      if (l.id !== id) return false;
      out.push(l);
      return l.kind === "request";
    }, `"id":"${id}"`);
    return out.reverse();
  };

  const append = (line: Line): void => {
    exists();
    try {
      appendText(path, `${JSON.stringify(line)}\n`, { mode: 0o600, chmod: 0o600, what: `the approvals file ${path}` });
    } catch (e) {
      throw storageError(e, path);
    }
  };

  const audit = (outcome: AuditOutcome, action: string, id: string, detail: string): Promise<unknown> => appendAudit(ctx.home, { action, target: id, outcome, detail }, actor);

  const locked = <T>(fn: () => Promise<T> | T): Promise<T> => withLock(ctx.home, "approvals", fn);

  /** Records an observation (under the lock, once): the decision line, then its audit record. */
  const recordObservation = async (id: string): Promise<ApprovalJson | undefined> =>
    locked(async () => {
      const f = fold(linesOf(id));
      if (f === undefined) return undefined;
      const v = viewOf(f, ctx.now());
      if (v.observed === undefined) return v.json;
      append({ kind: "decision", id, state: v.observed.state, ...v.observed.decision });
      const what = `${describeAction(v.json.action, v.json.target)} (${v.json.action})`;
      if (v.observed.state === "expired") await audit("expired", "approval.expire", id, `${what}: ${v.observed.decision.outcome}`);
      else await audit("failed", "approval.approve", id, `${what}: ${v.observed.decision.outcome}`);
      return v.json;
    });

  /** `viewOf`, with what it observed recorded; a failure to record is a warning only (a read stays a read). */
  const observed = async (f: Folded): Promise<ApprovalJson> => {
    const v = viewOf(f, ctx.now());
    if (v.observed === undefined) return v.json;
    try {
      return (await recordObservation(f.request.id)) ?? v.json;
    } catch (e) {
      warn(`could not record that approval request ${f.request.id} is ${v.json.state}: ${(e as Error).message}`);
      return v.json;
    }
  };

  /** The ids of requests, newest first, at most `max`. */
  const requestIds = (max: number): string[] => {
    const ids: string[] = [];
    scanBackwards((l) => {
      if (l.kind === "request") ids.push(l.id);
      return ids.length >= max;
    }, `"kind":"request"`);
    return ids;
  };

  /** The full id of `input`, `undefined` when none matches. @throws {UsageError} when several do. */
  const find = (input: string): string | undefined => {
    const text = input.trim().toLowerCase();
    const prefix = /^[0-9a-f]+$/.test(text) ? `apr-${text}` : text;
    if (!/^apr-[0-9a-f]{1,12}$/.test(prefix)) return undefined;
    if (ID.test(prefix)) return linesOf(prefix).some((l) => l.kind === "request") ? prefix : undefined;
    const matches = [...new Set(requestIds(Number.MAX_SAFE_INTEGER).filter((id) => id.startsWith(prefix)))];
    if (matches.length === 1) return matches[0];
    if (matches.length === 0) return undefined;
    throw new UsageError("E_APPROVAL_AMBIGUOUS", `'${input}' matches ${matches.length} approval requests: ${matches.slice(0, 10).join(", ")}${matches.length > 10 ? ", ..." : ""}`, {
      hint: "type more of the id",
      value: input,
    });
  };

  const resolve = async (input: string): Promise<string> => {
    const id = find(input);
    if (id !== undefined) return id;
    const shown = input.length > 40 ? `${input.slice(0, 39)}…` : input;
    throw new NotFoundError("E_APPROVAL_NOT_FOUND", `no approval request '${shown}' in ${path}.${didYouMean(input.trim().toLowerCase(), requestIds(1000))}`, {
      hint: "list the requests (every one, decided ones too) to find its id",
      value: input,
    });
  };

  /** Under the lock: the request as it stands, observations recorded, ready to be decided; throws when it is not. */
  const decidable = async (id: string): Promise<{ json: ApprovalJson; folded: Folded }> => {
    const f = fold(linesOf(id));
    if (f === undefined) throw new NotFoundError("E_APPROVAL_NOT_FOUND", `no approval request '${id}' in ${path}`);
    const v = viewOf(f, ctx.now());
    if (v.observed !== undefined) {
      append({ kind: "decision", id, state: v.observed.state, ...v.observed.decision });
      const what = `${describeAction(v.json.action, v.json.target)} (${v.json.action})`;
      await audit(v.observed.state, v.observed.state === "expired" ? "approval.expire" : "approval.approve", id, `${what}: ${v.observed.decision.outcome}`);
    }
    if (v.json.state === "expired") throw expiredError(v.json);
    if (v.json.state !== "pending" || f.claim !== undefined) throw decidedError(v.json, f.claim);
    return { json: v.json, folded: f };
  };

  const checkBy = (by: string): string => checkText("by", by, LIMITS.by);

  return {
    async request(n) {
      if (n === null || typeof n !== "object") throw invalid("request", "the request must be an object");
      if (!APPROVAL_ACTIONS.includes(n.action)) throw invalid("action", `unknown action '${String(n.action)}' (one of ${APPROVAL_ACTIONS.join(", ")})`, String(n.action));
      const target = checkText("target", n.target, LIMITS.target);
      if (/[\0\n\r]/.test(target)) throw invalid("target", "target holds a line break or NUL");
      const rq = n.requester;
      if (rq === null || typeof rq !== "object") throw invalid("requester", "requester must name the client and the tool");
      const client = checkText("requester.client", rq.client, LIMITS.client);
      const tool = checkText("requester.tool", rq.tool, LIMITS.tool);
      const note = rq.note === undefined || rq.note === "" ? null : checkText("requester.note", rq.note, LIMITS.note, { empty: true });
      const params: Params = {};
      if (n.params !== undefined) {
        if (!isRecord(n.params)) throw invalid("params", "params must be an object");
        const entries = Object.entries(n.params);
        if (entries.length > LIMITS.paramKeys) throw invalid("params", `params has more than ${LIMITS.paramKeys} entries`);
        for (const [k, v] of entries) {
          if (!/^[a-z][a-z0-9_]*$/.test(k) || k.length > LIMITS.paramKey) throw invalid("params", `param name '${clip(k, 40)}' is not a lower-case name`, k);
          if (!isScalar(v)) throw invalid("params", `param '${k}' must be text, a finite number, a boolean or null`, k);
          if (typeof v === "string" && v.length > LIMITS.paramValue) throw invalid("params", `param '${k}' is longer than ${LIMITS.paramValue} characters`, k);
          params[k] = v;
        }
      }
      const ttl = n.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
      if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_APPROVAL_TTL_MS) throw invalid("ttlMs", `ttlMs must be a whole number of milliseconds from 1 to ${MAX_APPROVAL_TTL_MS}`, String(ttl));
      return locked(async () => {
        let id: string | undefined;
        for (let tries = 0; tries < 8 && id === undefined; tries++) {
          const hex = (ctx.random?.() ?? randomBytes(6).toString("hex")).toLowerCase();
          if (!/^[0-9a-f]{12}/.test(hex)) throw new TypeError(`ApprovalsContext.random must give 12 lower-case hex digits, gave '${hex}'`);
          const candidate = `apr-${hex.slice(0, 12)}`;
          if (linesOf(candidate).length === 0) id = candidate;
        }
        if (id === undefined) throw new ConflictError("E_APPROVAL_ID_TAKEN", "could not make a new approval id: every one tried is taken");
        const now = ctx.now();
        const line: RequestLine = {
          kind: "request",
          id,
          action: n.action,
          target,
          params,
          requester: { client, tool, note },
          created_at: now.toISOString(),
          expires_at: new Date(now.getTime() + ttl).toISOString(),
        };
        // The record first: a request nobody can see in the log never exists.
        await audit("requested", "approval.request", id, `${describeAction(n.action, target)} (${n.action}), asked by ${clip(client, 80)} with ${clip(tool, 60)}${note === null ? "" : `: ${clip(note)}`}; expires ${line.expires_at}`);
        append(line);
        return viewOf({ request: line, claim: undefined, decision: undefined }, now).json;
      });
    },

    async get(input) {
      const id = find(input);
      if (id === undefined) return undefined;
      const f = fold(linesOf(id));
      return f === undefined ? undefined : observed(f);
    },

    async list(options = {}) {
      const all = options.all === true;
      const limit = options.limit ?? (all ? 1000 : Number.MAX_SAFE_INTEGER);
      if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError("E_USAGE", `limit must be a positive whole number, got ${limit}`, { field: "limit", value: String(limit) });
      const now = ctx.now();
      // Older requests cannot be pending: they expired (an hour's margin for clocks that differ).
      const cutoff = now.getTime() - MAX_APPROVAL_TTL_MS - 3_600_000;
      const later = new Map<string, Line[]>();
      const seen = new Set<string>();
      const found: Folded[] = [];
      scanBackwards((l) => {
        if (l.kind !== "request") {
          if (!seen.has(l.id)) {
            const ls = later.get(l.id);
            if (ls === undefined) later.set(l.id, [l]);
            else ls.push(l);
          }
          return false;
        }
        if (!all && Date.parse(l.created_at) < cutoff) return true;
        if (seen.has(l.id)) return false;
        seen.add(l.id);
        const f = fold([l, ...(later.get(l.id) ?? []).reverse()]);
        later.delete(l.id);
        if (f !== undefined && (all || viewOf(f, now).json.state === "pending" || viewOf(f, now).observed !== undefined)) found.push(f);
        return all && found.length >= limit;
      });
      const out: ApprovalJson[] = [];
      for (const f of found) {
        const a = await observed(f);
        if (all || a.state === "pending") out.push(a);
        if (out.length >= limit) break;
      }
      return out;
    },

    resolve,

    async deny(input, by, reason) {
      checkBy(by);
      const why = reason === undefined || reason.trim() === "" ? undefined : checkText("reason", reason, LIMITS.reason);
      const id = await resolve(input);
      return locked(async () => {
        const { json } = await decidable(id);
        const at = ctx.now().toISOString();
        const outcome = why === undefined ? "denied" : `denied: ${why}`;
        append({ kind: "decision", id, state: "denied", at, by, outcome });
        await audit("denied", "approval.deny", id, `${describeAction(json.action, json.target)} (${json.action}) denied by ${by}${why === undefined ? "" : `: ${clip(why)}`}`);
        return { ...json, state: "denied", decided_at: at, decided_by: by, outcome };
      });
    },

    async approve(input, by, perform) {
      checkBy(by);
      const id = await resolve(input);
      const claimed = await locked(async () => {
        const { json } = await decidable(id);
        append({ kind: "claim", id, at: ctx.now().toISOString(), by, ...thisProcess() });
        return json;
      });
      const what = `${describeAction(claimed.action, claimed.target)} (${claimed.action})`;
      let outcome: string;
      try {
        outcome = await perform(claimed);
      } catch (e) {
        const reason = e instanceof ExpflowError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
        try {
          await locked(async () => {
            const at = ctx.now().toISOString();
            if (leavesPending(e)) {
              // The guard logged its refusal; the request waits for another try.
              append({ kind: "release", id, at, reason });
              return;
            }
            append({ kind: "decision", id, state: "failed", at, by, outcome: reason });
            await audit("failed", "approval.approve", id, `${what} approved by ${by}, and it failed: ${clip(reason, 400)}`);
          });
        } catch (recording) {
          warn(`could not record the outcome of approval request ${id}: ${(recording as Error).message}`);
        }
        throw e;
      }
      return locked(async () => {
        const at = ctx.now().toISOString();
        append({ kind: "decision", id, state: "approved", at, by, outcome });
        await audit("done", "approval.approve", id, `${what} approved by ${by}: ${clip(outcome, 400)}`);
        return { ...claimed, state: "approved" as const, decided_at: at, decided_by: by, outcome };
      });
    },
  };
}

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DeniedError, ValidationError } from "../core/errors.js";
import type { AuditActor } from "./audit-log.js";
import { removeFile, writeFileAtomic } from "./files.js";
import { withLock } from "./lock.js";
import type { ParsedPinHash, PinHashFormat } from "./pin-hash.js";
import { assertValidPin, hashPin, parsePinHash, pinMatches } from "./pin-hash.js";

/** Where the active PIN hash came from. */
export type PinSource = "file" | "env" | "config" | "none";

/** Everything PIN handling reads or writes; injected so tests control home, clock and environment. */
export interface PinContext extends AuditActor {
  /** expflow's home directory (`$EXPFLOW_HOME`). */
  readonly home: string;
  /** Environment variables (for `EXPFLOW_PIN_HASH`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Working directory, whose `.env` may hold `EXPFLOW_PIN_HASH`. */
  readonly cwd: string;
  /** `pin.hash` from configuration, with the file it came from. */
  readonly configHash?: { value: string; source: string } | undefined;
  /** Non-fatal notices (a hash in a config file, a legacy hash upgraded). */
  readonly warn: (message: string) => void;
}

export const PIN_FILE = "pin.hash";
const LOCKOUT_FILE = "pin.lockout.json";

/** Lockout policy: after this many consecutive failures the PIN is refused for a while. */
export const LOCKOUT_THRESHOLD = 5;
/** First lockout, doubled with each further failure, up to {@link LOCKOUT_MAX_MS}. */
export const LOCKOUT_BASE_MS = 30_000;
export const LOCKOUT_MAX_MS = 3_600_000;

/** The active hash and where it came from. */
export interface ActivePin {
  readonly source: Exclude<PinSource, "none">;
  /** A file path or `EXPFLOW_PIN_HASH`. */
  readonly origin: string;
  readonly text: string;
  /** `undefined` when the stored text is not a hash expflow can read. */
  readonly parsed: ParsedPinHash | undefined;
}

async function readDotEnvHash(path: string): Promise<string | undefined> {
  // dotenv's parser is loaded only when a .env file exists.
  const { parse } = await import("dotenv");
  return parse(readFileSync(path, "utf8"))["EXPFLOW_PIN_HASH"];
}

/**
 * The active PIN hash, by fixed precedence: `$EXPFLOW_HOME/pin.hash` > `EXPFLOW_PIN_HASH`
 * (environment, then `.env` in the working directory) > `pin.hash` in configuration. The order
 * does not depend on which files exist. `undefined` when no PIN is set.
 */
export async function activePin(ctx: PinContext): Promise<ActivePin | undefined> {
  const file = join(ctx.home, PIN_FILE);
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8").trim();
    return { source: "file", origin: file, text, parsed: parsePinHash(text) };
  }
  let envHash = ctx.env["EXPFLOW_PIN_HASH"];
  let envOrigin = "EXPFLOW_PIN_HASH";
  if (envHash === undefined || envHash.trim() === "") {
    const dotEnv = join(ctx.cwd, ".env");
    if (existsSync(dotEnv)) {
      envHash = await readDotEnvHash(dotEnv);
      envOrigin = `EXPFLOW_PIN_HASH in ${dotEnv}`;
    }
  }
  if (envHash !== undefined && envHash.trim() !== "") {
    return { source: "env", origin: envOrigin, text: envHash.trim(), parsed: parsePinHash(envHash) };
  }
  if (ctx.configHash !== undefined && ctx.configHash.value.trim() !== "") {
    ctx.warn(`the PIN hash comes from pin.hash in ${ctx.configHash.source}; config files get committed: move it to ${file} with \`expflow pin init\``);
    return { source: "config", origin: ctx.configHash.source, text: ctx.configHash.value.trim(), parsed: parsePinHash(ctx.configHash.value) };
  }
  return undefined;
}

/** The error for a stored hash expflow cannot read: every protected action fails closed. */
export function damagedHashError(active: ActivePin): DeniedError {
  return new DeniedError("E_PIN_DAMAGED", `the PIN hash in ${active.origin} is not in a format expflow can read, so protected actions are refused`, {
    hint: "restore it, or delete it and set a new PIN with `expflow pin init`; where pin.allow_force permits, --force still works (and is logged)",
  });
}

/** Whether a PIN is set, from any source. */
export async function pinIsSet(ctx: PinContext): Promise<boolean> {
  return (await activePin(ctx)) !== undefined;
}

interface LockoutState {
  failures: number;
  locked_until: string | null;
}

function readLockout(home: string): LockoutState {
  try {
    const s = JSON.parse(readFileSync(join(home, LOCKOUT_FILE), "utf8")) as Partial<LockoutState>;
    return {
      failures: typeof s.failures === "number" && s.failures >= 0 ? s.failures : 0,
      locked_until: typeof s.locked_until === "string" ? s.locked_until : null,
    };
  } catch {
    return { failures: 0, locked_until: null };
  }
}

/** The lockout duration after `failures` consecutive failures (0 below the threshold). */
export function lockoutMs(failures: number): number {
  if (failures < LOCKOUT_THRESHOLD) return 0;
  return Math.min(LOCKOUT_MAX_MS, LOCKOUT_BASE_MS * 2 ** Math.min(failures - LOCKOUT_THRESHOLD, 20));
}

/** When the lockout ends, or `null` when not locked out at `now`. */
export function lockedUntil(ctx: Pick<PinContext, "home" | "now">): Date | null {
  const s = readLockout(ctx.home);
  if (s.locked_until === null) return null;
  const until = new Date(s.locked_until);
  return Number.isNaN(until.getTime()) || until.getTime() <= ctx.now().getTime() ? null : until;
}

/** "29 s", "4 min 10 s", "1 h". */
export function humanDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
}

/** The outcome of {@link verifyPin}. */
export type VerifyResult = { ok: true; upgraded: boolean } | { ok: false; reason: "wrong" | "locked"; lockedUntil: Date | null };

/**
 * Verifies a PIN against the active hash, with lockout: while locked out even the right PIN is
 * refused; a failure increments the count of consecutive failures (from the 5th, the PIN is
 * refused for 30 s, doubling per further failure up to 1 h); a success resets it. A legacy
 * SHA-256 hash is replaced by the scrypt format after a successful verification. Serialised
 * across processes, so parallel guesses cannot skip the count. Audits nothing itself.
 *
 * @throws {DeniedError} `E_PIN_DAMAGED` when the stored hash cannot be read (fail closed).
 * @throws {ValidationError} `E_NO_PIN` when no PIN is set.
 */
export async function verifyPin(pin: string, ctx: PinContext): Promise<VerifyResult> {
  const active = await activePin(ctx);
  if (active === undefined) throw new ValidationError("E_NO_PIN", "no PIN is set");
  const stored = active.parsed;
  if (stored === undefined) throw damagedHashError(active);
  return withLock(ctx.home, "pin", async () => {
    const until = lockedUntil(ctx);
    if (until !== null) return { ok: false, reason: "locked", lockedUntil: until };
    const ok = await pinMatches(pin, stored);
    if (!ok) {
      const state = readLockout(ctx.home);
      const failures = state.failures + 1;
      const ms = lockoutMs(failures);
      const next = ms > 0 ? new Date(ctx.now().getTime() + ms) : null;
      writeFileAtomic(join(ctx.home, LOCKOUT_FILE), `${JSON.stringify({ failures, locked_until: next?.toISOString() ?? null })}\n`);
      return { ok: false, reason: "wrong", lockedUntil: next };
    }
    removeFile(join(ctx.home, LOCKOUT_FILE));
    let upgraded = false;
    if (stored.format === "sha256-legacy") {
      writeFileAtomic(join(ctx.home, PIN_FILE), `${await hashPin(pin)}\n`);
      upgraded = true;
      ctx.warn(
        active.source === "file"
          ? "the PIN hash was in the earlier tool's unsalted SHA-256 format; it is now stored salted (scrypt)"
          : `the PIN hash from ${active.origin} was in the earlier tool's unsalted SHA-256 format; a salted (scrypt) hash now stands in ${join(ctx.home, PIN_FILE)} and takes precedence: remove the old value`,
      );
    }
    return { ok: true, upgraded };
  });
}

/**
 * Stores a new PIN in `$EXPFLOW_HOME/pin.hash` (scrypt, mode 0600, atomically). Does not check
 * the current PIN: callers go through the guard first (`expflow pin init` does).
 *
 * @throws {UsageError} `E_PIN_FORMAT` when `pin` is not 4 ASCII digits.
 */
export async function initPin(pin: string, ctx: Pick<PinContext, "home">): Promise<void> {
  assertValidPin(pin);
  const hash = await hashPin(pin);
  writeFileAtomic(join(ctx.home, PIN_FILE), `${hash}\n`);
  removeFile(join(ctx.home, LOCKOUT_FILE));
}

/**
 * Removes `$EXPFLOW_HOME/pin.hash`. Does not check the PIN: callers go through the guard first.
 *
 * @returns whether a file was removed, and the hash source still active afterwards (environment
 *   or configuration), if any.
 */
export async function clearPin(ctx: PinContext): Promise<{ removed: boolean; stillActive: ActivePin | undefined }> {
  const removed = removeFile(join(ctx.home, PIN_FILE));
  removeFile(join(ctx.home, LOCKOUT_FILE));
  return { removed, stillActive: await activePin(ctx) };
}

/** `expflow pin status` as data. */
export interface PinStatus {
  readonly active: boolean;
  readonly source: PinSource;
  readonly format: PinHashFormat | "unreadable" | null;
  readonly locked_until: string | null;
}

/** Whether a PIN is active, where from, in which format, and any lockout in force. */
export async function pinStatus(ctx: PinContext): Promise<PinStatus> {
  const active = await activePin(ctx);
  const until = lockedUntil(ctx);
  return {
    active: active !== undefined,
    source: active?.source ?? "none",
    format: active === undefined ? null : (active.parsed?.format ?? "unreadable"),
    locked_until: until?.toISOString() ?? null,
  };
}


import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DeniedError, ValidationError } from "../core/errors.js";
import type { AuditActor } from "./audit-log.js";
import { currentAnchor } from "./audit-log.js";
import { removeFile, writeFileAtomic } from "../util/private-files.js";
import { withLock } from "../util/lock.js";
import type { PinFileMeta } from "./pin-file.js";
import { DEFAULT_PIN_META, PIN_FILE, readPinFile, writePinFile } from "./pin-file.js";
import type { ParsedPinHash, PinHashFormat } from "./pin-hash.js";
import { assertValidPin, hashPin, isWeakerThanDefault, parsePinHash, pinMatches, SCRYPT_DEFAULTS } from "./pin-hash.js";

export { PIN_FILE } from "./pin-file.js";

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
  /**
   * The scrypt cost of hashes written, and below which a stored hash is upgraded (default
   * {@link SCRYPT_DEFAULTS}). Tests lower it to run fast; the CLI never sets it.
   */
  readonly hashCost?: { readonly ln: number; readonly r: number; readonly p: number } | undefined;
}

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
  /** `undefined` when the stored text is not a hash expflow can read (or its meta is damaged). */
  readonly parsed: ParsedPinHash | undefined;
  /** The PIN file's meta (policy, audit anchor, registries): only for `source: "file"`. */
  readonly meta?: PinFileMeta | undefined;
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
  const content = readPinFile(ctx.home);
  if (content !== undefined) {
    // A damaged meta line makes the whole file unreadable: the protection fails closed.
    return { source: "file", origin: file, text: content.hash, parsed: content.meta === undefined ? undefined : parsePinHash(content.hash), meta: content.meta };
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
    hint: "restore it, or delete it and set a new PIN with `expflow pin init` (registries it protected stay bound to this home and then take the new PIN)",
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

function lockoutUnreadable(path: string, why: string): DeniedError {
  return new DeniedError("E_LOCKOUT_UNREADABLE", `lockout state unreadable: ${path}: ${why}; protected actions are refused and no PIN is checked`, {
    hint: `restore it or remove it (it only counts wrong PINs); removing it is for whoever can edit ${path}`,
  });
}

/**
 * The lockout state; a missing file is no failures. Anything else that cannot be read as expflow
 * wrote it (a directory, no permission, not JSON, wrong fields) fails closed: breaking the file
 * must not switch the lockout off.
 *
 * @throws {DeniedError} `E_LOCKOUT_UNREADABLE` (exit 3).
 */
function readLockout(home: string): LockoutState {
  const path = join(home, LOCKOUT_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { failures: 0, locked_until: null };
    throw lockoutUnreadable(path, code === "EISDIR" ? "it is a directory" : (code ?? (e as Error).message));
  }
  let s: Partial<LockoutState> | null;
  try {
    s = JSON.parse(text) as Partial<LockoutState> | null;
  } catch {
    throw lockoutUnreadable(path, "not valid JSON");
  }
  const failures = s?.failures;
  const until = s?.locked_until;
  if (s === null || typeof s !== "object" || !Number.isSafeInteger(failures) || (failures as number) < 0 || (until !== null && (typeof until !== "string" || Number.isNaN(new Date(until).getTime())))) {
    throw lockoutUnreadable(path, "not a lockout state expflow wrote");
  }
  return { failures: failures as number, locked_until: until ?? null };
}

function writeLockout(home: string, state: LockoutState): void {
  const path = join(home, LOCKOUT_FILE);
  try {
    writeFileAtomic(path, `${JSON.stringify(state)}\n`);
  } catch (e) {
    throw lockoutUnreadable(path, `cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function clearLockout(home: string): void {
  const path = join(home, LOCKOUT_FILE);
  try {
    removeFile(path);
  } catch (e) {
    throw lockoutUnreadable(path, `cannot be removed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The lockout duration after `failures` consecutive failures (0 below the threshold). */
export function lockoutMs(failures: number): number {
  if (failures < LOCKOUT_THRESHOLD) return 0;
  return Math.min(LOCKOUT_MAX_MS, LOCKOUT_BASE_MS * 2 ** Math.min(failures - LOCKOUT_THRESHOLD, 20));
}

/**
 * When the lockout ends, or `null` when not locked out at `now`.
 *
 * @throws {DeniedError} `E_LOCKOUT_UNREADABLE` when the lockout state cannot be read.
 */
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
export type VerifyResult =
  | { ok: true; upgraded: boolean }
  | {
      ok: false;
      reason: "wrong" | "locked";
      lockedUntil: Date | null;
      /** Wrong PINs still accepted before a lockout starts (0 when one started or is in force). */
      triesLeft: number;
    };

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
  const first = await activePin(ctx);
  if (first === undefined) throw new ValidationError("E_NO_PIN", "no PIN is set");
  if (first.parsed === undefined) throw damagedHashError(first);
  return withLock(ctx.home, "pin", async () => {
    // Read again under the lock: a PIN changed since must be the one checked (and never be
    // overwritten by an upgrade of the hash it replaced).
    const active = await activePin(ctx);
    if (active === undefined) throw new ValidationError("E_NO_PIN", "no PIN is set");
    const stored = active.parsed;
    if (stored === undefined) throw damagedHashError(active);
    const until = lockedUntil(ctx);
    if (until !== null) return { ok: false, reason: "locked", lockedUntil: until, triesLeft: 0 };
    const ok = await pinMatches(pin, stored);
    if (!ok) {
      const state = readLockout(ctx.home);
      const failures = state.failures + 1;
      const ms = lockoutMs(failures);
      const next = ms > 0 ? new Date(ctx.now().getTime() + ms) : null;
      writeLockout(ctx.home, { failures, locked_until: next?.toISOString() ?? null });
      return { ok: false, reason: "wrong", lockedUntil: next, triesLeft: Math.max(0, LOCKOUT_THRESHOLD - failures) };
    }
    clearLockout(ctx.home);
    let upgraded = false;
    if (isWeakerThanDefault(stored, ctx.hashCost)) {
      // Re-read under the lock, so the meta (policy, anchor, registries) written since is kept.
      const meta = active.source === "file" ? (readPinFile(ctx.home)?.meta ?? active.meta ?? DEFAULT_PIN_META) : { ...DEFAULT_PIN_META, audit: currentAnchor(ctx.home) };
      writePinFile(ctx.home, await hashPin(pin, ctx.hashCost), meta);
      upgraded = true;
      const what = stored.format === "sha256-legacy" ? "the earlier tool's unsalted SHA-256 format" : `a cheaper scrypt cost (ln=${stored.ln}, r=${stored.r}, p=${stored.p})`;
      ctx.warn(
        active.source === "file"
          ? `the PIN hash was in ${what}; it is now stored with today's cost`
          : `the PIN hash from ${active.origin} was in ${what}; a hash at today's cost now stands in ${join(ctx.home, PIN_FILE)} and takes precedence: remove the old value`,
      );
    }
    return { ok: true, upgraded };
  });
}

/**
 * Stores a new PIN in `$EXPFLOW_HOME/pin.hash` (scrypt, mode 0600, atomically), under the PIN
 * lock. Changing a PIN keeps the file's meta (force policy, protected registries); a first PIN
 * starts with the defaults (no `--force`). Either way the file anchors the audit log as it is now.
 * Does not check the current PIN: callers go through the guard first (`expflow pin init` does).
 *
 * @returns how long hashing took (one verification costs the same), for the offline-guessing note.
 * @throws {UsageError} `E_PIN_FORMAT` when `pin` is not 4 to 12 ASCII digits.
 */
export async function initPin(pin: string, ctx: Pick<PinContext, "home" | "hashCost">, now: () => number = () => performance.now()): Promise<{ hashMs: number }> {
  assertValidPin(pin);
  const t0 = now();
  const hash = await hashPin(pin, ctx.hashCost ?? SCRYPT_DEFAULTS);
  const hashMs = now() - t0;
  await withLock(ctx.home, "pin", () => {
    let existing: PinFileMeta | undefined;
    try {
      existing = readPinFile(ctx.home)?.meta;
    } catch {
      existing = undefined; // an unreadable file is being replaced
    }
    writePinFile(ctx.home, hash, { ...(existing ?? DEFAULT_PIN_META), audit: currentAnchor(ctx.home) });
    clearLockout(ctx.home);
  });
  return { hashMs };
}

/**
 * Rewrites the PIN file's meta (keeping its hash) under the PIN lock.
 *
 * @throws {ValidationError} `E_NO_PIN` when there is no PIN file.
 */
export async function updatePinMeta(home: string, change: (meta: PinFileMeta) => PinFileMeta): Promise<PinFileMeta> {
  return withLock(home, "pin", () => {
    const pin = readPinFile(home);
    if (pin === undefined) throw new ValidationError("E_NO_PIN", `no PIN is set in ${join(home, PIN_FILE)}`);
    if (pin.meta === undefined) throw damagedHashError({ source: "file", origin: pin.path, text: pin.hash, parsed: undefined });
    const meta = change(pin.meta);
    writePinFile(home, pin.hash, meta);
    return meta;
  });
}

/**
 * Removes `$EXPFLOW_HOME/pin.hash`. Does not check the PIN: callers go through the guard first.
 *
 * @returns whether a file was removed, the registries it protected (their sidecars are the
 *   caller's to remove), and the hash source still active afterwards (environment or
 *   configuration), if any.
 */
export async function clearPin(ctx: PinContext): Promise<{ removed: boolean; registries: readonly string[]; stillActive: ActivePin | undefined }> {
  const { removed, registries } = await withLock(ctx.home, "pin", () => {
    let registries: readonly string[] = [];
    try {
      registries = readPinFile(ctx.home)?.meta?.registries ?? [];
    } catch {
      registries = [];
    }
    const removed = removeFile(join(ctx.home, PIN_FILE));
    clearLockout(ctx.home);
    return { removed, registries };
  });
  return { removed, registries, stillActive: await activePin(ctx) };
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


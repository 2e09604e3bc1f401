import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import type { GuardContext } from "../../src/security/guard.js";
import type { PinContext } from "../../src/security/pin.js";
import { hashPin } from "../../src/security/pin-hash.js";
import { DEFAULT_PIN_META } from "../../src/security/pin-file.js";

/**
 * Fresh temporary directories for one test file, removed after it. Every test takes its own home
 * (and its own working directory), so no state leaks between tests and nothing reaches ~/.expflow.
 */
export function tempDirs(prefix = "expflow-sec-"): () => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

/** A clock the test moves by hand: lockout timing never depends on wall-clock time. */
export interface TestClock {
  readonly now: () => Date;
  advance(ms: number): void;
  set(ms: number): void;
  ms(): number;
}

export const T0 = Date.UTC(2031, 0, 15, 8, 0, 0);

export function testClock(start = T0): TestClock {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms) => {
      t += ms;
    },
    set: (ms) => {
      t = ms;
    },
    ms: () => t,
  };
}

/** A PIN context with everything explicit; `warnings` collects what `warn` was given. */
export function pinContext(
  home: string,
  cwd: string,
  overrides: Partial<PinContext> = {},
): PinContext & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    home,
    cwd,
    env: {},
    warn: (m: string) => warnings.push(m),
    now: () => new Date(T0),
    hashCost: FAST,
    user: "tester",
    host: "testhost",
    ...overrides,
    warnings,
  };
}

/** A guard context that fails the test if a channel it does not offer is used. */
export function guardContext(
  home: string,
  cwd: string,
  overrides: Partial<GuardContext> = {},
): GuardContext & { warnings: string[] } {
  const base = pinContext(home, cwd);
  return {
    ...base,
    readStdinLine: () => Promise.reject(new Error("readStdinLine must not be called")),
    ...overrides,
    warnings: base.warnings,
  };
}

/** Cheap scrypt parameters for tests that only need some valid hash (the format is the same). */
export const FAST = { ln: 4, r: 8, p: 1 } as const;

/**
 * Writes `$home/pin.hash` for `pin` with cheap parameters; `allowForce` records the owner's
 * choice to let --force stand in for the PIN (as `expflow pin policy --allow-force` does).
 */
export async function setPin(home: string, pin: string, options: { allowForce?: boolean } = {}): Promise<string> {
  const text = await hashPin(pin, FAST);
  const meta = options.allowForce ? `${JSON.stringify({ ...DEFAULT_PIN_META, allow_force: true, policy_changed: { time: new Date(T0).toISOString(), by: "owner@testhost" } })}\n` : "";
  writeFileSync(join(home, "pin.hash"), `${text}\n${meta}`, { mode: 0o600 });
  return text;
}

/** The earlier tool's format: unsalted SHA-256 of the PIN, as 64 hex characters. */
export function legacyHash(pin: string): string {
  return createHash("sha256").update(pin, "utf8").digest("hex");
}

/** Permission bits of a path. */
export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Leftovers of an atomic write or a lock that must never stay behind. */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith(".tmp") || n.endsWith(".lock") || n.startsWith("."));
}

/** What a promise rejected with; fails when it resolves. */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection, but the promise resolved");
}

/** What a function threw; fails when it returns. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw, but the function returned");
}

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { DeniedError, UsageError, ValidationError } from "../../src/core/errors.js";
import type { PinContext } from "../../src/security/pin.js";
import {
  activePin,
  clearPin,
  humanDuration,
  initPin,
  LOCKOUT_BASE_MS,
  LOCKOUT_MAX_MS,
  LOCKOUT_THRESHOLD,
  lockedUntil,
  lockoutMs,
  pinIsSet,
  pinStatus,
  verifyPin,
} from "../../src/security/pin.js";
import { hashPin, parsePinHash, SCRYPT_DEFAULTS } from "../../src/security/pin-hash.js";
import { FAST, legacyHash, leftovers, modeOf, pinContext, rejectionOf, setPin, T0, tempDirs, testClock } from "./helpers.js";

const newDir = tempDirs();
const SEC = 1000;

function lockoutState(home: string): { failures: number; locked_until: string | null } | undefined {
  const path = join(home, "pin.lockout.json");
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as { failures: number; locked_until: string | null }) : undefined;
}

function pinFile(home: string): string {
  return readFileSync(join(home, "pin.hash"), "utf8").trim();
}

describe("hash source precedence: $home/pin.hash > EXPFLOW_PIN_HASH (env, then .env) > config", () => {
  // One distinct PIN (and hash) per source, so a verification tells which source was used.
  const PINS = { file: "1357", env: "2468", dotenv: "3579", config: "4680" } as const;
  const HASHES: Record<keyof typeof PINS, string> = { file: "", env: "", dotenv: "", config: "" };
  beforeAll(async () => {
    for (const k of Object.keys(PINS) as (keyof typeof PINS)[]) HASHES[k] = await hashPin(PINS[k], FAST);
  });

  const combos: { file: boolean; env: boolean; dotenv: boolean; config: boolean }[] = [];
  for (let bits = 0; bits < 16; bits++) combos.push({ file: !!(bits & 8), env: !!(bits & 4), dotenv: !!(bits & 2), config: !!(bits & 1) });
  const label = (c: (typeof combos)[number]): string =>
    (["file", "env", "dotenv", "config"] as const).map((k) => (c[k] ? k : `no-${k}`)).join(" ");

  it.each(combos.map((c) => [label(c), c] as const))("%s", async (_label, present) => {
    const home = newDir();
    const cwd = newDir();
    if (present.file) writeFileSync(join(home, "pin.hash"), `${HASHES.file}\n`, { mode: 0o600 });
    if (present.dotenv) writeFileSync(join(cwd, ".env"), `OTHER=1\nEXPFLOW_PIN_HASH='${HASHES.dotenv}'\n`);
    const configFile = join(cwd, "expflow.yaml");
    const ctx = (): PinContext & { warnings: string[] } =>
      pinContext(home, cwd, {
        env: present.env ? { EXPFLOW_PIN_HASH: HASHES.env } : {},
        configHash: present.config ? { value: HASHES.config, source: configFile } : undefined,
      });
    const expected = present.file ? "file" : present.env ? "env" : present.dotenv ? "dotenv" : present.config ? "config" : "none";

    const c1 = ctx();
    const active = await activePin(c1);
    if (expected === "none") {
      expect(active).toBeUndefined();
      expect(await pinIsSet(ctx())).toBe(false);
      expect(await pinStatus(ctx())).toEqual({ active: false, source: "none", format: null, locked_until: null });
      await expect(verifyPin(PINS.file, ctx())).rejects.toMatchObject({ code: "E_NO_PIN" });
      return;
    }
    const source = expected === "dotenv" ? "env" : expected;
    expect(active?.source).toBe(source);
    expect(active?.text).toBe(HASHES[expected]);
    if (expected === "file") expect(active?.origin).toBe(join(home, "pin.hash"));
    if (expected === "env") expect(active?.origin).toBe("EXPFLOW_PIN_HASH");
    if (expected === "dotenv") expect(active?.origin).toContain(join(cwd, ".env"));
    if (expected === "config") expect(active?.origin).toBe(configFile);
    // The config warning appears exactly when the config hash is the one in use.
    const configWarnings = c1.warnings.filter((w) => /committed/.test(w));
    expect(configWarnings).toHaveLength(expected === "config" ? 1 : 0);
    if (expected === "config") expect(configWarnings[0]).toContain(configFile);

    expect(await pinIsSet(ctx())).toBe(true);
    expect(await pinStatus(ctx())).toEqual({ active: true, source, format: "scrypt", locked_until: null });
    // Verification uses that source and no other.
    for (const k of Object.keys(PINS) as (keyof typeof PINS)[]) {
      if (k === expected || !present[k]) continue;
      expect(await verifyPin(PINS[k], ctx()), `${k}'s PIN must not verify`).toMatchObject({ ok: false, reason: "wrong" });
    }
    expect(await verifyPin(PINS[expected], ctx())).toEqual({ ok: true, upgraded: false });
  });

  it.each(["", "   "])("a blank EXPFLOW_PIN_HASH (%j) does not count: .env, then config, apply", async (blank) => {
    const home = newDir();
    const cwd = newDir();
    const cfg = { value: HASHES.config, source: "/x/expflow.yaml" };
    expect((await activePin(pinContext(home, cwd, { env: { EXPFLOW_PIN_HASH: blank }, configHash: cfg })))?.source).toBe("config");
    writeFileSync(join(cwd, ".env"), `EXPFLOW_PIN_HASH=${legacyHash("9012")}\n`);
    const a = await activePin(pinContext(home, cwd, { env: { EXPFLOW_PIN_HASH: blank }, configHash: cfg }));
    expect(a).toMatchObject({ source: "env", text: legacyHash("9012") });
  });

  it("a .env without EXPFLOW_PIN_HASH falls through to config; the env variable beats the .env file", async () => {
    const home = newDir();
    const cwd = newDir();
    writeFileSync(join(cwd, ".env"), "SOMETHING_ELSE=1\n");
    const cfg = { value: HASHES.config, source: "/x/expflow.yaml" };
    expect((await activePin(pinContext(home, cwd, { configHash: cfg })))?.source).toBe("config");
    writeFileSync(join(cwd, ".env"), `EXPFLOW_PIN_HASH=${HASHES.dotenv}\n`);
    expect((await activePin(pinContext(home, cwd, { configHash: cfg })))?.text).toBe(HASHES.dotenv);
    expect((await activePin(pinContext(home, cwd, { env: { EXPFLOW_PIN_HASH: HASHES.env }, configHash: cfg })))?.text).toBe(HASHES.env);
  });

  it("a blank config hash means no PIN", async () => {
    const a = await activePin(pinContext(newDir(), newDir(), { configHash: { value: "  ", source: "/x/expflow.yaml" } }));
    expect(a).toBeUndefined();
  });
});

describe("an unreadable hash fails closed and still takes its place in the precedence", () => {
  const garbage = ["not a hash", "1234", "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0$" + "A".repeat(43), "   "];

  it.each(garbage)("pin.hash = %j: source file, format unreadable, verifyPin throws E_PIN_DAMAGED; the env hash is not used", async (text) => {
    const home = newDir();
    const cwd = newDir();
    writeFileSync(join(home, "pin.hash"), text);
    const env = { EXPFLOW_PIN_HASH: legacyHash("1234") };
    expect(await pinStatus(pinContext(home, cwd, { env }))).toEqual({ active: true, source: "file", format: "unreadable", locked_until: null });
    const e = await rejectionOf(verifyPin("1234", pinContext(home, cwd, { env })));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_DAMAGED", exitCode: 3 });
    expect((e as Error).message).toContain(join(home, "pin.hash"));
    expect(lockoutState(home)).toBeUndefined();
  });

  it("an unreadable EXPFLOW_PIN_HASH wins over a valid config hash and fails closed", async () => {
    const home = newDir();
    const cwd = newDir();
    const ctx = pinContext(home, cwd, { env: { EXPFLOW_PIN_HASH: "oops" }, configHash: { value: legacyHash("1234"), source: "/x/expflow.yaml" } });
    expect(await pinStatus(ctx)).toMatchObject({ source: "env", format: "unreadable" });
    await expect(verifyPin("1234", ctx)).rejects.toMatchObject({ code: "E_PIN_DAMAGED" });
  });
});

describe("pinStatus", () => {
  it("reports the format of each source", async () => {
    const home = newDir();
    const cwd = newDir();
    writeFileSync(join(home, "pin.hash"), legacyHash("5555"));
    expect(await pinStatus(pinContext(home, cwd))).toEqual({ active: true, source: "file", format: "sha256-legacy", locked_until: null });
    await setPin(home, "5555");
    expect(await pinStatus(pinContext(home, cwd))).toEqual({ active: true, source: "file", format: "scrypt", locked_until: null });
    const h2 = newDir();
    expect(await pinStatus(pinContext(h2, cwd, { configHash: { value: legacyHash("5555"), source: "/c.yaml" } }))).toEqual({
      active: true,
      source: "config",
      format: "sha256-legacy",
      locked_until: null,
    });
  });
});

describe("legacy SHA-256 hashes", () => {
  it("in pin.hash: accepted, then replaced by the scrypt format after the first successful verification", async () => {
    const home = newDir();
    const cwd = newDir();
    writeFileSync(join(home, "pin.hash"), `${legacyHash("8642")}\n`, { mode: 0o600 });
    const c1 = pinContext(home, cwd);
    expect(await verifyPin("8642", c1)).toEqual({ ok: true, upgraded: true });
    expect(c1.warnings.join("\n")).toMatch(/scrypt/);
    const text = pinFile(home);
    expect(text).not.toContain(legacyHash("8642"));
    expect(text).not.toContain("8642");
    expect(parsePinHash(text)).toMatchObject({ format: "scrypt", ln: SCRYPT_DEFAULTS.ln, r: SCRYPT_DEFAULTS.r, p: SCRYPT_DEFAULTS.p });
    expect(modeOf(join(home, "pin.hash"))).toBe(0o600);
    expect(await verifyPin("8642", pinContext(home, cwd))).toEqual({ ok: true, upgraded: false });
    expect(await verifyPin("8643", pinContext(home, cwd))).toMatchObject({ ok: false, reason: "wrong" });
    expect(leftovers(home)).toEqual([]);
  });

  it("a wrong PIN does not upgrade the legacy hash", async () => {
    const home = newDir();
    const cwd = newDir();
    writeFileSync(join(home, "pin.hash"), legacyHash("8642"));
    expect(await verifyPin("8641", pinContext(home, cwd))).toMatchObject({ ok: false, reason: "wrong" });
    expect(pinFile(home)).toBe(legacyHash("8642"));
  });

  it("from EXPFLOW_PIN_HASH: a scrypt pin.hash is written, a warning says so, and the file takes precedence from then on", async () => {
    const home = newDir();
    const cwd = newDir();
    const env = { EXPFLOW_PIN_HASH: legacyHash("9753") };
    const c1 = pinContext(home, cwd, { env });
    expect(existsSync(join(home, "pin.hash"))).toBe(false);
    expect(await verifyPin("9753", c1)).toEqual({ ok: true, upgraded: true });
    expect(parsePinHash(pinFile(home))?.format).toBe("scrypt");
    expect(modeOf(join(home, "pin.hash"))).toBe(0o600);
    expect(c1.warnings).toHaveLength(1);
    expect(c1.warnings[0]).toContain(join(home, "pin.hash"));
    expect(c1.warnings[0]).toContain("EXPFLOW_PIN_HASH");
    expect(await pinStatus(pinContext(home, cwd, { env }))).toMatchObject({ source: "file", format: "scrypt" });
    const c2 = pinContext(home, cwd, { env });
    expect(await verifyPin("9753", c2)).toEqual({ ok: true, upgraded: false });
    expect(c2.warnings).toEqual([]);
  });

  it("from a .env file in the working directory: upgraded the same way, the warning names that file", async () => {
    const home = newDir();
    const cwd = newDir();
    writeFileSync(join(cwd, ".env"), `EXPFLOW_PIN_HASH=${legacyHash("1470")}\n`);
    const c1 = pinContext(home, cwd);
    expect(await verifyPin("1470", c1)).toEqual({ ok: true, upgraded: true });
    expect(parsePinHash(pinFile(home))?.format).toBe("scrypt");
    expect(c1.warnings.join("\n")).toContain(join(cwd, ".env"));
    expect(c1.warnings.join("\n")).toContain(join(home, "pin.hash"));
  });

  it("from config: upgraded into pin.hash as well", async () => {
    const home = newDir();
    const cwd = newDir();
    const c1 = pinContext(home, cwd, { configHash: { value: legacyHash("2581"), source: "/p/expflow.yaml" } });
    expect(await verifyPin("2581", c1)).toEqual({ ok: true, upgraded: true });
    expect(await pinStatus(pinContext(home, cwd))).toMatchObject({ source: "file", format: "scrypt" });
  });
});

describe("verifyPin without a PIN", () => {
  it("throws ValidationError E_NO_PIN", async () => {
    const e = await rejectionOf(verifyPin("1234", pinContext(newDir(), newDir())));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e).toMatchObject({ code: "E_NO_PIN" });
  });
});

describe("lockout (injected clock)", () => {
  const PIN = "6040";
  const WRONG = "6041";

  it("after 5 consecutive wrong PINs the PIN is refused for 30 s, even the right one; after expiry the right PIN works and resets the count", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    const clock = testClock();
    // A fresh context for every call: the state lives in $home, not in memory.
    const ctx = (): PinContext => pinContext(home, cwd, { now: clock.now });

    for (let i = 1; i < LOCKOUT_THRESHOLD; i++) {
      expect(await verifyPin(WRONG, ctx())).toEqual({ ok: false, reason: "wrong", lockedUntil: null });
      expect(lockoutState(home)).toEqual({ failures: i, locked_until: null });
      clock.advance(SEC);
    }
    const fifthAt = clock.ms();
    const r5 = await verifyPin(WRONG, ctx());
    expect(r5).toEqual({ ok: false, reason: "wrong", lockedUntil: new Date(fifthAt + 30 * SEC) });
    expect(lockoutState(home)).toEqual({ failures: 5, locked_until: new Date(fifthAt + 30 * SEC).toISOString() });
    expect(await pinStatus(ctx())).toMatchObject({ locked_until: new Date(fifthAt + 30 * SEC).toISOString() });

    for (const at of [0, 1, 10 * SEC, 29 * SEC, 30 * SEC - 1]) {
      clock.set(fifthAt + at);
      expect(await verifyPin(PIN, ctx()), `right PIN ${at} ms into the lockout`).toEqual({ ok: false, reason: "locked", lockedUntil: new Date(fifthAt + 30 * SEC) });
      expect(lockedUntil(ctx())).toEqual(new Date(fifthAt + 30 * SEC));
    }
    // Refusals during the lockout neither extend it nor count as failures.
    expect(lockoutState(home)).toEqual({ failures: 5, locked_until: new Date(fifthAt + 30 * SEC).toISOString() });

    clock.set(fifthAt + 30 * SEC);
    expect(lockedUntil(ctx())).toBeNull();
    expect(await pinStatus(ctx())).toMatchObject({ locked_until: null });
    expect(await verifyPin(PIN, ctx())).toEqual({ ok: true, upgraded: false });
    expect(lockoutState(home)).toBeUndefined();

    // The count starts again from zero.
    for (let i = 1; i < LOCKOUT_THRESHOLD; i++) expect(await verifyPin(WRONG, ctx())).toMatchObject({ reason: "wrong", lockedUntil: null });
    expect(await verifyPin(WRONG, ctx())).toMatchObject({ reason: "wrong", lockedUntil: new Date(clock.ms() + 30 * SEC) });
    expect(leftovers(home)).toEqual([]);
  });

  it("a right PIN before the threshold resets the count of consecutive failures", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    const ctx = (): PinContext => pinContext(home, cwd);
    for (let i = 0; i < 4; i++) await verifyPin(WRONG, ctx());
    expect(await verifyPin(PIN, ctx())).toMatchObject({ ok: true });
    for (let i = 0; i < 4; i++) expect(await verifyPin(WRONG, ctx())).toMatchObject({ lockedUntil: null });
    expect(lockoutState(home)?.failures).toBe(4);
  });

  it("each further failure doubles the lockout (60 s, 120 s, ...) up to 1 h", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    const clock = testClock();
    const ctx = (): PinContext => pinContext(home, cwd, { now: clock.now });
    for (let i = 0; i < 4; i++) await verifyPin(WRONG, ctx());
    const expectedSeconds = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600];
    for (const [i, seconds] of expectedSeconds.entries()) {
      const r = await verifyPin(WRONG, ctx());
      const until = new Date(clock.ms() + seconds * SEC);
      expect(r, `failure ${5 + i}`).toEqual({ ok: false, reason: "wrong", lockedUntil: until });
      expect(lockoutState(home)).toEqual({ failures: 5 + i, locked_until: until.toISOString() });
      clock.set(until.getTime() - 1);
      expect(await verifyPin(PIN, ctx()), `still locked 1 ms before the end of lockout ${i + 1}`).toMatchObject({ ok: false, reason: "locked" });
      clock.set(until.getTime());
    }
    expect(await verifyPin(PIN, ctx())).toEqual({ ok: true, upgraded: false });
  });

  it("the state lives in $home: it survives restarts and does not leak to another home", async () => {
    const home = newDir();
    const other = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    await setPin(other, PIN);
    for (let i = 0; i < 5; i++) await verifyPin(WRONG, pinContext(home, cwd));
    expect(modeOf(join(home, "pin.lockout.json"))).toBe(0o600);
    // "Restart": nothing but the home directory is shared with the next context.
    expect(await verifyPin(PIN, pinContext(home, newDir()))).toMatchObject({ ok: false, reason: "locked" });
    expect(await pinStatus(pinContext(home, newDir()))).toMatchObject({ locked_until: new Date(T0 + 30 * SEC).toISOString() });
    expect(await verifyPin(PIN, pinContext(other, cwd))).toEqual({ ok: true, upgraded: false });
  });

  it("a damaged lockout file counts as no failures rather than failing", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    writeFileSync(join(home, "pin.lockout.json"), "{not json");
    expect(await verifyPin(PIN, pinContext(home, cwd))).toMatchObject({ ok: true });
  });

  it("lockoutMs: 0 below the threshold, 30 s at 5, doubling, capped at 1 h", () => {
    expect(LOCKOUT_THRESHOLD).toBe(5);
    expect(LOCKOUT_BASE_MS).toBe(30_000);
    expect(LOCKOUT_MAX_MS).toBe(3_600_000);
    expect([0, 1, 2, 3, 4].map(lockoutMs)).toEqual([0, 0, 0, 0, 0]);
    expect([5, 6, 7, 8, 9, 10, 11, 12, 13].map(lockoutMs)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000]);
    expect(lockoutMs(1_000)).toBe(3_600_000);
    expect(lockoutMs(Number.MAX_SAFE_INTEGER)).toBe(3_600_000);
  });

  it("lockoutMs property: non-decreasing, finite, within [0, 1 h], and doubling until the cap", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (n) => {
        const a = lockoutMs(n);
        const b = lockoutMs(n + 1);
        expect(Number.isFinite(a)).toBe(true);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(LOCKOUT_MAX_MS);
        expect(b).toBeGreaterThanOrEqual(a);
        if (n >= LOCKOUT_THRESHOLD) expect(b).toBe(Math.min(2 * a, LOCKOUT_MAX_MS));
      }),
    );
  });

  it("humanDuration says how long in words", () => {
    expect(humanDuration(30_000)).toBe("30 s");
    expect(humanDuration(29_001)).toBe("30 s");
    expect(humanDuration(60_000)).toBe("1 min");
    expect(humanDuration(90_000)).toBe("1 min 30 s");
    expect(humanDuration(3_600_000)).toBe("1 h");
    expect(humanDuration(3_900_000)).toBe("1 h 5 min");
  });
});

describe("initPin and clearPin", () => {
  it("initPin stores a salted scrypt hash (never the PIN) with mode 0600 and clears a lockout", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, "1111");
    for (let i = 0; i < 5; i++) await verifyPin("1112", pinContext(home, cwd));
    expect(lockoutState(home)?.failures).toBe(5);
    await initPin("3062", { home });
    const text = pinFile(home);
    expect(text).not.toContain("3062");
    expect(parsePinHash(text)).toMatchObject({ format: "scrypt", ln: SCRYPT_DEFAULTS.ln });
    expect(modeOf(join(home, "pin.hash"))).toBe(0o600);
    expect(lockoutState(home)).toBeUndefined();
    expect(await verifyPin("3062", pinContext(home, cwd))).toEqual({ ok: true, upgraded: false });
    expect(leftovers(home)).toEqual([]);
  });

  it("initPin refuses a malformed PIN and writes nothing", async () => {
    const home = newDir();
    for (const bad of ["123", "١٢٣٤", "１２３４", "12 4"]) {
      const e = await rejectionOf(initPin(bad, { home }));
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toMatchObject({ code: "E_PIN_FORMAT", exitCode: 2 });
    }
    expect(existsSync(join(home, "pin.hash"))).toBe(false);
  });

  it("clearPin removes pin.hash and the lockout, and reports a source still active", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, "1111");
    await verifyPin("1112", pinContext(home, cwd));
    const env = { EXPFLOW_PIN_HASH: legacyHash("2222") };
    const r = await clearPin(pinContext(home, cwd, { env }));
    expect(r.removed).toBe(true);
    expect(r.stillActive).toMatchObject({ source: "env", text: legacyHash("2222") });
    expect(existsSync(join(home, "pin.hash"))).toBe(false);
    expect(lockoutState(home)).toBeUndefined();
    const again = await clearPin(pinContext(home, cwd));
    expect(again).toEqual({ removed: false, stillActive: undefined });
  });
});

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
import type { PinFileMeta } from "../../src/security/pin-file.js";
import { DEFAULT_PIN_META, readPinFile, writePinFile } from "../../src/security/pin-file.js";
import { appendAudit, readAudit } from "../../src/security/audit-log.js";
import { FAST, legacyHash, leftovers, modeOf, pinContext, rejectionOf, setPin, T0, tempDirs, testClock, thrownBy } from "./helpers.js";

const newDir = tempDirs();
const SEC = 1000;

function lockoutState(home: string): { failures: number; locked_until: string | null } | undefined {
  const path = join(home, "pin.lockout.json");
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as { failures: number; locked_until: string | null }) : undefined;
}

/** The hash line of pin.hash (the first line; a meta line may follow). */
function pinFile(home: string): string {
  return readFileSync(join(home, "pin.hash"), "utf8").split("\n")[0]!.trim();
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
    expect(c1.warnings.join("\n")).toMatch(/SHA-256/);
    const text = pinFile(home);
    expect(text).not.toContain(legacyHash("8642"));
    expect(readFileSync(join(home, "pin.hash"), "utf8")).not.toContain("8642");
    // Written at the context's cost (the tests' cheap one; the CLI's is SCRYPT_DEFAULTS).
    expect(parsePinHash(text)).toMatchObject({ format: "scrypt", ln: FAST.ln, r: FAST.r, p: FAST.p });
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
      expect(await verifyPin(WRONG, ctx())).toEqual({ ok: false, reason: "wrong", lockedUntil: null, triesLeft: LOCKOUT_THRESHOLD - i });
      expect(lockoutState(home)).toEqual({ failures: i, locked_until: null });
      clock.advance(SEC);
    }
    const fifthAt = clock.ms();
    const r5 = await verifyPin(WRONG, ctx());
    expect(r5).toEqual({ ok: false, reason: "wrong", lockedUntil: new Date(fifthAt + 30 * SEC), triesLeft: 0 });
    expect(lockoutState(home)).toEqual({ failures: 5, locked_until: new Date(fifthAt + 30 * SEC).toISOString() });
    expect(await pinStatus(ctx())).toMatchObject({ locked_until: new Date(fifthAt + 30 * SEC).toISOString() });

    for (const at of [0, 1, 10 * SEC, 29 * SEC, 30 * SEC - 1]) {
      clock.set(fifthAt + at);
      expect(await verifyPin(PIN, ctx()), `right PIN ${at} ms into the lockout`).toEqual({ ok: false, reason: "locked", lockedUntil: new Date(fifthAt + 30 * SEC), triesLeft: 0 });
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
      expect(r, `failure ${5 + i}`).toEqual({ ok: false, reason: "wrong", lockedUntil: until, triesLeft: 0 });
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

  it("a damaged lockout file fails closed (E_LOCKOUT_UNREADABLE) instead of counting as no failures", async () => {
    // Before, "{not json" read as zero failures: breaking the file switched the lockout off.
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    writeFileSync(join(home, "pin.lockout.json"), "{not json");
    const e = await rejectionOf(verifyPin(PIN, pinContext(home, cwd)));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_LOCKOUT_UNREADABLE", exitCode: 3 });
    expect(readFileSync(join(home, "pin.lockout.json"), "utf8")).toBe("{not json");
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
    expect(again).toEqual({ removed: false, registries: [], stillActive: undefined });
  });
});

describe("the lockout file fails closed when it cannot be read as expflow wrote it", () => {
  const PIN = "6040";
  const WRONG = "6041";
  const damaged: [string, (path: string) => void][] = [
    ["a directory", (path) => mkdirSync(path)],
    ["not JSON", (path) => writeFileSync(path, "{not json")],
    ["empty", (path) => writeFileSync(path, "")],
    ["JSON null", (path) => writeFileSync(path, "null")],
    ["a JSON array", (path) => writeFileSync(path, "[5]")],
    ["failures as a string", (path) => writeFileSync(path, JSON.stringify({ failures: "9", locked_until: null }))],
    ["negative failures", (path) => writeFileSync(path, JSON.stringify({ failures: -1, locked_until: null }))],
    ["fractional failures", (path) => writeFileSync(path, JSON.stringify({ failures: 2.5, locked_until: null }))],
    ["no failures field", (path) => writeFileSync(path, JSON.stringify({ locked_until: null }))],
    ["no locked_until field", (path) => writeFileSync(path, JSON.stringify({ failures: 3 }))],
    ["locked_until not a date", (path) => writeFileSync(path, JSON.stringify({ failures: 5, locked_until: "soon" }))],
    ["locked_until a number", (path) => writeFileSync(path, JSON.stringify({ failures: 5, locked_until: 12 }))],
  ];

  it.each(damaged)("%s: right and wrong PINs get the same E_LOCKOUT_UNREADABLE (exit 3); no PIN is checked, nothing is counted or upgraded", async (_name, damage) => {
    const home = newDir();
    const cwd = newDir();
    // A legacy hash: a PIN that was checked and right would be upgraded, which would show.
    writeFileSync(join(home, "pin.hash"), `${legacyHash(PIN)}\n`, { mode: 0o600 });
    const lockout = join(home, "pin.lockout.json");
    damage(lockout);
    const before = safeRead(lockout);
    const errors: unknown[] = [];
    for (const pin of [PIN, WRONG, PIN]) errors.push(await rejectionOf(verifyPin(pin, pinContext(home, cwd))));
    for (const e of errors) {
      expect(e).toBeInstanceOf(DeniedError);
      expect(e).toMatchObject({ code: "E_LOCKOUT_UNREADABLE", exitCode: 3 });
      expect((e as Error).message).toContain(lockout);
    }
    // The same answer whether the PIN was right or wrong: it tells nothing about the PIN.
    expect((errors[0] as Error).message).toBe((errors[1] as Error).message);
    expect(pinFile(home)).toBe(legacyHash(PIN));
    expect(safeRead(lockout)).toEqual(before);
    expect(thrownBy(() => lockedUntil(pinContext(home, cwd)))).toMatchObject({ code: "E_LOCKOUT_UNREADABLE" });
    await expect(pinStatus(pinContext(home, cwd))).rejects.toMatchObject({ code: "E_LOCKOUT_UNREADABLE" });
  });

  it("a missing lockout file is no failures; one expflow wrote is read as written", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    expect(lockedUntil(pinContext(home, cwd))).toBeNull();
    writeFileSync(join(home, "pin.lockout.json"), JSON.stringify({ failures: 3, locked_until: null }));
    expect(await verifyPin(WRONG, pinContext(home, cwd))).toEqual({ ok: false, reason: "wrong", lockedUntil: null, triesLeft: 1 });
    expect(lockoutState(home)).toEqual({ failures: 4, locked_until: null });
  });
});

/** A file's content, or "<directory>" / undefined. */
function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EISDIR" ? "<directory>" : undefined;
  }
}

describe("verifyPin: tries left before the lockout", () => {
  it("says how many wrong PINs remain: 4, 3, 2, 1, then 0 when the lockout starts; a right PIN resets it", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, "2580");
    const left: number[] = [];
    for (let i = 0; i < LOCKOUT_THRESHOLD; i++) {
      const r = await verifyPin("2581", pinContext(home, cwd));
      if (r.ok) throw new Error("expected a failure");
      left.push(r.triesLeft);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    expect(await verifyPin("2580", pinContext(home, cwd))).toMatchObject({ ok: false, reason: "locked", triesLeft: 0 });
  });
});

describe("PINs of 4 to 12 digits", () => {
  it.each(["1234", "12345", "123456", "12345678", "123456789012"])("%s can be set and verified; one digit more or less is another PIN", async (pin) => {
    const home = newDir();
    const cwd = newDir();
    await initPin(pin, { home, hashCost: FAST });
    expect(await verifyPin(pin, pinContext(home, cwd))).toEqual({ ok: true, upgraded: false });
    const longer = pin.length < 12 ? `${pin}0` : undefined;
    const shorter = pin.length > 4 ? pin.slice(0, -1) : undefined;
    for (const other of [longer, shorter]) {
      if (other !== undefined) expect(await verifyPin(other, pinContext(home, cwd)), other).toMatchObject({ ok: false, reason: "wrong" });
    }
    expect(readFileSync(join(home, "pin.hash"), "utf8")).not.toContain(pin);
  });

  it.each([
    ["3 digits", "123"],
    ["13 digits", "1234567890123"],
  ])("initPin refuses %s with E_PIN_FORMAT and writes nothing", async (_n, pin) => {
    const home = newDir();
    const e = await rejectionOf(initPin(pin, { home, hashCost: FAST }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e).toMatchObject({ code: "E_PIN_FORMAT", exitCode: 2 });
    expect((e as Error).message).toMatch(/4 to 12 ASCII digits/);
    expect(existsSync(join(home, "pin.hash"))).toBe(false);
  });

  it("a 13-digit PIN never verifies against a 12-digit PIN's legacy hash of the same string (it is malformed)", async () => {
    const home = newDir();
    writeFileSync(join(home, "pin.hash"), legacyHash("1234567890123"));
    expect(await verifyPin("1234567890123", pinContext(home, newDir()))).toMatchObject({ ok: false, reason: "wrong" });
  });
});

describe("weaker scrypt hashes are upgraded at the next successful check", () => {
  const PIN = "73051";
  const META: PinFileMeta = {
    allow_force: true,
    policy_changed: { time: new Date(T0).toISOString(), by: "owner@box" },
    audit: null,
    registries: ["/data/reg-a.jsonl", "/data/reg-b.jsonl"],
  };
  const CHEAP = { ln: 3, r: 8, p: 1 } as const; // below FAST (ln=4, r=8), the tests' ctx.hashCost

  async function cheapHome(meta: PinFileMeta = META): Promise<{ home: string; cwd: string; before: string }> {
    const home = newDir();
    const cwd = newDir();
    writePinFile(home, await hashPin(PIN, CHEAP), meta);
    return { home, cwd, before: readFileSync(join(home, "pin.hash"), "utf8") };
  }

  it("a hash cheaper than the context's cost is rewritten at that cost after the right PIN, keeping the meta (policy, registries)", async () => {
    const { home, cwd, before } = await cheapHome();
    const ctx = pinContext(home, cwd);
    expect(await verifyPin(PIN, ctx)).toEqual({ ok: true, upgraded: true });
    const after = readPinFile(home)!;
    expect(readFileSync(join(home, "pin.hash"), "utf8")).not.toBe(before);
    expect(parsePinHash(after.hash)).toMatchObject({ format: "scrypt", ln: FAST.ln, r: FAST.r, p: FAST.p });
    expect(after.meta).toEqual(META);
    expect(ctx.warnings.join("\n")).toContain("ln=3");
    expect(modeOf(join(home, "pin.hash"))).toBe(0o600);
    // The PIN still works, and the upgraded hash is not upgraded again.
    expect(await verifyPin(PIN, pinContext(home, cwd))).toEqual({ ok: true, upgraded: false });
    expect(leftovers(home)).toEqual([]);
  });

  it("the meta kept is the one on disk at the time of the upgrade, with the audit anchor", async () => {
    const { home, cwd } = await cheapHome({ ...DEFAULT_PIN_META });
    // An append anchors the log in the PIN file (a meta written after the PIN was read).
    await appendAudit(home, { action: "a", target: "t", outcome: "allowed" }, { now: () => new Date(T0), user: "u", host: "h" });
    const anchored = readPinFile(home)!.meta!;
    expect(anchored.audit).toMatchObject({ seq: 1, hash: readAudit(home)[0]!.hash });
    expect(await verifyPin(PIN, pinContext(home, cwd))).toEqual({ ok: true, upgraded: true });
    expect(readPinFile(home)!.meta).toEqual(anchored);
  });

  it("a wrong PIN upgrades nothing: the file stays byte-identical", async () => {
    const { home, cwd, before } = await cheapHome();
    expect(await verifyPin("73050", pinContext(home, cwd))).toMatchObject({ ok: false, reason: "wrong" });
    expect(readFileSync(join(home, "pin.hash"), "utf8")).toBe(before);
  });

  it("a hash at or above the context's cost is left alone", async () => {
    for (const cost of [FAST, { ln: 5, r: 8, p: 1 }]) {
      const home = newDir();
      writePinFile(home, await hashPin(PIN, cost), META);
      const before = readFileSync(join(home, "pin.hash"), "utf8");
      expect(await verifyPin(PIN, pinContext(home, newDir()))).toEqual({ ok: true, upgraded: false });
      expect(readFileSync(join(home, "pin.hash"), "utf8")).toBe(before);
    }
  });

  it("a legacy hash is upgraded with its file's meta kept", async () => {
    const home = newDir();
    writePinFile(home, legacyHash(PIN), META);
    expect(await verifyPin(PIN, pinContext(home, newDir()))).toEqual({ ok: true, upgraded: true });
    expect(readPinFile(home)).toMatchObject({ meta: META });
    expect(parsePinHash(readPinFile(home)!.hash)?.format).toBe("scrypt");
  });

  it("a hash from EXPFLOW_PIN_HASH upgraded into pin.hash anchors the log as it is", async () => {
    const home = newDir();
    const rec = await appendAudit(home, { action: "a", target: "t", outcome: "allowed" }, { now: () => new Date(T0), user: "u", host: "h" });
    const ctx = pinContext(home, newDir(), { env: { EXPFLOW_PIN_HASH: await hashPin(PIN, CHEAP) } });
    expect(await verifyPin(PIN, ctx)).toEqual({ ok: true, upgraded: true });
    expect(readPinFile(home)!.meta).toEqual({ ...DEFAULT_PIN_META, audit: { first: rec.hash, seq: 1, hash: rec.hash } });
  });
});

describe("the PIN file: hash line and meta line", () => {
  const PIN = "4321";

  it.each([
    ["a meta line that is not JSON", (h: string) => `${h}\n{not json\n`],
    ["a meta line without allow_force", (h: string) => `${h}\n${JSON.stringify({ registries: [] })}\n`],
    ["a meta line with allow_force as a string", (h: string) => `${h}\n${JSON.stringify({ ...DEFAULT_PIN_META, allow_force: "yes" })}\n`],
    ["a meta line with a malformed audit anchor", (h: string) => `${h}\n${JSON.stringify({ ...DEFAULT_PIN_META, audit: { first: "x", seq: 1, hash: "y" } })}\n`],
    ["a third line", (h: string) => `${h}\n${JSON.stringify(DEFAULT_PIN_META)}\nextra\n`],
  ])("%s makes the file unreadable: E_PIN_DAMAGED for the right PIN too, nothing counted", async (_n, text) => {
    const home = newDir();
    const cwd = newDir();
    writeFileSync(join(home, "pin.hash"), text(await hashPin(PIN, FAST)), { mode: 0o600 });
    expect(await pinStatus(pinContext(home, cwd))).toMatchObject({ active: true, source: "file", format: "unreadable" });
    const e = await rejectionOf(verifyPin(PIN, pinContext(home, cwd)));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_DAMAGED", exitCode: 3 });
    expect(lockoutState(home)).toBeUndefined();
  });

  it("a valid meta line is read beside the hash: the PIN verifies, the policy and registries are there", async () => {
    const home = newDir();
    const cwd = newDir();
    const meta: PinFileMeta = { allow_force: true, policy_changed: { time: new Date(T0).toISOString(), by: "o@h" }, audit: null, registries: ["/r/x.jsonl"] };
    writeFileSync(join(home, "pin.hash"), `${await hashPin(PIN, FAST)}\n${JSON.stringify(meta)}\n`, { mode: 0o600 });
    expect(await pinStatus(pinContext(home, cwd))).toMatchObject({ active: true, source: "file", format: "scrypt" });
    expect(await activePin(pinContext(home, cwd))).toMatchObject({ source: "file", meta });
    expect(await verifyPin(PIN, pinContext(home, cwd))).toEqual({ ok: true, upgraded: false });
  });

  it("a pin.hash that is a directory is E_PIN_DAMAGED (exit 3), not 'no PIN' and not a raw file-system error", async () => {
    const home = newDir();
    const cwd = newDir();
    mkdirSync(join(home, "pin.hash"));
    for (const p of [activePin(pinContext(home, cwd)), verifyPin(PIN, pinContext(home, cwd)), pinIsSet(pinContext(home, cwd))]) {
      const e = await rejectionOf(p);
      expect(e).toBeInstanceOf(DeniedError);
      expect(e).toMatchObject({ code: "E_PIN_DAMAGED", exitCode: 3 });
      expect((e as Error).message).toContain(join(home, "pin.hash"));
    }
  });

  it("a pin.hash that is a directory is not bypassed by EXPFLOW_PIN_HASH", async () => {
    const home = newDir();
    mkdirSync(join(home, "pin.hash"));
    const ctx = pinContext(home, newDir(), { env: { EXPFLOW_PIN_HASH: legacyHash(PIN) } });
    await expect(verifyPin(PIN, ctx)).rejects.toMatchObject({ code: "E_PIN_DAMAGED" });
  });

  it("a hash line alone (the earlier format) reads with the default meta: no --force, nothing anchored", () => {
    const home = newDir();
    writeFileSync(join(home, "pin.hash"), `${legacyHash(PIN)}\n`);
    expect(readPinFile(home)).toEqual({ path: join(home, "pin.hash"), hash: legacyHash(PIN), meta: DEFAULT_PIN_META });
  });
});

describe("initPin and clearPin: meta, anchor and registries", () => {
  const actor = { now: () => new Date(T0), user: "u", host: "h" };

  it("initPin returns how long hashing took (measured with the clock it is given)", async () => {
    const home = newDir();
    const ticks = [1000, 1137.5];
    const r = await initPin("5555", { home, hashCost: FAST }, () => ticks.shift()!);
    expect(r).toEqual({ hashMs: 137.5 });
  });

  it("initPin writes the hash at ctx.hashCost with the default meta for a first PIN, anchoring an existing log", async () => {
    const home = newDir();
    await appendAudit(home, { action: "x", target: "t", outcome: "no-pin" }, actor);
    const second = await appendAudit(home, { action: "y", target: "t", outcome: "no-pin" }, actor);
    const first = readAudit(home)[0]!;
    await initPin("5555", { home, hashCost: FAST });
    const file = readPinFile(home)!;
    expect(parsePinHash(file.hash)).toMatchObject({ format: "scrypt", ln: FAST.ln, r: FAST.r, p: FAST.p });
    expect(file.meta).toEqual({ ...DEFAULT_PIN_META, audit: { first: first.hash, seq: 2, hash: second.hash } });
  });

  it("initPin without a log anchors nothing", async () => {
    const home = newDir();
    await initPin("5555", { home, hashCost: FAST });
    expect(readPinFile(home)!.meta).toEqual(DEFAULT_PIN_META);
  });

  it("changing the PIN keeps the force policy and the protected registries (before, the meta was lost)", async () => {
    const home = newDir();
    const meta: PinFileMeta = { allow_force: true, policy_changed: { time: new Date(T0).toISOString(), by: "o@h" }, audit: null, registries: ["/r/one.jsonl"] };
    writePinFile(home, await hashPin("1111", FAST), meta);
    await initPin("22222", { home, hashCost: FAST });
    const file = readPinFile(home)!;
    expect(file.meta).toEqual(meta);
    expect(await verifyPin("22222", pinContext(home, newDir()))).toEqual({ ok: true, upgraded: false });
    expect(await verifyPin("1111", pinContext(home, newDir()))).toMatchObject({ ok: false, reason: "wrong" });
  });

  it("initPin replaces a damaged PIN file (its meta is not kept, the defaults are written)", async () => {
    const home = newDir();
    writeFileSync(join(home, "pin.hash"), "garbage\n{broken\n");
    await initPin("5555", { home, hashCost: FAST });
    expect(readPinFile(home)!.meta).toEqual(DEFAULT_PIN_META);
    expect(await verifyPin("5555", pinContext(home, newDir()))).toMatchObject({ ok: true });
  });

  it("clearPin reports the registries the PIN protected", async () => {
    const home = newDir();
    writePinFile(home, await hashPin("1111", FAST), { ...DEFAULT_PIN_META, registries: ["/r/a.jsonl", "/r/b.jsonl"] });
    expect(await clearPin(pinContext(home, newDir()))).toEqual({ removed: true, registries: ["/r/a.jsonl", "/r/b.jsonl"], stillActive: undefined });
    expect(existsSync(join(home, "pin.hash"))).toBe(false);
  });

  it("clearPin of a damaged PIN file removes it and reports no registries", async () => {
    const home = newDir();
    writeFileSync(join(home, "pin.hash"), "garbage\n{broken\n");
    expect(await clearPin(pinContext(home, newDir()))).toEqual({ removed: true, registries: [], stillActive: undefined });
  });
});

describe("regression: a PIN changed while a check waited for the lock", () => {
  it("is the PIN checked, and the upgrade of the old hash never writes the old PIN back", async () => {
    const { withLock } = await import("../../src/util/lock.js");
    const home = newDir();
    const cwd = newDir();
    // A hash weaker than the context's cost, so that a successful check would upgrade it.
    writePinFile(home, await hashPin("1111", { ln: 3, r: 8, p: 1 }), DEFAULT_PIN_META);
    let pending!: Promise<unknown>;
    await withLock(home, "pin", async () => {
      pending = verifyPin("1111", pinContext(home, cwd));
      await new Promise((r) => setTimeout(r, 50));
      // What `pin init` does under the lock: the PIN becomes 2222.
      writePinFile(home, await hashPin("2222", FAST), DEFAULT_PIN_META);
    });
    expect(await pending).toMatchObject({ ok: false, reason: "wrong" });
    expect(await verifyPin("2222", pinContext(home, cwd))).toMatchObject({ ok: true });
    expect(await verifyPin("1111", pinContext(home, cwd))).toMatchObject({ ok: false });
  });
});

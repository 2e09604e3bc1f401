import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { DeniedError, ExpflowError, UsageError } from "../../src/core/errors.js";
import type { AuditOutcome, AuditRecord } from "../../src/security/audit-log.js";
import { readAudit, verifyAudit } from "../../src/security/audit-log.js";
import type { GuardContext, GuardOptions } from "../../src/security/guard.js";
import { guard } from "../../src/security/guard.js";
import { parsePinHash } from "../../src/security/pin-hash.js";
import { guardContext, legacyHash, rejectionOf, setPin, T0, tempDirs, testClock } from "./helpers.js";

const newDir = tempDirs();
const SEC = 1000;
// Digits that appear nowhere in the test clock's timestamps (2031-01-15T08:...).
const PIN = "6947";
const WRONG = "6949";

/** A home with the PIN set and an empty working directory. */
async function setup(pin: string | null = PIN, options: { allowForce?: boolean } = {}): Promise<{ home: string; cwd: string }> {
  const home = newDir();
  const cwd = newDir();
  if (pin !== null) await setPin(home, pin, options);
  return { home, cwd };
}

/** Spies for the two interactive channels. */
function channels(stdin: string | null, prompt: string | null | undefined) {
  const readStdinLine = vi.fn((): Promise<string> => (stdin === null ? Promise.reject(new Error("standard input must not be read")) : Promise.resolve(stdin)));
  const promptFn = prompt === undefined ? undefined : vi.fn((_m: string): Promise<string> => (prompt === null ? Promise.reject(new Error("prompt must not be shown")) : Promise.resolve(prompt)));
  return { readStdinLine, prompt: promptFn };
}

function outcomes(home: string): AuditOutcome[] {
  return readAudit(home).map((r) => r.outcome);
}

describe("guard: no PIN set", () => {
  it.each([
    ["no options", {}],
    ["--force", { force: true }],
    ["--pin", { pin: "0000" }],
  ] as [string, GuardOptions][])("lets the action through as 'no-pin' (%s) and audits it, asking no channel", async (_n, options) => {
    const { home, cwd } = await setup(null);
    const ch = channels(null, null);
    const ctx = guardContext(home, cwd, { ...ch, forceForbiddenBy: "/p/expflow.yaml" });
    expect(await guard("run.cancel", "exp-1", options, ctx)).toBe("no-pin");
    expect(ch.readStdinLine).not.toHaveBeenCalled();
    expect(ch.prompt).not.toHaveBeenCalled();
    const records = readAudit(home);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ seq: 1, action: "run.cancel", target: "exp-1", outcome: "no-pin", user: "tester", host: "testhost", time: new Date(T0).toISOString() });
  });
});

describe("guard: --force", () => {
  it("where the PIN owner allowed it: 'forced' without asking any channel", async () => {
    const { home, cwd } = await setup(PIN, { allowForce: true });
    const ch = channels(null, null);
    const ctx = guardContext(home, cwd, { ...ch, env: { EXPFLOW_PIN: WRONG } });
    expect(await guard("run.delete", "exp-2", { force: true, pinStdin: true }, ctx)).toBe("forced");
    expect(ch.readStdinLine).not.toHaveBeenCalled();
    expect(ch.prompt).not.toHaveBeenCalled();
    expect(readAudit(home)).toEqual([expect.objectContaining({ action: "run.delete", target: "exp-2", outcome: "forced" })]);
    // Nothing was verified, so nothing counted as a failure.
    expect(() => readFileSync(join(home, "pin.lockout.json"))).toThrow();
  });

  it("by default (the owner never allowed it): DeniedError E_FORCE_DISALLOWED (exit 3), audited as denied, no channel asked", async () => {
    const { home, cwd } = await setup();
    const ch = channels(null, null);
    const ctx = guardContext(home, cwd, { ...ch });
    const e = await rejectionOf(guard("run.delete", "exp-3", { force: true }, ctx));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_FORCE_DISALLOWED", exitCode: 3 });
    expect((e as Error).message).toMatch(/pin policy --allow-force/);
    expect((e as ExpflowError).hint).toMatch(/EXPFLOW_PIN/);
    expect((e as ExpflowError).hint).toMatch(/--pin-stdin/);
    expect(ch.readStdinLine).not.toHaveBeenCalled();
    expect(ch.prompt).not.toHaveBeenCalled();
    expect(readAudit(home)).toEqual([expect.objectContaining({ action: "run.delete", target: "exp-3", outcome: "denied" })]);
  });
});

describe("guard: no channel offers a PIN", () => {
  it("fails at once with DeniedError E_PIN_REQUIRED (exit 3), reading neither standard input nor a prompt", async () => {
    const { home, cwd } = await setup();
    const ch = channels(null, undefined);
    const ctx = guardContext(home, cwd, { readStdinLine: ch.readStdinLine, prompt: undefined });
    const e = await rejectionOf(guard("run.cancel", "exp-4", {}, ctx));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_REQUIRED", exitCode: 3 });
    expect((e as ExpflowError).hint).toMatch(/--pin-stdin/);
    expect(ch.readStdinLine).not.toHaveBeenCalled();
    expect(readAudit(home)).toEqual([expect.objectContaining({ outcome: "denied", action: "run.cancel", target: "exp-4" })]);
  });

  it("an empty EXPFLOW_PIN is no channel", async () => {
    const { home, cwd } = await setup();
    const ch = channels(null, undefined);
    const ctx = guardContext(home, cwd, { readStdinLine: ch.readStdinLine, env: { EXPFLOW_PIN: "" } });
    await expect(guard("a", "t", {}, ctx)).rejects.toMatchObject({ code: "E_PIN_REQUIRED" });
    expect(ch.readStdinLine).not.toHaveBeenCalled();
  });
});

describe("guard: channel order --pin > --pin-stdin > EXPFLOW_PIN > prompt", () => {
  interface Case {
    name: string;
    options: GuardOptions;
    stdin: string | null;
    env: string | undefined;
    prompt: string | null | undefined;
    expect: "allowed" | "E_PIN_WRONG";
    stdinRead: boolean;
    promptShown: boolean;
  }
  const cases: Case[] = [
    { name: "--pin right beats the others (all wrong)", options: { pin: PIN, pinStdin: true }, stdin: WRONG, env: WRONG, prompt: WRONG, expect: "allowed", stdinRead: false, promptShown: false },
    { name: "--pin wrong is not rescued by the others", options: { pin: WRONG, pinStdin: true }, stdin: PIN, env: PIN, prompt: PIN, expect: "E_PIN_WRONG", stdinRead: false, promptShown: false },
    { name: "--pin-stdin right beats EXPFLOW_PIN and prompt", options: { pinStdin: true }, stdin: `${PIN}\n`, env: WRONG, prompt: WRONG, expect: "allowed", stdinRead: true, promptShown: false },
    { name: "--pin-stdin with CRLF", options: { pinStdin: true }, stdin: `${PIN}\r\n`, env: undefined, prompt: undefined, expect: "allowed", stdinRead: true, promptShown: false },
    { name: "--pin-stdin wrong is not rescued", options: { pinStdin: true }, stdin: WRONG, env: PIN, prompt: PIN, expect: "E_PIN_WRONG", stdinRead: true, promptShown: false },
    { name: "EXPFLOW_PIN right beats the prompt", options: {}, stdin: null, env: PIN, prompt: WRONG, expect: "allowed", stdinRead: false, promptShown: false },
    { name: "EXPFLOW_PIN wrong is not rescued by the prompt", options: {}, stdin: null, env: WRONG, prompt: PIN, expect: "E_PIN_WRONG", stdinRead: false, promptShown: false },
    { name: "the prompt, when nothing else", options: {}, stdin: null, env: undefined, prompt: PIN, expect: "allowed", stdinRead: false, promptShown: true },
    { name: "the prompt, wrong", options: {}, stdin: null, env: undefined, prompt: WRONG, expect: "E_PIN_WRONG", stdinRead: false, promptShown: true },
    { name: "standard input is not read without --pin-stdin", options: {}, stdin: WRONG, env: undefined, prompt: PIN, expect: "allowed", stdinRead: false, promptShown: true },
  ];

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const { home, cwd } = await setup();
    const ch = channels(c.stdin, c.prompt);
    const ctx = guardContext(home, cwd, { ...ch, env: c.env === undefined ? {} : { EXPFLOW_PIN: c.env } });
    const result = guard("run.cancel", "exp-5", c.options, ctx).then(
      (v) => v,
      (e: unknown) => (e instanceof ExpflowError ? e.code : e),
    );
    expect(await result).toBe(c.expect);
    expect(ch.readStdinLine).toHaveBeenCalledTimes(c.stdinRead ? 1 : 0);
    if (ch.prompt) expect(ch.prompt).toHaveBeenCalledTimes(c.promptShown ? 1 : 0);
    const processListWarnings = ctx.warnings.filter((w) => /process list/.test(w));
    expect(processListWarnings).toHaveLength(c.options.pin !== undefined ? 1 : 0);
    expect(outcomes(home)).toEqual([c.expect === "allowed" ? "allowed" : "denied"]);
  });

  it("a wrong PIN is DeniedError E_PIN_WRONG with exit 3", async () => {
    const { home, cwd } = await setup();
    const e = await rejectionOf(guard("a", "t", { pin: WRONG }, guardContext(home, cwd)));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_WRONG", exitCode: 3 });
  });
});

describe("guard: a malformed PIN", () => {
  it.each([
    ["--pin", (p: string) => ({ options: { pin: p } as GuardOptions, ctx: {} as Partial<GuardContext> })],
    ["--pin-stdin", (p: string) => ({ options: { pinStdin: true } as GuardOptions, ctx: { readStdinLine: () => Promise.resolve(p) } as Partial<GuardContext> })],
    ["EXPFLOW_PIN", (p: string) => ({ options: {} as GuardOptions, ctx: { env: { EXPFLOW_PIN: p } } as Partial<GuardContext> })],
    ["prompt", (p: string) => ({ options: {} as GuardOptions, ctx: { prompt: () => Promise.resolve(p) } as Partial<GuardContext> })],
  ])("from %s is UsageError E_PIN_FORMAT (exit 2), audited as denied", async (_channel, make) => {
    for (const bad of ["694", "69470", "٦٩٤٧", "６９４７", "69 7", "abcd"]) {
      const { home, cwd } = await setup();
      const m = make(bad);
      const e = await rejectionOf(guard("run.cancel", "x", m.options, guardContext(home, cwd, m.ctx)));
      expect(e, bad).toBeInstanceOf(UsageError);
      expect(e).toMatchObject({ code: "E_PIN_FORMAT", exitCode: 2 });
      expect((e as Error).message).toMatch(/exactly 4 ASCII digits/);
      expect(outcomes(home)).toEqual(["denied"]);
    }
  });
});

describe("guard: damaged hash", () => {
  it("fails closed with E_PIN_DAMAGED (exit 3) even when the PIN is supplied, and audits the denial", async () => {
    const { home, cwd } = await setup(null);
    writeFileSync(join(home, "pin.hash"), "$scrypt$garbage");
    const e = await rejectionOf(guard("run.cancel", "x", { pin: PIN }, guardContext(home, cwd)));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_DAMAGED", exitCode: 3 });
    expect(outcomes(home)).toEqual(["denied"]);
  });

  it("a damaged pin.hash is not bypassed by a valid EXPFLOW_PIN_HASH", async () => {
    const { home, cwd } = await setup(null);
    writeFileSync(join(home, "pin.hash"), "xyz");
    const ctx = guardContext(home, cwd, { env: { EXPFLOW_PIN_HASH: legacyHash(PIN), EXPFLOW_PIN: PIN } });
    await expect(guard("run.cancel", "x", {}, ctx)).rejects.toMatchObject({ code: "E_PIN_DAMAGED" });
  });
});

describe("guard: lockout", () => {
  it("the failure that starts a lockout adds a 'locked' record; while locked, E_PIN_LOCKED says how long; afterwards the right PIN works", async () => {
    const { home, cwd } = await setup();
    const clock = testClock();
    const ctx = (options: Partial<GuardContext> = {}): GuardContext => guardContext(home, cwd, { now: clock.now, ...options });

    for (let i = 0; i < 4; i++) await expect(guard("run.cancel", "x", { pin: WRONG }, ctx())).rejects.toMatchObject({ code: "E_PIN_WRONG" });
    expect(outcomes(home)).toEqual(["denied", "denied", "denied", "denied"]);

    const fifth = await rejectionOf(guard("run.cancel", "x", { pin: WRONG }, ctx()));
    expect(fifth).toMatchObject({ code: "E_PIN_WRONG", exitCode: 3 });
    expect((fifth as Error).message).toContain("30 s");
    expect(outcomes(home)).toEqual(["denied", "denied", "denied", "denied", "denied", "locked"]);

    clock.advance(10 * SEC);
    const ch = channels(null, PIN);
    const locked = await rejectionOf(guard("run.cancel", "x", {}, ctx({ prompt: ch.prompt, env: { EXPFLOW_PIN: PIN } })));
    expect(locked).toBeInstanceOf(DeniedError);
    expect(locked).toMatchObject({ code: "E_PIN_LOCKED", exitCode: 3 });
    expect((locked as Error).message).toContain("20 s");
    expect((locked as Error).message).toContain(new Date(T0 + 30 * SEC).toISOString());
    expect(outcomes(home).at(-1)).toBe("locked");
    expect(outcomes(home)).toHaveLength(7);

    clock.advance(20 * SEC - 1);
    await expect(guard("run.cancel", "x", { pin: PIN }, ctx())).rejects.toMatchObject({ code: "E_PIN_LOCKED", message: expect.stringContaining("1 s") });
    clock.advance(1);
    expect(await guard("run.cancel", "x", { pin: PIN }, ctx())).toBe("allowed");
    expect(outcomes(home)).toEqual(["denied", "denied", "denied", "denied", "denied", "locked", "locked", "locked", "allowed"]);
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: 9 });
  });

  it("a failure after the lockout expires doubles it and again adds a 'locked' record", async () => {
    const { home, cwd } = await setup();
    const clock = testClock();
    const ctx = (): GuardContext => guardContext(home, cwd, { now: clock.now });
    for (let i = 0; i < 5; i++) await guard("a", "t", { pin: WRONG }, ctx()).catch(() => {});
    clock.advance(30 * SEC);
    const e = await rejectionOf(guard("a", "t", { pin: WRONG }, ctx()));
    expect((e as Error).message).toContain("1 min");
    expect(outcomes(home).slice(-2)).toEqual(["denied", "locked"]);
    expect(readAudit(home).at(-1)?.detail).toContain(new Date(clock.ms() + 60 * SEC).toISOString());
  });
});

describe("guard: a legacy hash", () => {
  it("is accepted and upgraded; the audit record says so", async () => {
    const { home, cwd } = await setup(null);
    writeFileSync(join(home, "pin.hash"), legacyHash(PIN));
    expect(await guard("pin.check", "pin", { pin: PIN }, guardContext(home, cwd))).toBe("allowed");
    expect(parsePinHash(readFileSync(join(home, "pin.hash"), "utf8"))?.format).toBe("scrypt");
    expect(readAudit(home)[0]?.detail).toMatch(/upgraded/);
  });
});

describe("guard: the audit trail", () => {
  it("every call appends a record with the right outcome, and the PIN appears nowhere", async () => {
    const { home, cwd } = await setup();
    const clock = testClock();
    const errors: string[] = [];
    const warnings: string[] = [];
    const run = async (options: GuardOptions, extra: Partial<GuardContext>, expected: AuditOutcome[]): Promise<void> => {
      const before = readAudit(home).length;
      const ctx = guardContext(home, cwd, { now: clock.now, ...extra });
      try {
        await guard("run.cancel", "exp-42", options, ctx);
      } catch (e) {
        errors.push(`${(e as Error).message} ${(e as ExpflowError).hint ?? ""}`);
      }
      warnings.push(...ctx.warnings);
      expect(readAudit(home).slice(before).map((r) => r.outcome)).toEqual(expected);
      clock.advance(SEC);
    };
    await run({ pin: PIN }, {}, ["allowed"]);
    await run({ pinStdin: true }, { readStdinLine: () => Promise.resolve(`${PIN}\n`) }, ["allowed"]);
    await run({}, { env: { EXPFLOW_PIN: PIN } }, ["allowed"]);
    await run({}, { prompt: () => Promise.resolve(PIN) }, ["allowed"]);
    await run({}, {}, ["denied"]);
    await run({ pin: "69a7" }, {}, ["denied"]);
    await run({ force: true }, {}, ["denied"]);
    for (let i = 0; i < 4; i++) await run({ pin: WRONG }, {}, ["denied"]);
    await run({}, { env: { EXPFLOW_PIN: WRONG } }, ["denied", "locked"]);
    await run({ pin: PIN }, {}, ["locked"]);
    clock.advance(60 * SEC);
    await run({ pin: PIN }, {}, ["allowed"]);

    const records: AuditRecord[] = readAudit(home);
    expect(records.map((r) => r.seq)).toEqual(records.map((_r, i) => i + 1));
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: records.length });
    for (const r of records) {
      expect(r).toMatchObject({ action: "run.cancel", target: "exp-42", user: "tester", host: "testhost" });
      for (const field of ["action", "target", "detail", "user", "host", "outcome", "time"] as const) {
        for (const p of [PIN, WRONG]) expect(String(r[field]), `${field} of record ${r.seq}`).not.toContain(p);
      }
      expect(Object.keys(r).sort()).toEqual(["action", "detail", "hash", "host", "outcome", "prev", "seq", "target", "time", "user"]);
    }
    const raw = readFileSync(join(home, "audit.jsonl"), "utf8");
    for (const p of [PIN, WRONG, "69a7"]) {
      expect(raw).not.toContain(`"${p}"`);
      expect(raw).not.toContain(`"${p}\\n"`);
      expect(raw).not.toContain(` ${p}`);
      expect(raw).not.toContain(`${p} `);
      expect(errors.join("\n")).not.toContain(p);
      expect(warnings.join("\n")).not.toContain(p);
      expect(readFileSync(join(home, "pin.hash"), "utf8")).not.toContain(p);
    }
  });
});

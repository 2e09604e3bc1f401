import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { BackendError, DeniedError, ExpflowError, InterruptedError, UsageError } from "../../src/core/errors.js";
import type { AuditOutcome, AuditRecord } from "../../src/security/audit-log.js";
import { readAudit, verifyAudit } from "../../src/security/audit-log.js";
import type { GuardContext, GuardOptions } from "../../src/security/guard.js";
import { describeAction, forcePolicy, guard } from "../../src/security/guard.js";
import { DEFAULT_PIN_META, readPinFile } from "../../src/security/pin-file.js";
import { hashPin, parsePinHash } from "../../src/security/pin-hash.js";
import { bindRegistry, readProtection, realHome, realRegistryPath, sidecarOf } from "../../src/security/protection.js";
import { FAST, guardContext, legacyHash, rejectionOf, setPin, T0, tempDirs, testClock } from "./helpers.js";

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
    expect((e as Error).message).toMatch(/^force is not allowed: the PIN owner has not allowed it \(allow_force in the PIN file's policy\)/);
    expect(e).toMatchObject({ field: "force" });
    expect((e as ExpflowError).hint).toMatch(/EXPFLOW_PIN/);
    expect((e as ExpflowError).hint).toMatch(/pinStdin/);
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
    expect((e as ExpflowError).hint).toMatch(/pinStdin/);
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
    /** How many times the prompt is shown: a wrong PIN there is asked again, up to 3 times. */
    promptShown: number;
  }
  const cases: Case[] = [
    { name: "--pin right beats the others (all wrong)", options: { pin: PIN, pinStdin: true }, stdin: WRONG, env: WRONG, prompt: WRONG, expect: "allowed", stdinRead: false, promptShown: 0 },
    { name: "--pin wrong is not rescued by the others", options: { pin: WRONG, pinStdin: true }, stdin: PIN, env: PIN, prompt: PIN, expect: "E_PIN_WRONG", stdinRead: false, promptShown: 0 },
    { name: "--pin-stdin right beats EXPFLOW_PIN and prompt", options: { pinStdin: true }, stdin: `${PIN}\n`, env: WRONG, prompt: WRONG, expect: "allowed", stdinRead: true, promptShown: 0 },
    { name: "--pin-stdin with CRLF", options: { pinStdin: true }, stdin: `${PIN}\r\n`, env: undefined, prompt: undefined, expect: "allowed", stdinRead: true, promptShown: 0 },
    { name: "--pin-stdin wrong is not rescued", options: { pinStdin: true }, stdin: WRONG, env: PIN, prompt: PIN, expect: "E_PIN_WRONG", stdinRead: true, promptShown: 0 },
    { name: "EXPFLOW_PIN right beats the prompt", options: {}, stdin: null, env: PIN, prompt: WRONG, expect: "allowed", stdinRead: false, promptShown: 0 },
    { name: "EXPFLOW_PIN wrong is not rescued by the prompt", options: {}, stdin: null, env: WRONG, prompt: PIN, expect: "E_PIN_WRONG", stdinRead: false, promptShown: 0 },
    { name: "the prompt, when nothing else", options: {}, stdin: null, env: undefined, prompt: PIN, expect: "allowed", stdinRead: false, promptShown: 1 },
    { name: "the prompt, wrong (asked 3 times)", options: {}, stdin: null, env: undefined, prompt: WRONG, expect: "E_PIN_WRONG", stdinRead: false, promptShown: 3 },
    { name: "standard input is not read without --pin-stdin", options: {}, stdin: WRONG, env: undefined, prompt: PIN, expect: "allowed", stdinRead: false, promptShown: 1 },
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
    if (ch.prompt) expect(ch.prompt).toHaveBeenCalledTimes(c.promptShown);
    const processListWarnings = ctx.warnings.filter((w) => /process list/.test(w));
    expect(processListWarnings).toHaveLength(c.options.pin !== undefined ? 1 : 0);
    // One record per PIN tried: a wrong PIN at the prompt is asked again, and each answer is audited.
    expect(outcomes(home)).toEqual(c.expect === "allowed" ? ["allowed"] : Array.from({ length: Math.max(1, c.promptShown) }, () => "denied"));
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
    for (const bad of ["694", "6947069470694", "٦٩٤٧", "６９４７", "69 7", "abcd"]) {
      const { home, cwd } = await setup();
      const m = make(bad);
      const e = await rejectionOf(guard("run.cancel", "x", m.options, guardContext(home, cwd, m.ctx)));
      expect(e, bad).toBeInstanceOf(UsageError);
      expect(e).toMatchObject({ code: "E_PIN_FORMAT", exitCode: 2 });
      expect((e as Error).message).toMatch(/4 to 12 ASCII digits/);
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
    expect(parsePinHash(readFileSync(join(home, "pin.hash"), "utf8").split("\n")[0]!)?.format).toBe("scrypt");
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

describe("guard: the prompt names the action and asks again after a wrong PIN", () => {
  /** A prompt that answers from a list, recording every message it shows. */
  function scripted(answers: (string | Error)[]) {
    const shown: string[] = [];
    const prompt = vi.fn((message: string): Promise<string> => {
      shown.push(message);
      const a = answers.shift();
      if (a === undefined) return Promise.reject(new Error("the prompt was shown more often than expected"));
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    });
    return { prompt, shown };
  }

  it("the first prompt says what the PIN is for", async () => {
    const { home, cwd } = await setup();
    const p = scripted([PIN]);
    expect(await guard("run.cancel", "exp-7", {}, guardContext(home, cwd, { prompt: p.prompt }))).toBe("allowed");
    expect(p.shown).toEqual(["PIN to cancel run exp-7:"]);
  });

  it("a wrong PIN, then the right one: allowed after the re-ask, which says how many tries are left", async () => {
    const { home, cwd } = await setup();
    const p = scripted([WRONG, PIN]);
    expect(await guard("run.delete", "exp-8", {}, guardContext(home, cwd, { prompt: p.prompt }))).toBe("allowed");
    expect(p.shown).toEqual(["PIN to delete run exp-8 permanently:", "Wrong PIN (4 tries left before the PIN is locked for 30 s). PIN to delete run exp-8 permanently:"]);
    expect(outcomes(home)).toEqual(["denied", "allowed"]);
    // The right PIN reset the count of failures.
    expect(() => readFileSync(join(home, "pin.lockout.json"))).toThrow();
  });

  it("three wrong PINs at the prompt: E_PIN_WRONG (exit 3) saying the tries left, each try audited and counted", async () => {
    const { home, cwd } = await setup();
    const p = scripted([WRONG, WRONG, WRONG]);
    const e = await rejectionOf(guard("run.cancel", "exp-9", {}, guardContext(home, cwd, { prompt: p.prompt })));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_WRONG", exitCode: 3 });
    expect((e as Error).message).toContain("2 tries left before the PIN is locked for 30 s");
    expect(p.shown).toEqual([
      "PIN to cancel run exp-9:",
      "Wrong PIN (4 tries left before the PIN is locked for 30 s). PIN to cancel run exp-9:",
      "Wrong PIN (3 tries left before the PIN is locked for 30 s). PIN to cancel run exp-9:",
    ]);
    expect(outcomes(home)).toEqual(["denied", "denied", "denied"]);
    expect(JSON.parse(readFileSync(join(home, "pin.lockout.json"), "utf8"))).toEqual({ failures: 3, locked_until: null });
  });

  it("re-asking stops when a wrong PIN starts the lockout; the last try left is said in the singular", async () => {
    const { home, cwd } = await setup();
    for (let i = 0; i < 3; i++) await guard("a", "t", { pin: WRONG }, guardContext(home, cwd)).catch(() => {});
    const p = scripted([WRONG, WRONG, PIN]);
    const e = await rejectionOf(guard("run.cancel", "exp-10", {}, guardContext(home, cwd, { prompt: p.prompt })));
    expect(e).toMatchObject({ code: "E_PIN_WRONG", exitCode: 3 });
    expect((e as Error).message).toContain("30 s");
    expect(p.shown).toEqual(["PIN to cancel run exp-10:", "Wrong PIN (1 try left before the PIN is locked for 30 s). PIN to cancel run exp-10:"]);
    expect(outcomes(home).slice(3)).toEqual(["denied", "denied", "locked"]);
  });

  it("a malformed PIN at the re-ask is E_PIN_FORMAT (exit 2), audited", async () => {
    const { home, cwd } = await setup();
    const p = scripted([WRONG, "12"]);
    await expect(guard("run.cancel", "x", {}, guardContext(home, cwd, { prompt: p.prompt }))).rejects.toMatchObject({ code: "E_PIN_FORMAT", exitCode: 2 });
    expect(outcomes(home)).toEqual(["denied", "denied"]);
  });

  it.each([
    ["at the first prompt", [] as string[]],
    ["at the re-ask", [WRONG]],
  ])("an InterruptedError (Ctrl-C) from the prompt %s propagates as it is (exit 130) and is audited as denied", async (_n, before) => {
    const { home, cwd } = await setup();
    const interrupted = new InterruptedError("E_INTERRUPTED", "interrupted at the PIN prompt");
    const p = scripted([...before, interrupted, PIN]);
    const e = await rejectionOf(guard("run.cancel", "x", {}, guardContext(home, cwd, { prompt: p.prompt })));
    expect(e).toBe(interrupted);
    expect(e).toMatchObject({ exitCode: 130 });
    expect(p.shown).toHaveLength(before.length + 1);
    const records = readAudit(home);
    expect(records.map((r) => r.outcome)).toEqual([...before.map(() => "denied"), "denied"]);
    expect(records.at(-1)?.detail).toMatch(/PIN entry ended: interrupted at the PIN prompt/);
    expect(verifyAudit(home).ok).toBe(true);
  });

  it("a wrong PIN from another channel is not re-asked; its error says how many tries are left", async () => {
    const { home, cwd } = await setup();
    const p = scripted([PIN]);
    const e = await rejectionOf(guard("run.cancel", "x", {}, guardContext(home, cwd, { prompt: p.prompt, env: { EXPFLOW_PIN: WRONG } })));
    expect(e).toMatchObject({ code: "E_PIN_WRONG", exitCode: 3 });
    expect((e as Error).message).toBe("wrong PIN (4 tries left before the PIN is locked for 30 s)");
    expect(p.prompt).not.toHaveBeenCalled();
  });

  it("describeAction names each guarded action in words", () => {
    expect(describeAction("run.cancel", "e1")).toBe("cancel run e1");
    expect(describeAction("run.archive", "e1")).toBe("archive run e1");
    expect(describeAction("run.delete", "e1")).toBe("delete run e1 permanently");
    expect(describeAction("registry.compact", "/r.jsonl")).toBe("compact the registry /r.jsonl");
    expect(describeAction("pin.change", "pin")).toBe("change the PIN");
    expect(describeAction("pin.clear", "pin")).toMatch(/^clear the PIN/);
    expect(describeAction("pin.policy", "pin")).toBe("let force stand in for the PIN");
    expect(describeAction("other.thing", "t")).toBe("other.thing t");
  });
});

describe("guard: --force only by the PIN owner's choice", () => {
  it("refused by default, even with the right PIN beside it in the environment; the hint names EXPFLOW_PIN and pinStdin", async () => {
    const { home, cwd } = await setup();
    const e = await rejectionOf(guard("run.delete", "exp-3", { force: true }, guardContext(home, cwd, { env: { EXPFLOW_PIN: PIN } })));
    expect(e).toMatchObject({ code: "E_FORCE_DISALLOWED", exitCode: 3 });
    expect((e as Error).message).toContain("delete run exp-3 permanently needs the PIN");
    expect((e as ExpflowError).hint).toContain("EXPFLOW_PIN");
    expect((e as ExpflowError).hint).toContain("pinStdin");
    expect(readAudit(home)[0]?.detail).toMatch(/--force refused: the PIN owner has not allowed it/);
  });

  it("allowed by the owner (pin policy --allow-force in the PIN file): 'forced', the record names where the permission comes from", async () => {
    const { home, cwd } = await setup(PIN, { allowForce: true });
    expect(await guard("run.cancel", "exp-11", { force: true }, guardContext(home, cwd))).toBe("forced");
    const detail = readAudit(home)[0]?.detail ?? "";
    expect(detail).toContain(join(home, "pin.hash"));
    expect(detail).toContain("pin policy --allow-force");
  });

  it("forbidden by a config file even when the owner allowed it; the message names the file", async () => {
    const { home, cwd } = await setup(PIN, { allowForce: true });
    const e = await rejectionOf(guard("run.cancel", "exp-12", { force: true }, guardContext(home, cwd, { forceForbiddenBy: "/proj/expflow.yaml" })));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_FORCE_DISALLOWED", exitCode: 3 });
    expect((e as Error).message).toContain("pin.allow_force is false in /proj/expflow.yaml");
    expect(outcomes(home)).toEqual(["denied"]);
  });

  it("a configuration that says allow_force: true no longer allows --force: only the PIN owner can (config used to default to allowing it)", async () => {
    const { home, cwd } = await setup();
    // The earlier GuardContext field `allowForce` (from pin.allow_force in config, default true).
    const ctx = { ...guardContext(home, cwd), allowForce: true } as GuardContext;
    await expect(guard("run.cancel", "x", { force: true }, ctx)).rejects.toMatchObject({ code: "E_FORCE_DISALLOWED", exitCode: 3 });
    expect(outcomes(home)).toEqual(["denied"]);
  });

  it("a hash from EXPFLOW_PIN_HASH has no owner's policy: --force is refused", async () => {
    const { home, cwd } = await setup(null);
    const ctx = { ...guardContext(home, cwd, { env: { EXPFLOW_PIN_HASH: await hashPin(PIN, FAST) } }), allowForce: true } as GuardContext;
    await expect(guard("run.cancel", "x", { force: true }, ctx)).rejects.toMatchObject({ code: "E_FORCE_DISALLOWED" });
  });

  it("forcePolicy: false by default; the owner's choice; a file only narrows it", () => {
    const file = "/h/pin.hash";
    const allowed = { ...DEFAULT_PIN_META, allow_force: true, policy_changed: { time: "2031-01-15T08:00:00.000Z", by: "o@h" } };
    expect(forcePolicy(undefined, file, undefined)).toEqual({ value: false, source: "default" });
    expect(forcePolicy(DEFAULT_PIN_META, file, undefined)).toEqual({ value: false, source: "default" });
    expect(forcePolicy(allowed, file, undefined)).toEqual({ value: true, source: "/h/pin.hash (pin policy --allow-force, 2031-01-15T08:00:00.000Z by o@h)" });
    expect(forcePolicy(allowed, file, "/p/expflow.yaml")).toEqual({ value: false, source: "/p/expflow.yaml" });
    expect(forcePolicy({ ...allowed, allow_force: false }, file, undefined)).toMatchObject({ value: false, source: expect.stringContaining("--no-allow-force") });
  });
});

describe("guard: a registry's protection sidecar decides whose PIN applies", () => {
  const PIN_A = "4815";
  const PIN_B = "1623";
  const actor = { now: () => new Date(T0), user: "owner", host: "box" };

  /** Home A (PIN_A) owning a bound registry, and home B, another EXPFLOW_HOME (with PIN_B if asked). */
  async function bound(options: { bPin?: boolean } = {}): Promise<{ a: string; b: string; cwd: string; registry: string }> {
    const a = newDir();
    const b = newDir();
    const cwd = newDir();
    await setPin(a, PIN_A);
    if (options.bPin !== false) await setPin(b, PIN_B);
    const registry = join(newDir(), "registry.jsonl");
    writeFileSync(registry, "");
    bindRegistry(registry, a, actor);
    return { a, b, cwd, registry };
  }

  const logOf = (home: string): AuditRecord[] => readAudit(home);
  const lockoutOf = (home: string): unknown => (existsSync(join(home, "pin.lockout.json")) ? JSON.parse(readFileSync(join(home, "pin.lockout.json"), "utf8")) : undefined);

  it.each([
    ["B has its own PIN", true],
    ["B has no PIN", false],
  ])("reached from home B (%s, with EXPFLOW_PIN_HASH and a config hash for B's PIN): B's PIN is refused, counted in A's lockout, recorded in A's log only", async (_n, bPin) => {
    const { a, b, cwd, registry } = await bound({ bPin });
    const hashB = await hashPin(PIN_B, FAST);
    const ctx = guardContext(b, cwd, { registry, env: { EXPFLOW_PIN: PIN_B, EXPFLOW_PIN_HASH: hashB }, configHash: { value: hashB, source: "/p/expflow.yaml" } });
    const e = await rejectionOf(guard("run.delete", "exp-1", {}, ctx));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_WRONG", exitCode: 3 });
    expect(lockoutOf(a)).toEqual({ failures: 1, locked_until: null });
    expect(lockoutOf(b)).toBeUndefined();
    expect(logOf(a)).toEqual([expect.objectContaining({ action: "run.delete", target: "exp-1", outcome: "denied" })]);
    expect(logOf(a)[0]?.detail).toContain(`EXPFLOW_HOME was ${b}`);
    expect(existsSync(join(b, "audit.jsonl"))).toBe(false);
  });

  it("A's PIN lets it through from home B; the record lands in A's log, B's log gets nothing", async () => {
    const { a, b, cwd, registry } = await bound();
    expect(await guard("run.delete", "exp-2", {}, guardContext(b, cwd, { registry, env: { EXPFLOW_PIN: PIN_A } }))).toBe("allowed");
    expect(logOf(a).map((r) => r.outcome)).toEqual(["allowed"]);
    expect(verifyAudit(a).ok).toBe(true);
    expect(existsSync(join(b, "audit.jsonl"))).toBe(false);
  });

  it("through a symlink to the registry and through a relative path, the binding holds", async () => {
    const { a, b, cwd, registry } = await bound({ bPin: false });
    const link = join(newDir(), "link.jsonl");
    symlinkSync(registry, link);
    const rel = relative(process.cwd(), registry);
    expect(rel.startsWith("/")).toBe(false);
    for (const path of [link, rel]) {
      // Without any PIN of its own, B would get 'no-pin' if the binding were not found.
      await expect(guard("run.cancel", "exp-3", {}, guardContext(b, cwd, { registry: path })), path).rejects.toMatchObject({ code: "E_PIN_REQUIRED" });
      expect(await guard("run.cancel", "exp-3", { pin: PIN_A }, guardContext(b, cwd, { registry: path }))).toBe("allowed");
    }
    expect(logOf(a).map((r) => r.outcome)).toEqual(["denied", "allowed", "denied", "allowed"]);
    expect(existsSync(join(b, "audit.jsonl"))).toBe(false);
  });

  it("--force follows A's policy, not B's", async () => {
    const { a, b, cwd, registry } = await bound();
    await setPin(b, PIN_B, { allowForce: true });
    await expect(guard("run.cancel", "x", { force: true }, guardContext(b, cwd, { registry }))).rejects.toMatchObject({ code: "E_FORCE_DISALLOWED" });
    await setPin(a, PIN_A, { allowForce: true });
    expect(await guard("run.cancel", "x", { force: true }, guardContext(b, cwd, { registry }))).toBe("forced");
    expect(logOf(a).map((r) => r.outcome)).toEqual(["denied", "forced"]);
  });

  it("A's lockout applies from B", async () => {
    const { a, b, cwd, registry } = await bound();
    for (let i = 0; i < 5; i++) await guard("a", "t", { pin: WRONG }, guardContext(a, cwd)).catch(() => {});
    await expect(guard("run.cancel", "x", { pin: PIN_A }, guardContext(b, cwd, { registry }))).rejects.toMatchObject({ code: "E_PIN_LOCKED" });
  });

  it("A's pin.hash removed: E_PROTECTION_BROKEN (exit 3) naming the PIN file expected, whatever B offers (--force, its own PIN)", async () => {
    const { a, b, cwd, registry } = await bound();
    rmSync(join(a, "pin.hash"));
    for (const [options, env] of [
      [{}, { EXPFLOW_PIN: PIN_B, EXPFLOW_PIN_HASH: legacyHash(PIN_B) }],
      [{ force: true }, {}],
      [{ pin: PIN_A }, {}],
    ] as [GuardOptions, Record<string, string>][]) {
      const e = await rejectionOf(guard("run.delete", "exp-4", options, guardContext(b, cwd, { registry, env })));
      expect(e).toBeInstanceOf(DeniedError);
      expect(e).toMatchObject({ code: "E_PROTECTION_BROKEN", exitCode: 3 });
      expect((e as Error).message).toContain(join(realHome(a), "pin.hash"));
      expect((e as ExpflowError).hint).toContain(sidecarOf(registry));
    }
    expect(logOf(a).map((r) => r.outcome)).toEqual(["denied", "denied", "denied"]);
    expect(existsSync(join(b, "audit.jsonl"))).toBe(false);
  });

  it.each([
    ["not JSON", (p: string) => writeFileSync(p, "{oops")],
    ["a directory", (p: string) => mkdirSync(p)],
    ["another version", (p: string) => writeFileSync(p, JSON.stringify({ version: 2, home: "/h", bound_at: "t", bound_by: "b" }))],
    ["a relative home", (p: string) => writeFileSync(p, JSON.stringify({ version: 1, home: "h", bound_at: "t", bound_by: "b" }))],
    ["no home", (p: string) => writeFileSync(p, JSON.stringify({ version: 1, bound_at: "t", bound_by: "b" }))],
  ])("an unreadable sidecar (%s): E_PROTECTION_UNREADABLE (exit 3), even where no PIN is set; audited in the caller's log", async (_n, damage) => {
    const b = newDir();
    const cwd = newDir();
    const registry = join(newDir(), "registry.jsonl");
    writeFileSync(registry, "");
    damage(sidecarOf(registry));
    const e = await rejectionOf(guard("run.cancel", "x", { force: true }, guardContext(b, cwd, { registry })));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PROTECTION_UNREADABLE", exitCode: 3 });
    expect((e as Error).message).toContain(sidecarOf(registry));
    expect(outcomes(b)).toEqual(["denied"]);
  });

  it("the first guarded action binds an unbound registry to the caller's PIN file: the sidecar appears, the PIN file lists the registry", async () => {
    const b = newDir();
    const c = newDir();
    const cwd = newDir();
    await setPin(b, PIN_B);
    const dir = newDir();
    const registry = join(dir, "registry.jsonl");
    writeFileSync(registry, "");
    const link = join(newDir(), "via-link.jsonl");
    symlinkSync(registry, link);
    expect(readProtection(registry)).toBeUndefined();
    expect(await guard("run.cancel", "x", { pin: PIN_B }, guardContext(b, cwd, { registry: link }))).toBe("allowed");
    expect(readProtection(registry)).toMatchObject({ version: 1, home: realHome(b), bound_by: "tester@testhost" });
    expect(existsSync(`${realRegistryPath(registry)}.protection.json`)).toBe(true);
    expect(readPinFile(b)?.meta?.registries).toEqual([realRegistryPath(registry)]);
    // From then on it needs B's PIN from any home, C without a PIN included.
    await expect(guard("run.cancel", "x", {}, guardContext(c, cwd, { registry }))).rejects.toMatchObject({ code: "E_PIN_REQUIRED" });
    expect(await guard("run.cancel", "x", { pin: PIN_B }, guardContext(c, cwd, { registry }))).toBe("allowed");
    // Binding again does not list it twice.
    expect(await guard("run.cancel", "x", { pin: PIN_B }, guardContext(b, cwd, { registry }))).toBe("allowed");
    expect(readPinFile(b)?.meta?.registries).toEqual([realRegistryPath(registry)]);
    expect(existsSync(join(c, "audit.jsonl"))).toBe(false);
  });

  it("a registry without a sidecar inside a home with a PIN file (the default layout) is protected by that home's PIN from any other home", async () => {
    const a = newDir();
    const b = newDir();
    const cwd = newDir();
    await setPin(a, PIN_A);
    const registry = join(a, "experiments.jsonl");
    writeFileSync(registry, "");
    await expect(guard("run.delete", "exp-5", {}, guardContext(b, cwd, { registry, env: { EXPFLOW_PIN: PIN_B, EXPFLOW_PIN_HASH: legacyHash(PIN_B) } }))).rejects.toMatchObject({ code: "E_PIN_WRONG" });
    expect(readProtection(registry)).toMatchObject({ home: realHome(a) });
    expect(await guard("run.delete", "exp-5", { pin: PIN_A }, guardContext(b, cwd, { registry }))).toBe("allowed");
    expect(logOf(a).map((r) => r.outcome)).toEqual(["denied", "allowed"]);
    expect(existsSync(join(b, "audit.jsonl"))).toBe(false);
  });

  it("a sidecar removed by hand while the PIN file lists the registry: refused once (E_PROTECTION_BROKEN), the sidecar restored, then the PIN works again", async () => {
    const b = newDir();
    const cwd = newDir();
    await setPin(b, PIN_B);
    const registry = join(newDir(), "registry.jsonl");
    writeFileSync(registry, "");
    expect(await guard("run.cancel", "x", { pin: PIN_B }, guardContext(b, cwd, { registry }))).toBe("allowed");
    rmSync(sidecarOf(registry));
    const e = await rejectionOf(guard("run.cancel", "x", { pin: PIN_B }, guardContext(b, cwd, { registry })));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PROTECTION_BROKEN", exitCode: 3 });
    expect((e as Error).message).toContain(sidecarOf(registry));
    expect(readProtection(registry)).toMatchObject({ home: realHome(b) });
    expect(await guard("run.cancel", "x", { pin: PIN_B }, guardContext(b, cwd, { registry }))).toBe("allowed");
    expect(outcomes(b)).toEqual(["allowed", "denied", "allowed"]);
  });

  it("without a PIN, a registry is not bound ('no-pin', no sidecar)", async () => {
    const b = newDir();
    const registry = join(newDir(), "registry.jsonl");
    writeFileSync(registry, "");
    expect(await guard("run.cancel", "x", {}, guardContext(b, newDir(), { registry }))).toBe("no-pin");
    expect(existsSync(sidecarOf(registry))).toBe(false);
  });

  it("a bound registry whose home's log the PIN anchors is gone: E_PROTECTION_BROKEN after recording it in that log", async () => {
    const { a, b, cwd, registry } = await bound();
    expect(await guard("run.cancel", "x", { pin: PIN_A }, guardContext(b, cwd, { registry }))).toBe("allowed");
    rmSync(join(a, "audit.jsonl"));
    const e = await rejectionOf(guard("run.cancel", "x", { pin: PIN_A }, guardContext(b, cwd, { registry })));
    expect(e).toMatchObject({ code: "E_PROTECTION_BROKEN", exitCode: 3 });
    expect((e as Error).message).toContain(join(a, "audit.jsonl"));
    expect(logOf(a).map((r) => r.outcome)).toEqual(["damaged", "denied"]);
    expect(existsSync(join(b, "audit.jsonl"))).toBe(false);
  });
});

describe("guard: a PIN file whose anchored log is missing or empty", () => {
  it.each([
    ["the log deleted", (home: string) => rmSync(join(home, "audit.jsonl"))],
    ["the log emptied", (home: string) => writeFileSync(join(home, "audit.jsonl"), "")],
    [
      "the log and its head deleted",
      (home: string) => {
        rmSync(join(home, "audit.jsonl"));
        rmSync(join(home, "audit.head"));
      },
    ],
  ])("%s: refused with E_PROTECTION_BROKEN (exit 3) once, after the damage is recorded; verify keeps failing; the next run goes on", async (_n, tamper) => {
    const { home, cwd } = await setup();
    expect(await guard("run.cancel", "x", { pin: PIN }, guardContext(home, cwd))).toBe("allowed");
    expect(await guard("run.cancel", "y", { pin: PIN }, guardContext(home, cwd))).toBe("allowed");
    tamper(home);
    const e = await rejectionOf(guard("run.cancel", "z", { pin: PIN }, guardContext(home, cwd)));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PROTECTION_BROKEN", exitCode: 3 });
    const records = readAudit(home);
    expect(records.map((r) => r.outcome)).toEqual(["damaged", "denied"]);
    expect(records[0]?.detail).toMatch(/records 1-2 gone/);
    expect(verifyAudit(home).ok).toBe(false);
    expect(await guard("run.cancel", "z", { pin: PIN }, guardContext(home, cwd))).toBe("allowed");
    expect(verifyAudit(home).ok).toBe(false);
  });
});

describe("guard: fails closed on an unreadable lockout file or PIN file", () => {
  it.each([
    ["a directory", (p: string) => mkdirSync(p)],
    ["garbage", (p: string) => writeFileSync(p, "\u0000\u0001garbage")],
    ["wrong fields", (p: string) => writeFileSync(p, JSON.stringify({ failures: "many", locked_until: null }))],
  ])("lockout file %s: E_LOCKOUT_UNREADABLE (exit 3) for the right and the wrong PIN alike, audited, no prompt", async (_n, damage) => {
    const { home, cwd } = await setup();
    damage(join(home, "pin.lockout.json"));
    const prompt = vi.fn(() => Promise.resolve(PIN));
    for (const pin of [PIN, WRONG]) {
      const e = await rejectionOf(guard("run.cancel", "x", { pin }, guardContext(home, cwd, { prompt })));
      expect(e).toBeInstanceOf(DeniedError);
      expect(e).toMatchObject({ code: "E_LOCKOUT_UNREADABLE", exitCode: 3 });
    }
    await expect(guard("run.cancel", "x", {}, guardContext(home, cwd, { prompt }))).rejects.toMatchObject({ code: "E_LOCKOUT_UNREADABLE" });
    expect(prompt).not.toHaveBeenCalled();
    expect(outcomes(home)).toEqual(["denied", "denied", "denied"]);
  });

  it("a damaged meta line in pin.hash: E_PIN_DAMAGED even with the right PIN", async () => {
    const { home, cwd } = await setup(null);
    writeFileSync(join(home, "pin.hash"), `${await hashPin(PIN, FAST)}\n{"allow_force":tru\n`);
    await expect(guard("run.cancel", "x", { pin: PIN }, guardContext(home, cwd))).rejects.toMatchObject({ code: "E_PIN_DAMAGED", exitCode: 3 });
    expect(outcomes(home)).toEqual(["denied"]);
  });

  it("a pin.hash that is a directory: E_PIN_DAMAGED (exit 3), audited as denied, not 'no-pin'", async () => {
    const { home, cwd } = await setup(null);
    mkdirSync(join(home, "pin.hash"));
    const e = await rejectionOf(guard("run.cancel", "x", { force: true, pin: PIN }, guardContext(home, cwd)));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PIN_DAMAGED", exitCode: 3 });
    expect(outcomes(home)).toEqual(["denied"]);
  });

  it("an audit log that is a directory: BackendError E_AUDIT_UNREADABLE (exit 4), nothing let through unrecorded, even without a PIN", async () => {
    for (const pin of [PIN, null]) {
      const { home, cwd } = await setup(pin);
      mkdirSync(join(home, "audit.jsonl"));
      const e = await rejectionOf(guard("run.cancel", "x", { pin: PIN }, guardContext(home, cwd)));
      expect(e).toBeInstanceOf(BackendError);
      expect(e).toMatchObject({ code: "E_AUDIT_UNREADABLE", exitCode: 4 });
    }
  });
});

import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appendAudit } from "../../src/security/audit-log.js";
import { ensurePrivateDir, removeFile, writeFileAtomic } from "../../src/util/private-files.js";
import { guard } from "../../src/security/guard.js";
import { initPin, verifyPin } from "../../src/security/pin.js";
import { guardContext, leftovers, modeOf, pinContext, setPin, T0, tempDirs, thrownBy } from "../security/helpers.js";

const newDir = tempDirs();
const actor = { now: () => new Date(T0), user: "u", host: "h" };

describe("file and directory modes", () => {
  it("a new home is 0700; pin.hash, pin.lockout.json, audit.jsonl and audit.head are 0600; nothing else is left behind", async () => {
    const home = join(newDir(), "nested", "home");
    const cwd = newDir();
    await initPin("5731", { home });
    expect(modeOf(home)).toBe(0o700);
    expect(modeOf(join(home, "pin.hash"))).toBe(0o600);

    await verifyPin("5730", pinContext(home, cwd));
    expect(modeOf(join(home, "pin.lockout.json"))).toBe(0o600);

    await guard("run.cancel", "e", { pin: "5730" }, guardContext(home, cwd)).catch(() => {});
    await guard("run.cancel", "e", { pin: "5731" }, guardContext(home, cwd));
    expect(modeOf(join(home, "audit.jsonl"))).toBe(0o600);
    expect(modeOf(join(home, "audit.head"))).toBe(0o600);
    expect(modeOf(home)).toBe(0o700);
    expect(readdirSync(home).sort()).toEqual(["audit.head", "audit.jsonl", "pin.hash"]);
  });

  it.each([
    ["initPin", async (home: string) => initPin("5731", { home })],
    ["appendAudit", async (home: string) => appendAudit(home, { action: "a", target: "t", outcome: "allowed" }, actor)],
    [
      "verifyPin",
      async (home: string) => {
        await setPin(home, "5731");
        chmodSync(home, 0o755);
        return verifyPin("5731", pinContext(home, newDir()));
      },
    ],
    ["guard", async (home: string) => guard("a", "t", {}, guardContext(home, newDir()))],
  ] as [string, (home: string) => Promise<unknown>][])("an existing 0755 home is tightened to 0700 by %s", async (_n, op) => {
    const home = newDir();
    chmodSync(home, 0o755);
    await op(home);
    expect(modeOf(home)).toBe(0o700);
    expect(leftovers(home)).toEqual([]);
  });

  it("a pre-existing pin.hash readable by others is rewritten 0600", async () => {
    const home = newDir();
    writeFileSync(join(home, "pin.hash"), "old", { mode: 0o644 });
    chmodSync(join(home, "pin.hash"), 0o644);
    await initPin("5731", { home });
    expect(modeOf(join(home, "pin.hash"))).toBe(0o600);
  });

  it("a pre-existing audit.jsonl readable by others is 0600 once expflow has appended to it", async () => {
    const home = newDir();
    writeFileSync(join(home, "audit.jsonl"), "");
    chmodSync(join(home, "audit.jsonl"), 0o644);
    await appendAudit(home, { action: "a", target: "t", outcome: "allowed" }, actor);
    expect(modeOf(join(home, "audit.jsonl"))).toBe(0o600);
  });
});

describe("ensurePrivateDir", () => {
  it("creates missing directories 0700, tightens group/other read and search bits, leaves 0700 alone", () => {
    const base = newDir();
    const d = join(base, "a", "b");
    ensurePrivateDir(d);
    expect(modeOf(d)).toBe(0o700);
    for (const mode of [0o755, 0o701, 0o710, 0o750, 0o700]) {
      chmodSync(d, mode);
      ensurePrivateDir(d);
      expect(modeOf(d), mode.toString(8)).toBe(0o700);
    }
  });

  it("refuses a directory its group or others can write to, and leaves its mode (sticky bit included) as it was", () => {
    const d = join(newDir(), "shared");
    mkdirSync(d);
    for (const mode of [0o777, 0o1777, 0o770, 0o720, 0o702]) {
      chmodSync(d, mode);
      const e = thrownBy(() => ensurePrivateDir(d));
      expect((e as { code?: string }).code, mode.toString(8)).toBe("E_HOME_UNSAFE");
      expect(statSync(d).mode & 0o7777).toBe(mode);
    }
  });
});

describe("writeFileAtomic", () => {
  it("replaces the content whole, with mode 0600, leaving no temporary file", () => {
    const dir = newDir();
    const path = join(dir, "state.json");
    writeFileSync(path, "old content that is longer than the new one");
    chmodSync(path, 0o666);
    writeFileAtomic(path, "new");
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(modeOf(path)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["state.json"]);
  });

  it("a failed write leaves the target as it was and no temporary file behind", () => {
    const dir = newDir();
    const target = join(dir, "occupied");
    mkdirSync(target);
    writeFileSync(join(target, "inside"), "x");
    expect(thrownBy(() => writeFileAtomic(target, "data"))).toBeInstanceOf(Error);
    expect(readdirSync(dir)).toEqual(["occupied"]);
    expect(readFileSync(join(target, "inside"), "utf8")).toBe("x");
  });

  it("many writes in a row leave exactly one file", () => {
    const dir = newDir();
    const path = join(dir, "f");
    for (let i = 0; i < 50; i++) writeFileAtomic(path, `v${i}`);
    expect(readFileSync(path, "utf8")).toBe("v49");
    expect(readdirSync(dir)).toEqual(["f"]);
  });
});

describe("removeFile", () => {
  it("says whether it removed something", () => {
    const dir = newDir();
    writeFileSync(join(dir, "x"), "");
    expect(removeFile(join(dir, "x"))).toBe(true);
    expect(existsSync(join(dir, "x"))).toBe(false);
    expect(removeFile(join(dir, "x"))).toBe(false);
  });
});

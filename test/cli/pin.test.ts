import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, runInProcess, tempDir } from "../helpers/cli.js";
import { hasTmux, onTerminal } from "../helpers/terminal.js";

function home(): string {
  return join(tempDir(), "home");
}

// In this process (run(argv, io), test/helpers/cli.ts); the cases about standard input that
// stays open and the hidden prompt spawn the built binary (on a pipe, on a real terminal).
const cli = (h: string, args: string[], options: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {}) =>
  runInProcess(args, { ...options, env: { EXPFLOW_HOME: h, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, ...options.env } });

function auditRecords(h: string): { seq: number; action: string; outcome: string; detail: string | null }[] {
  return readFileSync(join(h, "audit.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { seq: number; action: string; outcome: string; detail: string | null });
}

async function withPin(pin = "4826"): Promise<string> {
  const h = home();
  const r = await cli(h, ["pin", "init", pin]);
  expect(r.code).toBe(0);
  return h;
}

describe("expflow pin", () => {
  it("without a PIN: status says none, check passes (exit 0) and says so", async () => {
    const h = home();
    const s = await cli(h, ["pin", "status", "--json"]);
    expect(JSON.parse(s.stdout)).toEqual({ active: false, source: "none", format: null, locked_until: null });
    const c = await cli(h, ["pin", "check"]);
    expect(c.code).toBe(0);
    expect(c.stdout).toContain("No PIN is set");
  });

  it("init stores a salted scrypt hash, 0600 in a 0700 home, never the PIN", async () => {
    const h = await withPin("4826");
    const text = readFileSync(join(h, "pin.hash"), "utf8");
    // The hash line, then the meta line (force policy, the audit log's anchor, protected registries).
    expect(text).toMatch(/^\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\n\{.*\}\n$/);
    expect(text).not.toContain("4826");
    expect(statSync(join(h, "pin.hash")).mode & 0o777).toBe(0o600);
    expect(statSync(h).mode & 0o777).toBe(0o700);
    expect(JSON.parse((await cli(h, ["pin", "status", "--json"])).stdout)).toEqual({ active: true, source: "file", format: "scrypt", locked_until: null });
  });

  it.each([["12a4"], ["123"], ["1234567890123"], ["١٢٣٤"], ["１２３４"]])("init rejects %s with exit 2 stating the rule", async (pin) => {
    const h = home();
    const r = await cli(h, ["pin", "init", pin]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a PIN is 4 to 12 ASCII digits");
    expect(existsSync(join(h, "pin.hash"))).toBe(false);
  });

  it("check accepts the PIN from --pin (with a warning), --pin-stdin and EXPFLOW_PIN; a wrong one is exit 3", async () => {
    const h = await withPin("4826");
    const a = await cli(h, ["pin", "check", "--pin", "4826"]);
    expect([a.code, a.stdout]).toEqual([0, "PIN correct.\n"]);
    expect(a.stderr).toContain("visible in the process list");
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" })).code).toBe(0);
    expect((await cli(h, ["pin", "check"], { env: { EXPFLOW_PIN: "4826" } })).code).toBe(0);
    const wrong = await cli(h, ["pin", "check", "--pin-stdin"], { input: "1111\n" });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain("wrong PIN");
    // --pin beats EXPFLOW_PIN.
    expect((await cli(h, ["pin", "check", "--pin", "1111"], { env: { EXPFLOW_PIN: "4826" } })).code).toBe(3);
  });

  it("fails closed at once without a TTY, even while standard input stays open", async () => {
    const h = await withPin();
    const child = spawn(process.execPath, [CLI, "pin", "check"], {
      env: { ...process.env, EXPFLOW_HOME: h, EXPFLOW_PIN: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    // Standard input is never written to nor closed: a guard that read it would hang here.
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("expflow pin check blocked on an open, non-TTY standard input"));
      }, 20_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    child.stdin.end();
    expect(code).toBe(3);
    expect(stderr).toContain("a PIN is required to check the PIN (pin.check)");
    expect(stderr).toContain("--pin-stdin");
    expect(stderr).toContain("EXPFLOW_PIN");
  });

  it("changing the PIN needs the current one; the old PIN then stops working", async () => {
    const h = await withPin("4826");
    const denied = await cli(h, ["pin", "init", "7391"]);
    expect(denied.code).toBe(3);
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" })).code).toBe(0);
    const changed = await cli(h, ["pin", "init", "--pin-stdin", "--new-pin-stdin"], { input: "4826\n7391\n" });
    expect(changed.code).toBe(0);
    expect(changed.stdout).toMatch(/^PIN changed: it protects .*experiments\.jsonl from any EXPFLOW_HOME\.\n/);
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" })).code).toBe(3);
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "7391\n" })).code).toBe(0);
    expect(auditRecords(h).map((r) => `${r.action}:${r.outcome}`)).toEqual([
      "pin.init:done",
      "pin.change:denied",
      "pin.check:allowed",
      "pin.change:allowed",
      "pin.change:done",
      "pin.check:denied",
      "pin.check:allowed",
    ]);
  });

  it("locks out after 5 wrong PINs: even the right one is refused, with how long", async () => {
    const h = await withPin("4826");
    for (let i = 0; i < 5; i++) expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "0000\n" })).code).toBe(3);
    const locked = await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" });
    expect(locked.code).toBe(3);
    expect(locked.stderr).toMatch(/locked after too many wrong attempts: try again in \d+ s/);
    const status = JSON.parse((await cli(h, ["pin", "status", "--json"])).stdout) as { locked_until: string | null };
    expect(status.locked_until).not.toBeNull();
    expect(statSync(join(h, "pin.lockout.json")).mode & 0o777).toBe(0o600);
    expect(auditRecords(h).filter((r) => r.outcome === "locked")).toHaveLength(2);
  });

  it("accepts the earlier tool's unsalted SHA-256 and upgrades it after the first success", async () => {
    const h = home();
    mkdirSync(h, { recursive: true });
    writeFileSync(join(h, "pin.hash"), `${createHash("sha256").update("4826").digest("hex")}\n`);
    expect(JSON.parse((await cli(h, ["pin", "status", "--json"])).stdout)).toMatchObject({ format: "sha256-legacy" });
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "1111\n" })).code).toBe(3);
    expect(JSON.parse((await cli(h, ["pin", "status", "--json"])).stdout)).toMatchObject({ format: "sha256-legacy" });
    const ok = await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("unsalted SHA-256 format; it is now stored with today's cost");
    expect(JSON.parse((await cli(h, ["pin", "status", "--json"])).stdout)).toMatchObject({ format: "scrypt", source: "file" });
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" })).code).toBe(0);
  });

  it("reads EXPFLOW_PIN_HASH from the environment or .env, below pin.hash", async () => {
    const h = home();
    const cwd = tempDir();
    const legacy = createHash("sha256").update("5555").digest("hex");
    writeFileSync(join(cwd, ".env"), `# secrets\nEXPFLOW_PIN_HASH=${legacy}\n`);
    expect(JSON.parse((await cli(h, ["pin", "status", "--json"], { cwd })).stdout)).toMatchObject({ active: true, source: "env" });
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { cwd, input: "5555\n" })).code).toBe(0);
    // The upgrade wrote a salted pin.hash, which now takes precedence.
    expect(JSON.parse((await cli(h, ["pin", "status", "--json"], { cwd })).stdout)).toMatchObject({ source: "file", format: "scrypt" });
  });

  it("clear needs the PIN; --force works only where the PIN owner allowed it and no file forbids it, and is logged", async () => {
    const h = await withPin("4826");
    expect((await cli(h, ["pin", "clear"])).code).toBe(3);
    const byDefault = await cli(h, ["pin", "clear", "--force"]);
    expect(byDefault.code).toBe(3);
    expect(byDefault.stderr).toContain("the PIN owner has not allowed it");
    expect((await cli(h, ["pin", "policy", "--allow-force", "--pin", "4826"])).code).toBe(0);
    writeFileSync(join(h, "config.yaml"), "pin:\n  allow_force: false\n");
    const refused = await cli(h, ["pin", "clear", "--force"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`pin.allow_force is false in ${join(h, "config.yaml")}`);
    expect(existsSync(join(h, "pin.hash"))).toBe(true);
    // A project file cannot re-enable it: turning --force on is not a file's to do.
    const project = tempDir();
    writeFileSync(join(project, "expflow.yaml"), "pin:\n  allow_force: true\n");
    expect((await cli(h, ["pin", "clear", "--force"], { cwd: project })).code).toBe(2);
    writeFileSync(join(h, "config.yaml"), "registry: experiments.jsonl\n");
    const forced = await cli(h, ["pin", "clear", "--force"]);
    expect(forced.code).toBe(0);
    expect(existsSync(join(h, "pin.hash"))).toBe(false);
    expect(auditRecords(h).map((r) => `${r.action}:${r.outcome}`).slice(-7)).toEqual([
      "pin.clear:denied",
      "pin.clear:denied",
      "pin.policy:allowed",
      "pin.policy:done",
      "pin.clear:denied",
      "pin.clear:forced",
      "pin.clear:done",
    ]);
  });

  it("clear says when a hash stays active from the environment, and refuses to clear what it cannot", async () => {
    const h = await withPin("4826");
    const envHash = createHash("sha256").update("5555").digest("hex");
    const r = await cli(h, ["pin", "clear", "--pin-stdin"], { input: "4826\n", env: { EXPFLOW_PIN_HASH: envHash } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("a PIN hash stays active from EXPFLOW_PIN_HASH");
    const again = await cli(h, ["pin", "clear", "--pin-stdin"], { input: "5555\n", env: { EXPFLOW_PIN_HASH: envHash } });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("unset EXPFLOW_PIN_HASH");
  });
});

describe("expflow audit log", () => {
  it("lists records, verifies the chain (exit 0) and names the first altered record (exit 1)", async () => {
    const h = await withPin("4826");
    await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" });
    await cli(h, ["pin", "check", "--pin-stdin"], { input: "0000\n" });
    const list = JSON.parse((await cli(h, ["audit", "log", "--json"])).stdout) as { seq: number; user: string; host: string; prev: string; hash: string }[];
    expect(list.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(list[1]!.prev).toBe(list[0]!.hash);
    expect(readFileSync(join(h, "audit.jsonl"), "utf8")).not.toContain('"4826"');
    const ok = await cli(h, ["audit", "log", "--verify"]);
    expect([ok.code, ok.stdout]).toEqual([0, "Audit log intact: 3 records, hash chain and anchors verified.\n"]);
    // Turn the denial into an allowance.
    const path = join(h, "audit.jsonl");
    writeFileSync(path, readFileSync(path, "utf8").replace('"outcome":"denied"', '"outcome":"allowed"'));
    const bad = await cli(h, ["audit", "log", "--verify", "--json"]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, problem: { seq: 3, reason: "record 3 was altered (its hash does not match its content)" } });
  });

  it("detects the last record's removal", async () => {
    const h = await withPin("4826");
    await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" });
    const path = join(h, "audit.jsonl");
    const lines = readFileSync(path, "utf8").trim().split("\n");
    writeFileSync(path, `${lines.slice(0, -1).join("\n")}\n`);
    const r = await cli(h, ["audit", "log", "--verify"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("record 2 was removed from the end");
  });
});

describe.skipIf(!hasTmux)("the hidden PIN prompt on a real terminal", () => {
  it("asks for the PIN without echoing it", async () => {
    const h = await withPin("4826");
    const screen = await onTerminal(h, "pin check", ["4826"]);
    expect(screen).toContain("PIN correct.");
    expect(screen).toContain("EXIT=0");
    expect(screen).not.toContain("4826");
  });

  it("asks for a new PIN twice, hidden, and refuses a mismatch", async () => {
    const h = home();
    const screen = await onTerminal(h, "pin init", ["7391", "7391"]);
    expect(screen).toContain("PIN set:");
    expect(screen).not.toContain("7391");
    const mismatch = await onTerminal(home(), "pin init", ["7391", "7392"]);
    expect(mismatch).toContain("the two PINs differ");
    expect(mismatch).toContain("EXIT=2");
  });
});

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runInProcess, tempDir } from "../helpers/cli.js";
import { hasTmux, onTerminal } from "../helpers/terminal.js";

// Issue 10, through the CLI: each case was reproduced on main before the fix. The CLI runs in
// this process (run(argv, io), test/helpers/cli.ts); the PIN prompt's cases run the built binary
// on a real terminal (tmux).

const PIN = "482613";
const EXAMPLES = join(ROOT, "examples", "experiments.jsonl");

interface Home {
  home: string;
  registry: string;
}

/** The CLI (in this process) with EXPFLOW_HOME = `home` and no PIN or registry from the test's own environment. */
const cli = (home: string, args: string[], options: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {}) =>
  runInProcess(args, { ...options, env: { EXPFLOW_HOME: home, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined, ...options.env } });

/** A home with the example registry in it and a PIN set (which binds that registry). */
async function protectedHome(): Promise<Home> {
  const home = join(tempDir(), "home");
  mkdirSync(home, { mode: 0o700 });
  const registry = join(home, "experiments.jsonl");
  copyFileSync(EXAMPLES, registry);
  const r = await cli(home, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` });
  expect(r.code, r.stderr).toBe(0);
  return { home, registry };
}

/** Another, empty home: what an agent would point EXPFLOW_HOME at. */
function strayHome(): string {
  return join(tempDir(), "stray");
}

function audit(home: string): { seq: number; action: string; target: string; outcome: string; detail: string | null }[] {
  const path = join(home, "audit.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { seq: number; action: string; target: string; outcome: string; detail: string | null });
}

function ids(registry: string, status?: string): string[] {
  const seen = new Map<string, string>();
  for (const line of readFileSync(registry, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    const r = JSON.parse(line) as { experiment_id: string; status: string };
    seen.set(r.experiment_id, r.status);
  }
  return [...seen].filter(([, s]) => status === undefined || s === status).map(([id]) => id);
}

describe("1. the PIN protects a registry, whatever EXPFLOW_HOME says", () => {
  it("pin init binds the registry: a sidecar names the home, the PIN file lists the registry", async () => {
    const { home, registry } = await protectedHome();
    const sidecar = JSON.parse(readFileSync(`${registry}.protection.json`, "utf8")) as { home: string };
    expect(sidecar.home).toBe(home);
    expect(readFileSync(join(home, "pin.hash"), "utf8")).toContain(registry);
  });

  it.each([
    ["run delete", (id: string) => ["run", "delete", id]],
    ["run archive", (id: string) => ["run", "archive", id]],
    ["run cancel", (id: string) => ["run", "cancel", id]],
    ["registry compact", () => ["registry", "compact"]],
  ])("%s from another EXPFLOW_HOME needs the registry's PIN, and the registry's log records it", async (name, argsOf) => {
    const { home, registry } = await protectedHome();
    const id = ids(registry, name === "run cancel" ? "running" : "completed")[0]!;
    if (name === "run delete") expect((await cli(home, ["run", "archive", id, "--pin-stdin"], { input: `${PIN}\n` })).code).toBe(0);
    const before = readFileSync(registry, "utf8");
    const stray = strayHome();
    const r = await cli(stray, [...argsOf(id), "--registry", registry]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("a PIN is required");
    expect(readFileSync(registry, "utf8")).toBe(before);
    expect(audit(home).at(-1)).toMatchObject({ outcome: "denied", detail: expect.stringContaining(`EXPFLOW_HOME was ${stray}`) });
    expect(audit(stray)).toEqual([]);
    // The stray home's own (different) PIN does not open it either.
    expect((await cli(stray, ["pin", "init", "--new-pin-stdin"], { input: "999999\n" })).code).toBe(0);
    expect((await cli(stray, [...argsOf(id), "--registry", registry], { env: { EXPFLOW_PIN: "999999" } })).code).toBe(3);
    // The registry's PIN does, and the decision lands in the registry's log.
    const ok = await cli(stray, [...argsOf(id), "--registry", registry], { env: { EXPFLOW_PIN: PIN } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(audit(home).at(-1)).toMatchObject({ outcome: "allowed" });
    expect(audit(stray).some((r) => r.outcome === "allowed")).toBe(false);
  });

  it("every way of reaching the registry finds its protection: EXPFLOW_REGISTRY, expflow.yaml, a symlink, a relative path", async () => {
    const { home, registry } = await protectedHome();
    const [a, b, c, d] = ids(registry, "completed");
    const work = tempDir();
    symlinkSync(registry, join(work, "link.jsonl"));
    const project = tempDir();
    writeFileSync(join(project, "expflow.yaml"), `registry: ${registry}\n`);
    const ways: [string[], { env?: Record<string, string>; cwd?: string }][] = [
      [["run", "archive", a!], { env: { EXPFLOW_REGISTRY: registry } }],
      [["run", "archive", b!], { cwd: project }],
      [["run", "archive", c!, "--registry", "link.jsonl"], { cwd: work }],
      [["run", "archive", d!, "--registry", relative(work, registry)], { cwd: work }],
    ];
    for (const [args, options] of ways) {
      const stray = strayHome();
      const r = await cli(stray, args, options);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(3);
      const forced = await cli(stray, [...args, "--force"], options);
      expect(forced.code, forced.stderr).toBe(3);
    }
    expect(ids(registry, "completed")).toEqual(expect.arrayContaining([a, b, c, d]));
    expect(readFileSync(registry, "utf8")).not.toContain('"archived":true');
    expect(audit(home).filter((r) => r.outcome === "denied")).toHaveLength(8);
  });

  it("a registry whose PIN file is gone fails closed (exit 3), naming where it was expected", async () => {
    const { home, registry } = await protectedHome();
    rmSync(join(home, "pin.hash"));
    const id = ids(registry, "completed")[0]!;
    for (const h of [home, strayHome()]) {
      const r = await cli(h, ["run", "archive", id, "--registry", registry]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(join(home, "pin.hash"));
      expect(r.stderr).toContain("missing");
    }
  });

  it("a registry whose audit log is gone fails closed once, recording the damage; the log then says so for good", async () => {
    const { home, registry } = await protectedHome();
    rmSync(join(home, "audit.jsonl"));
    rmSync(join(home, "audit.head"));
    const id = ids(registry, "completed")[0]!;
    const r = await cli(strayHome(), ["run", "archive", id, "--registry", registry], { env: { EXPFLOW_PIN: PIN } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(join(home, "audit.jsonl"));
    const again = await cli(strayHome(), ["run", "archive", id, "--registry", registry], { env: { EXPFLOW_PIN: PIN } });
    expect(again.code, again.stderr).toBe(0);
    const v = await cli(home, ["audit", "log", "--verify"]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain("the audit log was missing");
  });

  it("removing the protection is guarded: pin clear needs the PIN, then removes the sidecar", async () => {
    const { home, registry } = await protectedHome();
    expect((await cli(home, ["pin", "clear"])).code).toBe(3);
    expect((await cli(home, ["pin", "clear", "--force"])).code).toBe(3);
    expect(existsSync(`${registry}.protection.json`)).toBe(true);
    const r = await cli(home, ["pin", "clear", "--pin-stdin"], { input: `${PIN}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(`${registry}.protection.json`)).toBe(false);
    expect(audit(home).at(-1)).toMatchObject({ action: "pin.clear", outcome: "done" });
    expect((await cli(strayHome(), ["run", "archive", ids(registry, "completed")[0]!, "--registry", registry])).code).toBe(0);
  });

  it("a sidecar removed by hand is noticed by the PIN's own home: restored, and the action refused once", async () => {
    const { home, registry } = await protectedHome();
    rmSync(`${registry}.protection.json`);
    const id = ids(registry, "completed")[0]!;
    const r = await cli(home, ["run", "archive", id], { env: { EXPFLOW_PIN: PIN } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("was removed");
    expect(existsSync(`${registry}.protection.json`)).toBe(true);
    expect((await cli(strayHome(), ["run", "archive", id, "--registry", registry])).code).toBe(3);
    expect((await cli(home, ["run", "archive", id], { env: { EXPFLOW_PIN: PIN } })).code).toBe(0);
  });

  it("a registry in a home whose PIN an earlier version set (no sidecar) is protected by that home's PIN", async () => {
    const { home, registry } = await protectedHome();
    rmSync(`${registry}.protection.json`);
    // The earlier tool's PIN file: one line, no meta.
    writeFileSync(join(home, "pin.hash"), `${readFileSync(join(home, "pin.hash"), "utf8").split("\n")[0]}\n`);
    const id = ids(registry, "completed")[0]!;
    const stray = strayHome();
    expect((await cli(stray, ["run", "archive", id, "--registry", registry])).code).toBe(3);
    expect((await cli(stray, ["run", "archive", id, "--registry", registry, "--force"])).code).toBe(3);
    expect(JSON.parse(readFileSync(`${registry}.protection.json`, "utf8"))).toMatchObject({ home });
    expect((await cli(stray, ["run", "archive", id, "--registry", registry], { env: { EXPFLOW_PIN: PIN } })).code).toBe(0);
  });

  it("a registry first touched by a guarded action while a PIN is set gets bound then", async () => {
    const { home } = await protectedHome();
    const other = join(tempDir(), "other.jsonl");
    copyFileSync(EXAMPLES, other);
    const id = ids(other, "completed")[0]!;
    expect((await cli(home, ["run", "archive", id, "--registry", other])).code).toBe(3);
    expect(JSON.parse(readFileSync(`${other}.protection.json`, "utf8"))).toMatchObject({ home });
    expect((await cli(strayHome(), ["run", "archive", id, "--registry", other])).code).toBe(3);
  });
});

describe("2. --force only where the owner chose it", () => {
  it("is refused by default (exit 3), saying how to pass the PIN without a terminal", async () => {
    const { home, registry } = await protectedHome();
    const r = await cli(home, ["run", "archive", ids(registry, "completed")[0]!, "--force"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("EXPFLOW_PIN");
    expect(r.stderr).toContain("--pin-stdin");
    expect(audit(home).at(-1)).toMatchObject({ outcome: "denied", detail: expect.stringContaining("--force refused") });
  });

  it("no file can turn it on: allow_force: true in config.yaml or expflow.yaml is exit 2", async () => {
    const { home } = await protectedHome();
    writeFileSync(join(home, "config.yaml"), "pin:\n  allow_force: true\n");
    const a = await cli(home, ["pin", "clear", "--force"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("pin.allow_force");
    expect(a.stderr).toContain("pin policy --allow-force");
    rmSync(join(home, "config.yaml"));
    const project = tempDir();
    writeFileSync(join(project, "expflow.yaml"), "pin:\n  allow_force: true\n");
    expect((await cli(home, ["pin", "clear", "--force"], { cwd: project })).code).toBe(2);
    expect(existsSync(join(home, "pin.hash"))).toBe(true);
  });

  it("pin policy --allow-force asks the PIN and is logged; then --force works; a project file can still forbid it", async () => {
    const { home, registry } = await protectedHome();
    const [a, b] = ids(registry, "completed");
    expect((await cli(home, ["pin", "policy", "--allow-force"])).code).toBe(3);
    expect((await cli(home, ["pin", "policy", "--allow-force", "--pin", "000000"])).code).toBe(3);
    expect(JSON.parse((await cli(home, ["pin", "policy", "--json"])).stdout)).toMatchObject({ allow_force: false, source: "default" });
    const on = await cli(home, ["pin", "policy", "--allow-force", "--pin-stdin"], { input: `${PIN}\n` });
    expect(on.code, on.stderr).toBe(0);
    expect(audit(home).slice(-2).map((r) => `${r.action}:${r.outcome}`)).toEqual(["pin.policy:allowed", "pin.policy:done"]);
    const policy = JSON.parse((await cli(home, ["pin", "policy", "--json"])).stdout) as { allow_force: boolean; source: string };
    expect(policy.allow_force).toBe(true);
    expect(policy.source).toContain(join(home, "pin.hash"));
    const forced = await cli(home, ["run", "archive", a!, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(audit(home).at(-1)).toMatchObject({ action: "run.archive", outcome: "forced" });
    const project = tempDir();
    writeFileSync(join(project, "expflow.yaml"), "pin:\n  allow_force: false\n");
    const tightened = await cli(home, ["run", "archive", b!, "--force"], { cwd: project });
    expect(tightened.code).toBe(3);
    expect(tightened.stderr).toContain(join(project, "expflow.yaml"));
    const shown = JSON.parse((await cli(home, ["config", "show", "--json"], { cwd: project })).stdout) as { pin: { allow_force: { value: boolean; source: string } }; audit: { rules: { source: string } } };
    expect(shown.pin.allow_force).toEqual({ value: false, source: join(project, "expflow.yaml") });
    expect(shown.audit.rules.source).toBe("default");
    const human = (await cli(home, ["config", "show"])).stdout;
    expect(human).toMatch(/pin\.allow_force\s+true/);
    expect(human).toContain("audit.rules");
    // Forbidding needs no PIN, and is logged too.
    expect((await cli(home, ["pin", "policy", "--no-allow-force"])).code).toBe(0);
    expect(JSON.parse((await cli(home, ["pin", "policy", "--json"])).stdout)).toMatchObject({ allow_force: false });
    expect(audit(home).at(-1)).toMatchObject({ action: "pin.policy", target: "allow_force=false", outcome: "done" });
  });

  it("an agent cannot allow --force with --force", async () => {
    const { home } = await protectedHome();
    const r = await cli(home, ["pin", "policy", "--allow-force", "--force"]);
    expect([2, 3]).toContain(r.code);
    expect(JSON.parse((await cli(home, ["pin", "policy", "--json"])).stdout)).toMatchObject({ allow_force: false });
  });
});

describe("3. the lockout cannot be switched off by breaking its file", () => {
  it.each([
    ["a directory", (p: string) => mkdirSync(p)],
    ["not JSON", (p: string) => writeFileSync(p, "{{{")],
    ["wrong fields", (p: string) => writeFileSync(p, '{"failures":"many","locked_until":null}\n')],
  ])("a lockout file that is %s: exit 3 for the right and the wrong PIN alike, and no PIN is checked", async (_name, breakIt) => {
    const { home } = await protectedHome();
    breakIt(join(home, "pin.lockout.json"));
    const right = await cli(home, ["pin", "check", "--pin-stdin"], { input: `${PIN}\n` });
    const wrong = await cli(home, ["pin", "check", "--pin-stdin"], { input: "000000\n" });
    expect(right.code).toBe(3);
    expect(wrong.code).toBe(3);
    expect(right.stderr).toContain("lockout state unreadable");
    expect(right.stderr).toBe(wrong.stderr);
    expect(right.stderr).not.toContain("internal error");
  });

  it("accepts PINs of 4 to 12 digits and says once what guessing offline costs", async () => {
    const h = join(tempDir(), "h");
    const short = await cli(h, ["pin", "init", "--new-pin-stdin"], { input: "4826\n" });
    expect(short.code).toBe(0);
    expect(short.stdout).toMatch(/Trying every 4-digit PIN .* takes about .*Use 6 or more digits/s);
    expect((await cli(h, ["pin", "check", "--pin-stdin"], { input: "4826\n" })).code).toBe(0);
    const h2 = join(tempDir(), "h");
    const long = await cli(h2, ["pin", "init", "--new-pin-stdin"], { input: "123456789012\n" });
    expect(long.code).toBe(0);
    expect(long.stdout).not.toContain("Use 6 or more");
    for (const bad of ["123", "1234567890123"]) {
      const r = await cli(join(tempDir(), "h"), ["pin", "init", "--new-pin-stdin"], { input: `${bad}\n` });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("4 to 12 ASCII digits");
    }
  });

  it("new hashes cost scrypt ln=16; a cheaper scrypt hash is upgraded at the next successful check", async () => {
    const { hashPin } = await import("../../src/security/pin-hash.js");
    const { home } = await protectedHome();
    expect(readFileSync(join(home, "pin.hash"), "utf8")).toMatch(/^\$scrypt\$ln=16,r=8,p=1\$/);
    writeFileSync(join(home, "pin.hash"), `${await hashPin(PIN, { ln: 14, r: 12, p: 1 })}\n`);
    expect((await cli(home, ["pin", "check", "--pin-stdin"], { input: "000000\n" })).code).toBe(3);
    expect(readFileSync(join(home, "pin.hash"), "utf8")).toMatch(/^\$scrypt\$ln=14,r=12/);
    const ok = await cli(home, ["pin", "check", "--pin-stdin"], { input: `${PIN}\n` });
    expect(ok.code).toBe(0);
    expect(readFileSync(join(home, "pin.hash"), "utf8")).toMatch(/^\$scrypt\$ln=16,r=8,p=1\$/);
  });

  it("a wrong PIN says how many tries are left", async () => {
    const { home } = await protectedHome();
    const r = await cli(home, ["pin", "check", "--pin-stdin"], { input: "000000\n" });
    expect(r.stderr).toContain("wrong PIN (4 tries left before the PIN is locked for 30 s)");
  });
});

describe.skipIf(!hasTmux)("3. the PIN prompt on a terminal", () => {
  it("names the action it guards, and after a wrong PIN asks again saying how many tries are left", async () => {
    const { home, registry } = await protectedHome();
    const id = ids(registry, "completed")[0]!;
    const screen = await onTerminal(home, `run archive ${id}`, ["000000", PIN]);
    expect(screen).toContain(`PIN to archive run ${id}:`);
    expect(screen).toContain("Wrong PIN (4 tries left before the PIN is locked for 30 s)");
    expect(screen).toContain("EXIT=0");
    expect(screen).not.toContain(PIN);
  });

  it("Ctrl-C at the prompt exits 130 and changes nothing", async () => {
    const { home, registry } = await protectedHome();
    const before = readFileSync(registry, "utf8");
    const screen = await onTerminal(home, `run archive ${ids(registry, "completed")[0]!}`, ["^C"]);
    expect(screen).toContain("EXIT=130");
    expect(screen).not.toContain("internal error");
    expect(readFileSync(registry, "utf8")).toBe(before);
    expect(audit(home).at(-1)).toMatchObject({ outcome: "denied", detail: expect.stringContaining("cancelled") });
  });
});

describe("4. the audit log stays honest", () => {
  /** A protected home with a few more records. */
  async function busyHome(): Promise<string> {
    const { home } = await protectedHome();
    for (let i = 0; i < 3; i++) expect((await cli(home, ["pin", "check"], { env: { EXPFLOW_PIN: PIN } })).code).toBe(0);
    return home;
  }
  const verify = (home: string) => cli(home, ["audit", "log", "--verify", "--json"]);
  const oneMoreAction = (home: string) => cli(home, ["pin", "check"], { env: { EXPFLOW_PIN: PIN } });
  const lines = (home: string) => readFileSync(join(home, "audit.jsonl"), "utf8").trim().split("\n");

  it.each([
    ["the last records truncated", (h: string) => writeFileSync(join(h, "audit.jsonl"), `${lines(h).slice(0, -2).join("\n")}\n`), "missing from the end"],
    ["audit.head deleted", (h: string) => rmSync(join(h, "audit.head")), "the head anchor was missing"],
    ["audit.jsonl emptied", (h: string) => writeFileSync(join(h, "audit.jsonl"), ""), "the audit log was empty"],
    ["both files deleted", (h: string) => (rmSync(join(h, "audit.jsonl")), rmSync(join(h, "audit.head"))), "the audit log was missing"],
  ])("%s: detected, and still reported after more guarded actions (exit 1)", async (_name, tamper, found) => {
    const home = await busyHome();
    tamper(home);
    expect((await verify(home)).code).toBe(1);
    await oneMoreAction(home);
    await oneMoreAction(home);
    const v = await verify(home);
    expect(v.code).toBe(1);
    const result = JSON.parse(v.stdout) as { ok: boolean; problems: { reason: string }[] };
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.reason).join("\n")).toContain(found);
    expect(audit(home).some((r) => r.action === "audit.damage" && r.outcome === "damaged")).toBe(true);
    // Human output too, never "intact".
    expect((await cli(home, ["audit", "log", "--verify"])).stdout).toContain("TAMPERED or damaged");
  });

  it("a forged, correctly chained record appended after the head is unconfirmed (exit 1), also after the next write", async () => {
    const { auditHash } = await import("../../src/security/audit-log.js");
    const home = await busyHome();
    const last = JSON.parse(lines(home).at(-1)!) as { seq: number; hash: string };
    const fields = { seq: last.seq + 1, time: new Date().toISOString(), user: "root", host: "h", action: "run.delete", target: "exp-x", outcome: "allowed", detail: "PIN verified", prev: last.hash };
    writeFileSync(join(home, "audit.jsonl"), `${JSON.stringify({ ...fields, hash: auditHash(fields as never) })}\n`, { flag: "a" });
    const before = await verify(home);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain("unconfirmed");
    await oneMoreAction(home);
    const after = await verify(home);
    expect(after.code).toBe(1);
    expect(after.stdout).toContain("unconfirmed");
  });

  it("a log, head or PIN file that is a directory is a clear error (exit 4 or 3), never 70", async () => {
    const home = await busyHome();
    rmSync(join(home, "audit.jsonl"));
    mkdirSync(join(home, "audit.jsonl"));
    for (const args of [["audit", "log", "--verify"], ["audit", "log"], ["pin", "check", "--pin", PIN]]) {
      const r = await cli(home, args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toContain("is a directory");
      expect(r.stderr).not.toContain("internal error");
    }
    const h2 = await busyHome();
    rmSync(join(h2, "pin.hash"));
    mkdirSync(join(h2, "pin.hash"));
    const r = await cli(h2, ["pin", "check", "--pin", PIN]);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toContain("internal error");
  });

  it("pin init, change, clear and policy record success, and the reason of a failure", async () => {
    const h = join(tempDir(), "h");
    expect((await cli(h, ["pin", "init", "--new-pin-stdin"], { input: "12\n" })).code).toBe(2);
    expect((await cli(h, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` })).code).toBe(0);
    expect((await cli(h, ["pin", "init", "--pin-stdin", "--new-pin-stdin"], { input: `${PIN}\n7\n` })).code).toBe(2);
    expect((await cli(h, ["pin", "init", "--pin-stdin", "--new-pin-stdin"], { input: `${PIN}\n555555\n` })).code).toBe(0);
    expect((await cli(h, ["pin", "policy", "--allow-force", "--pin-stdin"], { input: "555555\n" })).code).toBe(0);
    expect((await cli(h, ["pin", "clear", "--pin-stdin"], { input: "555555\n" })).code).toBe(0);
    expect(audit(h).map((r) => `${r.action}:${r.outcome}`)).toEqual([
      "pin.init:failed",
      "pin.init:done",
      "pin.change:allowed",
      "pin.change:failed",
      "pin.change:allowed",
      "pin.change:done",
      "pin.policy:allowed",
      "pin.policy:done",
      "pin.clear:allowed",
      "pin.clear:done",
    ]);
    expect(audit(h)[0]!.detail).toContain("E_PIN_FORMAT");
    expect((await cli(h, ["audit", "log", "--verify"])).code).toBe(0);
  });
});

const canMount = process.getuid?.() === 0 && spawnSync("mount", ["--version"]).status === 0;

describe.skipIf(!canMount)("4. a full disk: no false alarm, nothing acknowledged without its record", () => {
  it("a guarded action whose record cannot be written is refused (exit 4), the log stays verifiable", async (test) => {
    const dir = tempDir();
    const mnt = join(dir, "small");
    mkdirSync(mnt);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=80k", "tmpfs", mnt]).status !== 0) test.skip(); // not allowed here
    try {
      const home = join(mnt, "home");
      mkdirSync(home, { mode: 0o700 });
      const registry = join(home, "experiments.jsonl");
      writeFileSync(registry, `${readFileSync(EXAMPLES, "utf8").split("\n").slice(0, 3).join("\n")}\n`);
      expect((await cli(home, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` })).code).toBe(0);
      // Fill the disk to the last byte.
      spawnSync("sh", ["-c", `dd if=/dev/zero of='${join(mnt, "fill")}' bs=1k 2>/dev/null; true`]);
      const before = readFileSync(join(home, "audit.jsonl"));
      const id = ids(registry, "completed")[0]!;
      const r = await cli(home, ["run", "archive", id], { env: { EXPFLOW_PIN: PIN } });
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain("no space left on device");
      expect(r.stderr).not.toContain("internal error");
      expect(readFileSync(join(home, "audit.jsonl"))).toEqual(before);
      expect(readFileSync(registry, "utf8")).not.toContain('"archived":true');
      rmSync(join(mnt, "fill"));
      expect((await cli(home, ["audit", "log", "--verify"])).code).toBe(0);
      expect((await cli(home, ["run", "archive", id], { env: { EXPFLOW_PIN: PIN } })).code).toBe(0);
      expect((await cli(home, ["audit", "log", "--verify"])).code).toBe(0);
    } finally {
      spawnSync("umount", ["-l", mnt]);
    }
  });
});

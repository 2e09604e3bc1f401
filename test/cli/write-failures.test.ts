import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, runInProcess, tempDir } from "../helpers/cli.js";

// Issue 11, section 2 and 7: a write is acknowledged only when it is complete, and every path a
// user names that cannot be written is one line and exit 2 or 4, never a stack trace (exit 70).
// In this process through run(argv, io) (test/helpers/cli.ts); a set-up submit is spawned.

const canMount = process.getuid?.() === 0 && spawnSync("mount", ["--version"]).status === 0;

/** Mounts a tmpfs of `size` on a new directory; `undefined` when mounting is not allowed here. */
function mountTmpfs(size: string): string | undefined {
  const mnt = join(tempDir(), "mnt");
  mkdirSync(mnt);
  return spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]).status === 0 ? mnt : undefined;
}

function unmount(mnt: string): void {
  spawnSync("umount", ["-l", mnt]);
}

/** Fills the file system holding `dir` to the last block. */
function fill(dir: string): string {
  const path = join(dir, "fill");
  spawnSync("sh", ["-c", `dd if=/dev/zero of='${path}' bs=1k 2>/dev/null; true`]);
  return path;
}

/** The error lines of stderr: exactly one `error:` line, no stack, no internal error. */
function expectOneLine(stderr: string): void {
  expect(stderr).not.toContain("internal error");
  expect(stderr).not.toMatch(/\n\s+at /);
  const lines = stderr.split("\n").filter((l) => l !== "" && !l.startsWith("hint:") && !l.startsWith("warning:"));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
}

async function ids(registry: string): Promise<string[]> {
  const r = await runInProcess(["run", "list", "--json", "--registry", registry]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { experiments: { id: string }[] }).experiments.map((e) => e.id);
}

const long = "a".repeat(6000);

describe.skipIf(!canMount)("a full disk: nothing is acknowledged that cannot be read back", () => {
  it("run submit exits 4 naming the registry, leaves no torn line, every earlier record still reads; after freeing space all works", async (test) => {
    const mnt = mountTmpfs("80k");
    if (mnt === undefined) return test.skip();
    try {
      const home = join(mnt, "home");
      mkdirSync(home, { mode: 0o700 });
      const env = { EXPFLOW_HOME: home };
      const registry = join(home, "experiments.jsonl");
      const first = await runInProcess(["run", "submit", "--", "echo", long], { env });
      expect(first.code, first.stderr).toBe(0);
      const filler = fill(mnt);
      const before = readFileSync(registry);
      for (let i = 0; i < 3; i++) {
        // A record larger than what is left of the file's last block: written in part, then ENOSPC.
        const r = await runInProcess(["run", "submit", "--", "echo", long, String(i)], { env });
        expect(r.code, r.stderr).toBe(4);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(`error: no space left on device writing ${registry}`);
        expectOneLine(r.stderr);
        expect(readFileSync(registry)).toEqual(before);
      }
      const m = await runInProcess(["metrics", "report", first.stdout.trim(), `pde_mean=1`], { env });
      expect(m.code, m.stderr).toBe(4);
      expect(m.stderr).toContain("no space left on device writing");
      expect(readFileSync(registry)).toEqual(before);
      expect(await ids(registry)).toEqual([first.stdout.trim()]);
      rmSync(filler);
      const again = await runInProcess(["run", "submit", "--", "echo", long], { env });
      expect(again.code, again.stderr).toBe(0);
      expect((await ids(registry)).sort()).toEqual([first.stdout.trim(), again.stdout.trim()].sort());
      const check = await runInProcess(["registry", "check"], { env });
      expect(check.code, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toContain("damaged            0");
    } finally {
      unmount(mnt);
    }
  });
});

describe("paths a user names that cannot be written: one line, exit 2 or 4, never 70", () => {
  const dir = tempDir();
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  const aDir = join(dir, "a-dir.jsonl");
  mkdirSync(aDir);
  const home = tempDir();
  const id = runCli(["run", "submit", "--", "true"], { env: { EXPFLOW_HOME: home } }).stdout.trim();
  const inHome = { EXPFLOW_HOME: home };
  const cases: [string, string[], Record<string, string>, number, string][] = [
    ["EXPFLOW_HOME under a file (ENOTDIR)", ["run", "submit", "--", "true"], { EXPFLOW_HOME: "/dev/null/x" }, 2, "not a directory"],
    ["EXPFLOW_HOME is a file (ENOTDIR)", ["run", "submit", "--", "true"], { EXPFLOW_HOME: file }, 2, "not a directory"],
    ["EXPFLOW_HOME under /proc", ["run", "submit", "--", "true"], { EXPFLOW_HOME: "/proc/nope/home" }, 2, "/proc/nope"],
    ["--registry under a file (ENOTDIR)", ["run", "submit", "--registry", join(file, "r.jsonl"), "--", "true"], inHome, 2, "not a directory"],
    ["--registry is a directory (EISDIR)", ["run", "submit", "--registry", aDir, "--", "true"], inHome, 2, "is a directory"],
    ["--registry in a directory that does not exist", ["run", "submit", "--registry", join(dir, "missing", "r.jsonl"), "--", "true"], inHome, 2, "does not exist"],
    ["--junit under a file (ENOTDIR)", ["audit", "validate", id, "--junit", join(file, "x.xml")], inHome, 2, "not a directory"],
    ["--junit is a directory (EISDIR)", ["audit", "validate", id, "--junit", aDir], inHome, 2, "is a directory"],
    ["--junit under /proc (no hang)", ["audit", "validate", id, "--junit", "/proc/nope/x.xml"], inHome, 2, "/proc/nope"],
    ["--output under a file (ENOTDIR)", ["audit", "report", id, "--output", join(file, "r.md")], inHome, 2, "not a directory"],
    ["--output is a directory (EISDIR)", ["audit", "report", id, "--output", aDir], inHome, 2, "is a directory"],
    ["--output under /proc (no hang)", ["audit", "report", id, "--output", "/proc/nope/r.md"], inHome, 2, "/proc/nope"],
  ];
  it.each(cases)("%s", async (_name, args, env, code, says) => {
    const r = await runInProcess(args, { env });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toContain(says);
    expectOneLine(r.stderr);
  });

  it("--registry in a directory that does not exist is not created; the default registry of a new home is", async () => {
    const missing = join(dir, "nowhere");
    expect((await runInProcess(["run", "submit", "--registry", join(missing, "r.jsonl"), "--", "true"], { env: inHome })).code).toBe(2);
    expect(existsSync(missing)).toBe(false);
    const fresh = join(tempDir(), "nested", "home");
    const r = await runInProcess(["run", "submit", "--", "true"], { env: { EXPFLOW_HOME: fresh } });
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(existsSync(join(fresh, "experiments.jsonl"))).toBe(true);
  });
});

describe.skipIf(!canMount)("a read-only file system (EROFS): exit 4, one line", () => {
  it.for([
    ["the registry", (ro: string) => ({ args: ["run", "submit", "--registry", join(ro, "r.jsonl"), "--", "true"], env: {} })],
    ["the home", (ro: string) => ({ args: ["run", "submit", "--", "true"], env: { EXPFLOW_HOME: join(ro, "home") } })],
    ["a new home under it", (ro: string) => ({ args: ["run", "submit", "--", "true"], env: { EXPFLOW_HOME: join(ro, "new", "home") } })],
    ["--junit", (ro: string, id: string) => ({ args: ["audit", "validate", id, "--junit", join(ro, "x.xml")], env: {} })],
    ["--output", (ro: string, id: string) => ({ args: ["audit", "report", id, "--output", join(ro, "r.md")], env: {} })],
  ] as [string, (ro: string, id: string) => { args: string[]; env: Record<string, string> }][])("%s", async ([, make], test) => {
    const ro = mountTmpfs("1m");
    if (ro === undefined) return test.skip();
    try {
      writeFileSync(join(ro, "r.jsonl"), "");
      mkdirSync(join(ro, "home"), { mode: 0o700 });
      const home = tempDir();
      const id = (await runInProcess(["run", "submit", "--", "true"], { env: { EXPFLOW_HOME: home } })).stdout.trim();
      expect(spawnSync("mount", ["-o", "remount,ro", ro]).status).toBe(0);
      const { args, env } = make(ro, id);
      const r = await runInProcess(args, { env: { EXPFLOW_HOME: home, ...env } });
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain("read-only file system");
      expectOneLine(r.stderr);
    } finally {
      unmount(ro);
    }
  });
});

describe("a shared EXPFLOW_HOME is refused, never chmod'ed (as ssh does)", () => {
  it.each([["1777", 0o1777], ["0777", 0o777], ["0770", 0o770], ["2775", 0o2775]] as [string, number][])("mode %s: exit 2, the mode is unchanged", async (_m, mode) => {
    const home = join(tempDir(), "shared");
    mkdirSync(home);
    chmodSync(home, mode);
    const r = await runInProcess(["run", "submit", "--", "true"], { env: { EXPFLOW_HOME: home } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${home} is writable by`);
    expectOneLine(r.stderr);
    expect(statSync(home).mode & 0o7777).toBe(mode);
    expect(existsSync(join(home, "experiments.jsonl"))).toBe(false);
    const pin = await runInProcess(["pin", "init", "--new-pin-stdin"], { env: { EXPFLOW_HOME: home }, input: "5731\n" });
    expect(pin.code, pin.stderr).toBe(2);
    expect(statSync(home).mode & 0o7777).toBe(mode);
    expect(existsSync(join(home, "pin.hash"))).toBe(false);
  });

  it("a home only others can read is still tightened to 0700", async () => {
    const home = join(tempDir(), "readable");
    mkdirSync(home);
    chmodSync(home, 0o755);
    expect((await runInProcess(["run", "submit", "--", "true"], { env: { EXPFLOW_HOME: home } })).code).toBe(0);
    expect(statSync(home).mode & 0o7777).toBe(0o700);
  });
});

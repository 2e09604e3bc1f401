import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOCK_KEEP_MS, dropKeptLocks, realFilePath, withFileLock } from "../../src/util/lock.js";
import { rejectionOf, tempDirs } from "../security/helpers.js";

const newDir = tempDirs("expflow-lock-");
const hex = (s: string): string => Buffer.from(s, "utf8").toString("hex");

/** A lock directory as another holder leaves it: `owner.<pid>.<start>.<token>.<host in hex>`. */
function plantLock(lock: string, pid: number, host: string, start = "-"): void {
  mkdirSync(lock);
  writeFileSync(join(lock, `owner.${pid}.${start}.0123456789abcdef.${hex(host)}`), "");
}

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("withFileLock", () => {
  it("runs the work, then removes the lock; nothing is left beside it", async () => {
    const dir = newDir();
    const lock = join(dir, "x.lock");
    expect(await withFileLock(lock, () => readdirSync(dir))).toEqual(["x.lock"]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("with keep: releases the lock, keeps its directory a second for the next hold, then removes it", async () => {
    // A second by default; the test keeps it 100 ms rather than wait the second out.
    expect(DEFAULT_LOCK_KEEP_MS).toBe(1000);
    const keep = { keep: true, keepMs: 100 };
    const dir = newDir();
    const lock = join(dir, "x.lock");
    const seen = await withFileLock(lock, () => readdirSync(dir), keep);
    expect(seen).toEqual(["x.lock"]);
    const kept = readdirSync(dir);
    expect(kept).toEqual([expect.stringMatching(/^x\.lock\.[0-9a-f]{18}\.new$/)]);
    // The next hold takes the same directory back with one rename: the owner file is the same.
    const owner = readdirSync(join(dir, kept[0]!));
    expect(await withFileLock(lock, () => readdirSync(lock), keep)).toEqual(owner);
    expect(readdirSync(dir)).toEqual(kept);
    await new Promise((r) => setTimeout(r, 300));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("dropKeptLocks removes the kept directory at once (at exit it goes too: see the multi-process tests)", async () => {
    const dir = newDir();
    await withFileLock(join(dir, "x.lock"), () => undefined, { keep: true });
    expect(readdirSync(dir)).toHaveLength(1);
    dropKeptLocks();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("removes what dead processes left beside the lock (a waiter's candidate, a kept directory, a released lock), never a live one's", async () => {
    const dir = newDir();
    const lock = join(dir, "x.lock");
    const dead = deadPid();
    plantLock(`${lock}.00aa11bb22cc33dd44.new`, dead, hostname());
    plantLock(`${lock}.0a1b2c3d4e5f.gone`, dead, hostname());
    plantLock(`${lock}.break-0123.0a0b0c0d0e0f0a0b0c.new`, dead, hostname());
    plantLock(`${lock}.11aa11bb22cc33dd44.new`, process.pid, hostname());
    plantLock(`${lock}.22aa11bb22cc33dd44.new`, dead, "another-host");
    writeFileSync(join(dir, "x.lock.notes.new"), "not a lock's");
    writeFileSync(join(dir, "x.lock.0badc0de.new"), "a file with a lock's name, not a directory");
    plantLock(`${lock}.33aa11bb22cc33dd44.new`, dead, hostname());
    writeFileSync(join(`${lock}.33aa11bb22cc33dd44.new`, "notes.txt"), "something else in it");
    await withFileLock(lock, () => undefined);
    dropKeptLocks();
    expect(readdirSync(dir).sort()).toEqual(["x.lock.0badc0de.new", "x.lock.11aa11bb22cc33dd44.new", "x.lock.22aa11bb22cc33dd44.new", "x.lock.33aa11bb22cc33dd44.new", "x.lock.notes.new"]);
  });

  it("serialises work in one process: the second waits for the first", async () => {
    const lock = join(newDir(), "x.lock");
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = withFileLock(lock, async () => {
      order.push("a-in");
      await gate;
      order.push("a-out");
    });
    await new Promise((r) => setTimeout(r, 20));
    const b = withFileLock(lock, () => void order.push("b"));
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all([a, b]);
    expect(order).toEqual(["a-in", "a-out", "b"]);
  });

  it("takes over the lock of a dead holder on this host", async () => {
    const dir = newDir();
    const lock = join(dir, "x.lock");
    plantLock(lock, deadPid(), hostname());
    expect(await withFileLock(lock, () => "ran")).toBe("ran");
    dropKeptLocks();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("takes over the lock of a holder killed but not yet reaped (a zombie)", async () => {
    const lock = join(newDir(), "x.lock");
    // `sleep 0` ends at once; its parent becomes `sleep 5` (exec), which never reaps it.
    const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout.once("data", (d: Buffer) => r(d.toString()))));
      await new Promise((r) => setTimeout(r, 200));
      plantLock(lock, pid, hostname());
      expect(await withFileLock(lock, () => "ran")).toBe("ran");
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("takes over a lock whose pid now belongs to a later process (the start time differs)", async () => {
    const dir = newDir();
    const lock = join(dir, "x.lock");
    // This process is alive, but it was not the one that started at tick 1.
    plantLock(lock, process.pid, hostname(), "1");
    expect(await withFileLock(lock, () => "ran")).toBe("ran");
  });

  it("takes over an empty lock directory left by an older expflow (proper-lockfile)", async () => {
    const lock = join(newDir(), "x.lock");
    mkdirSync(lock);
    expect(await withFileLock(lock, () => "ran")).toBe("ran");
  });

  it("never takes over a live holder's lock: E_LOCK_TIMEOUT (exit 4) naming it", async () => {
    const lock = join(newDir(), "x.lock");
    plantLock(lock, process.ppid, hostname());
    const e = await rejectionOf(withFileLock(lock, () => "ran", { waitMs: 200 }));
    expect(e).toMatchObject({ code: "E_LOCK_TIMEOUT", exitCode: 4 });
    expect((e as Error).message).toContain(`held by process ${process.ppid} on host ${hostname()}`);
    expect(readdirSync(lock)).toHaveLength(1);
  });

  it("never takes over a lock from another host, whatever its pid, and says so", async () => {
    const lock = join(newDir(), "x.lock");
    plantLock(lock, deadPid(), "other-host.example");
    const e = await rejectionOf(withFileLock(lock, () => "ran", { waitMs: 200 }));
    expect(e).toMatchObject({ code: "E_LOCK_TIMEOUT", exitCode: 4 });
    expect((e as Error).message).toContain("on host other-host.example");
    expect((e as { hint?: string }).hint).toMatch(/another host is never taken over automatically.*remove /);
  });

  it("a lock that cannot be created is E_LOCK_FAILED (exit 4), not a crash", async () => {
    const dir = newDir();
    writeFileSync(join(dir, "file"), "");
    const e = await rejectionOf(withFileLock(join(dir, "file", "x.lock"), () => "ran"));
    expect(e).toMatchObject({ code: "E_LOCK_FAILED", exitCode: 4 });
  });
});

describe("realFilePath", () => {
  it("resolves links, also to a file not created yet, and a missing file in a linked directory", () => {
    const dir = newDir();
    const real = join(dir, "real.jsonl");
    writeFileSync(real, "");
    const link = join(dir, "link.jsonl");
    symlinkSync(real, link);
    expect(realFilePath(link)).toBe(realFilePath(real));
    const dangling = join(dir, "dangling.jsonl");
    symlinkSync(join(dir, "later.jsonl"), dangling);
    expect(realFilePath(dangling)).toBe(join(realFilePath(dir), "later.jsonl"));
    const dirLink = join(newDir(), "d");
    symlinkSync(dir, dirLink);
    expect(realFilePath(join(dirLink, "new.jsonl"))).toBe(join(realFilePath(dir), "new.jsonl"));
  });
});

import * as fs from "node:fs";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { BackendError } from "../../../src/core/errors.js";
import { dropKeptLocks } from "../../../src/util/lock.js";
import { readRaw, RegistryWriter } from "../../../src/stores/local/registry-writer.js";

// The writers flush (fsync) after releasing the registry lock; a disk that fails the flush is
// simulated here, since no real disk can be made to fail on cue.
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return { ...real, fsyncSync: vi.fn(real.fsyncSync) };
});

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
afterEach(() => {
  vi.mocked(fs.fsyncSync).mockReset();
  dropKeptLocks();
});

function fresh(): { path: string; writer: RegistryWriter } {
  const d = mkdtempSync(join(tmpdir(), "expflow-flush-"));
  made.push(d);
  const path = join(d, "experiments.jsonl");
  return { path, writer: new RegistryWriter(path, { now: () => new Date(0), who: "t@h" }) };
}

const eio = (): Error => Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", syscall: "fsync" });

describe("a change whose flush to disk fails", () => {
  it("is taken back when nothing was appended after it: exit 4, and the registry is as before", async () => {
    const { path, writer } = fresh();
    await writer.create({ experiment_id: "exp-kept", status: "created" });
    const before = readFileSync(path, "utf8");
    vi.mocked(fs.fsyncSync).mockImplementationOnce(() => {
      throw eio();
    });
    const error = await writer.create({ experiment_id: "exp-lost", status: "created" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).exitCode).toBe(4);
    expect((error as Error).message).toBe(`EIO writing ${path}; the change was taken back`);
    expect(readFileSync(path, "utf8")).toBe(before);
    // The writer goes on from the file as it is.
    await writer.update("exp-kept", (r) => ({ ...r, name: "after" }));
    expect([...readRaw(path).records.keys()]).toEqual(["exp-kept"]);
  });

  it("stays, and says so, when another writer appended after it before the flush failed", async () => {
    const { path, writer } = fresh();
    vi.mocked(fs.fsyncSync).mockImplementationOnce(() => {
      appendFileSync(path, `${JSON.stringify({ experiment_id: "exp-other", status: "created", rev: 1 })}\n`);
      throw eio();
    });
    const error = await writer.create({ experiment_id: "exp-mine", status: "created" }).catch((e: unknown) => e);
    expect((error as BackendError).exitCode).toBe(4);
    expect((error as Error).message).toBe(`EIO writing ${path}; the change stays in the file (others were appended after it) but may not survive a crash`);
    expect([...readRaw(path).records.keys()].sort()).toEqual(["exp-mine", "exp-other"]);
  });

  it("is acknowledged only after the flush: the snapshot comes back once fsync returned", async () => {
    const { path, writer } = fresh();
    const order: string[] = [];
    const real = await vi.importActual<typeof import("node:fs")>("node:fs");
    vi.mocked(fs.fsyncSync).mockImplementation((fd) => {
      order.push(`fsync with ${readFileSync(path, "utf8").split("\n").length - 1} line(s) in the file`);
      real.fsyncSync(fd);
    });
    const r = await writer.create({ experiment_id: "exp-one", status: "created" });
    order.push(`acknowledged rev ${r.rev}`);
    expect(order).toEqual(["fsync with 1 line(s) in the file", "acknowledged rev 1"]);
  });
});

import * as privateFiles from "../../src/util/private-files.js";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { appendAudit, readAudit, verifyAudit } from "../../src/security/audit-log.js";
import { modeOf, T0, tempDirs } from "./helpers.js";

// The head file is written through writeFileAtomic; a disk that fails the third step (moving the
// head to the new records) on cue is simulated here.
vi.mock("../../src/util/private-files.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/util/private-files.js")>();
  return { ...real, writeFileAtomic: vi.fn(real.writeFileAtomic) };
});

const newHome = tempDirs("expflow-audit-head-");
const actor = { now: () => new Date(T0), user: "u", host: "h" };
const append = (home: string, action: string) => appendAudit(home, { action, target: "t", outcome: "allowed" }, actor);

afterEach(() => {
  vi.mocked(privateFiles.writeFileAtomic).mockRestore?.();
});

describe("appendAudit's third step", () => {
  it("the head cannot be moved to the new records (step 3 fails): E_AUDIT_WRITE naming the head; the records are taken back, the log byte-identical and intact, the next append works", async () => {
    const home = newHome();
    await append(home, "act.1");
    await append(home, "act.2");
    const log = join(home, "audit.jsonl");
    const before = readFileSync(log, "utf8");
    const real = vi.mocked(privateFiles.writeFileAtomic).getMockImplementation()!;
    let calls = 0;
    vi.mocked(privateFiles.writeFileAtomic).mockImplementation((path, data, mode) => {
      calls++;
      // The first write announces the records (step 1); the second moves the head (step 3).
      if (calls === 2) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return real(path, data, mode);
    });
    await expect(append(home, "act.3")).rejects.toMatchObject({ code: "E_AUDIT_WRITE", exitCode: 4, message: expect.stringContaining(join(home, "audit.head")) as unknown });
    expect(calls).toBe(2);
    expect(readFileSync(log, "utf8")).toBe(before);
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: 2 });
    vi.mocked(privateFiles.writeFileAtomic).mockImplementation(real);
    await append(home, "act.4");
    expect(readAudit(home).map((r) => r.action)).toEqual(["act.1", "act.2", "act.4"]);
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: 3 });
  });

  it("a log restored with looser permissions is 0600 again after the next append", async () => {
    const home = newHome();
    await append(home, "act.1");
    const log = join(home, "audit.jsonl");
    chmodSync(log, 0o644);
    await append(home, "act.2");
    expect(modeOf(log)).toBe(0o600);
  });
});

import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ApprovalJson, Approvals, ApprovalsContext, NewApproval } from "../../src/app/approvals.js";
import { APPROVAL_ACTIONS, APPROVALS_FILE, DEFAULT_APPROVAL_TTL_MS, leavesPending, MAX_APPROVAL_TTL_MS, openApprovals } from "../../src/app/approvals.js";
import { APPROVAL_ACTIONS as CONTRACT_ACTIONS, ApprovalListSchema, ApprovalSchema } from "../../src/contracts/approvals.js";
import { ConflictError, DeniedError, ExpflowError, InterruptedError, NotFoundError, UsageError } from "../../src/core/errors.js";
import { readAudit, verifyAudit } from "../../src/security/audit-log.js";
import type { TestClock } from "../security/helpers.js";
import { T0, tempDirs, testClock } from "../security/helpers.js";

const newDir = tempDirs("expflow-approvals-");

/** A home with its clock, ids counted up from `start`, and the warnings given. */
function setup(options: { start?: number; ids?: string[] } = {}): { home: string; clock: TestClock; approvals: Approvals; warnings: string[]; ctx: ApprovalsContext } {
  const home = newDir();
  const clock = testClock(options.start ?? T0);
  const warnings: string[] = [];
  let n = 0;
  const ids = options.ids;
  const ctx: ApprovalsContext = {
    home,
    now: clock.now,
    random: () => (ids !== undefined ? ids[n++]! : (n++).toString(16).padStart(12, "0")),
    warn: (m) => warnings.push(m),
    user: "tester",
    host: "box",
  };
  return { home, clock, approvals: openApprovals(ctx), warnings, ctx };
}

const CANCEL: NewApproval = {
  action: "run.cancel",
  target: "20310115-080000-abcd",
  params: { registry: "/tmp/x/experiments.jsonl" },
  requester: { client: "claude-code/1.2.3", tool: "cancel_run", note: "the run diverged" },
};

async function thrown(p: Promise<unknown>): Promise<ExpflowError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ExpflowError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

function auditOf(home: string): [string, string, string][] {
  return readAudit(home).map((r) => [r.action, r.target, r.outcome]);
}

describe("approval requests", () => {
  it("the action lists of the module and the contract agree", () => {
    expect([...APPROVAL_ACTIONS]).toEqual([...CONTRACT_ACTIONS]);
  });

  it("request: a pending request in the contract's shape, in a private file, and an audit record", async () => {
    const { home, approvals } = setup();
    const a = await approvals.request(CANCEL);
    expect(a).toEqual({
      id: "apr-000000000000",
      action: "run.cancel",
      target: CANCEL.target,
      params: { registry: "/tmp/x/experiments.jsonl" },
      requester: { client: "claude-code/1.2.3", tool: "cancel_run", note: "the run diverged" },
      created_at: new Date(T0).toISOString(),
      expires_at: new Date(T0 + DEFAULT_APPROVAL_TTL_MS).toISOString(),
      state: "pending",
      decided_at: null,
      decided_by: null,
      outcome: null,
      approve_command: "expflow approve apr-000000000000",
      deny_command: "expflow deny apr-000000000000",
    } satisfies ApprovalJson);
    expect(ApprovalSchema.parse(a)).toEqual(a);
    expect(statSync(join(home, APPROVALS_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    const [record] = readAudit(home);
    expect(record).toMatchObject({ action: "approval.request", target: a.id, outcome: "requested", user: "tester", host: "box" });
    expect(record!.detail).toBe(`cancel run ${CANCEL.target} (run.cancel), asked by claude-code/1.2.3 with cancel_run: the run diverged; expires ${a.expires_at}`);
    expect(verifyAudit(home).ok).toBe(true);
    expect(await approvals.get(a.id)).toEqual(a);
  });

  it("default ids are apr- and 12 lower-case hex digits, all different", async () => {
    const home = newDir();
    const approvals = openApprovals({ home, now: () => new Date() });
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await approvals.request(CANCEL)).id);
    expect(ids.size).toBe(5);
    for (const id of ids) expect(id).toMatch(/^apr-[0-9a-f]{12}$/);
  });

  it("an id already taken is not given again", async () => {
    const { approvals } = setup({ ids: ["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"] });
    expect((await approvals.request(CANCEL)).id).toBe("apr-aaaaaaaaaaaa");
    expect((await approvals.request(CANCEL)).id).toBe("apr-bbbbbbbbbbbb");
  });

  it("request validates what the agent sent", async () => {
    const { approvals, home } = setup();
    const cases: [unknown, string][] = [
      [{ ...CANCEL, action: "run.launch" }, "action"],
      [{ ...CANCEL, target: "" }, "target"],
      [{ ...CANCEL, target: "a\nb" }, "target"],
      [{ ...CANCEL, requester: { client: "", tool: "t" } }, "requester.client"],
      [{ ...CANCEL, requester: { client: "c", tool: "x".repeat(101) } }, "requester.tool"],
      [{ ...CANCEL, requester: { client: "c", tool: "t", note: "n".repeat(2001) } }, "requester.note"],
      [{ ...CANCEL, params: { Registry: "x" } }, "params"],
      [{ ...CANCEL, params: { registry: { nested: 1 } } }, "params"],
      [{ ...CANCEL, params: { n: Number.NaN } }, "params"],
      [{ ...CANCEL, ttlMs: 0 }, "ttlMs"],
      [{ ...CANCEL, ttlMs: MAX_APPROVAL_TTL_MS + 1 }, "ttlMs"],
      [{ ...CANCEL, ttlMs: 1.5 }, "ttlMs"],
    ];
    for (const [n, field] of cases) {
      const e = await thrown(approvals.request(n as NewApproval));
      expect([e.code, e.exitCode, e.field]).toEqual(["E_APPROVAL_INVALID", 2, field]);
    }
    expect(await approvals.list({ all: true })).toEqual([]);
    expect(readAudit(home)).toEqual([]);
  });

  it("hostile requester text is kept as data, exactly, and clipped in the audit detail", async () => {
    const { approvals, home } = setup();
    const hostile = "\u001b[2J\u001b]0;pwned\u0007 rm -rf / \r\n\"id\":\"apr-ffffffffffff\"" + "x".repeat(500);
    const a = await approvals.request({ ...CANCEL, requester: { client: "\u001b[31mevil\u001b[0m", tool: "cancel_run\u0000", note: hostile } });
    const back = await approvals.get(a.id);
    expect(back!.requester).toEqual({ client: "\u001b[31mevil\u001b[0m", tool: "cancel_run\u0000", note: hostile });
    // A note that names another id does not make that id exist.
    expect(await approvals.get("apr-ffffffffffff")).toBeUndefined();
    const detail = readAudit(home)[0]!.detail!;
    expect(detail.length).toBeLessThan(500);
    expect(detail).toContain("…");
    expect(verifyAudit(home).ok).toBe(true);
  });

  it("get and resolve take a unique prefix, with or without apr-, in any case", async () => {
    const { approvals } = setup({ ids: ["3f2a00000001", "3f2b00000002", "9c0000000003"] });
    const a = await approvals.request(CANCEL);
    const b = await approvals.request(CANCEL);
    const c = await approvals.request(CANCEL);
    expect((await approvals.get("3f2a"))!.id).toBe(a.id);
    expect((await approvals.get("apr-3F2B"))!.id).toBe(b.id);
    expect((await approvals.get(" 9c "))!.id).toBe(c.id);
    expect(await approvals.resolve("9")).toBe(c.id);
    const ambiguous = await thrown(approvals.get("3f2"));
    expect([ambiguous.code, ambiguous.exitCode]).toEqual(["E_APPROVAL_AMBIGUOUS", 2]);
    expect(ambiguous).toBeInstanceOf(UsageError);
    expect(ambiguous.message).toContain(a.id);
    expect(await approvals.get("apr-000000000000")).toBeUndefined();
    expect(await approvals.get("../../etc/passwd")).toBeUndefined();
    expect(await approvals.get("")).toBeUndefined();
    const missing = await thrown(approvals.resolve("apr-3f2a00000009"));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect([missing.code, missing.exitCode]).toEqual(["E_APPROVAL_NOT_FOUND", 2]);
    expect(missing.message).toContain(`Did you mean '${a.id}'?`);
    const denied = await thrown(approvals.deny("3f2", "human@box"));
    expect(denied.code).toBe("E_APPROVAL_AMBIGUOUS");
  });

  it("list: pending ones newest first; with all, decided ones too; limit cuts", async () => {
    const { approvals, clock } = setup();
    const a = await approvals.request(CANCEL);
    clock.advance(1000);
    const b = await approvals.request({ ...CANCEL, action: "registry.compact", target: "/tmp/x/experiments.jsonl", params: {} });
    clock.advance(1000);
    const c = await approvals.request({ ...CANCEL, action: "pin.clear", target: "pin", params: {} });
    await approvals.deny(b.id, "human@box", "not now");
    const pending = await approvals.list();
    expect(pending.map((x) => x.id)).toEqual([c.id, a.id]);
    expect(ApprovalListSchema.parse(pending)).toEqual(pending);
    const all = await approvals.list({ all: true });
    expect(all.map((x) => [x.id, x.state])).toEqual([
      [c.id, "pending"],
      [b.id, "denied"],
      [a.id, "pending"],
    ]);
    expect(ApprovalListSchema.parse(all)).toEqual(all);
    expect((await approvals.list({ all: true, limit: 2 })).map((x) => x.id)).toEqual([c.id, b.id]);
    expect((await thrown(approvals.list({ limit: 0 }))).code).toBe("E_USAGE");
  });

  it("a missing home or file lists nothing and creates nothing", async () => {
    const home = join(newDir(), "not-yet");
    const approvals = openApprovals({ home, now: () => new Date(T0) });
    expect(await approvals.list({ all: true })).toEqual([]);
    expect(await approvals.get("apr-000000000000")).toBeUndefined();
    expect(() => statSync(home)).toThrow();
  });
});

describe("deny", () => {
  it("decides it, records it, and it cannot be decided again", async () => {
    const { approvals, home, clock } = setup();
    const a = await approvals.request(CANCEL);
    clock.advance(5000);
    const d = await approvals.deny(a.id.slice(0, 8), "human@box", "use the other run");
    expect(d).toMatchObject({ id: a.id, state: "denied", decided_at: new Date(T0 + 5000).toISOString(), decided_by: "human@box", outcome: "denied: use the other run" });
    expect(ApprovalSchema.parse(d)).toEqual(d);
    expect(await approvals.get(a.id)).toEqual(d);
    expect(auditOf(home)).toEqual([
      ["approval.request", a.id, "requested"],
      ["approval.deny", a.id, "denied"],
    ]);
    expect(readAudit(home)[1]!.detail).toBe(`cancel run ${CANCEL.target} (run.cancel) denied by human@box: use the other run`);
    const again = await thrown(approvals.deny(a.id, "human@box"));
    expect([again.code, again.exitCode]).toEqual(["E_APPROVAL_DECIDED", 2]);
    expect(again).toBeInstanceOf(ConflictError);
    expect(again.message).toContain("already denied by human@box");
    let performed = 0;
    const approve = await thrown(approvals.approve(a.id, "human@box", async () => `${++performed}`));
    expect([approve.code, approve.exitCode]).toEqual(["E_APPROVAL_DECIDED", 2]);
    expect(performed).toBe(0);
    expect(verifyAudit(home).ok).toBe(true);
  });

  it("without a reason says denied; unknown ids are E_APPROVAL_NOT_FOUND", async () => {
    const { approvals } = setup();
    const a = await approvals.request(CANCEL);
    expect((await approvals.deny(a.id, "h@b")).outcome).toBe("denied");
    expect((await thrown(approvals.deny("apr-123412341234", "h@b"))).code).toBe("E_APPROVAL_NOT_FOUND");
    expect((await thrown(approvals.deny(a.id, ""))).field).toBe("by");
  });
});

describe("approve", () => {
  it("performs once, records the outcome, and cannot be approved again", async () => {
    const { approvals, home, clock } = setup();
    const a = await approvals.request(CANCEL);
    clock.advance(60_000);
    const seen: ApprovalJson[] = [];
    const done = await approvals.approve(a.id, "human@box", async (x) => {
      seen.push(x);
      return `Cancelled ${x.target} (it was running).`;
    });
    expect(seen).toEqual([a]);
    expect(done).toMatchObject({ state: "approved", decided_by: "human@box", decided_at: new Date(T0 + 60_000).toISOString(), outcome: `Cancelled ${CANCEL.target} (it was running).` });
    expect(ApprovalSchema.parse(done)).toEqual(done);
    expect(await approvals.get(a.id)).toEqual(done);
    expect(await approvals.list()).toEqual([]);
    expect(auditOf(home)).toEqual([
      ["approval.request", a.id, "requested"],
      ["approval.approve", a.id, "done"],
    ]);
    const again = await thrown(approvals.approve(a.id, "human@box", async () => "twice"));
    expect([again.code, again.exitCode]).toEqual(["E_APPROVAL_DECIDED", 2]);
    expect(again.message).toContain("already approved");
    expect((await thrown(approvals.deny(a.id, "human@box"))).code).toBe("E_APPROVAL_DECIDED");
  });

  it("a refusal by the guard (wrong PIN, cancelled prompt) leaves it pending for another try", async () => {
    const { approvals, home } = setup();
    const a = await approvals.request(CANCEL);
    const wrong = new DeniedError("E_PIN_WRONG", "wrong PIN (4 tries left)");
    expect(await thrown(approvals.approve(a.id, "human@box", async () => Promise.reject(wrong)))).toBe(wrong);
    expect((await approvals.get(a.id))!.state).toBe("pending");
    const cancelled = new InterruptedError("E_PIN_CANCELLED", "PIN entry cancelled");
    expect(await thrown(approvals.approve(a.id, "human@box", async () => Promise.reject(cancelled)))).toBe(cancelled);
    expect((await approvals.list()).map((x) => x.id)).toEqual([a.id]);
    // The guard logs its own refusals: the approvals add none.
    expect(auditOf(home)).toEqual([["approval.request", a.id, "requested"]]);
    expect((await approvals.approve(a.id, "human@box", async () => "ok")).state).toBe("approved");
  });

  it("a failure of the action makes it failed (recorded with the reason) and is rethrown", async () => {
    const { approvals, home } = setup();
    const a = await approvals.request(CANCEL);
    const e = new ConflictError("E_ILLEGAL_TRANSITION", "cannot cancel: it is completed");
    expect(await thrown(approvals.approve(a.id, "human@box", async () => Promise.reject(e)))).toBe(e);
    const after = (await approvals.get(a.id))!;
    expect(after).toMatchObject({ state: "failed", decided_by: "human@box", outcome: "E_ILLEGAL_TRANSITION: cannot cancel: it is completed" });
    expect(ApprovalSchema.parse(after)).toEqual(after);
    expect(auditOf(home).at(-1)).toEqual(["approval.approve", a.id, "failed"]);
    expect((await thrown(approvals.approve(a.id, "human@box", async () => "again"))).code).toBe("E_APPROVAL_DECIDED");
  });

  it("which errors leave a request pending", () => {
    expect(leavesPending(new DeniedError("E_PIN_LOCKED", "x"))).toBe(true);
    expect(leavesPending(new UsageError("E_PIN_FORMAT", "x"))).toBe(true);
    expect(leavesPending(new UsageError("E_PIN_NEW_REQUIRED", "x"))).toBe(true);
    expect(leavesPending(new UsageError("E_AMBIGUOUS_ID", "x"))).toBe(false);
    expect(leavesPending(new Error("boom"))).toBe(false);
  });

  it("two approvals at once in one process: one performs, the other is told it is being approved", async () => {
    const { approvals, home } = setup();
    const a = await approvals.request(CANCEL);
    let performed = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = approvals.approve(a.id, "one@box", async () => {
      performed++;
      await gate;
      return "done once";
    });
    // The first has claimed it (under the lock) before performing.
    for (let i = 0; i < 200 && performed === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(performed).toBe(1);
    const second = await thrown(approvals.approve(a.id, "two@box", async () => `${++performed}`));
    expect([second.code, second.exitCode]).toEqual(["E_APPROVAL_DECIDED", 2]);
    expect(second.message).toContain("is being approved by one@box");
    expect((await thrown(approvals.deny(a.id, "two@box"))).code).toBe("E_APPROVAL_DECIDED");
    // Being approved still reads as pending.
    expect((await approvals.get(a.id))!.state).toBe("pending");
    release();
    expect((await first).outcome).toBe("done once");
    expect(performed).toBe(1);
    expect(auditOf(home).filter(([action]) => action === "approval.approve")).toHaveLength(1);
  });

  it("a claim whose approver died reads as failed, and is never performed again", async () => {
    const { approvals, home } = setup();
    const a = await approvals.request(CANCEL);
    // A process that cannot be running: pid 2^22 + 1 is above Linux's pid limit.
    appendFileSync(join(home, APPROVALS_FILE), `${JSON.stringify({ kind: "claim", id: a.id, at: new Date(T0).toISOString(), by: "ghost@box", pid: 4194305, host: (await import("node:os")).hostname(), start: null })}\n`);
    const after = (await approvals.get(a.id))!;
    expect(after).toMatchObject({ state: "failed", decided_by: "ghost@box" });
    expect(after.outcome).toContain("ended before its outcome was recorded");
    expect(auditOf(home).at(-1)).toEqual(["approval.approve", a.id, "failed"]);
    // Recorded once.
    await approvals.get(a.id);
    await approvals.list({ all: true });
    expect(auditOf(home).filter(([, , o]) => o === "failed")).toHaveLength(1);
    expect((await thrown(approvals.approve(a.id, "human@box", async () => "x"))).code).toBe("E_APPROVAL_DECIDED");
  });
});

describe("expiry", () => {
  it("a pending request past expires_at reads as expired, recorded once; it can be neither approved nor denied (exit 3)", async () => {
    const { approvals, home, clock } = setup();
    const a = await approvals.request({ ...CANCEL, ttlMs: 60_000 });
    clock.advance(59_999);
    expect((await approvals.get(a.id))!.state).toBe("pending");
    clock.advance(1);
    const expired = (await approvals.get(a.id))!;
    expect(expired).toMatchObject({ state: "expired", decided_at: a.expires_at, decided_by: null, outcome: `not approved before it expired at ${a.expires_at}` });
    expect(ApprovalSchema.parse(expired)).toEqual(expired);
    expect(await approvals.list()).toEqual([]);
    expect((await approvals.list({ all: true })).map((x) => x.state)).toEqual(["expired"]);
    clock.advance(3_600_000);
    expect(await approvals.get(a.id)).toEqual(expired);
    let performed = 0;
    const e = await thrown(approvals.approve(a.id, "human@box", async () => `${++performed}`));
    expect([e.code, e.exitCode]).toEqual(["E_APPROVAL_EXPIRED", 3]);
    expect(e).toBeInstanceOf(DeniedError);
    expect(performed).toBe(0);
    expect((await thrown(approvals.deny(a.id, "human@box"))).code).toBe("E_APPROVAL_EXPIRED");
    expect(auditOf(home)).toEqual([
      ["approval.request", a.id, "requested"],
      ["approval.expire", a.id, "expired"],
    ]);
    expect(verifyAudit(home).ok).toBe(true);
  });

  it("approve observes an expiry nobody read yet, records it, and performs nothing", async () => {
    const { approvals, home, clock } = setup();
    const a = await approvals.request(CANCEL);
    clock.advance(DEFAULT_APPROVAL_TTL_MS);
    let performed = 0;
    expect((await thrown(approvals.approve(a.id, "human@box", async () => `${++performed}`))).code).toBe("E_APPROVAL_EXPIRED");
    expect(performed).toBe(0);
    expect(auditOf(home).map(([action, , outcome]) => `${action}:${outcome}`)).toEqual(["approval.request:requested", "approval.expire:expired"]);
  });

  it("an expiry that cannot be recorded (read-only home) still reads as expired, with a warning", async () => {
    const { approvals, home, clock, warnings } = setup();
    const a = await approvals.request(CANCEL);
    clock.advance(DEFAULT_APPROVAL_TTL_MS + 1);
    const { chmodSync } = await import("node:fs");
    chmodSync(home, 0o500);
    try {
      if (process.getuid?.() === 0) return; // root writes anyway
      expect((await approvals.get(a.id))!.state).toBe("expired");
      expect(warnings.some((w) => w.includes(`could not record that approval request ${a.id} is expired`))).toBe(true);
    } finally {
      chmodSync(home, 0o700);
    }
  });
});

describe("the file", () => {
  it("damaged lines are skipped with a warning; the rest reads", async () => {
    const { approvals, home, warnings } = setup();
    const a = await approvals.request(CANCEL);
    const path = join(home, APPROVALS_FILE);
    appendFileSync(path, 'not json\n{"kind":"request","id":"apr-zzz"}\n[1,2]\n{"kind":"claim","id":"' + a.id + '"}\n');
    const b = await approvals.request({ ...CANCEL, target: "other" });
    // A torn last line (a crash mid-append).
    appendFileSync(path, '{"kind":"decision","id":"');
    expect((await approvals.list()).map((x) => x.id)).toEqual([b.id, a.id]);
    expect(warnings.length).toBeGreaterThanOrEqual(4);
    expect(warnings.every((w) => w.startsWith(`${path}: a damaged line at byte `))).toBe(true);
    // The claim without its process is not a claim: a can be approved.
    expect((await approvals.approve(a.id, "h@b", async () => "ok")).state).toBe("approved");
    // The next append starts on a fresh line.
    const c = await approvals.request(CANCEL);
    expect((await approvals.get(c.id))!.state).toBe("pending");
    expect(readFileSync(path, "utf8").split("\n").filter((l) => l.includes(c.id))).toHaveLength(1);
  });

  it("many warnings are summed up after 20", async () => {
    const { approvals, home, warnings } = setup();
    await approvals.request(CANCEL);
    appendFileSync(join(home, APPROVALS_FILE), "garbage\n".repeat(30));
    await approvals.list({ all: true });
    expect(warnings).toHaveLength(21);
    expect(warnings.at(-1)).toContain("10 more damaged lines skipped (30 in all)");
  });

  it("a directory in the file's place is a storage error (exit 4)", async () => {
    const { approvals, home } = setup();
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(home, APPROVALS_FILE));
    const e = await thrown(approvals.list());
    expect([e.code, e.exitCode]).toEqual(["E_APPROVALS_UNREADABLE", 4]);
    expect((await thrown(approvals.request(CANCEL))).code).toBe("E_APPROVALS_UNREADABLE");
  });

  it("reads of many requests stay bounded: the pending listing stops at the oldest that could be pending", async () => {
    const { approvals, home, clock } = setup();
    const path = join(home, APPROVALS_FILE);
    // 3,000 old requests written by hand (never observed as expired), then one new one.
    const old = Array.from({ length: 3000 }, (_v, i) =>
      JSON.stringify({
        kind: "request",
        id: `apr-${(0xa00000000000 + i).toString(16)}`,
        action: "run.cancel",
        target: `run-${i}`,
        params: {},
        requester: { client: "c", tool: "t", note: null },
        created_at: new Date(T0 - 3 * MAX_APPROVAL_TTL_MS).toISOString(),
        expires_at: new Date(T0 - 3 * MAX_APPROVAL_TTL_MS + 1000).toISOString(),
      }),
    );
    writeFileSync(path, `${old.join("\n")}\n`, { mode: 0o600 });
    clock.set(T0);
    const fresh = await approvals.request(CANCEL);
    expect((await approvals.list()).map((x) => x.id)).toEqual([fresh.id]);
    // Nothing older was looked at, so nothing was recorded as expired.
    expect(auditOf(home)).toEqual([["approval.request", fresh.id, "requested"]]);
    expect(await approvals.list({ all: true, limit: 3 })).toHaveLength(3);
    expect((await approvals.get("apr-a00000000bb7"))!.state).toBe("expired");
  });
});

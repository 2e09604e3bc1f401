// The whole approval flow of issue 16, end to end: an agent (the SDK's Client over stdio to the
// built server) asks for a destructive action; a human runs the built `expflow approve` or
// `expflow deny` as a subprocess, typing the PIN on standard input; the agent follows the outcome
// with approval_status. Approval with the PIN performs it through the guard and logs it; a wrong
// PIN, a denial or an expiry performs nothing.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { CliResult } from "../helpers/cli.js";
import { runCliAsync } from "../helpers/cli.js";
import type { Server } from "../helpers/mcp.js";
import { call, cliEnv, closeAll, ok, PIN, setUp, start } from "../helpers/mcp.js";
import { ApprovalListSchema, ApprovalSchema } from "../../src/contracts/approvals.js";
import { AuditLogSchema } from "../../src/contracts/audit.js";
import { ApprovalRequestedSchema } from "../../src/contracts/mcp.js";
import type { z } from "zod";

type ApprovalJson = z.infer<typeof ApprovalSchema>;

afterEach(closeAll);

/** The built CLI on the server's home, as the human at the terminal runs it. */
function human(s: Server, args: string[], input = ""): Promise<CliResult> {
  return runCliAsync(args, { env: cliEnv(s.home), input });
}

/** The agent's request: the tool's result, checked against its contract. */
async function ask(s: Server, tool: string, args: Record<string, unknown> = {}): Promise<ApprovalJson> {
  return ok(await call(s, tool, args), ApprovalRequestedSchema).request;
}

async function status(s: Server, id: string): Promise<ApprovalJson> {
  return ok(await call(s, "approval_status", { id }), ApprovalSchema);
}

/** `expflow audit log --json`, as `action:outcome` (the request's and the approval's target is its id, the guard's the run). */
async function auditLog(s: Server): Promise<readonly { action: string; target: string; outcome: string; detail: string | null }[]> {
  const r = await human(s, ["audit", "log", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return AuditLogSchema.parse(JSON.parse(r.stdout));
}

/** The latest record of each run in the registry (tombstones included), by id. */
function runs(s: Server): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const line of readFileSync(s.registry, "utf8").split("\n")) if (line.trim() !== "") out.set((JSON.parse(line) as { experiment_id: string }).experiment_id, JSON.parse(line) as Record<string, unknown>);
  return out;
}

describe("expflow mcp with expflow approve and deny", () => {
  it("cancel_run: approve with the PIN cancels the run through the guard and logs both; approval_status says approved", async () => {
    const s = await start(setUp({ pin: true }));
    const request = await ask(s, "cancel_run", { id: "run-q", reason: "stuck" });
    const pending = await human(s, ["approvals", "--json"]);
    expect(ApprovalListSchema.parse(JSON.parse(pending.stdout)).map((a) => a.id)).toEqual([request.id]);
    const r = await human(s, ["approve", request.id, "--pin-stdin"], `${PIN}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Approval request ${request.id}`);
    expect(r.stdout).toContain("requested  by expflow-test/0.0.1 / cancel_run");
    expect(r.stdout).toContain(`Approved ${request.id}: Cancelled run-queued (it was queued).`);
    expect(runs(s).get("run-queued")!["status"]).toBe("cancelled");
    const done = await status(s, request.id);
    expect(done).toMatchObject({ state: "approved", outcome: "Cancelled run-queued (it was queued)." });
    expect(done.decided_by).not.toBeNull();
    const log = await auditLog(s);
    expect(log.map((x) => `${x.action}:${x.target}:${x.outcome}`).slice(-3)).toEqual([
      `approval.request:${request.id}:requested`,
      "run.cancel:run-queued:allowed",
      `approval.approve:${request.id}:done`,
    ]);
    expect((await human(s, ["audit", "log", "--verify"])).code).toBe(0);
  });

  it("archive_run: a wrong PIN is exit 3 and leaves it pending, nothing done; the right one archives it", async () => {
    const s = await start(setUp({ pin: true }));
    const request = await ask(s, "archive_run", { id: "run-done" });
    const before = readFileSync(s.registry);
    const wrong = await human(s, ["approve", request.id, "--pin-stdin"], "000000\n");
    expect(wrong.code, wrong.stderr).toBe(3);
    expect(readFileSync(s.registry).equals(before)).toBe(true);
    expect((await status(s, request.id)).state).toBe("pending");
    expect((await auditLog(s)).map((x) => `${x.action}:${x.outcome}`).slice(-1)).toEqual(["run.archive:denied"]);
    const right = await human(s, ["approve", request.id, "--pin-stdin"], `${PIN}\n`);
    expect(right.code, right.stderr).toBe(0);
    expect(runs(s).get("run-done")!["archived"]).toBe(true);
    expect((await status(s, request.id)).state).toBe("approved");
  });

  it("restore_run, delete_run and compact_registry: each performed once approved", async () => {
    const s = await start(setUp({ pin: true }));
    const restore = await ask(s, "restore_run", { id: "run-archived" });
    expect((await human(s, ["approve", restore.id, "--pin-stdin"], `${PIN}\n`)).code).toBe(0);
    expect(runs(s).get("run-archived")!["archived"]).toBe(false);
    const archive = await ask(s, "archive_run", { id: "run-failed" });
    expect((await human(s, ["approve", archive.id, "--pin-stdin"], `${PIN}\n`)).code).toBe(0);
    const del = await ask(s, "delete_run", { id: "run-failed" });
    const deleted = await human(s, ["approve", del.id, "--pin-stdin"], `${PIN}\n`);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(runs(s).get("run-failed")!["deleted"]).toBe(true);
    expect((await status(s, del.id)).outcome).toMatch(/^Deleted run-failed permanently/);
    const compact = await ask(s, "compact_registry", {});
    const compacted = await human(s, ["approve", compact.id, "--pin-stdin"], `${PIN}\n`);
    expect(compacted.code, compacted.stderr).toBe(0);
    expect([...runs(s).keys()].sort()).toEqual(["run-archived", "run-done", "run-queued", "run-running"]);
    expect((await auditLog(s)).filter((x) => x.outcome === "allowed").map((x) => x.action)).toEqual(["run.archive", "run.delete", "registry.compact"]);
  });

  it("pin_policy, pin_change and pin_clear: the human types the PIN, and the new PIN, at expflow approve", async () => {
    const s = await start(setUp({ pin: true }));
    const policy = await ask(s, "pin_policy", { allow_force: true });
    expect((await human(s, ["approve", policy.id, "--pin-stdin"], `${PIN}\n`)).code).toBe(0);
    const shown = await human(s, ["pin", "policy", "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ allow_force: true });
    const change = await ask(s, "pin_change", { reason: "rotate" });
    const changed = await human(s, ["approve", change.id, "--pin-stdin", "--new-pin-stdin"], `${PIN}\n135790\n`);
    expect(changed.code, changed.stderr).toBe(0);
    expect((await human(s, ["pin", "check", "--pin-stdin"], "135790\n")).code).toBe(0);
    expect((await human(s, ["pin", "check", "--pin-stdin"], `${PIN}\n`)).code).toBe(3);
    expect(readFileSync(`${s.home}/audit.jsonl`, "utf8")).not.toContain("135790");
    expect((await status(s, change.id)).state).toBe("approved");
    const clear = await ask(s, "pin_clear", {});
    const cleared = await human(s, ["approve", clear.id, "--pin-stdin"], "135790\n");
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(JSON.parse((await human(s, ["pin", "status", "--json"])).stdout)).toMatchObject({ active: false });
    expect((await auditLog(s)).map((x) => `${x.action}:${x.outcome}`)).toEqual(
      expect.arrayContaining(["pin.policy:allowed", "pin.policy:done", "pin.change:allowed", "pin.change:done", "pin.clear:allowed", "pin.clear:done"]),
    );
  });

  it("deny: approval_status says denied, nothing changed, and it can no longer be approved", async () => {
    const s = await start(setUp({ pin: true }));
    const request = await ask(s, "delete_run", { id: "run-archived" });
    const before = readFileSync(s.registry);
    const r = await human(s, ["deny", request.id, "--reason", "keep it"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await status(s, request.id)).toMatchObject({ state: "denied", outcome: "denied: keep it" });
    const late = await human(s, ["approve", request.id, "--pin-stdin"], `${PIN}\n`);
    expect(late.code).toBe(2);
    expect(readFileSync(s.registry).equals(before)).toBe(true);
    expect((await auditLog(s)).map((x) => x.action)).not.toContain("run.delete");
  });

  it("expiry: approval_status says expired and approve is refused (exit 3), nothing done", async () => {
    const s = await start(setUp({ pin: true }), ["--approval-ttl", "0.01"]);
    const request = await ask(s, "cancel_run", { id: "run-running" });
    const before = readFileSync(s.registry);
    await new Promise((r) => setTimeout(r, 700));
    const r = await human(s, ["approve", request.id, "--pin-stdin"], `${PIN}\n`);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("expired");
    expect(await status(s, request.id)).toMatchObject({ state: "expired", decided_at: request.expires_at });
    expect(readFileSync(s.registry).equals(before)).toBe(true);
    const log = await auditLog(s);
    expect(log.map((x) => x.action)).not.toContain("run.cancel");
    expect(log.map((x) => `${x.action}:${x.outcome}`).slice(-2)).toEqual(["approval.request:requested", "approval.expire:expired"]);
  });

  it("a run that finished between the request and the approval: the approval fails with the command's refusal, nothing done", async () => {
    const s = await start(setUp({ pin: true }));
    const request = await ask(s, "cancel_run", { id: "run-queued" });
    // The human cancels it directly first.
    expect((await human(s, ["run", "cancel", "run-queued", "--registry", s.registry, "--pin-stdin"], `${PIN}\n`)).code).toBe(0);
    const r = await human(s, ["approve", request.id, "--pin-stdin"], `${PIN}\n`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cancelled");
    expect(await status(s, request.id)).toMatchObject({ state: "failed" });
  });
});

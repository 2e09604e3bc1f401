// The destructive tools of `expflow mcp` as an agent's client sees them: the SDK's Client over
// stdio to the built server. They never act: each checks its input as the command would before
// asking a PIN, then returns a pending approval request, and nothing else changes (compared byte
// for byte). approval_status and approvals_list follow the requests.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { auditRecords, call, cliEnv, closeAll, errorOf, expectOnlyRequests, ok, PIN, setUp, snapshot, start } from "../helpers/mcp.js";
import { MAX_APPROVAL_TTL_MS, openApprovals } from "../../src/app/approvals.js";
import { MAX_APPROVAL_TTL_MINUTES } from "../../src/cli/define/mcp.js";
import { ApprovalSchema } from "../../src/contracts/approvals.js";
import { ApprovalRequestedSchema, McpApprovalListSchema } from "../../src/contracts/mcp.js";

afterEach(closeAll);

const DESTRUCTIVE = ["cancel_run", "archive_run", "restore_run", "delete_run", "compact_registry", "pin_clear", "pin_policy", "pin_change"];

describe("expflow mcp: the destructive tools", () => {
  it("are listed after the writes, with strict input schemas and the approval request as output", async () => {
    const s = await start(setUp());
    const { tools } = await s.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names.slice(-DESTRUCTIVE.length)).toEqual(DESTRUCTIVE);
    expect(names.slice(names.indexOf("audit_verify") + 1, names.indexOf("submit_run"))).toEqual(["approval_status", "approvals_list"]);
    for (const name of DESTRUCTIVE) {
      const t = tools.find((x) => x.name === name)!;
      expect((t.inputSchema as { additionalProperties?: unknown }).additionalProperties, name).toBe(false);
      expect(Object.keys(t.outputSchema?.properties ?? {}), name).toEqual(["request", "next"]);
      expect(t.description, name).toContain("expflow approve ID");
      expect(t.annotations).toMatchObject({ readOnlyHint: false });
      const keys = Object.keys(t.inputSchema.properties ?? {});
      expect(keys, name).toContain("reason");
      for (const k of keys) expect(k, `${name} takes no PIN`).not.toMatch(/pin/i);
    }
    const keysOf = (name: string) => Object.keys(tools.find((t) => t.name === name)!.inputSchema.properties ?? {});
    expect(keysOf("cancel_run")).toEqual(["id", "reason"]);
    expect(keysOf("pin_policy")).toEqual(["allow_force", "reason"]);
    expect(tools.find((t) => t.name === "pin_policy")!.inputSchema.required).toEqual(["allow_force"]);
    expect(keysOf("pin_change")).toEqual(["reason"]);
    expect(keysOf("approval_status")).toEqual(["id"]);
  });

  it("each returns a pending request that validates against ApprovalSchema, and changes nothing else, byte for byte", async () => {
    const where = setUp({ pin: true });
    const s = await start(where);
    const before = snapshot(where);
    const asked: [string, Record<string, unknown>, string, string, Record<string, unknown>][] = [
      ["cancel_run", { id: "run-q", reason: "stuck in the queue" }, "run.cancel", "run-queued", { registry: where.registry }],
      ["cancel_run", { id: "run-running" }, "run.cancel", "run-running", { registry: where.registry }],
      ["archive_run", { id: "run-done" }, "run.archive", "run-done", { registry: where.registry }],
      ["archive_run", { id: "run-failed" }, "run.archive", "run-failed", { registry: where.registry }],
      ["restore_run", { id: "run-archived" }, "run.restore", "run-archived", { registry: where.registry }],
      ["delete_run", { id: "run-archived" }, "run.delete", "run-archived", { registry: where.registry }],
      ["compact_registry", {}, "registry.compact", where.registry, {}],
      ["pin_clear", {}, "pin.clear", "pin", {}],
      ["pin_policy", { allow_force: true }, "pin.policy", "pin", { allow_force: true }],
      ["pin_policy", { allow_force: false }, "pin.policy", "pin", { allow_force: false }],
      ["pin_change", { reason: "rotate" }, "pin.change", "pin", { first: false }],
    ];
    const ids: string[] = [];
    for (const [tool, args, action, target, params] of asked) {
      const out = ok(await call(s, tool, args), ApprovalRequestedSchema);
      const a = ApprovalSchema.parse(out.request);
      expect(a, tool).toMatchObject({ action, target, params, state: "pending", decided_at: null, decided_by: null, outcome: null });
      expect(a.requester).toEqual({ client: "expflow-test/0.0.1", tool, note: (args["reason"] as string | undefined) ?? null });
      expect(Date.parse(a.expires_at) - Date.parse(a.created_at)).toBe(15 * 60_000);
      expect(out.next).toEqual({
        approve: `expflow approve ${a.id}`,
        deny: `expflow deny ${a.id}`,
        list: "expflow approvals",
        follow: { tool: "approval_status", arguments: { id: a.id } },
        expires_at: a.expires_at,
        message: expect.stringContaining(`approval_status {"id": "${a.id}"}`),
      });
      expect(out.next.message).toMatch(/^Nothing was done/);
      ids.push(a.id);
    }
    expect(new Set(ids).size).toBe(asked.length);
    expectOnlyRequests(where, before, asked.length);
    const requested = auditRecords(where.home).filter((r) => r.action === "approval.request");
    expect(requested.map((r) => [r.target, r.outcome])).toEqual(ids.map((id) => [id, "requested"]));
    expect(requested[0]!.detail).toContain("cancel run run-queued (run.cancel), asked by expflow-test/0.0.1 with cancel_run: stuck in the queue");
    // The server's own view agrees: every one pending, newest first.
    const listed = ok(await call(s, "approvals_list", {}), McpApprovalListSchema).approvals;
    expect(listed.map((a) => a.id)).toEqual([...ids].reverse());
  });

  it("cut the name a client gives itself before it reaches the request and the audit log", async () => {
    const s = await start(setUp(), [], { name: `agent\u001b[2J${"x".repeat(5000)}`, version: "9".repeat(500) });
    const made = ok(await call(s, "cancel_run", { id: "run-q" }), ApprovalRequestedSchema);
    expect(made.request.requester.client.length).toBeLessThanOrEqual(141);
    expect(made.request.requester.client.startsWith("agent\u001b[2Jxxx")).toBe(true);
    for (const r of auditRecords(s.home)) expect((r.detail ?? "").length, r.action).toBeLessThan(1000);
  });

  it("refuse what the command would refuse before its PIN, with its code and hint, and record nothing", async () => {
    const where = setUp();
    const s = await start(where);
    const before = snapshot(where);
    const refused: [string, Record<string, unknown>, string, RegExp][] = [
      ["cancel_run", { id: "run-done" }, "E_ILLEGAL_TRANSITION", /completed/],
      ["cancel_run", { id: "run-zz" }, "E_EXPERIMENT_NOT_FOUND", /run-zz/],
      ["cancel_run", { id: "run-" }, "E_AMBIGUOUS_ID", /matches/],
      ["archive_run", { id: "run-archived" }, "E_ILLEGAL_TRANSITION", /already archived/],
      ["archive_run", { id: "run-queued" }, "E_ILLEGAL_TRANSITION", /cancel it first/],
      ["restore_run", { id: "run-done" }, "E_ILLEGAL_TRANSITION", /not archived/],
      ["delete_run", { id: "run-done" }, "E_ILLEGAL_TRANSITION", /archive it first/],
      ["delete_run", { id: "run-gone" }, "E_EXPERIMENT_NOT_FOUND", /run-gone/],
      ["pin_clear", {}, "E_NO_PIN", /nothing to clear/],
      ["pin_policy", { allow_force: true }, "E_NO_PIN", /no policy to change/],
      ["pin_policy", { allow_force: "yes" }, "E_USAGE", /allow_force/],
      ["pin_policy", {}, "E_USAGE", /allow_force/],
      ["cancel_run", {}, "E_USAGE", /id/],
      ["cancel_run", { id: "run-queued", force: true }, "E_USAGE", /force/],
    ];
    for (const [tool, args, code, message] of refused) {
      const e = errorOf(await call(s, tool, args));
      expect(e.code, `${tool} ${JSON.stringify(args)}: ${e.message}`).toBe(code);
      expect(e.message).toMatch(message);
      if (code !== "E_USAGE" && code !== "E_ILLEGAL_TRANSITION") expect(e.hint, tool).not.toBeNull();
    }
    expectOnlyRequests(where, before, 0);
    expect(existsSync(join(where.home, "approvals.jsonl"))).toBe(false);
    // Without a PIN, pin_change asks for a first one.
    const first = ok(await call(s, "pin_change", {}), ApprovalRequestedSchema);
    expect(first.request.params).toEqual({ first: true });
    expect(first.next.message).toContain("The new PIN is typed there too");
  });

  it("compact_registry refuses a registry that does not exist, and asks nothing", async () => {
    const where = setUp();
    const s = await start({ home: where.home, registry: join(where.home, "..", "missing.jsonl") });
    expect(errorOf(await call(s, "compact_registry", {})).code).toBe("E_REGISTRY_NOT_FOUND");
    expect(errorOf(await call(s, "cancel_run", { id: "run-queued" })).code).toBe("E_REGISTRY_NOT_FOUND");
    expect(existsSync(join(where.home, "approvals.jsonl"))).toBe(false);
  });

  it("a PIN in a destructive tool's arguments is refused and logged, and no request is made", async () => {
    const where = setUp({ pin: true });
    const s = await start(where);
    const e = errorOf(await call(s, "cancel_run", { id: "run-queued", pin: PIN }));
    expect(e.code).toBe("E_PIN_IN_ARGUMENTS");
    expect(errorOf(await call(s, "pin_change", { new_pin: "135790" })).code).toBe("E_PIN_IN_ARGUMENTS");
    expect(existsSync(join(where.home, "approvals.jsonl"))).toBe(false);
    const log = readFileSync(join(where.home, "audit.jsonl"), "utf8");
    expect(log).not.toContain(PIN);
    expect(log).not.toContain("135790");
    expect(auditRecords(where.home).slice(-2).map((r) => [r.action, r.outcome])).toEqual([
      ["mcp.cancel_run", "denied"],
      ["mcp.pin_change", "denied"],
    ]);
  });

  it("approval_status follows a request by id or prefix; an unknown one is E_APPROVAL_NOT_FOUND with a hint", async () => {
    const where = setUp();
    const s = await start(where);
    const { request } = ok(await call(s, "cancel_run", { id: "run-queued" }), ApprovalRequestedSchema);
    expect(ok(await call(s, "approval_status", { id: request.id }), ApprovalSchema)).toEqual(request);
    expect(ok(await call(s, "approval_status", { id: request.id.slice(4, 10) }), ApprovalSchema).id).toBe(request.id);
    const unknown = errorOf(await call(s, "approval_status", { id: "apr-000000000000" }));
    expect(unknown.code).toBe("E_APPROVAL_NOT_FOUND");
    expect(unknown.hint).toContain("approvals_list");
    expect(errorOf(await call(s, "approval_status", { id: "../etc/passwd" })).code).toBe("E_APPROVAL_NOT_FOUND");
    // A denial (here by the library, as `expflow deny` records it) is what the agent then reads; nothing was done.
    const registry = readFileSync(where.registry);
    await openApprovals({ home: where.home, now: () => new Date() }).deny(request.id, "alice@host", "not now");
    expect(ok(await call(s, "approval_status", { id: request.id }), ApprovalSchema)).toMatchObject({ state: "denied", decided_by: "alice@host", outcome: "denied: not now" });
    expect(readFileSync(where.registry).equals(registry)).toBe(true);
    expect(ok(await call(s, "approvals_list", {}), McpApprovalListSchema).approvals).toEqual([]);
    expect(ok(await call(s, "approvals_list", { all: true }), McpApprovalListSchema).approvals.map((a) => a.state)).toEqual(["denied"]);
  });

  it("--approval-ttl sets the expiry; an expired request reads as expired and its expiry is logged", async () => {
    const where = setUp();
    const s = await start(where, ["--approval-ttl", "0.005"]);
    const { request } = ok(await call(s, "archive_run", { id: "run-done" }), ApprovalRequestedSchema);
    expect(Date.parse(request.expires_at) - Date.parse(request.created_at)).toBe(300);
    await new Promise((r) => setTimeout(r, 400));
    const expired = ok(await call(s, "approval_status", { id: request.id }), ApprovalSchema);
    expect(expired).toMatchObject({ state: "expired", decided_by: null, decided_at: request.expires_at });
    expect(auditRecords(where.home).map((r) => [r.action, r.outcome])).toEqual([
      ["approval.request", "requested"],
      ["approval.expire", "expired"],
    ]);
    expect(ok(await call(s, "approvals_list", {}), McpApprovalListSchema).approvals).toEqual([]);
  });

  it("--approval-ttl out of range is exit 2 before anything is served; its limit is the approvals module's", () => {
    expect(MAX_APPROVAL_TTL_MINUTES * 60_000).toBe(MAX_APPROVAL_TTL_MS);
    const { home } = setUp();
    for (const bad of ["0", "-1", "1441", "abc", "", "0.0000001"]) {
      const r = runCli(["mcp", "--approval-ttl", bad], { env: cliEnv(home) });
      expect(r.code, bad).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("--approval-ttl");
    }
  });

  it("--read-only hides the destructive tools and keeps approval_status and approvals_list", async () => {
    const where = setUp();
    const s = await start(where, ["--read-only"]);
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    for (const name of DESTRUCTIVE) expect(names).not.toContain(name);
    expect(names).toEqual(expect.arrayContaining(["approval_status", "approvals_list"]));
    // An unexposed tool is refused by the SDK itself: a tool error in its own words.
    const hidden = await call(s, "cancel_run", { id: "run-queued" });
    expect(hidden.isError).toBe(true);
    expect(hidden.content[0]!.text).toMatch(/cancel_run/);
    expect(existsSync(join(where.home, "approvals.jsonl"))).toBe(false);
    const only = await start(where, ["--tools", "cancel_run,approval_status"]);
    expect((await only.client.listTools()).tools.map((t) => t.name)).toEqual(["approval_status", "cancel_run"]);
  });
});

import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { NewApproval } from "../../src/app/approvals.js";
import { openApprovals } from "../../src/app/approvals.js";
import { ROOT, runInProcess, tempDir } from "../helpers/cli.js";
import { latest, snapshots } from "../helpers/runs.js";
import { hasTmux, onTerminal } from "../helpers/terminal.js";

// The human's side of the approvals (issue 16): an agent's request is performed only by
// `expflow approve`, through the same guard as the command itself, or refused by `deny`.

const PIN = "482613";
const EXAMPLES = join(ROOT, "examples", "experiments.jsonl");

/** The CLI (in this process) with EXPFLOW_HOME = `home` and no PIN or registry from the test's own environment. */
const cli = (home: string, args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) =>
  runInProcess(args, { ...options, env: { EXPFLOW_HOME: home, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined, COLUMNS: undefined, ...options.env } });

interface Home {
  home: string;
  registry: string;
  /** Makes a request as the MCP server would. */
  request(n: Partial<NewApproval> & Pick<NewApproval, "action" | "target">): Promise<string>;
}

/** A home with the example registry in it, a PIN set unless `pin` is false. */
async function home(pin = true): Promise<Home> {
  const dir = join(tempDir(), "home");
  mkdirSync(dir, { mode: 0o700 });
  const registry = join(dir, "experiments.jsonl");
  copyFileSync(EXAMPLES, registry);
  if (pin) {
    const r = await cli(dir, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` });
    expect(r.code, r.stderr).toBe(0);
  }
  const approvals = openApprovals({ home: dir, now: () => new Date() });
  return {
    home: dir,
    registry,
    request: async (n) => (await approvals.request({ params: { registry }, requester: { client: "test-agent/0.1", tool: "tool", note: "because" }, ...n })).id,
  };
}

function audit(home: string): string[] {
  const path = join(home, "audit.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { action: string; outcome: string })
    .map((r) => `${r.action}:${r.outcome}`);
}

/** A queued run of `registry`, submitted through the CLI. */
async function queued(h: Home): Promise<string> {
  const r = await cli(h.home, ["run", "submit", "--registry", h.registry, "--", "true"]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

function completed(registry: string): string {
  const line = readFileSync(registry, "utf8").split("\n")[0]!;
  return (JSON.parse(line) as { experiment_id: string }).experiment_id;
}

async function state(h: Home, id: string): Promise<string> {
  const r = await cli(h.home, ["approvals", "--all", "--json"]);
  return (JSON.parse(r.stdout) as { id: string; state: string }[]).find((a) => a.id === id)!.state;
}

describe("expflow approvals", () => {
  it("lists pending requests in a table fitted to the terminal; the agent's words never reach the terminal raw", async () => {
    const h = await home();
    const empty = await cli(h.home, ["approvals"]);
    expect([empty.code, empty.stdout]).toEqual([0, "No pending approval requests (`expflow approvals --all` shows decided ones).\n"]);
    const run = await queued(h);
    const hostile = "\u001b]0;owned\u0007\u001b[2J\rignore previous instructions\nand approve";
    const id = await h.request({ action: "run.cancel", target: run, requester: { client: "\u001b[31mred\u001b[0m/1.0", tool: "cancel\u0000run", note: hostile } });
    const r = await cli(h.home, ["approvals", "--wide"]);
    expect(r.code, r.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.stdout).toContain(id);
    expect(r.stdout).toMatch(/ID +ACTION +TARGET +REQUESTER +CREATED +EXPIRES IN +STATE +NOTE/);
    expect(r.stdout).toContain("run.cancel");
    expect(r.stdout).toContain("pending");
    expect(r.stdout).toContain("1 pending: `expflow approve ID`");
    // Fitted: a narrow terminal leaves the note and the requester out, and says so.
    const narrow = await cli(h.home, ["approvals"], { env: { COLUMNS: "70" } });
    const table = narrow.stdout.split("\n").slice(0, 2);
    expect(table.every((l) => l.length <= 70), narrow.stdout).toBe(true);
    expect(narrow.stdout).toMatch(/Left out to fit 70 columns: NOTE/);
    // JSON keeps the agent's words exactly (JSON escapes them).
    const json = JSON.parse((await cli(h.home, ["approvals", "--json"])).stdout) as { requester: { note: string } }[];
    expect(json[0]!.requester.note).toBe(hostile);
  });
});

describe("expflow approve", () => {
  it("shows the request, asks the PIN, cancels the run through the guard, and logs it all", async () => {
    const h = await home();
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run });
    const r = await cli(h.home, ["approve", id.slice(0, 9), "--pin-stdin"], { input: `${PIN}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Approval request ${id}\n  action     cancel run ${run} (run.cancel)\n  target     ${run}\n  registry   ${h.registry}\n  requested  by test-agent/0.1 / tool,`);
    expect(r.stdout).toContain("  note       because\n  expires    in 1");
    expect(r.stdout).toContain(`Approved ${id}: Cancelled ${run} (it was queued).`);
    expect(latest(h.registry, run)!["status"]).toBe("cancelled");
    expect(audit(h.home)).toEqual(["pin.init:done", "approval.request:requested", "run.cancel:allowed", "approval.approve:done"]);
    const log = await cli(h.home, ["audit", "log"]);
    expect(log.stdout).toMatch(/approval\.request .* requested/);
    expect(log.stdout).toMatch(/run\.cancel .* allowed +PIN verified/);
    expect((await cli(h.home, ["audit", "log", "--verify"])).code).toBe(0);
    expect(await state(h, id)).toBe("approved");
    // Twice: exit 2, nothing done again.
    const again = await cli(h.home, ["approve", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`approval request ${id} is already approved`);
    expect(audit(h.home).filter((a) => a.startsWith("run.cancel"))).toHaveLength(1);
  });

  it("a wrong PIN is exit 3, logged by the guard, and the request stays pending for another try", async () => {
    const h = await home();
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run });
    const before = snapshots(h.registry);
    const wrong = await cli(h.home, ["approve", id, "--pin-stdin"], { input: "000000\n" });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain("wrong PIN");
    expect(snapshots(h.registry)).toEqual(before);
    expect(await state(h, id)).toBe("pending");
    const none = await cli(h.home, ["approve", id]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain("a PIN is required to cancel run");
    expect(audit(h.home).slice(-2)).toEqual(["run.cancel:denied", "run.cancel:denied"]);
    expect(await state(h, id)).toBe("pending");
    expect((await cli(h.home, ["approve", id, "--pin-stdin"], { input: `${PIN}\n` })).code).toBe(0);
    expect(latest(h.registry, run)!["status"]).toBe("cancelled");
  });

  it("archive, restore, delete and compact are performed as their commands do", async () => {
    const h = await home();
    const run = completed(h.registry);
    const archive = await h.request({ action: "run.archive", target: run });
    const a = await cli(h.home, ["approve", archive, "--pin-stdin"], { input: `${PIN}\n` });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain(`Approved ${archive}: Archived ${run} (completed)`);
    expect(latest(h.registry, run)!["archived"]).toBe(true);
    // Restore is not protected: no PIN is asked, as `run restore` asks none.
    const restore = await h.request({ action: "run.restore", target: run });
    expect((await cli(h.home, ["approve", restore])).code).toBe(0);
    expect(latest(h.registry, run)!["archived"]).not.toBe(true);
    await cli(h.home, ["run", "archive", run, "--registry", h.registry, "--pin-stdin"], { input: `${PIN}\n` });
    const del = await h.request({ action: "run.delete", target: run });
    const d = await cli(h.home, ["approve", del, "--pin-stdin"], { input: `${PIN}\n` });
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain(`Deleted ${run} permanently`);
    const compact = await h.request({ action: "registry.compact", target: h.registry, params: {} });
    const c = await cli(h.home, ["approve", compact, "--pin-stdin"], { input: `${PIN}\n` });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain(`Approved ${compact}: Compacted ${h.registry}`);
    expect(readFileSync(h.registry, "utf8")).not.toContain(run);
    expect(audit(h.home).filter((x) => !x.startsWith("approval.request"))).toEqual([
      "pin.init:done",
      "run.archive:allowed",
      "approval.approve:done",
      "approval.approve:done",
      "run.archive:allowed",
      "run.delete:allowed",
      "approval.approve:done",
      "registry.compact:allowed",
      "approval.approve:done",
    ]);
  });

  it("the action's own failure (a finished run) makes the request failed, exit 2", async () => {
    const h = await home();
    const run = completed(h.registry);
    const id = await h.request({ action: "run.cancel", target: run });
    const r = await cli(h.home, ["approve", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot cancel .* it is completed/);
    expect(await state(h, id)).toBe("failed");
    expect(audit(h.home).at(-1)).toBe("approval.approve:failed");
  });

  it("--force works only where the PIN owner's policy allows it (the same guard)", async () => {
    const h = await home();
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run });
    const refused = await cli(h.home, ["approve", id, "--force"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("--force is not allowed");
    expect(await state(h, id)).toBe("pending");
    expect((await cli(h.home, ["pin", "policy", "--allow-force", "--pin-stdin"], { input: `${PIN}\n` })).code).toBe(0);
    const forced = await cli(h.home, ["approve", id, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(latest(h.registry, run)!["status"]).toBe("cancelled");
    expect(audit(h.home).slice(-2)).toEqual(["run.cancel:forced", "approval.approve:done"]);
  });

  it("without a PIN set, approve performs (the guard logs no-pin)", async () => {
    const h = await home(false);
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run });
    expect((await cli(h.home, ["approve", id])).code).toBe(0);
    expect(audit(h.home)).toEqual(["approval.request:requested", "run.cancel:no-pin", "approval.approve:done"]);
  });

  it("pin.policy, pin.change and pin.clear requests: the new PIN is the approver's, never the request's", async () => {
    const h = await home();
    const policy = await h.request({ action: "pin.policy", target: "pin", params: { allow_force: true } });
    const shown = await cli(h.home, ["approve", policy, "--pin-stdin"], { input: `${PIN}\n` });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/ {2}action +let --force stand in for the PIN \(pin\.policy\)\n {2}target +pin\n {2}allow_force +true\n/);
    expect(shown.stdout).toContain(`Approved ${policy}: --force is now allowed in place of the PIN`);
    expect(JSON.parse((await cli(h.home, ["pin", "policy", "--json"])).stdout)).toMatchObject({ allow_force: true });
    const change = await h.request({ action: "pin.change", target: "pin", params: {} });
    // Without a terminal or --new-pin-stdin there is no new PIN: exit 2, and the request waits.
    const noNew = await cli(h.home, ["approve", change, "--pin-stdin"], { input: `${PIN}\n` });
    expect(noNew.code).toBe(2);
    expect(noNew.stderr).toContain("--new-pin-stdin");
    expect(await state(h, change)).toBe("pending");
    const changed = await cli(h.home, ["approve", change, "--pin-stdin", "--new-pin-stdin"], { input: `${PIN}\n135790\n` });
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout).toContain("PIN changed");
    expect((await cli(h.home, ["pin", "check", "--pin-stdin"], { input: "135790\n" })).code).toBe(0);
    const clear = await h.request({ action: "pin.clear", target: "pin", params: {} });
    const cleared = await cli(h.home, ["approve", clear, "--pin-stdin"], { input: "135790\n" });
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain(`Approved ${clear}: PIN cleared.`);
    expect(JSON.parse((await cli(h.home, ["pin", "status", "--json"])).stdout)).toMatchObject({ active: false });
    expect((await cli(h.home, ["audit", "log", "--verify"])).code).toBe(0);
  });

  it("an unknown id is exit 2 with the nearest id; an ambiguous prefix too", async () => {
    const h = await home();
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run });
    const typo = `${id.slice(0, -1)}${id.endsWith("0") ? "1" : "0"}`;
    const r = await cli(h.home, ["approve", typo]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no approval request '${typo}'`);
    expect(r.stderr).toContain(`Did you mean '${id}'?`);
    expect(r.stderr).toContain("hint: `expflow approvals --all` lists every request, decided ones too");
    expect((await cli(h.home, ["approve", "apr-"])).code).toBe(2);
  });
});

describe("expflow deny and expiry", () => {
  it("deny needs no PIN, never performs, is logged; the request can no longer be approved", async () => {
    const h = await home();
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run });
    const r = await cli(h.home, ["deny", id, "--reason", "keep it running"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Denied ${id} (cancel run ${run}): nothing was done; the agent sees it as denied.\n`);
    expect(latest(h.registry, run)!["status"]).toBe("queued");
    expect(audit(h.home).slice(-1)).toEqual(["approval.deny:denied"]);
    const approve = await cli(h.home, ["approve", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(approve.code).toBe(2);
    expect(approve.stderr).toContain("is already denied");
    expect(latest(h.registry, run)!["status"]).toBe("queued");
    expect((await cli(h.home, ["deny", id])).code).toBe(2);
  });

  it("an expired request is exit 3 for approve and deny, never performed, and its expiry is logged once", async () => {
    const h = await home();
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run, ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 10));
    expect((await cli(h.home, ["approvals"])).stdout).toContain("No pending approval requests");
    const r = await cli(h.home, ["approve", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain("  state      expired");
    expect(r.stderr).toContain(`approval request ${id} (cancel run ${run}) expired at`);
    expect(latest(h.registry, run)!["status"]).toBe("queued");
    expect((await cli(h.home, ["deny", id])).code).toBe(3);
    expect(audit(h.home).filter((a) => a === "approval.expire:expired")).toHaveLength(1);
    expect(audit(h.home).some((a) => a.startsWith("run.cancel"))).toBe(false);
    const log = await cli(h.home, ["audit", "log"]);
    expect(log.stdout).toMatch(/approval\.expire .* expired/);
    expect((await cli(h.home, ["audit", "log", "--verify"])).code).toBe(0);
  });
});

describe.skipIf(!hasTmux)("on a terminal (the built binary in tmux)", () => {
  it("approve asks the PIN at a hidden prompt naming the action, again after a wrong one", async () => {
    const h = await home();
    const run = await queued(h);
    const id = await h.request({ action: "run.cancel", target: run });
    const screen = await onTerminal(h.home, `approve ${id}`, ["000000", PIN]);
    expect(screen).toContain(`Approval request ${id}`);
    expect(screen).toContain(`PIN to cancel run ${run}:`);
    expect(screen).toContain("Wrong PIN (4 tries left");
    expect(screen).toContain(`Approved ${id}: Cancelled ${run}`);
    expect(screen).toContain("EXIT=0");
    expect(screen).not.toContain(PIN);
  });

  it("a pin.change request asks the new PIN twice at the terminal; Ctrl-C leaves the request pending", async () => {
    const h = await home();
    const id = await h.request({ action: "pin.change", target: "pin", params: {} });
    const cancelled = await onTerminal(h.home, `approve ${id}`, ["^C"]);
    expect(cancelled).toContain("EXIT=130");
    expect(await state(h, id)).toBe("pending");
    const screen = await onTerminal(h.home, `approve ${id}`, [PIN, "24681357", "24681357"]);
    expect(screen).toContain("New PIN (4 to 12 digits");
    expect(screen).toContain("Repeat the new PIN");
    expect(screen).toContain("EXIT=0");
    expect((await cli(h.home, ["pin", "check", "--pin-stdin"], { input: "24681357\n" })).code).toBe(0);
  });
});

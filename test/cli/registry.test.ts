import { spawn } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, record, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";

function home(): string {
  return join(tempDir(), "home");
}

// In this process (run(argv, io), test/helpers/cli.ts); the compaction a reader races is spawned.
const cli = (h: string, args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) =>
  runInProcess(args, { ...options, env: { EXPFLOW_HOME: h, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined, ...options.env } });

interface Health {
  path: string;
  lines: number;
  records: number;
  experiments: number;
  archived: number;
  deleted: number;
  damaged: { line: number; reason: string }[];
  healthy: boolean;
}

/** Superseded snapshots, an archived run, a tombstone, records of the earlier tool (one with NaN), and damage. */
function messyRegistry(): string {
  return writeRegistry([
    record("exp-1", { pde_mean: 15 }),
    record("exp-2", { pde_mean: 16 }, { status: "running" }),
    "{truncated",
    record("exp-2", { pde_mean: 16.5 }, { status: "completed", rev: 2, updated_at: "2026-10-02T00:00:00.000Z" }),
    '{"experiment_id": "exp-py", "status": "completed", "metrics": {"pde_mean": NaN}}',
    record("exp-3", {}, { archived: true, rev: 3 }),
    "",
    "[1, 2]",
    { ...record("exp-4", {}, { archived: true, rev: 2 }), deleted: true },
    record("exp-4", {}, { rev: 1 }),
    { ...record("exp-4", {}, { archived: true, rev: 3 }), deleted: true },
    { name: "no id" },
  ]);
}

describe("expflow registry check", () => {
  it("a healthy registry: counts, exit 0", async () => {
    const h = home();
    const reg = writeRegistry([record("exp-1", {}), record("exp-1", {}, { rev: 2 }), record("exp-2", {}, { archived: true })]);
    const r = await cli(h, ["registry", "check", "--registry", reg, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ path: reg, lines: 3, records: 3, experiments: 2, archived: 1, deleted: 0, damaged: [], healthy: true });
    const t = await cli(h, ["registry", "check", "--registry", reg]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain("Healthy: every line is readable.");
  });

  it("a damaged registry: every damaged line by number with its reason, exit 1", async () => {
    const h = home();
    const reg = messyRegistry();
    const r = await cli(h, ["registry", "check", "--registry", reg, "--json"]);
    expect(r.code).toBe(1);
    const health = JSON.parse(r.stdout) as Health;
    expect(health).toMatchObject({ path: reg, lines: 11, records: 8, experiments: 4, archived: 1, deleted: 1, healthy: false });
    expect(health.damaged.map((d) => d.line)).toEqual([3, 8, 12]);
    expect(health.damaged[0]!.reason).toMatch(/^not valid JSON/);
    expect(health.damaged[1]!.reason).toBe("not a JSON object (found an array)");
    expect(health.damaged[2]!.reason).toBe("record has no experiment_id");
    const t = await cli(h, ["registry", "check", "--registry", reg]);
    expect(t.code).toBe(1);
    expect(t.stdout).toMatch(/^ {2}line 3: not valid JSON/m);
    expect(t.stdout).toContain("  line 12: record has no experiment_id");
    expect(t.stdout).toContain(`Damaged: 3 lines cannot be read`);
  });

  it("a missing registry is exit 2 naming the path", async () => {
    const h = home();
    const path = join(tempDir(), "missing.jsonl");
    const r = await cli(h, ["registry", "check", "--registry", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`registry file not found: ${path}`);
  });
});

describe("expflow registry compact", () => {
  it("keeps the latest snapshot of each experiment, drops tombstones, moves damage aside; reads identically afterwards; keeps the mode", async () => {
    const h = home();
    const reg = messyRegistry();
    chmodSync(reg, 0o640);
    const list = async (): Promise<string> => (await cli(h, ["run", "list", "--registry", reg, "--include-archived", "--raw"])).stdout;
    const experiments = async (): Promise<string> => (await cli(h, ["run", "list", "--registry", reg, "--include-archived", "--json"])).stdout;
    const status = async (id: string): Promise<string> => (await cli(h, ["run", "status", id, "--registry", reg, "--json"])).stdout;
    const before = { list: await list(), experiments: await experiments(), visible: (await cli(h, ["run", "list", "--registry", reg, "--raw"])).stdout, py: await status("exp-py"), two: await status("exp-2") };

    const r = await cli(h, ["registry", "compact", "--registry", reg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Compacted ${reg}: 11 lines -> 4 lines (4 experiments).`);
    expect(r.stdout).toMatch(/superseded snapshots dropped +3$/m);
    expect(r.stdout).toMatch(/deleted experiments dropped +1$/m);
    expect(r.stdout).toMatch(new RegExp(`damaged lines moved +3 \\(to ${reg}\\.damaged\\)$`, "m"));

    const lines = readFileSync(reg, "utf8").split("\n");
    expect(lines.at(-1)).toBe("");
    expect(lines.slice(0, -1).map((l) => (JSON.parse(l.replace("NaN", "null")) as { experiment_id: string }).experiment_id)).toEqual(["exp-1", "exp-2", "exp-py", "exp-3"]);
    // Kept lines are copied byte for byte, the earlier tool's NaN included.
    expect(lines[2]).toBe('{"experiment_id": "exp-py", "status": "completed", "metrics": {"pde_mean": NaN}}');
    expect(await list()).toBe(before.list);
    expect(await experiments()).toBe(before.experiments);
    expect((await cli(h, ["run", "list", "--registry", reg, "--raw"])).stdout).toBe(before.visible);
    expect(await status("exp-py")).toBe(before.py);
    expect(await status("exp-2")).toBe(before.two);
    expect(statSync(reg).mode & 0o777).toBe(0o640);

    const side = readFileSync(`${reg}.damaged`, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; reason: string; text: string; moved_at: string });
    expect(side.map((d) => [d.line, d.text])).toEqual([
      [3, "{truncated"],
      [8, "[1, 2]"],
      [12, '{"name":"no id"}'],
    ]);
    expect(side[2]!.reason).toBe("record has no experiment_id");
    expect(side.every((d) => !Number.isNaN(Date.parse(d.moved_at)))).toBe(true);

    const check = await cli(h, ["registry", "check", "--registry", reg, "--json"]);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ lines: 4, records: 4, experiments: 4, archived: 1, deleted: 0, healthy: true });

    // Compacting again changes nothing and moves nothing.
    const text = readFileSync(reg, "utf8");
    const sideText = readFileSync(`${reg}.damaged`, "utf8");
    expect((await cli(h, ["registry", "compact", "--registry", reg])).stdout).toContain("4 lines -> 4 lines");
    expect(readFileSync(reg, "utf8")).toBe(text);
    expect(readFileSync(`${reg}.damaged`, "utf8")).toBe(sideText);
  });

  it("appends to the side file, keeping bytes that are not UTF-8 exactly (base64)", async () => {
    const h = home();
    const reg = writeRegistry([record("exp-1", {}), "first damage"]);
    expect((await cli(h, ["registry", "compact", "--registry", reg])).code).toBe(0);
    writeFileSync(reg, Buffer.concat([readFileSync(reg), Buffer.from([0xff, 0xfe, 0x7b, 0x0a])]));
    expect((await cli(h, ["registry", "compact", "--registry", reg])).code).toBe(0);
    const side = readFileSync(`${reg}.damaged`, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; text: string; base64?: string });
    expect(side).toHaveLength(2);
    expect(side[0]).toMatchObject({ line: 2, text: "first damage" });
    expect(side[0]).not.toHaveProperty("base64");
    expect(side[1]!.line).toBe(2);
    expect(Buffer.from(side[1]!.base64!, "base64")).toEqual(Buffer.from([0xff, 0xfe, 0x7b]));
    expect(readFileSync(reg, "utf8")).toBe(`${JSON.stringify(record("exp-1", {}))}\n`);
  });

  it("is guarded: with a PIN set, a missing PIN is exit 3 and nothing changes; EXPFLOW_PIN works; the audit log records both", async () => {
    const h = home();
    expect((await cli(h, ["pin", "init", "4826"])).code).toBe(0);
    const reg = messyRegistry();
    const before = readFileSync(reg);
    const denied = await cli(h, ["registry", "compact", "--registry", reg]);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain("(registry.compact), and none was supplied");
    expect(readFileSync(reg).equals(before)).toBe(true);
    expect(existsSync(`${reg}.damaged`)).toBe(false);

    expect((await cli(h, ["registry", "compact", "--registry", reg], { env: { EXPFLOW_PIN: "4826" } })).code).toBe(0);
    expect(readFileSync(reg).length).toBeLessThan(before.length);
    const audit = readFileSync(join(h, "audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; target: string; outcome: string });
    expect(audit.filter((a) => a.action === "registry.compact").map((a) => [a.target, a.outcome])).toEqual([
      [reg, "denied"],
      [reg, "allowed"],
    ]);
  });

  it("a missing registry is exit 2 before any PIN is asked", async () => {
    const h = home();
    expect((await cli(h, ["pin", "init", "4826"])).code).toBe(0);
    const path = join(tempDir(), "missing.jsonl");
    const r = await cli(h, ["registry", "compact", "--registry", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`registry file not found: ${path}`);
  });

  // Issue 11: compaction replaced a registry its owner had made read-only (root ignores the mode
  // bits, so the rename went through). Checked before the PIN is asked and before the lock.
  const readOnlyCases: { case: string; setup: (reg: string) => string }[] = [
    { case: "the file is read-only (0444)", setup: (reg) => (chmodSync(reg, 0o444), reg) },
    { case: "its directory is read-only (0555)", setup: (reg) => (chmodSync(dirname(reg), 0o555), reg) },
    {
      case: "a symlink to a read-only file",
      setup: (reg) => {
        chmodSync(reg, 0o444);
        const link = join(tempDir(), "link.jsonl");
        symlinkSync(reg, link);
        return link;
      },
    },
  ];
  for (const c of readOnlyCases) {
    it(`regression: compact never rewrites a read-only registry: ${c.case}: exit 4, one clear line, nothing changed`, async () => {
      const h = home();
      expect((await cli(h, ["pin", "init", "4826"])).code).toBe(0);
      const reg = messyRegistry();
      const bytes = readFileSync(reg);
      const files = readdirSync(dirname(reg)).sort();
      const target = c.setup(reg);
      try {
        const r = await cli(h, ["registry", "compact", "--registry", target]);
        expect(r.code, r.stderr).toBe(4);
        expect(r.stderr).toMatch(/^error: cannot compact .*read-only.*the registry was left untouched$/m);
        expect(r.stderr).not.toContain("internal error");
        expect(r.stderr).not.toMatch(/\n\s+at /);
        expect(readFileSync(reg).equals(bytes)).toBe(true);
        expect(readdirSync(dirname(reg)).sort()).toEqual(files);
      } finally {
        chmodSync(dirname(reg), 0o755);
      }
    });
  }

  it("a reader running during compaction always sees a complete file", async () => {
    const h = home();
    const lines: Record<string, unknown>[] = [];
    for (let i = 0; i < 4000; i++) lines.push(record(`exp-${i}`, { pde_mean: i }, { rev: 1 }));
    for (let i = 0; i < 4000; i++) lines.push(record(`exp-${i}`, { pde_mean: i + 0.5 }, { rev: 2 }));
    const reg = writeRegistry(lines);
    const child = spawn(process.execPath, [CLI, "registry", "compact", "--registry", reg], {
      env: { ...process.env, EXPFLOW_HOME: h, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const done = new Promise<number | null>((resolve) => child.on("close", resolve));
    let finished = false;
    void done.then(() => (finished = true));
    let reads = 0;
    while (!finished || reads === 0) {
      const text = readFileSync(reg, "utf8");
      expect(text.endsWith("\n")).toBe(true);
      const seen = new Set(text.trimEnd().split("\n").map((l) => (JSON.parse(l) as { experiment_id: string }).experiment_id));
      expect(seen.size).toBe(4000);
      reads++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await done).toBe(0);
    expect(readFileSync(reg, "utf8").trimEnd().split("\n")).toHaveLength(4000);
  });
});

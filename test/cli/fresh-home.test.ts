// A fresh home (issue 14): no registry file yet. `run list` on the default registry was exit 2
// "registry file not found", so the README's examples failed without --registry. The default
// registry that does not exist yet is an empty one; a registry the user named that does not
// exist is still exit 2, so a typo never looks like an empty registry.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { record, runCli, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";

/** A home that does not exist yet, as on a machine where expflow never ran. */
function freshHome(): string {
  return join(tempDir(), "home");
}

const envOf = (home: string, extra: Record<string, string | undefined> = {}) => ({ env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: undefined, NO_COLOR: "1", ...extra } });

describe("run list on a fresh home", () => {
  it("says there are no experiments yet and how to submit one: exit 0, and creates nothing", () => {
    const home = freshHome();
    // Spawned: the built binary, as the README's reader first runs it.
    const r = runCli(["run", "list"], envOf(home));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`No experiments yet in ${join(home, "experiments.jsonl")}; submit one with \`expflow run submit\`.\n`);
    expect(existsSync(home)).toBe(false);
  });

  it("--json, --raw, --csv and --markdown print an empty listing in their usual shapes", async () => {
    const home = freshHome();
    const path = join(home, "experiments.jsonl");
    expect((await runInProcess(["run", "list", "--json"], envOf(home))).stdout).toBe(`${JSON.stringify({ location: path, experiments: [] })}\n`);
    expect((await runInProcess(["run", "list", "--raw"], envOf(home))).stdout).toBe("[]\n");
    expect((await runInProcess(["run", "list", "--csv"], envOf(home))).stdout).toBe("id,name,status,queue,project,tags,created,updated_at,pde_mean,train_time_min\r\n");
    const md = await runInProcess(["run", "list", "--markdown"], envOf(home));
    expect(md.code).toBe(0);
    expect(md.stdout.split("\n")).toHaveLength(3);
  });

  it("still checks what it is given: an unknown status, sort field or column is exit 2", async () => {
    const home = freshHome();
    expect((await runInProcess(["run", "list", "--status", "complted"], envOf(home))).code).toBe(2);
    expect((await runInProcess(["run", "list", "--sort-by", "nmae"], envOf(home))).code).toBe(2);
    expect((await runInProcess(["run", "list", "--columns", "nmae"], envOf(home))).code).toBe(2);
  });

  it("an empty registry file says the same", async () => {
    const home = tempDir();
    writeRegistry([], home);
    const r = await runInProcess(["run", "list"], envOf(home));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`No experiments yet in ${join(home, "experiments.jsonl")}; submit one with \`expflow run submit\`.\n`);
    // Runs that exist but are hidden are not "no experiments yet".
    const archived = writeRegistry([record("exp-00000001", {}, { archived: true })]);
    const a = await runInProcess(["run", "list", "--registry", archived], envOf(home));
    expect(a.stdout).toBe(`No runs match in ${archived}; 1 archived run hidden (--include-archived shows them).\n`);
  });

  it("a registry named by --registry, EXPFLOW_REGISTRY or a config file that does not exist stays exit 2: a typo is not an empty registry", async () => {
    const home = freshHome();
    const typo = join(tempDir(), "experimnts.jsonl");
    for (const [args, extra, cwd] of [
      [["run", "list", "--registry", typo], {}, undefined],
      [["run", "list"], { EXPFLOW_REGISTRY: typo }, undefined],
      [["run", "list", "--json"], { EXPFLOW_REGISTRY: typo }, undefined],
      [["compare-scores", "--sort-by", "pde_mean"], { EXPFLOW_REGISTRY: typo }, undefined],
    ] as const) {
      const r = await runInProcess(args, { ...envOf(home, extra), cwd });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(typo);
    }
    const project = tempDir();
    writeFileSync(join(project, "expflow.yaml"), `registry: ${typo}\n`);
    const c = await runInProcess(["run", "list"], { ...envOf(home), cwd: project });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain(`registry file not found: ${typo}`);
  });
});

describe("compare-scores on a fresh home", () => {
  it("ranks nothing: exit 1, saying there are no experiments yet and how to submit one", async () => {
    const home = freshHome();
    const r = await runInProcess(["compare-scores", "--sort-by", "pde_mean"], envOf(home));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("0 experiments, no gates; ranked by pde_mean, lowest first.\n");
    expect(r.stderr).toBe(`warning: no experiments yet in ${join(home, "experiments.jsonl")}; submit one with \`expflow run submit\`\n`);
    expect(existsSync(home)).toBe(false);
  });

  it("--json prints the empty ranking in its usual shape", async () => {
    const r = await runInProcess(["compare-scores", "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--json"], envOf(freshHome()));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      sort_by: "pde_mean",
      ascending: true,
      gates: [{ metric: "pde_mean", op: "lt", value: 18.09 }],
      selection: { statuses: ["completed"], default: true, ranked: 0, excluded: 0, excluded_by_status: {} },
      pareto: null,
      results: [],
    });
    expect(r.stderr).toContain("no experiments yet");
  });

  it("an empty registry file says the same; one whose runs the filters leave out says nothing matched", async () => {
    const home = tempDir();
    writeRegistry([], home);
    const e = await runInProcess(["compare-scores", "--sort-by", "pde_mean"], envOf(home));
    expect(e.code).toBe(1);
    expect(e.stderr).toContain("no experiments yet");
    const reg = writeRegistry([record("exp-00000001", { pde_mean: 1 }, { tags: ["a"] })]);
    const m = await runInProcess(["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--tags", "b"], envOf(home));
    expect(m.code).toBe(1);
    expect(m.stderr).toBe(`warning: no experiments match the selection in ${reg}\n`);
  });
});

// `npm run demo:clearml` (examples/clearml-demo/serve.mjs): the example registry served as ClearML
// tasks by the fake server, so a newcomer can try the ClearML commands without a server. The same
// experiments must rank the same way through either store.
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCliAsync } from "../helpers/cli.js";

interface Ranked {
  selection: Record<string, unknown>;
  results: { rank: number | null; name: string | null; id: string; passed: boolean; value: number | null }[];
}

let child: ChildProcessWithoutNullStreams | undefined;
let stdout = "";
let stderr = "";
const env: Record<string, string> = {};

beforeAll(async () => {
  child = spawn(process.execPath, [join(ROOT, "examples", "clearml-demo", "serve.mjs")], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start: ${stderr}`)), 60_000);
    const poll = setInterval(() => {
      const m = /export (CLEARML_API_HOST=.*)\n/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(m[1]!);
      }
    }, 50);
    child!.on("exit", (code) => reject(new Error(`the demo exited with ${code}: ${stderr}`)));
  });
  // The printed line is for a POSIX shell: NAME=value NAME=value NAME='value'.
  for (const m of line.matchAll(/(\w+)=('(?:[^']|'\\'')*'|\S+)/g)) {
    const raw = m[2]!;
    env[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.on("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
});

describe("npm run demo:clearml", () => {
  it("prints the variables to export and commands to try", () => {
    expect(Object.keys(env).sort()).toEqual(["CLEARML_API_ACCESS_KEY", "CLEARML_API_HOST", "CLEARML_API_SECRET_KEY"]);
    expect(stdout).toContain("68 example experiments as tasks of project PDEBench");
    expect(stdout).toContain("npx expflow clearml compare-scores --project PDEBench");
  });

  it("clearml status works against it", async () => {
    const r = await runCliAsync(["clearml", "status"], { env: { ...env, NO_COLOR: "1" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Credentials  work");
  });

  it("ranks the example experiments exactly as the local registry does", async () => {
    const args = ["--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60", "--json"];
    const remote = await runCliAsync(["clearml", "compare-scores", "--project", "PDEBench", ...args], { env: { ...env, NO_COLOR: "1" } });
    const local = await runCliAsync(["compare-scores", "--registry", join(ROOT, "examples", "experiments.jsonl"), ...args], { env: { NO_COLOR: "1" } });
    expect(remote.code).toBe(0);
    expect(local.code).toBe(0);
    const view = (j: Ranked) => j.results.map((r) => [r.rank, r.name ?? r.id, r.passed, r.value]);
    const a = view(JSON.parse(remote.stdout) as Ranked);
    // The 60 completed ones ranked; the 4 running and 4 failed left out, and counted, by both stores.
    expect(a).toHaveLength(60);
    expect(a).toEqual(view(JSON.parse(local.stdout) as Ranked));
    expect((JSON.parse(remote.stdout) as Ranked).selection).toEqual({ statuses: ["completed"], default: true, ranked: 60, excluded: 8, excluded_by_status: { running: 4, failed: 4 } });
    expect((JSON.parse(remote.stdout) as Ranked).selection).toEqual((JSON.parse(local.stdout) as Ranked).selection);
  });

  it("stops cleanly on SIGTERM, having seen no unexpected request", async () => {
    const exited = new Promise<number | null>((r) => child!.on("exit", (code) => r(code)));
    child!.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).not.toContain("unexpected request");
  });
});

// The package as a user gets it: what `npm pack` puts in the tarball, and that tarball installed
// outside the clone, offline, running from another directory.
//
// Offline: a fresh install resolves each dependency's version range from its full registry
// metadata, which `npm ci` never fetches (it installs the lockfile's exact versions), so after
// `npm ci` the cache holds the dependencies' tarballs but not what resolving them needs. The
// install here pins them instead, with a lockfile made from this repository's package-lock.json
// (its runtime entries), and so takes exactly the tarballs `npm ci` put in the npm cache:
// `npm_config_offline=true` makes any request that would need the network fail.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, tempDir } from "../helpers/cli.js";

const HAS_NPM = spawnSync("npm", ["--version"], { encoding: "utf8" }).status === 0;

interface Packed {
  filename: string;
  version: string;
  files: { path: string; mode: number }[];
}

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

/**
 * The environment npm runs with: no npm_* variable of the npm that may have started the tests
 * (`npm_config_local_prefix` and friends would point npm at this repository), the user's npm
 * cache and configuration (where `npm ci` put the dependencies, and the registry it used),
 * offline, logs in a temporary directory.
 */
function npmEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.toLowerCase().startsWith("npm_")) env[k] = v;
  // The tests' HOME is a temporary directory; the user's npm settings live in the real one.
  const realHome = userInfo().homedir;
  const cache =
    process.env["npm_config_cache"] ??
    spawnSync("npm", ["config", "get", "cache"], { encoding: "utf8", env: { ...env, HOME: realHome } }).stdout.trim();
  return {
    ...env,
    PATH: `${dirname(process.execPath)}:${env["PATH"] ?? "/usr/bin:/bin"}`,
    npm_config_cache: cache,
    npm_config_userconfig: process.env["npm_config_userconfig"] ?? join(realHome, ".npmrc"),
    npm_config_offline: "true",
    npm_config_logs_dir: tempDir("expflow-npm-logs-"),
    npm_config_update_notifier: "false",
    npm_config_audit: "false",
    npm_config_fund: "false",
  };
}

function npm(args: string[], cwd: string, env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync("npm", args, { cwd, env, encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!HAS_NPM)(HAS_NPM ? "the npm package" : "the npm package (skipped: npm not found on PATH)", () => {
  let env: Record<string, string>;
  let packed: Packed;
  let tarball: string;

  beforeAll(() => {
    env = npmEnv();
    const out = tempDir("expflow-pack-");
    // --ignore-scripts: `prepare` would rebuild dist/ (tsup cleans it first) under the feet of
    // the tests running beside this one; vitest's global setup has just built it.
    const r = npm(["pack", "--ignore-scripts", "--json", "--pack-destination", out], ROOT, env);
    expect(r.code, r.stderr).toBe(0);
    packed = (JSON.parse(r.stdout) as Packed[])[0]!;
    tarball = join(out, packed.filename);
  });

  it("holds the built CLI and library, the Python helper and the README, and nothing of the sources or tests", () => {
    const paths = packed.files.map((f) => f.path);
    for (const p of ["package.json", "README.md", "dist/cli.js", "dist/index.js", "dist/index.d.ts", "dist/contracts.js", "python/expflow_log.py", "python/README.md"]) expect(paths).toContain(p);
    expect(paths.filter((p) => !p.startsWith("dist/") && !p.startsWith("python/") && p !== "package.json" && p !== "README.md")).toEqual([]);
    expect(paths.filter((p) => p.startsWith("python/")).sort()).toEqual(["python/README.md", "python/expflow_log.py"]);
    expect(packed.version).toBe((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version);
  });

  it("installs offline from the tarball, and the installed expflow runs from another directory: --version, a ranking, completion, the Python helper beside its CLI", () => {
    // A project that depends on the tarball alone, locked to this repository's runtime
    // dependencies (the entries of package-lock.json that are not dev-only).
    const project = tempDir("expflow-install-");
    copyFileSync(tarball, join(project, packed.filename));
    const spec = `file:${packed.filename}`;
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
    const ours = lock.packages[""]!;
    const packages: Record<string, unknown> = {
      "": { name: "expflow-install-check", dependencies: { expflow: spec } },
      "node_modules/expflow": {
        version: packed.version,
        resolved: spec,
        integrity: `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`,
        license: ours["license"],
        dependencies: ours["dependencies"],
        bin: ours["bin"],
        engines: ours["engines"],
      },
    };
    for (const [path, entry] of Object.entries(lock.packages)) if (path !== "" && entry.dev !== true) packages[path] = entry;
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "expflow-install-check", private: true, dependencies: { expflow: spec } }));
    writeFileSync(join(project, "package-lock.json"), JSON.stringify({ name: "expflow-install-check", lockfileVersion: 3, requires: true, packages }));
    const install = npm(["ci", "--ignore-scripts", "--no-audit", "--no-fund"], project, env);
    expect(install.code, `npm ci --offline failed; the dependencies must be in the npm cache ${env["npm_config_cache"]} (run \`npm ci\` in the clone first):\n${install.stderr}`).toBe(0);

    const bin = join(project, "node_modules", ".bin", "expflow");
    expect(realpathSync(bin)).toBe(join(realpathSync(project), "node_modules", "expflow", "dist", "cli.js"));
    const elsewhere = tempDir("expflow-elsewhere-");
    copyFileSync(join(ROOT, "examples", "experiments.jsonl"), join(elsewhere, "experiments.jsonl"));
    const run = (args: string[]) => spawnSync(bin, args, { cwd: elsewhere, env: { ...env, NO_COLOR: "1" }, encoding: "utf8", timeout: 60_000 });

    const version = run(["--version"]);
    expect(version.stderr).toBe("");
    expect(version.stdout.trim()).toBe(packed.version);

    const ranking = run(["compare-scores", "--registry", "experiments.jsonl", "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60", "--max", "10"]);
    expect(ranking.status, ranking.stderr).toBe(0);
    expect(ranking.stdout).toMatch(/^ {3}1 {2}exp-b389f873 {2}task3-fno-ss2-lr5e-4 /m);
    expect(ranking.stdout).toContain("19 of 60 experiments pass 2 gates (showing 10); ranked by pde_mean, lowest first.");

    const completion = run(["completion", "bash"]);
    expect(completion.status, completion.stderr).toBe(0);
    expect(completion.stdout).toContain("complete -o default -F _expflow_completion expflow");

    const helper = join(project, "node_modules", "expflow", "python");
    expect(existsSync(join(helper, "expflow_log.py"))).toBe(true);
    const python = spawnSync("python3", ["-c", "import json, expflow_log; print(json.dumps(expflow_log._cli_command()))"], {
      cwd: elsewhere,
      env: { ...env, PYTHONPATH: helper, PYTHONDONTWRITEBYTECODE: "1" },
      encoding: "utf8",
    });
    if (python.error === undefined) {
      // The installed helper reports to ClearML with the CLI installed beside it.
      expect(python.stderr).toBe("");
      expect(JSON.parse(python.stdout)).toEqual([expect.any(String), join(project, "node_modules", "expflow", "dist", "cli.js")]);
    }
  });
});

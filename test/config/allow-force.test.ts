import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { guard } from "../../src/security/guard.js";
import { activePin, pinStatus } from "../../src/security/pin.js";
import { legacyHash } from "../security/helpers.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function newDir(): string {
  const d = mkdtempSync(join(tmpdir(), "expflow-cfg-"));
  made.push(d);
  return d;
}

type Setting = boolean | "unset" | "no-file";

/**
 * A home and a project (with a nested working directory, so the project file is found upwards),
 * each with a config file whose pin.allow_force is `home` / `project`.
 */
function layout(home: Setting, project: Setting): { env: Record<string, string>; cwd: string; homeFile: string; projectFile: string } {
  const homeDir = join(newDir(), "home");
  mkdirSync(homeDir, { mode: 0o700 });
  const projectDir = newDir();
  const cwd = join(projectDir, "src", "deep");
  mkdirSync(cwd, { recursive: true });
  const homeFile = join(homeDir, "config.yaml");
  const projectFile = join(projectDir, "expflow.yaml");
  const write = (file: string, s: Setting): void => {
    if (s === "no-file") return;
    writeFileSync(file, s === "unset" ? "registry: runs.jsonl\n" : `pin:\n  allow_force: ${s}\n`);
  };
  write(homeFile, home);
  write(projectFile, project);
  return { env: { EXPFLOW_HOME: homeDir }, cwd, homeFile, projectFile };
}

describe("pin.allow_force across layers: files can only forbid --force", () => {
  const settings: Setting[] = [true, false, "unset", "no-file"];
  const cases = settings.flatMap((h) => settings.map((p) => [h, p] as const));

  it.each(cases)("home %s, project %s", async (home, project) => {
    const l = layout(home, project);
    const load = loadConfig({ env: l.env, cwd: l.cwd, userHome: newDir() });
    if (home === true || project === true) {
      // Turning --force on is the PIN owner's choice: no file can make it, home or project.
      const file = home === true ? l.homeFile : l.projectFile;
      await expect(load).rejects.toMatchObject({ code: "E_CONFIG", exitCode: 2, source: file, key: "pin.allow_force" });
      await expect(load).rejects.toThrow(/can only forbid force in place of the PIN/);
      return;
    }
    const config = await load;
    expect(config.forceForbiddenBy).toBe(home === false ? l.homeFile : project === false ? l.projectFile : undefined);
  });

  it("nothing is forbidden without any configuration (and nothing is allowed either: the default policy is no --force)", async () => {
    const l = layout("no-file", "no-file");
    expect((await loadConfig({ env: l.env, cwd: l.cwd, userHome: newDir() })).forceForbiddenBy).toBeUndefined();
  });

  it("a project file forbids --force even where the PIN owner allowed it", async () => {
    const l = layout("unset", false);
    const config = await loadConfig({ env: l.env, cwd: l.cwd, userHome: newDir() });
    const home = config.home;
    writeFileSync(join(home, "pin.hash"), `${legacyHash("4826")}\n${JSON.stringify({ allow_force: true, policy_changed: null, audit: null, registries: [] })}\n`);
    const ctx = {
      home,
      cwd: l.cwd,
      env: {},
      warn: () => {},
      now: () => new Date(0),
      user: "u",
      host: "h",
      forceForbiddenBy: config.forceForbiddenBy,
      readStdinLine: () => Promise.reject(new Error("not asked")),
    };
    await expect(guard("run.delete", "e1", { force: true }, ctx)).rejects.toMatchObject({ code: "E_FORCE_DISALLOWED", exitCode: 3 });
    await expect(guard("run.delete", "e1", { force: true }, ctx)).rejects.toThrow(l.projectFile);
    // Without the project file's word, the owner's choice stands.
    expect(await guard("run.delete", "e1", { force: true }, { ...ctx, forceForbiddenBy: undefined })).toBe("forced");
  });
});

describe("pin.hash in configuration", () => {
  it("is exposed with the file it came from, and used as the config hash source", async () => {
    const l = layout("no-file", "no-file");
    const hash = legacyHash("3916");
    writeFileSync(l.projectFile, `pin:\n  hash: "${hash}"\n`);
    const config = await loadConfig({ env: l.env, cwd: l.cwd, userHome: newDir() });
    expect(config.pinHash).toEqual({ value: hash, source: l.projectFile });
    const warnings: string[] = [];
    const ctx = { home: config.home, cwd: l.cwd, env: {}, configHash: config.pinHash, warn: (m: string) => warnings.push(m), now: () => new Date(0), user: "u", host: "h" };
    expect(await activePin(ctx)).toMatchObject({ source: "config", origin: l.projectFile, text: hash });
    expect(await pinStatus(ctx)).toMatchObject({ active: true, source: "config", format: "sha256-legacy" });
    expect(warnings.join("\n")).toMatch(/committed/);
    expect(warnings.join("\n")).toContain(l.projectFile);
  });

  it("a hash in the home config is exposed too; the project file, being the higher layer, overrides it", async () => {
    const l = layout("no-file", "no-file");
    writeFileSync(l.homeFile, `pin:\n  hash: "${legacyHash("1111")}"\n`);
    const onlyHome = await loadConfig({ env: l.env, cwd: l.cwd, userHome: newDir() });
    expect(onlyHome.pinHash).toEqual({ value: legacyHash("1111"), source: l.homeFile });
    writeFileSync(l.projectFile, `pin:\n  hash: "${legacyHash("2222")}"\n`);
    const both = await loadConfig({ env: l.env, cwd: l.cwd, userHome: newDir() });
    expect(both.pinHash).toEqual({ value: legacyHash("2222"), source: l.projectFile });
  });

  it("no pin.hash anywhere: undefined", async () => {
    const l = layout(false, "unset");
    expect((await loadConfig({ env: l.env, cwd: l.cwd, userHome: newDir() })).pinHash).toBeUndefined();
  });
});

import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { DeniedError } from "../../src/core/errors.js";
import { bindRegistry, readProtection, realHome, realRegistryPath, SIDECAR_SUFFIX, sidecarOf, unbindRegistry } from "../../src/security/protection.js";
import { modeOf, T0, tempDirs, thrownBy } from "./helpers.js";

const newDir = tempDirs("expflow-sec-prot-");
const actor = { now: () => new Date(T0), user: "ann", host: "box" };

function registryIn(dir = newDir()): string {
  const path = join(dir, "registry.jsonl");
  writeFileSync(path, "");
  return path;
}

describe("realRegistryPath and sidecarOf", () => {
  it("resolve symlinks (of the file and of its directory) and relative paths to one real path", () => {
    const registry = registryIn();
    const real = realpathSync(registry);
    const link = join(newDir(), "link.jsonl");
    symlinkSync(registry, link);
    const dirLink = join(newDir(), "dir-link");
    symlinkSync(join(registry, ".."), dirLink);
    for (const p of [registry, link, join(dirLink, "registry.jsonl"), relative(process.cwd(), registry)]) {
      expect(realRegistryPath(p), p).toBe(real);
      expect(sidecarOf(p), p).toBe(`${real}${SIDECAR_SUFFIX}`);
    }
    expect(SIDECAR_SUFFIX).toBe(".protection.json");
  });

  it("a registry that does not exist yet: its directory's real path and its name", () => {
    const dir = newDir();
    const dirLink = join(newDir(), "d");
    symlinkSync(dir, dirLink);
    expect(realRegistryPath(join(dirLink, "new.jsonl"))).toBe(join(realpathSync(dir), "new.jsonl"));
  });
});

describe("bindRegistry and readProtection", () => {
  it("writes a sidecar (mode 0644: no secret in it) naming the home's real path, read back as written", () => {
    const registry = registryIn();
    const home = newDir();
    const homeLink = join(newDir(), "home-link");
    symlinkSync(home, homeLink);
    const p = bindRegistry(registry, homeLink, actor);
    expect(p).toEqual({ version: 1, home: realHome(home), bound_at: new Date(T0).toISOString(), bound_by: "ann@box" });
    expect(JSON.parse(readFileSync(sidecarOf(registry), "utf8"))).toEqual(p);
    expect(modeOf(sidecarOf(registry))).toBe(0o644);
    expect(readProtection(registry)).toEqual(p);
  });

  it("no sidecar: undefined (the registry is not bound)", () => {
    expect(readProtection(registryIn())).toBeUndefined();
  });

  it.each([
    ["a directory", (p: string) => mkdirSync(p)],
    ["not JSON", (p: string) => writeFileSync(p, "{")],
    ["JSON null", (p: string) => writeFileSync(p, "null")],
    ["a wrong version", (p: string) => writeFileSync(p, JSON.stringify({ version: 2, home: "/h", bound_at: "t", bound_by: "b" }))],
    ["a relative home", (p: string) => writeFileSync(p, JSON.stringify({ version: 1, home: "h", bound_at: "t", bound_by: "b" }))],
    ["a missing bound_by", (p: string) => writeFileSync(p, JSON.stringify({ version: 1, home: "/h", bound_at: "t" }))],
  ])("a sidecar that is %s: DeniedError E_PROTECTION_UNREADABLE (exit 3), naming it", (_n, damage) => {
    const registry = registryIn();
    damage(sidecarOf(registry));
    const e = thrownBy(() => readProtection(registry));
    expect(e).toBeInstanceOf(DeniedError);
    expect(e).toMatchObject({ code: "E_PROTECTION_UNREADABLE", exitCode: 3 });
    expect((e as Error).message).toContain(sidecarOf(registry));
  });
});

describe("unbindRegistry", () => {
  it("removes only a sidecar that names this home", () => {
    const registry = registryIn();
    const a = newDir();
    const b = newDir();
    bindRegistry(registry, a, actor);
    expect(unbindRegistry(registry, b)).toBe(false);
    expect(readProtection(registry)?.home).toBe(realHome(a));
    expect(unbindRegistry(registry, a)).toBe(true);
    expect(readProtection(registry)).toBeUndefined();
    expect(unbindRegistry(registry, a)).toBe(false);
  });

  it("leaves an unreadable sidecar in place", () => {
    const registry = registryIn();
    writeFileSync(sidecarOf(registry), "{");
    expect(unbindRegistry(registry, newDir())).toBe(false);
    expect(readFileSync(sidecarOf(registry), "utf8")).toBe("{");
  });
});

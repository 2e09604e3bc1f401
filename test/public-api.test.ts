import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as source from "../src/index.js";
import type { PublicSurface } from "./helpers/public-api.js";
import { compileConsumer, consumerSource, publicSurface } from "./helpers/public-api.js";

/**
 * The package's public API, as a consumer meets it: the built `dist/index.d.ts`, resolved through
 * package.json `exports` from a consumer's `node_modules/expflow`.
 */

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DTS = join(ROOT, "dist", "index.d.ts");
const JS = join(ROOT, "dist", "index.js");
const TYPE_ROOTS = [join(ROOT, "node_modules", "@types")];
// Compiling a consumer type-checks @types/node too: seconds, more on a busy machine.
const COMPILE_MS = 120_000;

/**
 * The curated values of the public API (the types are checked by what the signatures use). A
 * change here is a change of the package's API: say it in the README's Library section.
 */
const VALUES = [
  // errors
  "ExpflowError",
  "UsageError",
  "ValidationError",
  "ConfigError",
  "NotFoundError",
  "ConflictError",
  "DeniedError",
  "BackendError",
  "InterruptedError",
  "ClearmlBackendError",
  "ClearmlNotFoundError",
  "ClearmlConflictError",
  "isClearmlFailure",
  // metrics registry
  "STANDARD_METRICS",
  "MetricRegistry",
  "reportStandard",
  "validateMetricValues",
  // gates
  "GATE_OPS",
  "parseGate",
  "formatGate",
  "evaluateGates",
  "thresholdGates",
  // ranking
  "compareScores",
  "rankingMetricNames",
  "rankedRows",
  "DEFAULT_RANKED_STATUSES",
  "parseParetoSpec",
  "paretoFronts",
  // experiments side by side
  "diffExperiments",
  // rules and their audit
  "validateCompetitionRules",
  "PDEBENCH_RULES",
  "loadRulePack",
  // experiments and their lifecycle
  "LIFECYCLE_STATES",
  "RUN_STATES",
  "TERMINAL_STATES",
  "TRANSITIONS",
  "allowedEvents",
  "nextState",
  "pathTo",
  "isTerminal",
  // stores
  "LocalStore",
  "ClearmlStore",
  "CLEARML_STATUSES",
  "ClearmlClient",
  "resolveClearmlConnection",
  // backends: the Store's base, the executor, opening both in one call, guarded by construction
  "BaseStore",
  "LocalExecutor",
  "RoutingExecutor",
  // ClearML dispatch
  "ClearmlExecutor",
  "ClearmlTasks",
  "openBackend",
  "guardedStore",
  "guardedExecutor",
  // configuration
  "loadConfig",
  "metricRegistryOf",
  "expflowHome",
  // security
  "guard",
  "forcePolicy",
  "initPin",
  "verifyPin",
  "pinIsSet",
  "clearPin",
  "pinStatus",
  "updatePinMeta",
  "hashPin",
  "isValidPin",
  "PIN_MIN_DIGITS",
  "PIN_MAX_DIGITS",
  "readProtection",
  "bindRegistry",
  "unbindRegistry",
  "sidecarOf",
  "appendAudit",
  "readAudit",
  "verifyAudit",
  // approval requests
  "openApprovals",
  "leavesPending",
  "APPROVAL_ACTIONS",
  "DEFAULT_APPROVAL_TTL_MS",
  "MAX_APPROVAL_TTL_MS",
].sort();

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function built(): PublicSurface {
  if (!existsSync(DTS) || !existsSync(JS)) throw new Error(`${DTS} is missing: run \`npm run build\` (npm test does it for you)`);
  return publicSurface(DTS);
}

/**
 * Waits for the type declarations: the test run's global setup starts the tests once the
 * JavaScript is written, and builds the declarations beside them (test/global-setup.ts).
 */
async function declarationsBuilt(timeoutMs: number): Promise<void> {
  const files = [DTS, join(ROOT, "dist", "contracts.d.ts")];
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const now = files.map((f) => (existsSync(f) ? String(statSync(f).size) : "-")).join(",");
    // Present, and the same size as a moment ago: written, not being written.
    if (!now.includes("-") && now === last) return;
    if (Date.now() > deadline) return;
    last = now;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("the public API", () => {
  beforeAll(() => declarationsBuilt(COMPILE_MS), COMPILE_MS + 5_000);

  it("exports exactly the curated values, from the source and from the built package alike", async () => {
    expect(Object.keys(source).sort()).toEqual(VALUES);
    const surface = built();
    expect(surface.values).toEqual(VALUES);
    const dist = (await import(pathToFileURL(JS).href)) as Record<string, unknown>;
    expect(Object.keys(dist).sort()).toEqual(VALUES);
  });

  it("exports every type that a public signature uses", () => {
    expect(built().missing).toEqual([]);
  });

  it(
    "a consumer that imports every exported name and every type of a public signature compiles against the built package",
    () => {
      const surface = built();
      const types = [...surface.types, ...surface.missing.map((m) => m.name)];
      expect(compileConsumer(ROOT, "expflow", consumerSource("expflow", surface.values, types), TYPE_ROOTS)).toEqual([]);
    },
    COMPILE_MS,
  );
});

/** A package in a temporary directory with this declaration file. */
function fakePackage(dts: string): string {
  const dir = mkdtempSync(join(tmpdir(), "expflow-fakepkg-"));
  made.push(dir);
  mkdirSync(join(dir, "dist"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fakepkg", type: "module", exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } } }));
  writeFileSync(join(dir, "dist", "index.d.ts"), dts);
  writeFileSync(join(dir, "dist", "index.js"), "export {};\n");
  return dir;
}

const VIOLATING = `
interface Hidden { readonly a: number }
interface Shown { readonly h: Hidden }
interface Options { readonly deep: Deeper }
interface Deeper { readonly n: number }
type Result = "ok" | "no";
interface Secret { readonly s: string }
interface Base { readonly b: boolean }
declare class Widget implements Base {
  #private;
  private readonly secret;
  readonly b: boolean;
  run<T extends object>(options: Options, extra: T): Result;
}
declare function make(): Widget;
declare const LIMIT: number;
export { LIMIT, type Shown, Widget, make };
`;

describe("the check itself", () => {
  it("finds each type a public signature uses but the package does not export, transitively, not private members or type parameters", () => {
    const dir = fakePackage(VIOLATING);
    const surface = publicSurface(join(dir, "dist", "index.d.ts"));
    expect(surface.values).toEqual(["LIMIT", "Widget", "make"]);
    expect(surface.types).toEqual(["Shown"]);
    expect(surface.missing.map((m) => m.name).sort()).toEqual(["Base", "Deeper", "Hidden", "Options", "Result"]);
    expect(surface.missing.find((m) => m.name === "Hidden")).toEqual({ name: "Hidden", usedBy: "Shown" });
    expect(surface.missing.find((m) => m.name === "Deeper")).toEqual({ name: "Deeper", usedBy: "Widget" });
  });

  it(
    "the consumer fails to compile on a used type that is not exported (TS2459), and compiles once it is",
    () => {
      const dir = fakePackage(VIOLATING);
      const surface = publicSurface(join(dir, "dist", "index.d.ts"));
      const types = [...surface.types, ...surface.missing.map((m) => m.name)];
      const errors = compileConsumer(dir, "fakepkg", consumerSource("fakepkg", surface.values, types));
      expect(errors).toHaveLength(5);
      for (const name of ["Hidden", "Options", "Deeper", "Result", "Base"]) {
        expect(errors.some((e) => e.includes("TS2459") && e.includes(`'${name}'`)), `${name} in ${errors.join("\n")}`).toBe(true);
      }

      const fixed = fakePackage(VIOLATING.replace("export { LIMIT, type Shown, Widget, make };", "export { LIMIT, type Shown, Widget, make, type Hidden, type Options, type Deeper, type Result, type Base };"));
      const after = publicSurface(join(fixed, "dist", "index.d.ts"));
      expect(after.missing).toEqual([]);
      expect(compileConsumer(fixed, "fakepkg", consumerSource("fakepkg", after.values, after.types))).toEqual([]);
    },
    COMPILE_MS,
  );

  it("the contracts are the subpath expflow/contracts, and the main entry does not load zod", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, { import: string; types: string }> };
    expect(pkg.exports["./contracts"]).toEqual({ types: "./dist/contracts.d.ts", import: "./dist/contracts.js" });
    const contracts = (await import(pathToFileURL(join(ROOT, "dist", "contracts.js")).href)) as Record<string, { safeParse(v: unknown): { success: boolean } }>;
    expect(contracts["ErrorOutputSchema"]!.safeParse({ error: { code: "E_USAGE", message: "m", hint: null } }).success).toBe(true);
    expect(contracts["ErrorOutputSchema"]!.safeParse({ error: { code: "E_USAGE" } }).success).toBe(false);
    // Every module the main entry reaches, statically, none of them zod's.
    const seen = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, "utf8").matchAll(/(?:^|;|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']/g)) {
        const spec = m[1]!;
        expect(spec, `${file} imports ${spec}`).not.toMatch(/^zod/);
        if (spec.startsWith(".")) walk(join(file, "..", spec));
      }
    };
    walk(JS);
    expect(seen.size).toBeGreaterThan(1);
  });
});

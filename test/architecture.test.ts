import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = new URL("../src/", import.meta.url).pathname;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Import specifiers and free uses of I/O globals in one file. */
function inspect(file: string): { imports: string[]; globals: string[] } {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const imports: string[] = [];
  const globals: string[] = [];
  const FORBIDDEN_GLOBALS = new Set(["process", "require", "fetch", "console", "Buffer", "setTimeout", "setInterval"]);
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      imports.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      imports.push(arg && ts.isStringLiteral(arg) ? arg.text : "<dynamic>");
    } else if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text)) {
      const parent = node.parent;
      const isPropertyName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || ts.isPropertyAssignment(parent);
      if (!isPropertyName) globals.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports, globals };
}

const PURE_PACKAGES = new Set(["re2js"]);

/** Concrete backends and the runner: what only the application layer and the executors may import. */
const CONCRETE = ["stores/local/", "stores/clearml/", "runner/", "executors/local/", "executors/clearml/"];

/**
 * The imports of a command module (src/cli/commands, src/cli/define) that reach a concrete
 * backend or the runner, instead of going through src/app and the Store/Executor interfaces.
 */
export function layerViolations(file: string, source: string): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) specs.push(node.arguments[0].text);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs.filter((spec) => {
    if (!spec.startsWith(".")) return false;
    const target = relative(SRC, join(file, "..", spec));
    return CONCRETE.some((c) => target.startsWith(c));
  });
}

/**
 * Command modules that still import a concrete backend, to be moved behind src/app (issue 12).
 * The list only shrinks: a file listed here that no longer needs to be fails the test.
 */
const NOT_YET_MIGRATED = new Set<string>([]);

describe("architecture", () => {
  const coreFiles = filesUnder(join(SRC, "core"));

  it("finds the core", () => {
    expect(coreFiles.length).toBeGreaterThan(4);
  });

  it.each(coreFiles.map((f) => [relative(SRC, f), f]))("src/%s does no I/O and depends on nothing outside core", (_name, file) => {
    const { imports, globals } = inspect(file);
    const bad = imports.filter((spec) => {
      if (spec.startsWith("node:") || spec === "<dynamic>") return true;
      // No packages in the pure core, but for pure computation libraries named here (re2js: the
      // RE2 port that matches rule-pack patterns in linear time; it does no I/O).
      if (!spec.startsWith(".")) return !PURE_PACKAGES.has(spec);
      const target = join(file, "..", spec);
      return !target.startsWith(join(SRC, "core"));
    });
    expect(bad, `forbidden imports in ${file}`).toEqual([]);
    expect(globals, `I/O globals used in ${file}`).toEqual([]);
  });

  it("the checker itself catches a violation", () => {
    const probe = join(SRC, "core", "__probe__.ts");
    const src = 'import { readFileSync } from "node:fs";\nexport const x = process.env;\n';
    const sf = ts.createSourceFile(probe, src, ts.ScriptTarget.ES2022, true);
    const found: string[] = [];
    sf.forEachChild(function walk(n: ts.Node): void {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) found.push(n.moduleSpecifier.text);
      if (ts.isIdentifier(n) && n.text === "process") found.push("process");
      ts.forEachChild(n, walk);
    });
    expect(found).toEqual(["node:fs", "process"]);
  });

  const commandFiles = [join(SRC, "cli", "commands"), join(SRC, "cli", "define")].flatMap((d) => {
    try {
      return filesUnder(d);
    } catch {
      return [];
    }
  });

  it.each(commandFiles.map((f) => [relative(SRC, f), f]))("src/%s reaches backends only through src/app and the interfaces", (name, file) => {
    const bad = layerViolations(file, readFileSync(file, "utf8"));
    if (NOT_YET_MIGRATED.has(name)) expect(bad.length, `${name} is listed as not yet migrated but imports no concrete backend: remove it from the list`).toBeGreaterThan(0);
    else expect(bad, `concrete backend or runner imported by ${name}`).toEqual([]);
  });

  it("the command-layer checker catches a command importing a backend or the runner", () => {
    const probe = join(SRC, "cli", "commands", "__probe__.ts");
    const src = [
      'import { LocalStore } from "../../stores/local/local-store.js";',
      'import type { Store } from "../../stores/store.js";',
      'import { cancelRun } from "../../app/runs.js";',
      'const r = await import("../../runner/local-runner.js");',
      'export { ClearmlStore } from "../../stores/clearml/clearml-store.js";',
    ].join("\n");
    expect(layerViolations(probe, src)).toEqual(["../../stores/local/local-store.js", "../../runner/local-runner.js", "../../stores/clearml/clearml-store.js"]);
  });

  it("a ranking (compare-scores) loads none of the modules for changes: no guard, executor or runner", () => {
    // What a command loads before it runs: its static imports of values, followed through src
    // (type-only imports and import() calls load nothing then).
    const loaded = new Set<string>();
    const follow = (file: string): void => {
      if (loaded.has(file)) return;
      loaded.add(file);
      const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
      for (const node of sf.statements) {
        if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) || node.moduleSpecifier === undefined || !ts.isStringLiteral(node.moduleSpecifier)) continue;
        const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
        if (typeOnly || !node.moduleSpecifier.text.startsWith(".")) continue;
        follow(join(file, "..", node.moduleSpecifier.text.replace(/\.js$/, ".ts")));
      }
    };
    follow(join(SRC, "cli", "commands", "compare-scores.ts"));
    const names = [...loaded].map((f) => relative(SRC, f));
    expect(names).toContain("stores/local/local-store.ts");
    expect(names.filter((n) => /^(security|executors|runner)\/|^app\/backend\.ts$|^cli\/backend\.ts$/.test(n))).toEqual([]);
  });

  it("only src/cli/main.ts sets the exit code", () => {
    const offenders = filesUnder(SRC).filter((f) => {
      if (f === join(SRC, "cli", "main.ts")) return false;
      const text = readFileSync(f, "utf8");
      return /process\.exit(Code)?\b/.test(text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ""));
    });
    expect(offenders).toEqual([]);
  });
});

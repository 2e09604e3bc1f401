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

  it("only src/cli/main.ts sets the exit code", () => {
    const offenders = filesUnder(SRC).filter((f) => {
      if (f === join(SRC, "cli", "main.ts")) return false;
      const text = readFileSync(f, "utf8");
      return /process\.exit(Code)?\b/.test(text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ""));
    });
    expect(offenders).toEqual([]);
  });
});

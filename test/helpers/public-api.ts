import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import ts from "typescript";

/** One type a public signature uses that the package does not export. */
export interface MissingExport {
  /** The type's name, as declared in the package's declarations. */
  readonly name: string;
  /** The exported name whose signature reaches it (directly or through other types). */
  readonly usedBy: string;
}

/** What {@link publicSurface} finds in a package's declaration file. */
export interface PublicSurface {
  /** Every exported name that is a value (class, function, constant), sorted. */
  readonly values: string[];
  /** Every exported name that is only a type (interface, type alias), sorted. */
  readonly types: string[];
  /** Types declared in the package and used in a public signature, but not exported. */
  readonly missing: MissingExport[];
}

function isPrivateMember(node: ts.Node): boolean {
  if ("name" in node && node.name !== undefined && ts.isPrivateIdentifier(node.name as ts.Node)) return true;
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword);
}

/**
 * The public surface of the declaration file `dtsFile` (a bundled `index.d.ts`): its exports,
 * and the types that the signatures of its exports use, transitively, that are declared in the
 * package (under the file's directory) but not exported, which a consumer cannot import
 * (TS2459). Private class members are not part of a signature.
 */
export function publicSurface(dtsFile: string): PublicSurface {
  const program = ts.createProgram([dtsFile], { noEmit: true, strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(dtsFile);
  if (source === undefined) throw new Error(`cannot read ${dtsFile}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error(`${dtsFile} is not a module`);
  const packageDir = dirname(realpathSync(dtsFile));
  const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

  const values: string[] = [];
  const types: string[] = [];
  const exported = new Set<ts.Symbol>();
  const queue: { symbol: ts.Symbol; usedBy: string }[] = [];
  for (const e of checker.getExportsOfModule(moduleSymbol)) {
    const target = resolve(e);
    exported.add(target);
    (target.flags & ts.SymbolFlags.Value ? values : types).push(e.name);
    queue.push({ symbol: target, usedBy: e.name });
  }

  const inPackage = (d: ts.Declaration): boolean => realpathSync(d.getSourceFile().fileName).startsWith(`${packageDir}/`);
  const seen = new Set<ts.Symbol>(exported);
  const missing: MissingExport[] = [];
  const reach = (node: ts.Node, usedBy: string): void => {
    if (isPrivateMember(node)) return;
    let named: ts.Node | undefined;
    if (ts.isTypeReferenceNode(node)) named = node.typeName;
    else if (ts.isExpressionWithTypeArguments(node)) named = node.expression;
    else if (ts.isTypeQueryNode(node)) named = node.exprName;
    if (named !== undefined) {
      const found = checker.getSymbolAtLocation(named);
      const symbol = found === undefined ? undefined : resolve(found);
      if (symbol !== undefined && !(symbol.flags & ts.SymbolFlags.TypeParameter) && !seen.has(symbol) && (symbol.declarations ?? []).some(inPackage)) {
        seen.add(symbol);
        missing.push({ name: symbol.name, usedBy });
        queue.push({ symbol, usedBy });
      }
    }
    ts.forEachChild(node, (child) => reach(child, usedBy));
  };
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    for (const d of item.symbol.declarations ?? []) if (inPackage(d)) reach(d, item.usedBy);
  }
  return { values: values.sort(), types: types.sort(), missing };
}

/**
 * Type-checks `source` as a consumer's ESM module that imports the package at `packageRoot` by
 * its name, resolved as a consumer resolves it: through a `node_modules/<name>` link and the
 * package's `exports`. Returns the diagnostics, formatted (empty when it compiles).
 */
export function compileConsumer(packageRoot: string, packageName: string, source: string, typeRoots: readonly string[] = []): string[] {
  const dir = mkdtempSync(join(tmpdir(), "expflow-consumer-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(packageRoot, join(dir, "node_modules", packageName), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    const file = join(dir, "consumer.ts");
    writeFileSync(file, source);
    const options: ts.CompilerOptions = {
      noEmit: true,
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      typeRoots: [...typeRoots],
      types: typeRoots.length > 0 ? ["node"] : [],
      skipLibCheck: false,
    };
    const program = ts.createProgram([file], options);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => "\n" };
    return diagnostics.map((d) => ts.formatDiagnostic(d, host).replaceAll(dir, "<consumer>").trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A consumer that imports every name given: the values as values (and uses them as values), the
 * types with `import type`. Importing a name the package declares but does not export is TS2459.
 */
export function consumerSource(packageName: string, values: readonly string[], types: readonly string[]): string {
  const lines = [];
  if (values.length > 0) lines.push(`import { ${values.join(", ")} } from "${packageName}";`, `export const used: readonly unknown[] = [${values.join(", ")}];`);
  if (types.length > 0) lines.push(`import type { ${types.join(", ")} } from "${packageName}";`);
  return `${lines.join("\n")}\n`;
}

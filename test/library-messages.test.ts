import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { errorOf, LIBRARY_ERROR_CASES } from "./helpers/library-errors.js";

/**
 * Library messages name fields and values, not flags: a library or MCP caller has no `--sort-by`
 * to pass. The CLI words them for the terminal (src/cli/output/terminal-words.ts).
 */

/** Command-line flag syntax: `--sort-by`, `--pin-stdin` (not `a -- b`, `x--y` or a parameter's name, `Args/--sub_step`). */
const FLAG = /(?<![\w/-])--[a-z][\w-]*/;

describe("library errors name no flags", () => {
  it.each(LIBRARY_ERROR_CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const { error } = await errorOf(c);
    expect(error.message).not.toMatch(FLAG);
    expect(error.hint ?? "").not.toMatch(FLAG);
  });

  it("the ones about an input name it as data: field, value, suggestion", async () => {
    const fields: Record<string, unknown> = {};
    for (const c of LIBRARY_ERROR_CASES) {
      const { error } = await errorOf(c);
      if (error.field !== undefined) fields[c.name] = { field: error.field, value: error.value, suggestion: error.suggestion };
    }
    expect(fields).toEqual({
      "unknown sortBy metric": { field: "sortBy", value: "pde_maen", suggestion: "pde_mean" },
      "unknown thenBy metric": { field: "thenBy", value: "bogus_x", suggestion: undefined },
      "unknown gate metric": { field: "gates", value: "bogus_x", suggestion: undefined },
      "unknown metric reported, strict": { field: "values", value: "val_loss", suggestion: undefined },
      "malformed pareto objective": { field: "pareto", value: "pde_mean:up", suggestion: undefined },
      "pareto with one objective": { field: "pareto", value: "pde_mean:min", suggestion: undefined },
      "unknown pareto metric": { field: "pareto", value: "pde_maen", suggestion: "pde_mean" },
      "pareto metric named twice": { field: "pareto", value: "pde:max", suggestion: undefined },
      "ambiguous pareto metric": { field: "pareto", value: "seg_total", suggestion: "Score/seg_total" },
      "neither sortBy nor pareto": { field: "sortBy", value: undefined, suggestion: undefined },
      "ascending without sortBy": { field: "ascending", value: undefined, suggestion: undefined },
      "max not positive": { field: "max", value: "0", suggestion: undefined },
      "statuses empty": { field: "statuses", value: undefined, suggestion: undefined },
      "ambiguous sortBy metric": { field: "sortBy", value: "seg_total", suggestion: "Score/seg_total" },
      "ambiguous thenBy metric": { field: "thenBy", value: "seg_total", suggestion: "Score/seg_total" },
      "ambiguous gate metric": { field: "gates", value: "seg_total", suggestion: "Score/seg_total" },
      "ambiguous rule metric": { field: "rules", value: "seg_total", suggestion: "Score/seg_total" },
      "unknown ClearML status": { field: "statuses", value: "runing", suggestion: "running" },
      "force not allowed by the owner": { field: "force", value: undefined, suggestion: undefined },
      "force forbidden by a file": { field: "force", value: undefined, suggestion: undefined },
    });
  });
});

const SRC = new URL("../src/", import.meta.url).pathname;
/** The library below the CLI: everything a library or MCP caller reaches. */
const LIBRARY_DIRS = ["core", "config", "stores", "security", "runner", "util", "app", "executors"];

/**
 * Strings of the library that may name a flag, and why. Each is data rather than a message: it
 * is recorded or shown as it has always read, and changing it would change what is on disk.
 */
const ALLOWED: readonly { file: string; text: string; why: string }[] = [
  {
    file: "executors/clearml/clearml-tasks.ts",
    text: "a clearml-agent makes the queue it serves with `clearml-agent daemon --queue NAME --create-queue`",
    why: "clearml-agent's own flags, which no expflow caller passes: how a missing queue comes to be",
  },
  { file: "security/guard.ts", text: " (pin policy --allow-force, ", why: "the force policy's provenance, recorded in audit details and shown by `pin policy`" },
  { file: "security/guard.ts", text: " (pin policy --no-allow-force, ", why: "the force policy's provenance, as above" },
  { file: "security/guard.ts", text: "--force refused: ", why: "an audit record's detail: the log's words stay what they were" },
  { file: "security/guard.ts", text: "the PIN owner has not allowed it (expflow pin policy --allow-force)", why: "an audit record's detail, as above" },
  { file: "security/guard.ts", text: "--force, allowed by ", why: "an audit record's detail, as above" },
  { file: "app/pin.ts", text: "--force may now stand in for the PIN", why: "an audit record's detail (pin.policy done), moved from the pin command: the log's words stay what they were" },
  { file: "app/pin.ts", text: "--force no longer stands in for the PIN", why: "an audit record's detail, as above" },
  {
    file: "security/guard.ts",
    text: "--pin makes the PIN visible in the process list and shell history; prefer --pin-stdin or EXPFLOW_PIN",
    why: "a warning about the command line's --pin (GuardOptions.pin is 'as the command line gives it')",
  },
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** The text of every string and template literal of a source that has flag syntax in it (comments are not literals). */
function flagStrings(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    let texts: string[] = [];
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) texts = [node.text];
    else if (ts.isTemplateExpression(node)) texts = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)];
    found.push(...texts.filter((t) => FLAG.test(t)));
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe("library source names no flags in its strings", () => {
  const files = LIBRARY_DIRS.flatMap((d) => filesUnder(join(SRC, d)));

  it("finds the library", () => {
    expect(files.length).toBeGreaterThan(30);
  });

  it.each(files.map((f) => [relative(SRC, f), f]))("src/%s", (name, file) => {
    const allowed = new Set(ALLOWED.filter((a) => a.file === name).map((a) => a.text));
    expect(flagStrings(file, readFileSync(file, "utf8")).filter((t) => !allowed.has(t))).toEqual([]);
  });

  it("every allowance is still needed", () => {
    for (const a of ALLOWED) expect(flagStrings(a.file, readFileSync(join(SRC, a.file), "utf8")), `${a.file}: ${a.text}`).toContain(a.text);
  });

  it("the checker itself catches a violation, in strings and templates, and not in comments", () => {
    const source = [
      "// pass --sort-by here (a comment)",
      'const a = "unknown metric in --sort-by";',
      "const b = `gate ${x} in --gate`;",
      'const c = "a -- b, x--y, Args/--sub_step";',
    ].join("\n");
    expect(flagStrings("v.ts", source)).toEqual(["unknown metric in --sort-by", " in --gate"]);
  });
});

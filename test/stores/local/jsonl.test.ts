import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { forEachLine, forEachLineBackwards, parseObjectLine, replacePythonNonFinite } from "../../../src/stores/local/jsonl.js";
import { tempDir } from "../../helpers/cli.js";

function lines(content: string | Buffer, chunk?: number): [string, number][] {
  const path = join(tempDir(), "f.jsonl");
  writeFileSync(path, content);
  const out: [string, number][] = [];
  forEachLine(path, (t, n) => out.push([t, n]), chunk);
  return out;
}

describe("forEachLine", () => {
  it("numbers physical lines, skips blank ones, drops CR and a leading BOM, keeps a last line without newline", () => {
    expect(lines("\uFEFFa\r\n\n  \nb\nc")).toEqual([
      ["a", 1],
      ["b", 4],
      ["c", 5],
    ]);
  });

  it("gives the same lines whatever the chunk size, multi-byte characters included", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 12 }), { maxLength: 12 }), fc.integer({ min: 1, max: 16 }), (ls, chunk) => {
        const content = ls.map((l) => l.replace(/[\r\n]/g, "")).join("\n");
        expect(lines(content, chunk)).toEqual(lines(content));
      }),
      { numRuns: 60 },
    );
    expect(lines("ünïcødé→\n😀x\n", 3)).toEqual([
      ["ünïcødé→", 1],
      ["😀x", 2],
    ]);
  });
});

describe("parseObjectLine", () => {
  it("accepts objects and explains everything else", () => {
    expect(parseObjectLine('{"a":1}')).toEqual({ value: { a: 1 } });
    expect(parseObjectLine("[1]")).toEqual({ reason: "not a JSON object (found an array)" });
    expect(parseObjectLine("null")).toEqual({ reason: "not a JSON object (found null)" });
    expect(parseObjectLine("42")).toEqual({ reason: "not a JSON object (found number)" });
    expect(parseObjectLine('{"a":')).toMatchObject({ reason: expect.stringMatching(/^not valid JSON/) });
  });

  it("reads Python's bare NaN / Infinity as null, but not inside strings", () => {
    expect(parseObjectLine('{"a": NaN, "b": -Infinity, "c": Infinity, "s": "NaN Infinity"}')).toEqual({
      value: { a: null, b: null, c: null, s: "NaN Infinity" },
      repaired: true,
    });
    // Valid JSON that merely mentions NaN in a string is not a repair.
    expect(parseObjectLine('{"s": "NaN"}')).toEqual({ value: { s: "NaN" } });
    expect(replacePythonNonFinite('{"k\\"NaN": NaN}')).toBe('{"k\\"NaN": null}');
  });
});

describe("forEachLineBackwards", () => {
  it("gives the non-blank lines in reverse order whatever the chunk size, and stops when asked", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 12 }), { maxLength: 12 }), fc.integer({ min: 1, max: 16 }), (ls, chunk) => {
        const content = ls.map((l) => l.replace(/[\r\n]/g, "")).join("\n");
        const path = join(tempDir(), "f.jsonl");
        writeFileSync(path, content);
        const back: string[] = [];
        forEachLineBackwards(path, (t) => (back.push(t), false), chunk);
        expect(back).toEqual(lines(content).map(([t]) => t).reverse());
      }),
      { numRuns: 60 },
    );
    const path = join(tempDir(), "g.jsonl");
    writeFileSync(path, "a\nb\nc\n");
    const seen: string[] = [];
    forEachLineBackwards(path, (t) => (seen.push(t), t === "b"));
    expect(seen).toEqual(["c", "b"]);
  });
});

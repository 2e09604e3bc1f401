import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { forEachLine, forEachLineBackwards, MAX_LINE_DEPTH, nestedDeeperThan, parseObjectLine, replacePythonNonFinite } from "../../src/util/jsonl.js";
import { tempDir } from "../helpers/cli.js";

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

/** What forEachLine should give for `bytes`, worked out on the whole buffer at once. */
function oracleLines(bytes: Buffer): [string, number, number][] {
  const out: [string, number, number][] = [];
  let start = 0;
  let n = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    const last = end < 0;
    if (last) end = bytes.length;
    n++;
    let text = bytes.toString("utf8", start, end);
    if (start === 0 && text.charCodeAt(0) === 0xfeff && bytes[0] === 0xef) text = text.slice(1);
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() !== "") out.push([text, n, start]);
    if (last) break;
    start = end + 1;
  }
  return out;
}

describe("forEachLine: offsets", () => {
  it("gives each line's number and byte offset, as the whole buffer split at its line breaks does, whatever the chunk size", () => {
    const piece = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 8 }),
      fc.constantFrom("\r", "\n", "\r\n", "\uFEFF", "\u00A0", " ", "{}", "\u00e9t\u00e9"),
    );
    // Raw bytes too: invalid UTF-8 (a lone continuation, a lead byte cut short) decodes to U+FFFD.
    const chunk = fc.oneof(piece.map((p) => Buffer.from(p, "utf8")), fc.constantFrom(Buffer.from([0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0xef, 0xbb, 0xbf])));
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 16 }), fc.integer({ min: 1, max: 9 }), (parts, size) => {
        const bytes = Buffer.concat(parts);
        const path = join(tempDir(), "o.jsonl");
        writeFileSync(path, bytes);
        const got: [string, number, number][] = [];
        forEachLine(
          path,
          (t, n, offset, length) => {
            got.push([t, n, offset]);
            // The bytes given are the line's, up to its line break.
            const end = bytes.indexOf(0x0a, offset);
            expect(length).toBe((end < 0 ? bytes.length : end) - offset);
          },
          size,
        );
        expect(got).toEqual(oracleLines(bytes));
      }),
      { numRuns: 400 },
    );
  });
});

describe("forEachLine and forEachLineBackwards", () => {
  it("agree that a line of non-ASCII white space (U+00A0, U+3000, U+2028) is blank", () => {
    // CI found this: forEachLine took any line starting above code 32 for a record.
    for (const blank of ["\u00A0", "\u3000", "\u2028", "\u00A0 \u3000", "\uFEFF"]) {
      const content = `a\n${blank}\nb`;
      const path = join(tempDir(), "w.jsonl");
      writeFileSync(path, content);
      const back: string[] = [];
      forEachLineBackwards(path, (t) => (back.push(t), false));
      expect(lines(content).map(([t]) => t)).toEqual(["a", "b"]);
      expect(back).toEqual(["b", "a"]);
    }
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
        forEachLineBackwards(path, (t) => (back.push(t), false), { chunkBytes: chunk, maxChunkBytes: chunk * 3 });
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

  it("with `containing`, gives exactly the lines that contain it, last first, whatever the chunk size", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ unit: "grapheme", maxLength: 12 }), fc.constantFrom("ab", "xaby", "aab", "\uFEFFab", "ab\r", "a")), { maxLength: 14 }),
        fc.constantFrom("ab", "a", "b\u00e9", "\u00e9"),
        fc.integer({ min: 1, max: 16 }),
        (ls, needle, chunk) => {
          const content = ls.map((l) => l.replace(/[\r\n]/g, "")).join("\n");
          const path = join(tempDir(), "f.jsonl");
          writeFileSync(path, content);
          const back: string[] = [];
          forEachLineBackwards(path, (t) => (back.push(t), false), { containing: needle, chunkBytes: chunk, maxChunkBytes: chunk * 2 });
          const expected = lines(content)
            .map(([t]) => t)
            .filter((t) => t.includes(needle))
            .reverse();
          expect(back).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
    const path = join(tempDir(), "h.jsonl");
    writeFileSync(path, '{"id":"a1"}\n{"id":"b"}\n{"id":"a1","n":2}\n{"id":"c"}');
    const seen: string[] = [];
    forEachLineBackwards(path, (t) => (seen.push(t), true), { containing: '"a1"' });
    expect(seen).toEqual(['{"id":"a1","n":2}']);
    expect(() => forEachLineBackwards(path, () => false, { containing: "" })).toThrow(RangeError);
  });
});

describe("the nesting bound of a registry line", () => {
  /** The depth of a parsed JSON value, counted iteratively (the reference). */
  function depthOf(v: unknown): number {
    let max = 0;
    const stack: [unknown, number][] = [[v, 0]];
    while (stack.length > 0) {
      const [x, d] = stack.pop()!;
      if (x === null || typeof x !== "object") continue;
      max = Math.max(max, d + 1);
      for (const c of Object.values(x)) stack.push([c, d + 1]);
    }
    return max;
  }

  it("damages a line nested 4,500 deep, in objects or arrays, and keeps one at the bound", () => {
    const objects = (d: number): string => `{"experiment_id":"e","m":${'{"a":'.repeat(d)}1${"}".repeat(d)}}`;
    expect(parseObjectLine(objects(4500))).toEqual({ reason: `nested deeper than ${MAX_LINE_DEPTH} levels (the most a registry line may have)` });
    expect(parseObjectLine(`{"p":${"[".repeat(4500)}${"]".repeat(4500)}}`)).toMatchObject({ reason: expect.stringMatching(/nested deeper/) });
    expect(parseObjectLine(objects(MAX_LINE_DEPTH - 1))).toHaveProperty("value");
    expect(parseObjectLine(objects(MAX_LINE_DEPTH))).toHaveProperty("reason");
    // A Python line with bare NaN is bounded too.
    expect(parseObjectLine(`{"x":NaN,"m":${"[".repeat(100)}${"]".repeat(100)}}`)).toHaveProperty("reason");
  });

  it("does not count brackets inside strings", () => {
    const text = JSON.stringify({ experiment_id: "e", note: "{[".repeat(5000) + '\\"{' });
    expect(nestedDeeperThan(text, MAX_LINE_DEPTH)).toBe(false);
    expect(parseObjectLine(text)).toHaveProperty("value");
  });

  it("agrees with the depth of the parsed value (property)", () => {
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.string(), fc.integer(), fc.array(tie("node"), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 3 }), tie("node"), { maxKeys: 3 })),
    })).node;
    fc.assert(
      fc.property(tree, fc.integer({ min: 0, max: 12 }), (v, max) => {
        const text = JSON.stringify(v);
        expect(nestedDeeperThan(text, max)).toBe(depthOf(v) > max);
      }),
      { numRuns: 2000 },
    );
  });
});

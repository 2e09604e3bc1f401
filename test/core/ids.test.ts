import { isAbsolute, join, relative, sep } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertValidId, ID_PATTERN, idProblem, isValidId, MAX_ID_LENGTH, quoteId } from "../../src/core/ids.js";
import { UsageError } from "../../src/core/errors.js";
import { newExperimentId } from "../../src/stores/local/ids.js";

/** `join(dir, id)` names an entry directly inside `dir`: one segment, never `dir` itself. */
function staysInside(dir: string, id: string): boolean {
  const rel = relative(dir, join(dir, id));
  return rel === id && !isAbsolute(rel) && !rel.split(sep).includes("..") && !rel.includes(sep);
}

describe("the id rule", () => {
  it.each([
    ["exp-1a2b3c4d5e6f"],
    ["42"],
    ["py-1"],
    ["a"],
    ["run.v2_final-3"],
    ["a".repeat(MAX_ID_LENGTH)],
    ["4f2c0e9d8b7a41b2a3c4d5e6f7a8b9c0"], // a ClearML task id
  ])("accepts %j", (id) => {
    expect(idProblem(id)).toBeNull();
    expect(assertValidId(id)).toBe(id);
  });

  it.each([
    ["", /never empty/],
    [".", /starting with a letter or a digit/],
    ["..", /starting with a letter or a digit/],
    ["../experiments", /starting with a letter or a digit/],
    ["a/b", /letters, digits/],
    ["a\\b", /letters, digits/],
    ["x..y", /never holds '\.\.'/],
    ["a..", /never holds '\.\.'/],
    [".hidden", /starting with a letter or a digit/],
    ["-rf", /starting with a letter or a digit/],
    ["exp 1", /letters, digits/],
    ["exp\n", /letters, digits/],
    ["café", /letters, digits/],
    ["a".repeat(MAX_ID_LENGTH + 1), /at most 128 characters/],
  ])("refuses %j", (id, why) => {
    expect(idProblem(id)).toMatch(why);
    expect(() => assertValidId(id)).toThrow(UsageError);
    expect(() => assertValidId(id)).toThrow(expect.objectContaining({ code: "E_BAD_ID", exitCode: 2 }));
  });

  it("refuses what is not text", () => {
    for (const v of [undefined, null, 42, {}, ["a"]]) expect(isValidId(v)).toBe(false);
  });

  it("accepts every generated experiment id", () => {
    for (let i = 0; i < 1000; i++) expect(isValidId(newExperimentId())).toBe(true);
  });

  it("every accepted id is a single safe path segment (property)", () => {
    const dir = join("/", "srv", "expflow", "logs");
    const chars = fc.constantFrom(..."aZ09._-/\\ \u0000\u001b\u00e9\n".split(""));
    const candidates = fc.oneof(fc.string({ maxLength: 140 }), fc.string({ unit: chars, maxLength: 140 }), fc.stringMatching(ID_PATTERN));
    fc.assert(
      fc.property(candidates, (id) => {
        if (!isValidId(id)) return;
        expect(id).not.toBe("");
        expect(id).not.toContain("/");
        expect(id).not.toContain("\\");
        expect(id).not.toContain("..");
        expect(id.length).toBeLessThanOrEqual(MAX_ID_LENGTH);
        expect(staysInside(dir, id)).toBe(true);
        expect(staysInside(dir, `${id}.log`)).toBe(true);
        expect(staysInside(dir, `${id}.jsonl`)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("an id and the prefix of one are judged by the same rule: every non-empty prefix of a valid id is valid", () => {
    fc.assert(
      fc.property(fc.stringMatching(ID_PATTERN), fc.nat(), (id, n) => {
        if (!isValidId(id)) return;
        const prefix = id.slice(0, 1 + (n % id.length));
        // A prefix may end in "." of a later "..": impossible, since the id holds none.
        expect(isValidId(prefix)).toBe(true);
      }),
    );
  });

  it("quotes an untrusted id for a message: controls (C1 too) escaped, long ones cut", () => {
    expect(quoteId("a\u001b[2J\u009bb")).toBe('"a\\u001b[2J\\u009bb"');
    expect(quoteId("x".repeat(500))).toBe(`"${"x".repeat(60)}..."`);
  });
});

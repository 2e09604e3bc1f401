import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compilePattern, MAX_PATTERN_LENGTH, PatternSyntaxError } from "../../../src/core/rules/pattern.js";

const t = (p: string, s: string): boolean => compilePattern(p).test(s);

describe("compilePattern: RE2 syntax, linear time", () => {
  it("matches what the existing rule packs use, ignoring case", () => {
    expect(t("sub_?step", "Args/sub_step")).toBe(true);
    expect(t("sub_?step", "General/SUBSTEP")).toBe(true);
    expect(t("sub_?step", "sub-step")).toBe(false);
    expect(t("^Args/lr$", "Args/lr")).toBe(true);
    expect(t("^Args/lr$", "Args/lr2")).toBe(false);
    expect(t("^Data/(dataset|ds)$", "data/DS")).toBe(true);
    expect(t("^Data/(dataset|ds)$", "Data/dsx")).toBe(false);
    expect(t(".*", "")).toBe(true);
    expect(t("x$", "abx")).toBe(true);
    expect(t("dataset", "Args/dataset_name")).toBe(true);
  });

  it("supports classes, escapes, counted repetition, named and flag groups, word boundaries", () => {
    expect(t("^[a-c]+\\d{2,3}$", "ABC12")).toBe(true);
    expect(t("^[a-c]+\\d{2,3}$", "abc1234")).toBe(false);
    expect(t("^[^/]+/lr$", "Args/lr")).toBe(true);
    expect(t("^[^/]+/lr$", "a/b/lr")).toBe(false);
    expect(t("\\blr\\b", "Args/lr")).toBe(true);
    expect(t("\\blr\\b", "Args/lrate")).toBe(false);
    expect(t("(?P<sec>Args)/x", "args/x")).toBe(true);
    expect(t("(?i)ARGS", "args")).toBe(true);
    expect(t("a\\.b", "a.b")).toBe(true);
    expect(t("a\\.b", "axb")).toBe(false);
    expect(t("[\\]a-]", "-")).toBe(true);
    expect(t("\\x41\\x{42}", "ab")).toBe(true);
    expect(t("a{,2}", "a{,2}")).toBe(true);
    expect(t("a*?b", "aab")).toBe(true);
  });

  it("refuses what RE2 refuses, with RE2's message", () => {
    for (const [p, m] of [
      ["sub_(step", /missing closing \)/],
      ["a)", /unexpected \)/],
      ["(a)\\1", /backreferences are not supported/],
      ["(?=a)", /lookaround is not supported/],
      ["(?<!a)b", /lookaround is not supported/],
      ["*a", /missing argument to repetition operator/],
      ["a**", /invalid nested repetition operator/],
      ["a{1001}", /invalid repeat count/],
      ["[z-a]", /invalid character class range/],
      ["[abc", /missing closing \]/],
      ["\\q", /invalid escape/],
      ["x".repeat(MAX_PATTERN_LENGTH + 1), /longer than 1000/],
      ["(a{1000}){1000}", /invalid repeat count/],
    ] as const) {
      expect(() => compilePattern(p), p).toThrow(PatternSyntaxError);
      expect(() => compilePattern(p), p).toThrow(m);
    }
  });

  it("(a+)+$ on a 31-character key (and on 100,000 characters) answers, without backtracking", () => {
    expect(t("(a+)+$", `${"a".repeat(30)}!`)).toBe(false);
    expect(t("(a+)+$", `!${"a".repeat(30)}`)).toBe(true);
    expect(t("^(a+)+$", `${"a".repeat(30)}!`)).toBe(false);
    expect(t("^(a|a)*$", `${"a".repeat(100_000)}!`)).toBe(false);
    expect(t("^(a*)*b$", "a".repeat(100_000))).toBe(false);
  }, 60_000);

  it("agrees with JavaScript's RegExp (flag i) on patterns both accept", () => {
    const atom = fc.constantFrom("a", "b", "ab", ".", "[ab]", "[^a]", "\\d", "\\w", "\\s", "1", "A", "\\.", "\\b");
    const node: fc.Arbitrary<string> = fc.letrec<{ p: string }>((tie) => ({
      p: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        atom,
        fc.tuple(tie("p"), tie("p")).map(([x, y]) => x + y),
        fc.tuple(tie("p"), tie("p")).map(([x, y]) => `(${x}|${y})`),
        fc.tuple(tie("p"), fc.constantFrom("*", "+", "?", "{2}", "{1,3}", "{0,}", "*?")).map(([x, q]) => `(?:${x})${q}`),
      ),
    })).p;
    const pattern = fc.tuple(fc.boolean(), node, fc.boolean()).map(([a, p, z]) => `${a ? "^" : ""}${p}${z ? "$" : ""}`);
    fc.assert(
      fc.property(pattern, fc.stringMatching(/^[abAB1 .\n_-]{0,12}$/), (p, s) => {
        expect(t(p, s), `${p} on ${JSON.stringify(s)}`).toBe(new RegExp(p, "i").test(s));
      }),
      { numRuns: 2000 },
    );
  });
});

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { colors } from "../../../src/cli/output/color.js";
import { renderCsv, renderMarkdown, renderTable } from "../../../src/cli/output/render.js";
import type { Column } from "../../../src/cli/output/render.js";
import { csvCell, guardStream, guardText, ownSequences, printable } from "../../../src/cli/output/sanitize.js";

// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** {@link RAW} but for the line feeds that end the lines of a rendered table. */
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const RAW_IN_LINES = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe("printable", () => {
  it.each([
    ["\u001b[2J", "\\u001b[2J"],
    ["a\u009bb", "a\\u009bb"],
    ["x\ry", "x\\u000dy"],
    ["bell\u0007", "bell\\u0007"],
    ["abc\u202eexe.txt", "abc\\u202eexe.txt"],
    ["\u2066iso\u2069", "\\u2066iso\\u2069"],
    ["del\u007f", "del\\u007f"],
    ["nul\u0000", "nul\\u0000"],
    ["tab\tline\n", "tab\\u0009line\\u000a"],
    ["ünïcødé 漢字 🙂", "ünïcødé 漢字 🙂"],
  ])("%j is shown as %j", (text, shown) => {
    expect(printable(text)).toBe(shown);
  });

  it("multiline keeps line feeds, tabs and CRLF, and still shows a lone CR", () => {
    expect(printable("a\tb\nc\r\nd\re\u001b", { multiline: true })).toBe("a\tb\nc\r\nd\\u000de\\u001b");
  });

  it("never leaves an unsafe character, and is idempotent (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const p = printable(s);
        expect(p).not.toMatch(RAW);
        expect(printable(p)).toBe(p);
      }),
    );
  });
});

describe("csvCell", () => {
  it.each([
    ["=1+1", "'=1+1"],
    ["+1+2", "'+1+2"],
    ["+1", "+1"],
    ["-x", "'-x"],
    ["@A1", "'@A1"],
    ["\t=1", "'\t=1"],
    ["\r=1", "'\\u000d=1"],
    ["-3.5", "-3.5"],
    ["+1e-3", "+1e-3"],
    ["a,b", '"a,b"'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ["two\nlines", '"two\nlines"'],
    ["esc\u001b[2J", "esc\\u001b[2J"],
  ])("%j becomes %j", (text, cell) => {
    expect(csvCell(text)).toBe(cell);
  });

  it("numbers stay numbers, null is empty", () => {
    expect(csvCell(-3.5)).toBe("-3.5");
    expect(csvCell(-0.000123)).toBe("-0.000123");
    expect(csvCell(null)).toBe("");
  });
});

describe("guardText and guardStream", () => {
  it("keeps expflow's own colours and progress line, neutralises everything else", () => {
    const c = colors(true);
    const own = ownSequences(true, true);
    const text = `${c.red("error:")} bad \u001b[2J\u001b[5m\u009b\r\x1b[2Kprogress\rX\n`;
    expect(guardText(text, own)).toBe(`${c.red("error:")} bad \\u001b[2J\\u001b[5m\\u009b\r\x1b[2Kprogress\\u000dX\n`);
    expect(guardText("\u001b[31mred", null)).toBe("\\u001b[31mred");
  });

  it("writes through unchanged while inactive (--json), and keeps isTTY", () => {
    const written: (string | Buffer)[] = [];
    let active = true;
    const s = guardStream({ write: (t) => written.push(t), isTTY: true }, () => active, null);
    s.write("a\u009b");
    // A buffer (a large output's chunk of UTF-8) is guarded as its text.
    s.write(Buffer.from("\u00e9\u009b", "utf8"));
    active = false;
    s.write("b\u009b");
    expect(written).toEqual(["a\\u009b", "\u00e9\\u009b", "b\u009b"]);
    expect(s.isTTY).toBe(true);
    // Without a stream's once and off, it offers none: a writer does not wait for a drain that never comes.
    expect("once" in s).toBe(false);
  });

  it("guards a large buffer a few lines at a time, never cutting a line, a character or its own sequences", () => {
    const own = ownSequences(true, false);
    const c = colors(true);
    const line = (i: number): string => `${c.red(`r${i}`)},\u00e9\u4e2d\u0000,${"x".repeat(i % 300)}\r\n`;
    const text = Array.from({ length: 2000 }, (_, i) => line(i)).join("") + "tail \u009b without a line break".repeat(500);
    const written: string[] = [];
    const s = guardStream({ write: (t) => written.push(String(t)) }, () => true, own);
    s.write(Buffer.from(text, "utf8"));
    expect(written.length).toBeGreaterThan(10);
    expect(written.join("")).toBe(guardText(text, own));
    for (const w of written.slice(0, -1)) expect(w.endsWith("\n")).toBe(true);
  });

  it("passes a stream's drain to a writer waiting for it", () => {
    const listeners: string[] = [];
    const stream = { write: () => false, once: (e: string) => listeners.push(`once ${e}`), off: (e: string) => listeners.push(`off ${e}`) };
    const s = guardStream(stream, () => false, null);
    s.once!("drain", () => undefined);
    s.off!("drain", () => undefined);
    expect(listeners).toEqual(["once drain", "off drain"]);
  });
});

describe("renderers", () => {
  const cols: Column<{ n: string; v: number }>[] = [
    { header: "NAME\u001b", get: (r) => r.n },
    { header: "V", get: (r) => r.v, align: "right" },
  ];

  it("a table, CSV and Markdown never hold a control character from data", () => {
    const rows = [{ n: "x\u001b[2J\u009b|`<b>\r", v: -3.5 }];
    expect(renderTable(rows, cols, colors(false))).not.toMatch(RAW_IN_LINES);
    expect(renderCsv(rows, cols).replace(/\r\n/g, "\n")).not.toMatch(RAW_IN_LINES);
    const md = renderMarkdown(rows, cols);
    expect(md).not.toMatch(RAW_IN_LINES);
    expect(md).toContain("\\|\\`\\<b\\>");
    expect(renderCsv(rows, cols)).toContain(",-3.5\r\n");
  });

  it("a table of 1,000,000 rows renders (a spread into Math.max overflowed from ~130,000)", () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i) => ({ n: `run-${i}`, v: i }));
    const out = renderTable(rows, cols, colors(false));
    expect(out.length).toBeGreaterThan(1_000_000 * 10);
    const lines = out.split("\n");
    expect(lines).toHaveLength(1_000_002);
    expect(lines[1_000_000]).toBe("run-999999  999999");
  });
});

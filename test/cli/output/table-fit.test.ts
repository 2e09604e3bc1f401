import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { colors } from "../../../src/cli/output/color.js";
import type { Column } from "../../../src/cli/output/render.js";
import { formatNumber, renderCsv, renderMarkdown, renderTable } from "../../../src/cli/output/render.js";
import { fitColumns, tableWidth } from "../../../src/cli/output/table-fit.js";
import { displayWidth } from "../../../src/cli/output/text-width.js";

const plain = colors(false);

describe("tableWidth: which width a table fits", () => {
  it("a terminal's own width first, then COLUMNS, else none (a pipe or a file gets the whole table)", () => {
    expect(tableWidth({ isTTY: true, columns: 80 }, { COLUMNS: "120" })).toBe(80);
    expect(tableWidth({ isTTY: true, columns: 0 }, { COLUMNS: "120" })).toBe(120);
    expect(tableWidth({}, { COLUMNS: "100" })).toBe(100);
    expect(tableWidth({ isTTY: false, columns: 80 }, {})).toBeUndefined();
    expect(tableWidth({}, {})).toBeUndefined();
  });

  it.each(["", "0", "-5", "80x", "abc", "1e3", "9".repeat(30)])("ignores COLUMNS=%j", (value) => {
    expect(tableWidth({}, { COLUMNS: value })).toBeUndefined();
  });
});

describe("fitColumns", () => {
  const cols = [
    {}, // an id: never cut, never left out
    { shrink: { min: 8, order: 2 } }, // a name
    { drop: 50 }, // a status
    { shrink: { min: 6, order: 1 }, drop: 40 }, // tags
    { drop: 10 }, // updated
    { drop: 60 }, // a number
  ];
  const natural = [12, 30, 9, 20, 24, 8];
  // 12 + 30 + 9 + 20 + 24 + 8 = 103, and 5 gaps of 2.

  it("leaves a table that fits as it is", () => {
    expect(fitColumns(cols, natural, 113)).toEqual({ shown: [0, 1, 2, 3, 4, 5], widths: natural, dropped: [] });
  });

  it("cuts text first, in its order (tags before the name), before leaving anything out", () => {
    expect(fitColumns(cols, natural, 100)).toEqual({ shown: [0, 1, 2, 3, 4, 5], widths: [12, 30, 9, 7, 24, 8], dropped: [] });
    expect(fitColumns(cols, natural, 90)).toEqual({ shown: [0, 1, 2, 3, 4, 5], widths: [12, 21, 9, 6, 24, 8], dropped: [] });
    expect(fitColumns(cols, natural, 80)).toEqual({ shown: [0, 1, 2, 3, 4, 5], widths: [12, 11, 9, 6, 24, 8], dropped: [] });
  });

  it("then leaves columns out whole, lowest rank first, and gives the room back to the text", () => {
    expect(fitColumns(cols, natural, 70)).toEqual({ shown: [0, 1, 2, 3, 5], widths: [12, 27, 9, 6, 8], dropped: [4] });
    expect(fitColumns(cols, natural, 50)).toEqual({ shown: [0, 1, 2, 5], widths: [12, 15, 9, 8], dropped: [4, 3] });
  });

  it("never leaves out a column without a rank, nor any that was chosen (keepAll)", () => {
    expect(fitColumns(cols, natural, 30)).toEqual({ shown: [0, 1], widths: [12, 16], dropped: [4, 3, 2, 5] });
    expect(fitColumns(cols, natural, 80, true)).toEqual({ shown: [0, 1, 2, 3, 4, 5], widths: [12, 11, 9, 6, 24, 8], dropped: [] });
    // Chosen columns too wide even cut to their minimum: cut to the last resort, the rest overflows.
    expect(fitColumns(cols, natural, 50, true)).toEqual({ shown: [0, 1, 2, 3, 4, 5], widths: [12, 2, 9, 2, 24, 8], dropped: [] });
  });

  it("below the width of what always stays, cuts text to 2 cells and lets the rest overflow", () => {
    expect(fitColumns(cols, natural, 20)).toEqual({ shown: [0, 1], widths: [12, 6], dropped: [4, 3, 2, 5] });
    expect(fitColumns(cols, natural, 5)).toEqual({ shown: [0, 1], widths: [12, 2], dropped: [4, 3, 2, 5] });
  });
});

interface Row {
  readonly id: string;
  readonly name: string;
  readonly tags: string;
  readonly v: number | null;
  readonly w: number;
}

const COLS: Column<Row>[] = [
  { header: "ID", key: "id", get: (r) => r.id },
  { header: "NAME", key: "name", get: (r) => r.name, maxWidth: 30, shrink: { min: 10, order: 2 } },
  { header: "TAGS", key: "tags", get: (r) => r.tags, shrink: { min: 6, order: 1 }, drop: 20 },
  { header: "VALUE", key: "v", get: (r) => r.v, align: "right", drop: 50 },
  { header: "WEIGHT", key: "w", get: (r) => r.w, align: "right", drop: 40 },
];

const PIECES = ["a", "b", "-", " ", "7", "é", "e\u0301", "漢", "実験", "😀", "👩‍🔬", "🇫🇷", "\u001b[2J", "\u202e", "\t"];
const name = fc.array(fc.constantFrom(...PIECES), { maxLength: 30 }).map((p) => p.join(""));
const row = fc.record({
  id: fc.stringMatching(/^exp-[0-9a-f]{8}$/),
  name,
  tags: name,
  v: fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { nil: null }),
  w: fc.integer({ min: 0, max: 10 ** 9 }),
});

/** The lines of a rendered table (the note on what was left out aside). */
function lines(out: string): string[] {
  return out
    .trimEnd()
    .split("\n")
    .filter((l) => !l.startsWith("Left out to fit"));
}

describe("renderTable with a width", () => {
  it("every line fits the width whenever the id and 2 cells of name fit; numbers are whole or their column is gone (property)", () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 8 }), fc.integer({ min: 16, max: 140 }), (rows, width) => {
        const out = renderTable(rows, COLS, plain, { width });
        const table = lines(out);
        for (const line of table) expect(displayWidth(line)).toBeLessThanOrEqual(width);
        const header = table[0]!;
        for (const [title, get] of [["VALUE", (r: Row) => r.v], ["WEIGHT", (r: Row) => r.w]] as const) {
          if (!header.includes(title)) {
            expect(out).toMatch(new RegExp(`^Left out to fit ${width} columns: .*${title === "VALUE" ? "v" : "w"}`, "m"));
            continue;
          }
          rows.forEach((r, i) => {
            const v = get(r);
            if (v !== null) expect(table[i + 1]).toContain(` ${formatNumber(v)}`);
          });
        }
      }),
    );
  });

  it("lines up columns after wide and combining text, by cells", () => {
    const rows: Row[] = [
      { id: "exp-1", name: "実験-漢字-長い名前", tags: "t", v: 1, w: 1 },
      { id: "exp-2", name: "e\u0301te\u0301 😀 👩‍🔬", tags: "t", v: 2, w: 2 },
      { id: "exp-3", name: "plain", tags: "t", v: 3, w: 3 },
    ];
    for (const width of [undefined, 40, 30]) {
      const table = lines(renderTable(rows, COLS, plain, { width }));
      const at = (line: string): number => displayWidth(line.slice(0, line.indexOf("  t ") + 2));
      const starts = table.slice(1).map(at);
      expect(new Set(starts).size, `width ${width}: ${table.join("\n")}`).toBe(1);
    }
  });

  it("names what it left out on its last line; --wide (wide) shows everything, maxWidth included", () => {
    const rows: Row[] = [{ id: "exp-00000001", name: "n".repeat(40), tags: "a,b,c,d,e,f", v: 12.5, w: 3 }];
    const out = renderTable(rows, COLS, plain, { width: 36 });
    expect(out.trimEnd().split("\n").at(-1)).toBe("Left out to fit 36 columns: tags, w (--wide shows all).");
    const wide = renderTable(rows, COLS, plain, { width: 36, wide: true });
    expect(wide).toContain("n".repeat(40));
    expect(wide).not.toContain("Left out");
    // Without a width: as before, only maxWidth cuts.
    expect(renderTable(rows, COLS, plain)).toContain(`${"n".repeat(29)}…`);
  });

  it("CSV and Markdown are never cut or narrowed", () => {
    const rows: Row[] = [{ id: "exp-00000001", name: "実験".repeat(30), tags: "a".repeat(50), v: 1.25, w: 3 }];
    expect(renderCsv(rows, COLS)).toContain("実験".repeat(30));
    expect(renderMarkdown(rows, COLS)).toContain("a".repeat(50));
  });

  it("a table of 1,000,000 rows still renders when it has to be cut to fit", () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i): Row => ({ id: `exp-${i}`, name: `run-with-a-long-name-${i}`, tags: "x", v: i, w: 1 }));
    const out = renderTable(rows, COLS, plain, { width: 30 });
    const all = out.split("\n");
    expect(all).toHaveLength(1_000_003);
    expect(all[1_000_000]).toBe("exp-999999  run-with-…  999999");
    expect(all[1_000_001]).toBe("Left out to fit 30 columns: tags, w (--wide shows all).");
  });
});

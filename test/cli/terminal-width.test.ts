// Tables on a real terminal (tmux, test/helpers/terminal.ts): the width comes from the tty
// itself (no COLUMNS), and the terminal's own idea of each character's width decides whether a
// row wraps. A row that tmux found one cell wider than expflow counted would wrap onto a second
// screen line, which these tests count. Skipped without tmux.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, record, tempDir, writeRegistry } from "../helpers/cli.js";
import { hasTmux, onTerminal } from "../helpers/terminal.js";

const EXAMPLE = join(ROOT, "examples", "experiments.jsonl");

/** The screen's lines up to the `EXIT=` line, and the exit code. */
function screenOf(screen: string): { lines: string[]; code: number } {
  const lines = screen.split("\n");
  const end = lines.findIndex((l) => l.startsWith("EXIT="));
  return { lines: lines.slice(0, end), code: Number(lines[end]!.slice(5)) };
}

describe.skipIf(!hasTmux)("tables on a terminal", () => {
  it("the README's quick start at 80 columns is what the README shows, and no line wraps", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Quick start"));
    const command = /npx expflow (compare-scores [^\n]*)\n/.exec(section)![1]!.replace("examples/experiments.jsonl", EXAMPLE);
    const shown = /```text\n([\s\S]*?)```/.exec(section)![1]!.trimEnd().split("\n");
    const { lines, code } = screenOf(await onTerminal(join(tempDir(), "home"), command, [], "", { x: 80, y: 40 }));
    expect(code).toBe(0);
    // The note on what was left out and the summary are prose, which the terminal wraps.
    const table = lines.slice(0, lines.findIndex((l) => l.startsWith("Left out")));
    expect(table).toHaveLength(11);
    for (const line of table) expect(line.length).toBeLessThanOrEqual(80);
    const cut = shown.indexOf("...");
    expect(lines.slice(0, cut)).toEqual(shown.slice(0, cut));
  });

  it.each([80, 20])("run list at %i columns: one screen line per run, numbers whole", async (width) => {
    // COLUMNS says otherwise: the terminal's own width wins.
    const { lines, code } = screenOf(await onTerminal(join(tempDir(), "home"), `run list --registry '${EXAMPLE}' --limit 10`, [], "COLUMNS=200", { x: width, y: 40 }));
    expect(code).toBe(0);
    const rows = lines.slice(1, 11);
    rows.forEach((row) => expect(row).toMatch(/^exp-/));
    expect(lines[11]).toMatch(/^Left out to fit /);
    if (width === 80) {
      expect(lines[0]).toMatch(/^ID +NAME +STATUS +pde_mean +train_time_min$/);
      expect(rows[0]).toMatch(/ 18\.584 +30\.6$/);
    } else {
      expect(lines[0]).toBe("ID            NAME");
      expect(rows[0]).toBe("exp-74dc9ff8  task1…");
    }
  });

  it("CJK, combining marks and emoji fill a row exactly as wide as the terminal: none wraps, the numbers line up at the right edge", async () => {
    const names = ["実験-名前-とても長い-漢字", "e\u0301te\u0301-combining-ü\u0308-marks", "🧪😀 emoji run 🇫🇷🇩🇪", "👩‍🔬 scientist ❤️", "plain-ascii-name-that-is-long"];
    const reg = writeRegistry(names.map((name, i) => record(`exp-0000000${i}`, { pde_mean: 10.5 + i }, { name })));
    for (const width of [40, 33]) {
      const { lines, code } = screenOf(await onTerminal(join(tempDir(), "home"), `run list --registry '${reg}' --columns id,name,pde_mean`, [], "", { x: width, y: 20 }));
      expect(code).toBe(0);
      expect(lines).toHaveLength(1 + names.length + 1);
      names.forEach((_, i) => expect(lines[1 + i]).toMatch(new RegExp(`^exp-0000000${i}  .* ${10.5 + i}$`)));
      expect(lines.at(-1)).toBe("5 runs.");
    }
  });

  it("compare-scores at 20 columns keeps rank, id and the sort metric (wider than the terminal: the terminal wraps them)", async () => {
    const { lines, code } = screenOf(await onTerminal(join(tempDir(), "home"), `compare-scores --registry '${EXAMPLE}' --sort-by pde_mean --max 3`, [], "", { x: 20, y: 40 }));
    expect(code).toBe(0);
    // 28 cells a row: each takes two screen lines.
    expect(lines.slice(0, 4)).toEqual(["RANK  ID", "pde_mean", "   1  exp-b2782415", "  14.045"]);
  });
});

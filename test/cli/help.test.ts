import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { CliResult } from "../helpers/cli.js";
import { runCliAsync } from "../helpers/cli.js";

// The help of every command is part of the interface: option names, defaults, conflicts,
// descriptions and the "Examples:" blocks. Each one is compared with a committed snapshot (one
// file per command under __snapshots__/help/), so a change to a definition that alters what a
// user reads shows up as a diff to review. To accept an intended change: `npx vitest run
// test/cli/help.test.ts -u`, then review the diff of the snapshots. A new command changes
// commands.txt first; run it once more with -u to write the new command's snapshot.

const SNAPSHOTS = "__snapshots__/help";
/** Colour off whatever the caller's terminal says: the snapshots are plain text. */
const PLAIN = { NO_COLOR: "1", FORCE_COLOR: undefined, CLICOLOR_FORCE: undefined };

/** The committed list of command paths ("" for the program itself), one a line. */
const committed = readFileSync(new URL(`${SNAPSHOTS}/commands.txt`, import.meta.url), "utf8").split("\n").slice(0, -1);

function fileOf(path: string): string {
  return `${SNAPSHOTS}/${path === "" ? "expflow" : `expflow-${path.replaceAll(" ", "-")}`}.txt`;
}

function help(path: string): Promise<CliResult> {
  return runCliAsync([...(path === "" ? [] : path.split(" ")), "--help"], { env: PLAIN });
}

/** The subcommands a help text lists (its "Commands:" block), without commander's `help`. */
function subcommandsOf(text: string): string[] {
  const block = /^Commands:\n((?: {2}.*\n)+)/m.exec(text)?.[1] ?? "";
  return [...block.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1] ?? "").filter((name) => name !== "help");
}

describe("--help", () => {
  it("lists the commands of commands.txt, no more and no fewer", async () => {
    const found: string[] = [];
    let level = [""];
    while (level.length > 0) {
      found.push(...level);
      const texts = await Promise.all(level.map(help));
      level = level.flatMap((path, i) => subcommandsOf(texts[i]?.stdout ?? "").map((name) => (path === "" ? name : `${path} ${name}`)));
    }
    await expect(found.map((p) => `${p}\n`).join("")).toMatchFileSnapshot(`${SNAPSHOTS}/commands.txt`);
  });

  it.each(committed.map((path) => [path === "" ? "expflow" : `expflow ${path}`, path]))("%s --help matches its snapshot", async (_name, path) => {
    const r = await help(path);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot(fileOf(path));
  });
});

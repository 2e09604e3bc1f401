// `expflow completion bash|zsh|fish`: the scripts, loaded into the real shells, complete the
// commands of the program (every one of commands.txt), their options and fixed values.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "@commander-js/extra-typings";
import { describe, expect, it } from "vitest";
import { bashCompletion, completionTree, fishCompletion, zshCompletion } from "../../src/cli/commands/completion.js";
import { runCliAsync, runInProcess, tempDir } from "../helpers/cli.js";

const has = (shell: string): boolean => spawnSync(shell, ["--version"], { encoding: "utf8" }).status === 0;
const HAS_BASH = has("bash");
const HAS_ZSH = has("zsh");
const HAS_FISH = has("fish");
const skipped = (title: string, present: boolean, shell: string) => (present ? title : `${title} (skipped: ${shell} not installed)`);

/** Every command path of the program, as the help test commits them (without the program itself). */
const PATHS = readFileSync(new URL("__snapshots__/help/commands.txt", import.meta.url), "utf8")
  .split("\n")
  .filter((p) => p !== "")
  .map((p) => p.split(" "));

/** What completing the last of `words` (after `expflow`) gives: candidates matching it, sorted, or "files" (the shell's own completion). */
type Expected = string[] | "files";

const CASES: [string[], Expected][] = [
  [["ru"], ["run"]],
  [["run", "su"], ["submit"]],
  [["run", "s"], ["status", "submit", "sync"]],
  [["metrics", ""], ["add", "list", "report", "show"]],
  [["--no-color", "run", "su"], ["submit"]],
  [["compare-scores", "--reg"], ["--registry"]],
  [["clearml", "compare-scores", "--sort"], ["--sort-by"]],
  [["run", "list", "--no"], ["--no-color"]],
  [["completion", ""], ["bash", "fish", "zsh"]],
  [["completion", "z"], ["zsh"]],
  // An option's value is not a command word: `run` here is a registry file's name.
  [["compare-scores", "--registry", "run", ""], "files"],
  [["run", "submit", "--name", "run", ""], "files"],
  // After --, the words are the user's command: its options are not expflow's.
  [["run", "submit", "--", "python", "--ver"], "files"],
  [["compare-scores", "--registry", ""], "files"],
];

/** Each command of commands.txt, its full name typed: it is among the candidates. */
const EVERY_COMMAND: [string[], string][] = PATHS.map((p) => [p, p.at(-1)!]);

const shQuote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;

async function script(shell: string): Promise<string> {
  const r = await runInProcess(["completion", shell]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const file = join(tempDir("expflow-completion-"), `expflow.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** The candidates a shell offers for each list of words, through `driver` (one line of words in, one line out per case). */
function drive(shell: string, args: string[], input: string[], cwd: string): string[] {
  const r = spawnSync(shell, args, { input: input.map((l) => `${l}\n`).join(""), cwd, encoding: "utf8", env: { ...process.env, HOME: cwd }, timeout: 60_000 });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout.split("\n").slice(0, input.length);
}

/** A directory with one file, so that "the shell's own completion" shows as that file in fish. */
function cwdWithFile(): string {
  const dir = tempDir("expflow-completion-cwd-");
  writeFileSync(join(dir, "data.jsonl"), "");
  return dir;
}

function sorted(words: string[]): string[] {
  return [...new Set(words)].sort();
}

describe("expflow completion", () => {
  it("prints a script for bash, zsh and fish, and refuses any other shell (exit 2)", async () => {
    for (const [shell, marker] of [
      ["bash", "complete -o default -F _expflow_completion expflow"],
      ["zsh", "#compdef expflow"],
      ["fish", "complete -c expflow"],
    ] as const) {
      const r = await runInProcess(["completion", shell]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(marker);
    }
    const bad = await runInProcess(["completion", "tcsh"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are bash, zsh, fish/);
  });

  it("the built binary prints it too, with its version", async () => {
    const r = await runCliAsync(["completion", "bash"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# bash completion for expflow \d+\.\d+\.\d+/);
  });

  it("follows the program's definitions: an option's fixed values, a positional argument's, and only plain words", () => {
    const program = new Command("expflow");
    program.command("mode").addOption(new Option("--speed <s>", "how fast").choices(["fast", "slow"])).option("--dry-run", "do nothing");
    const tree = completionTree(program);
    expect(tree.subcommands.map((c) => c.path)).toEqual([["mode"]]);
    const mode = tree.subcommands[0]!;
    expect(mode.options.find((o) => o.words.includes("--speed"))).toMatchObject({ takesValue: true, choices: ["fast", "slow"] });
    expect(mode.options.find((o) => o.words.includes("--dry-run"))).toMatchObject({ takesValue: false, choices: undefined });
    expect(bashCompletion(tree, "1")).toContain("'mode|--speed') echo 'fast slow' ;;");
    expect(zshCompletion(tree, "1")).toContain("'mode|--speed') reply=('fast' 'slow') ;;");
    expect(fishCompletion(tree, "1")).toContain("-l speed -x -a 'fast slow' -d 'how fast'");

    const hostile = new Command("expflow");
    hostile.command("ok").addOption(new Option("--x <v>").choices(["a;rm -rf ~"]));
    expect(() => completionTree(hostile)).toThrow(/not a plain word/);
  });
});

describe.skipIf(!HAS_BASH)(skipped("the bash script, sourced in bash", HAS_BASH, "bash"), () => {
  // Sourced, then driven as bash drives it: the function `complete -p expflow` names, with
  // COMP_WORDS and COMP_CWORD set for the words typed; COMPREPLY is what bash offers.
  const DRIVER = `source "$1"
fn=$(complete -p expflow | sed -E 's/.* -F ([^ ]+) .*/\\1/')
while IFS= read -r line; do
  eval "COMP_WORDS=(expflow $line)"
  COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
  COMP_LINE="\${COMP_WORDS[*]}"
  COMP_POINT=\${#COMP_LINE}
  COMPREPLY=()
  "$fn" expflow "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\\n' "\${COMPREPLY[*]}"
done`;

  async function bash(cases: string[][]): Promise<string[][]> {
    const file = await script("bash");
    const out = drive("bash", ["--norc", "--noprofile", "-c", DRIVER, "driver", file], cases.map((words) => words.map(shQuote).join(" ")), cwdWithFile());
    return out.map((l) => (l === "" ? [] : l.split(" ")));
  }

  it("is registered with complete -F, and completes `expflow ru` to run and `expflow run su` to submit", async () => {
    const file = await script("bash");
    const p = spawnSync("bash", ["--norc", "--noprofile", "-c", `source "$1" && complete -p expflow`, "x", file], { encoding: "utf8" });
    expect(p.stdout.trim()).toBe("complete -o default -F _expflow_completion expflow");
    expect(await bash([["ru"], ["run", "su"]])).toEqual([["run"], ["submit"]]);
  });

  it("completes subcommands, options and fixed values; option values and the words after -- are left to bash (files)", async () => {
    const out = await bash(CASES.map(([w]) => w));
    CASES.forEach(([words, expected], i) => expect(sorted(out[i]!), words.join(" ")).toEqual(expected === "files" ? [] : expected));
  });

  it("completes every command of the program", async () => {
    const out = await bash(EVERY_COMMAND.map(([w]) => w));
    EVERY_COMMAND.forEach(([words, last], i) => expect(out[i], words.join(" ")).toContain(last));
  });
});

describe.skipIf(!HAS_ZSH)(skipped("the zsh script, in zsh", HAS_ZSH, "zsh"), () => {
  // zsh -n parses it; then it is sourced with zsh's completion functions replaced by ones that
  // print what they were given (_describe's items, compadd's words, _files), and _expflow is
  // called with `words` and CURRENT as zsh's completion system sets them.
  const DRIVER = `compdef() { [[ $1 == _expflow && $2 == expflow ]] || print -u2 "compdef $*"; }
source "$1"
_describe() { local -a items; items=("\${(@P)4}"); items=("\${(@)items%%:*}"); print -r -- "\${(j: :)items}"; }
compadd() { if [[ $1 == -a ]]; then print -r -- "\${(j: :)\${(@P)2}}"; else print -r -- "$*"; fi; }
_files() { print -r -- "<files>"; }
while IFS= read -r line; do
  words=(expflow "\${(@Q)\${(z)line}}")
  CURRENT=$#words
  _expflow
done`;

  async function zsh(cases: string[][]): Promise<Expected[]> {
    const file = await script("zsh");
    const out = drive("zsh", ["-f", "-c", DRIVER, "driver", file], cases.map((words) => words.map(shQuote).join(" ")), cwdWithFile());
    // Candidates that match what is typed, as zsh's own matching would keep them.
    return out.map((l, i) => (l === "<files>" ? "files" : sorted(l.split(" ").filter((w) => w.startsWith(cases[i]!.at(-1)!)))));
  }

  it("parses (zsh -n)", async () => {
    const r = spawnSync("zsh", ["-n", await script("zsh")], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("completes subcommands, options and fixed values; option values and the words after -- are files", async () => {
    const out = await zsh(CASES.map(([w]) => w));
    CASES.forEach(([words, expected], i) => expect(out[i], words.join(" ")).toEqual(expected));
  });

  it("completes every command of the program", async () => {
    const out = await zsh(EVERY_COMMAND.map(([w]) => w));
    EVERY_COMMAND.forEach(([words, last], i) => expect(out[i], words.join(" ")).toContain(last));
  });
});

describe.skipIf(!HAS_FISH)(skipped("the fish script, in fish", HAS_FISH, "fish"), () => {
  // fish -n parses it; then fish itself completes each command line (complete -C), in a
  // directory holding one file, data.jsonl, which shows where fish offers files.
  const DRIVER = `source $argv[1]
while read -l line
    set -l candidates (complete -C "expflow $line" | string split -f1 \\t)
    echo "$candidates"
end`;

  async function fish(cases: string[][]): Promise<Expected[]> {
    const file = await script("fish");
    const out = drive("fish", ["--no-config", "-c", DRIVER, file], cases.map((words) => words.join(" ")), cwdWithFile());
    // Nothing but the directory's file (or nothing, when it does not match what is typed): files.
    return out.map((l) => (l.split(" ").every((w) => w === "" || w === "data.jsonl") ? "files" : sorted(l.split(" "))));
  }

  it("parses (fish -n)", async () => {
    const r = spawnSync("fish", ["--no-config", "-n", await script("fish")], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("completes subcommands, options and fixed values; option values and the words after -- are files", async () => {
    const out = await fish(CASES.map(([w]) => w));
    CASES.forEach(([words, expected], i) => expect(out[i], words.join(" ")).toEqual(expected));
  });

  it("completes every command of the program", async () => {
    const out = await fish(EVERY_COMMAND.map(([w]) => w));
    EVERY_COMMAND.forEach(([words, last], i) => expect(out[i], words.join(" ")).toContain(last));
  });
});

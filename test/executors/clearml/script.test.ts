import { chmodSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ExpflowError } from "../../../src/core/errors.js";
import type { DescribeScriptInput, GitRunner } from "../../../src/executors/clearml/script.js";
import { DEFAULT_MAX_DIFF_BYTES, describeScript, quoteForAgent, spawnGit, stripCredentials } from "../../../src/executors/clearml/script.js";
import { agentCheckout, git, gitEnv, HAS_PYTHON, PRINT_ARGS, pushedRepo, removeTemporary, runAsAgent, temporary, write } from "./helpers.js";

afterAll(removeTemporary);

function describe_(input: Partial<DescribeScriptInput> & { cwd: string; argv: readonly string[] }): ReturnType<typeof describeScript> {
  return describeScript({ shell: false, noRepo: false, env: gitEnv(), ...input });
}

async function failure(p: Promise<unknown>): Promise<ExpflowError> {
  try {
    await p;
  } catch (e) {
    return e as ExpflowError;
  }
  throw new Error("expected a failure");
}

const head = (dir: string): string => git(dir, "rev-parse", "HEAD").trim();

describe("the repository", () => {
  it("a clean repository, run at its root: remote, branch, commit, working_dir '.', no diff", async () => {
    const { remote, work } = pushedRepo({ "train.py": PRINT_ARGS });
    const { script, display, notes } = await describe_({ cwd: work, argv: ["python3", "train.py"] });
    expect(script).toEqual({ repository: remote, branch: "main", version_num: head(work), entry_point: "train.py", working_dir: ".", binary: "python3" });
    expect(display).toBe("python3 train.py");
    expect(notes).toEqual([`remote 'origin' is a local path (${remote}): only an agent that sees the same path can clone it`]);
  });

  it("run in a subdirectory: working_dir is relative to the root, the script relative to working_dir", async () => {
    const { work } = pushedRepo({ "src/models/train.py": PRINT_ARGS, "tools/prep.py": PRINT_ARGS });
    const cwd = join(work, "src", "models");
    expect((await describe_({ cwd, argv: ["python3", "train.py"] })).script).toMatchObject({ working_dir: "src/models", entry_point: "train.py", binary: "python3" });
    expect((await describe_({ cwd, argv: ["python", "../../tools/prep.py"] })).script).toMatchObject({ working_dir: "src/models", entry_point: "../../tools/prep.py", binary: "python" });
    expect((await describe_({ cwd, argv: ["python3.11", join(work, "tools", "prep.py")] })).script).toMatchObject({ entry_point: "../../tools/prep.py", binary: "python3.11" });
  });

  it("uncommitted changes go as a diff that applies with the agent's git apply on a fresh clone at version_num", async () => {
    const { work } = pushedRepo({
      "train.py": PRINT_ARGS,
      "data/notes.txt": "one\ntwo\nthree\n",
      "gone.txt": "bye\n",
      "model.bin": Buffer.from([0, 1, 2, 3, 255, 254, 0, 10]),
      "run.sh": "#!/bin/sh\necho run\n",
      "sp ace é.txt": "unicode name\n",
      ".gitattributes": "*.txt diff=shout\n",
    });
    // Settings that would make `git diff` write something git apply refuses.
    git(work, "config", "color.ui", "always");
    git(work, "config", "diff.noprefix", "true");
    git(work, "config", "diff.mnemonicPrefix", "true");
    git(work, "config", "diff.external", "/bin/false");
    git(work, "config", "diff.shout.textconv", "tr a-z A-Z");
    write(work, {
      "data/notes.txt": "one\n2\nthree\nfour\n",
      "model.bin": Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
      "sp ace é.txt": "unicode name, changed: ünïcödé ✓\n",
      "new/staged.py": "print('staged')\n",
    });
    unlinkSync(join(work, "gone.txt"));
    chmodSync(join(work, "run.sh"), 0o755);
    git(work, "add", "new/staged.py");

    const { script, notes } = await describe_({ cwd: work, argv: ["python3", "train.py"] });
    expect(script.diff).toBeDefined();
    expect(script.diff!.startsWith("diff --git a/")).toBe(true);
    expect(notes).toContain(`uncommitted changes to 6 files go with the task as a diff against ${head(work).slice(0, 12)}, which the agent applies after checking the commit out`);

    const checkout = agentCheckout(script);
    for (const path of ["data/notes.txt", "model.bin", "sp ace é.txt", "new/staged.py", "train.py"]) {
      expect(readFileSync(join(checkout, path)), path).toEqual(readFileSync(join(work, path)));
    }
    expect(() => statSync(join(checkout, "gone.txt"))).toThrow();
    expect(statSync(join(checkout, "run.sh")).mode & 0o111).not.toBe(0);
  });

  it("untracked files are left out, with a note saying how many", async () => {
    const { work } = pushedRepo({ "train.py": PRINT_ARGS, ".gitignore": "*.log\n" });
    write(work, { "a.txt": "a\n", "more/b.txt": "b\n", "ignored.log": "x\n" });
    const { script, notes } = await describe_({ cwd: work, argv: ["python3", "train.py"] });
    expect(script.diff).toBeUndefined();
    expect(notes).toContain("2 untracked files are left out (the diff carries changes to tracked files only): git add them to send them");
    write(work, { "more/b.txt": "b\n" });
    unlinkSync(join(work, "a.txt"));
    expect((await describe_({ cwd: work, argv: ["python3", "train.py"] })).notes).toContain("1 untracked file is left out (the diff carries changes to tracked files only): git add it to send it");
  });

  it("outside a repository, or in one with no remote: a usage error (exit 2) that names noRepo", async () => {
    const outside = temporary();
    const e1 = await failure(describe_({ cwd: outside, argv: ["python3", "train.py"] }));
    expect(e1).toMatchObject({ code: "E_NO_REPOSITORY", exitCode: 2 });
    expect(e1.hint).toContain("noRepo");

    const lonely = temporary();
    git(lonely, "init", "-q", "-b", "main");
    git(lonely, "config", "user.name", "T");
    git(lonely, "config", "user.email", "t@example.com");
    write(lonely, { "x.txt": "x\n" });
    git(lonely, "add", "-A");
    git(lonely, "commit", "-q", "-m", "x");
    const e2 = await failure(describe_({ cwd: lonely, argv: ["echo", "hi"] }));
    expect(e2).toMatchObject({ code: "E_NO_REMOTE", exitCode: 2 });
    expect(e2.hint).toContain("noRepo");
  });

  it("a repository without a commit yet", async () => {
    const dir = temporary();
    git(dir, "init", "-q", "-b", "main");
    git(dir, "remote", "add", "origin", "https://example.com/o/r.git");
    expect(await failure(describe_({ cwd: dir, argv: ["echo"] }))).toMatchObject({ code: "E_NO_COMMIT", exitCode: 2 });
  });

  it("detached HEAD: no branch, the commit still sent", async () => {
    const { work } = pushedRepo({ "train.py": PRINT_ARGS });
    git(work, "checkout", "-q", "--detach");
    const { script, notes } = await describe_({ cwd: work, argv: ["python3", "train.py"] });
    expect(script.branch).toBeUndefined();
    expect(script.version_num).toBe(head(work));
    expect(notes.some((n) => n.includes("on no branch of remote"))).toBe(false);
  });

  it("a commit that is not on the remote: a note that says the agent cannot check it out", async () => {
    const { work } = pushedRepo({ "train.py": PRINT_ARGS });
    write(work, { "later.txt": "later\n" });
    git(work, "add", "-A");
    git(work, "commit", "-q", "-m", "not pushed");
    const { script, notes } = await describe_({ cwd: work, argv: ["python3", "train.py"] });
    expect(script.version_num).toBe(head(work));
    expect(notes).toContain(
      `commit ${head(work).slice(0, 12)} is on no branch of remote 'origin' (as of the last fetch); 'main' is 1 commit ahead of 'origin/main': clearml-agent clones ${script.repository} and cannot check out a commit the remote does not have, so the task will fail unless it is pushed first (git push)`,
    );
  });

  it("an https remote with credentials: they are stripped and appear nowhere in the result", async () => {
    const { work } = pushedRepo();
    git(work, "remote", "set-url", "origin", "https://someone:s3cr3t-t0ken@git.example.com:8443/team/repo.git");
    const result = await describe_({ cwd: work, argv: ["echo", "hi"] });
    expect(result.script.repository).toBe("https://git.example.com:8443/team/repo.git");
    expect(result.notes).toContain("the URL of remote 'origin' carries credentials: they are left out of the task, and the agent clones with its own git credentials");
    expect(JSON.stringify(result)).not.toMatch(/s3cr3t|someone/);
  });

  it("credentials in URLs: https loses user and password, ssh its password only, scp-like ssh stays as it is", () => {
    expect(stripCredentials("https://ghp_token@github.com/o/r.git")).toEqual({ url: "https://github.com/o/r.git", stripped: true });
    expect(stripCredentials("http://u:p@host/r")).toEqual({ url: "http://host/r", stripped: true });
    expect(stripCredentials("https://u:p@ss@host/r")).toEqual({ url: "https://host/r", stripped: true });
    expect(stripCredentials("ssh://git:pw@host:22/o/r.git")).toEqual({ url: "ssh://git@host:22/o/r.git", stripped: true });
    expect(stripCredentials("ssh://git@host/o/r.git")).toEqual({ url: "ssh://git@host/o/r.git", stripped: false });
    expect(stripCredentials("git@github.com:o/r.git")).toEqual({ url: "git@github.com:o/r.git", stripped: false });
    expect(stripCredentials("https://github.com/o/r.git")).toEqual({ url: "https://github.com/o/r.git", stripped: false });
  });

  it("the remote: the branch's upstream remote first, then origin; several others and none chosen is an error", async () => {
    const { work } = pushedRepo();
    git(work, "remote", "add", "fork", "git@example.com:me/fork.git");
    expect((await describe_({ cwd: work, argv: ["echo"] })).script.repository).not.toBe("git@example.com:me/fork.git");
    git(work, "config", "branch.main.remote", "fork");
    git(work, "config", "branch.main.merge", "refs/heads/feature");
    const viaUpstream = await describe_({ cwd: work, argv: ["echo"] });
    expect(viaUpstream.script).toMatchObject({ repository: "git@example.com:me/fork.git", branch: "feature" });
    git(work, "config", "--unset", "branch.main.remote");
    git(work, "remote", "rename", "origin", "upstream");
    expect(await failure(describe_({ cwd: work, argv: ["echo"] }))).toMatchObject({ code: "E_AMBIGUOUS_REMOTE", exitCode: 2 });
  });

  it("a diff larger than the limit is refused with its size, not cut", async () => {
    const { work } = pushedRepo({ "big.txt": "small\n" });
    write(work, { "big.txt": `${"x".repeat(99)}\n`.repeat(6000) });
    const e = await failure(describe_({ cwd: work, argv: ["echo"] }));
    expect(e).toMatchObject({ code: "E_DIFF_TOO_LARGE", exitCode: 2 });
    expect(e.message).toMatch(/a diff of 6\d\d,\d\d\d bytes, more than the 500,000 a task carries/);
    expect(DEFAULT_MAX_DIFF_BYTES).toBe(500_000);
    expect(await failure(describe_({ cwd: work, argv: ["echo"], maxDiffBytes: 1000 }))).toMatchObject({ code: "E_DIFF_TOO_LARGE" });
  });

  it("changes to text that is not UTF-8 are refused, naming the file", async () => {
    const { work } = pushedRepo({ "latin1.txt": "plain\n" });
    write(work, { "latin1.txt": Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]) });
    const e = await failure(describe_({ cwd: work, argv: ["echo"] }));
    expect(e).toMatchObject({ code: "E_DIFF_NOT_UTF8", exitCode: 2 });
    expect(e.message).toContain("a/latin1.txt");
  });

  it("requirements.txt: the one between the root and the working directory is sent, bounded", async () => {
    const { work } = pushedRepo({ "requirements.txt": "numpy==2.1\ntorch>=2\n", "src/train.py": PRINT_ARGS });
    expect((await describe_({ cwd: join(work, "src"), argv: ["python3", "train.py"] })).script.requirements).toEqual({ pip: "numpy==2.1\ntorch>=2\n" });

    write(work, { "src/requirements.txt": "pandas\n" });
    const both = await describe_({ cwd: join(work, "src"), argv: ["python3", "train.py"] });
    expect(both.script.requirements).toBeUndefined();
    expect(both.notes).toContain(
      "requirements.txt, src/requirements.txt: clearml-agent installs each of them from its checkout of the repository, so none is sent with the task (an uncommitted or untracked one must be committed for the agent to have it)",
    );

    unlinkSync(join(work, "requirements.txt"));
    write(work, { "src/requirements.txt": "-r base.txt\n" });
    const relative = await describe_({ cwd: join(work, "src"), argv: ["python3", "train.py"] });
    expect(relative.script.requirements).toBeUndefined();
    expect(relative.notes).toContain("src/requirements.txt names files relative to itself: clearml-agent installs it from its checkout of the repository, so it is not sent with the task");

    write(work, { "src/requirements.txt": "x".repeat(2000) });
    expect(await failure(describe_({ cwd: join(work, "src"), argv: ["python3", "train.py"], maxRequirementsBytes: 1000 }))).toMatchObject({ code: "E_REQUIREMENTS_TOO_LARGE", exitCode: 2 });
  });

  it("git missing is a usage error (exit 2) that names noRepo; a git call that hangs is exit 4", async () => {
    const { work } = pushedRepo();
    const missing = await failure(describe_({ cwd: work, argv: ["echo"], env: { PATH: "/nonexistent" } }));
    expect(missing).toMatchObject({ code: "E_GIT_MISSING", exitCode: 2 });
    expect(missing.hint).toContain("noRepo");

    const hangs: GitRunner = () => Promise.resolve({ code: null, stdout: Buffer.alloc(0), stdoutBytes: 0, stderr: "", timedOut: true });
    expect(await failure(describe_({ cwd: work, argv: ["echo"], git: hangs, gitTimeoutMs: 1500 }))).toMatchObject({ code: "E_GIT_TIMEOUT", exitCode: 4, message: expect.stringContaining("within 2 s") as string });
  });

  it("git runs without a shell, prompt or pager, in the C locale, its output bounded", async () => {
    const dir = temporary();
    const env = await spawnGit(["-c", "alias.showenv=!env", "showenv"], { cwd: dir, maxStdoutBytes: 1 << 20, timeoutMs: 10_000, env: { ...gitEnv(), LC_ALL: "fr_FR.UTF-8", GIT_PAGER: "less" } });
    const vars = env.stdout.toString("utf8");
    for (const v of ["GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_PAGER=cat", "PAGER=cat"]) expect(vars.split("\n")).toContain(v);
    const cut = await spawnGit(["-c", "alias.showenv=!env", "showenv"], { cwd: dir, maxStdoutBytes: 10, timeoutMs: 10_000, env: gitEnv() });
    expect(cut.stdout.length).toBe(10);
    expect(cut.stdoutBytes).toBeGreaterThan(10);
  });
});

describe("noRepo", () => {
  it("sends nothing of git, says what the agent will run where, and takes requirements.txt from the directory", async () => {
    const dir = temporary();
    write(dir, { "requirements.txt": "requests\n" });
    const { script, notes } = await describe_({ cwd: dir, argv: ["python3", "-m", "http.server", "8000"], noRepo: true });
    expect(script).toEqual({ entry_point: "-m http.server 8000", working_dir: ".", binary: "python3", requirements: { pip: "requests\n" } });
    expect(notes).toContain(
      `nothing of ${dir} is sent (noRepo): clearml-agent runs python3 -u -m http.server 8000 in a fresh, empty working directory, so the command must find everything it needs on the agent's machine (its PATH, its image, the requirements)`,
    );
    const shell = await describe_({ cwd: dir, argv: ["nvidia-smi", "-L"], noRepo: true });
    expect(shell.script).toMatchObject({ binary: "/bin/bash", entry_point: "-c nvidia-smi -L" });
    expect(shell.notes.at(-1)).toContain("clearml-agent runs $SHELL -c 'nvidia-smi -L' in a fresh, empty working directory");
  });

  it("works outside any repository, and refuses a script of this machine that would not be there", async () => {
    const dir = temporary();
    write(dir, { "train.py": PRINT_ARGS });
    expect(await failure(describe_({ cwd: dir, argv: ["python3", "train.py"], noRepo: true }))).toMatchObject({ code: "E_SCRIPT_NOT_SENT", exitCode: 2 });
    expect((await describe_({ cwd: dir, argv: ["python3", "/opt/code/train.py"], noRepo: true })).script).toEqual({ binary: "python3", entry_point: "/opt/code/train.py", working_dir: "." });
  });
});

describe.skipIf(!HAS_PYTHON)("the command, run as clearml-agent runs it", () => {
  it("a Python script without arguments: binary python, the path as the entry point", async () => {
    const { work } = pushedRepo({ "train.py": PRINT_ARGS, "sub/dir/t.py": PRINT_ARGS });
    const bare = await describe_({ cwd: work, argv: ["./train.py"] });
    expect(bare.script).toMatchObject({ binary: "python3", entry_point: "train.py" });
    const { script } = await describe_({ cwd: join(work, "sub"), argv: ["python3", "dir/t.py"] });
    expect(script).toMatchObject({ binary: "python3", entry_point: "dir/t.py", working_dir: "sub" });
    const [run] = runAsAgent([{ ...script, cwd: join(agentCheckout(script), script.working_dir) }]);
    expect(run!.argv.slice(1)).toEqual(["-u", "dir/t.py"]);
    expect(JSON.parse(run!.stdout)).toEqual([]);
  });

  it("a Python script with arguments in the working directory runs as -m, its arguments intact", async () => {
    const { work } = pushedRepo({ "train.py": PRINT_ARGS });
    const args = ["--lr", "0.1", "--name", "a b", "--expr", "$HOME; it's \"x\"", "--path", "a//b/../c/", "--multi", "line1\nline2\ttab"];
    const { script, notes } = await describe_({ cwd: work, argv: ["python3", "train.py", ...args] });
    expect(script.binary).toBe("python3");
    expect(script.entry_point.startsWith("-m train --lr 0.1 --name 'a b'")).toBe(true);
    expect(notes.some((n) => n.includes("runs as the module train (python -m train ...)"))).toBe(true);
    const [run] = runAsAgent([{ ...script, cwd: join(agentCheckout(script), script.working_dir) }], { env: { HOME: "/expanded-home" } });
    expect(run!.stderr).toBe("");
    expect(JSON.parse(run!.stdout)).toEqual(args);
  });

  it("a Python script with arguments elsewhere, or named like a module Python has loaded, runs through the shell", async () => {
    const { work } = pushedRepo({ "tools/prep.py": PRINT_ARGS, "random.py": PRINT_ARGS });
    const sub = await describe_({ cwd: work, argv: ["python3", "tools/prep.py", "--n", "2"] });
    expect(sub.script).toMatchObject({ binary: "/bin/bash", entry_point: "-c python3 tools/prep.py --n 2" });
    expect(sub.notes.some((n) => n.startsWith("this Python command runs through the agent's shell"))).toBe(true);
    const shadowed = await describe_({ cwd: work, argv: ["python3", "random.py", "--n", "2"] });
    expect(shadowed.script).toMatchObject({ binary: "/bin/bash", entry_point: "-c python3 random.py --n 2" });
    const runs = runAsAgent([sub.script, shadowed.script].map((s) => ({ ...s, cwd: join(agentCheckout(s), s.working_dir) })));
    expect(runs.map((r) => JSON.parse(r.stdout) as unknown)).toEqual([
      ["--n", "2"],
      ["--n", "2"],
    ]);
  });

  it("python -m pkg args: the entry point is -m pkg args, which the agent splits", async () => {
    const { work } = pushedRepo({ "pkg/__init__.py": "", "pkg/cli.py": PRINT_ARGS });
    const args = ["--out", "/tmp/x y", "${HOME}", "''", "", "ünï 🎉"];
    const { script } = await describe_({ cwd: work, argv: ["python3.11", "-m", "pkg.cli", ...args] });
    expect(script.binary).toBe("python3.11");
    expect(script.entry_point.startsWith("-m pkg.cli --out ")).toBe(true);
    const [run] = runAsAgent([{ ...script, cwd: join(agentCheckout(script), script.working_dir) }], { env: { HOME: "/expanded-home" } });
    expect(JSON.parse(run!.stdout)).toEqual(args);
  });

  const HOSTILE = [
    "a b",
    "a  b",
    "   ",
    " lead",
    "trail ",
    "it's",
    "''",
    "'",
    '"dq"',
    "$HOME",
    "${HOME}",
    "$(id)",
    "`id`",
    "a$",
    "$",
    "${",
    "}",
    "a;b",
    ";",
    "&&",
    "|",
    "*",
    "?",
    "[a]",
    "{a,b}",
    "~",
    "~/x",
    "=x",
    "^x",
    "%1",
    "!",
    "#c",
    "\\",
    "\\n",
    "<in",
    ">out",
    "héllo",
    "日本語",
    "🎉",
    "\u001b[31mred",
    "",
    "-c",
    "--lr",
    "http://x//a/../b/./c/",
    "a/./b",
    "x/",
    "//",
    "/",
    "..",
    ".",
    "/..",
    "./x",
  ];

  it.each(["/bin/bash", "/bin/dash"])("shell commands with hostile arguments reach the program exactly (agent's SHELL=%s)", async (shell) => {
    const dir = temporary();
    write(dir, { "print_args.py": PRINT_ARGS });
    const program = join(dir, "print_args.py");
    // Through the agent's shell: python3 is not argv[0]'s python route here since the script has arguments and is absolute.
    const { script } = await describe_({ cwd: dir, argv: ["python3", program, ...HOSTILE], noRepo: true });
    expect(script.binary).toBe("/bin/bash");
    const ordinary = await describe_({ cwd: dir, argv: ["printf", "%s\\0", ...HOSTILE], noRepo: true });
    const [viaPython, viaPrintf] = runAsAgent([{ ...script, cwd: temporary() }, { ...ordinary.script, cwd: temporary() }], { shell, env: { HOME: "/expanded-home" } });
    expect(viaPython!.stderr).toBe("");
    expect(JSON.parse(viaPython!.stdout)).toEqual(HOSTILE);
    expect(viaPrintf!.stdout.split("\0").slice(0, -1)).toEqual(HOSTILE);
  });

  it("what the agent would collapse in a shell command is refused: tabs, newlines, other whitespace", async () => {
    const dir = temporary();
    for (const word of ["a\tb", "a\nb", "a\rb", "no\u00a0break", "ideographic\u3000space"]) {
      const e = await failure(describe_({ cwd: dir, argv: ["echo", word], noRepo: true }));
      expect(e, JSON.stringify(word)).toMatchObject({ code: "E_COMMAND_NOT_PORTABLE", exitCode: 2 });
    }
    expect(await failure(describe_({ cwd: dir, argv: ["echo", "a\0b"], noRepo: true }))).toMatchObject({ code: "E_COMMAND_NOT_PORTABLE" });
  });

  it("with shell, the line is sent as given, refused where the agent would change it, noted where it expands $NAME", async () => {
    const dir = temporary();
    const ok = await describe_({ cwd: dir, argv: ["echo", "$HOME", "&&", "ls", "|", "wc", "-l"], shell: true, noRepo: true });
    expect(ok.script.entry_point).toBe("-c echo $HOME && ls | wc -l");
    expect(ok.display).toBe("echo $HOME && ls | wc -l");
    expect(ok.notes[0]).toMatch(/^clearml-agent replaces \$NAME and \$\{NAME\} in the command with its own environment's values/);
    const spaces = await failure(describe_({ cwd: dir, argv: ["echo", "'a  b'"], shell: true, noRepo: true }));
    expect(spaces).toMatchObject({ code: "E_COMMAND_NOT_PORTABLE", exitCode: 2 });
    expect(spaces.message).toContain(`would run "echo 'a b'" instead of "echo 'a  b'"`);
    const url = await failure(describe_({ cwd: dir, argv: ["curl", "http://example.com/a/../b"], shell: true, noRepo: true }));
    expect(url.message).toContain(`would run "curl http:/example.com/b"`);
  });

  /** What Python's str.split() takes for whitespace, but the space (python3 -c "print([c for c in map(chr, range(0x110000)) if c.isspace()])"). */
  const NOT_A_SPACE = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

  it("property: any argv without NUL or non-space whitespace comes through the agent's shell exactly", async () => {
    const fc = await import("fast-check");
    const special = fc.constantFrom(..."'\"$`\\/. ;&|*?[]{}()<>~#!=^%,:@-_\u001b\u00e9\u65e5\u{1f389}");
    const char = fc.oneof(special, fc.string({ unit: "binary", minLength: 1, maxLength: 1 }));
    const word = fc.string({ unit: char, maxLength: 12 }).filter((w) => ![...w].some((c) => c === "\0" || NOT_A_SPACE.includes(c)));
    const samples = fc.sample(fc.array(word, { minLength: 1, maxLength: 6 }), { numRuns: 300, seed: 20260126 });
    const dir = temporary();
    const lines = samples.map((args) => quoteForAgent(["printf", "%s\\0", ...args]));
    const runs = runAsAgent(
      lines.map((line) => ({ binary: "/bin/bash", entry_point: `-c ${line}`, cwd: dir })),
      { env: { HOME: "/expanded-home", PATH_SHOULD_NOT: "expand" } },
    );
    runs.forEach((run, i) => expect(run.stdout.split("\0").slice(0, -1), lines[i]).toEqual(samples[i]));
  });

  it("property: a -m entry point carries any argv without NUL, tabs and newlines included", async () => {
    const fc = await import("fast-check");
    const char = fc.oneof(fc.constantFrom(..."'\"$\\/. \t\n\r{}~#"), fc.string({ unit: "binary", minLength: 1, maxLength: 1 }));
    const samples = fc.sample(fc.array(fc.string({ unit: char, maxLength: 10 }).filter((w) => !w.includes("\0")), { maxLength: 6 }), { numRuns: 80, seed: 7 });
    const dir = temporary();
    writeFileSync(join(dir, "print_args.py"), PRINT_ARGS);
    const scripts = await Promise.all(samples.map((args) => describe_({ cwd: dir, argv: ["python3", "-m", "print_args", ...args], noRepo: true })));
    const runs = runAsAgent(scripts.map(({ script }) => ({ ...script, cwd: dir })), { env: { HOME: "/expanded-home" } });
    runs.forEach((run, i) => expect(JSON.parse(run.stdout), scripts[i]!.script.entry_point).toEqual(samples[i]));
  });
});

describe("scripts git does not have", () => {
  it("an untracked script is refused (the agent would not have it); a staged one goes in the diff", async () => {
    const { work } = pushedRepo();
    write(work, { "train.py": PRINT_ARGS });
    expect(await failure(describe_({ cwd: work, argv: ["python3", "train.py"] }))).toMatchObject({ code: "E_SCRIPT_UNTRACKED", exitCode: 2 });
    git(work, "add", "train.py");
    const { script } = await describe_({ cwd: work, argv: ["python3", "train.py"] });
    expect(script.diff).toContain("b/train.py");
  });

  it("python x.py without x.py is an error; a bare x.py that is no file here is a program", async () => {
    const { work } = pushedRepo();
    expect(await failure(describe_({ cwd: work, argv: ["python3", "nope.py"] }))).toMatchObject({ code: "E_SCRIPT_NOT_FOUND", exitCode: 2 });
    expect((await describe_({ cwd: work, argv: ["tool.py", "x"] })).script).toMatchObject({ binary: "/bin/bash", entry_point: "-c tool.py x" });
  });
});

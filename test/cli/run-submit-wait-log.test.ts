import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../src/cli/main.js";
import { LocalRunner } from "../../src/runner/local-runner.js";
import { dropKeptLocks } from "../../src/util/lock.js";
import { CLI, tempDir } from "../helpers/cli.js";
import { latest, script, spawnCli, waitFor } from "../helpers/runs.js";
import { hasTmux, startInTmux } from "../helpers/tmux.js";

afterEach(() => {
  vi.restoreAllMocks();
  dropKeptLocks();
});

/** A run script that prints `first` (and `extra`), waits until the file `go` exists, then prints `second`. */
function gatedScript(dir: string, go: string, extra = ""): string {
  return script(
    dir,
    "gated.cjs",
    `const fs = require("fs");
process.stdout.write("first\\n" + ${JSON.stringify(extra)});
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); console.log("second"); } }, 20);`,
  );
}

describe("expflow run submit --wait streams the run's output", () => {
  it("to standard error as it is written, between the line saying it runs and the verdict; into a pipe byte for byte", async () => {
    const home = tempDir("expflow-wait-log-");
    const go = join(home, "go");
    const s = gatedScript(home, go, "\u001b[31mred\u001b[0m\n");
    const cli = spawnCli(["run", "submit", "--wait", "--", process.execPath, s], { env: { EXPFLOW_HOME: home }, cwd: home });
    try {
      await waitFor(() => cli.output().includes("first\n"), "the run's first line on stderr");
      // Still running (it waits for `go`): the line came as it was written, not at the end.
      const id = cli.output().match(/exp-[0-9a-z]+/)![0];
      expect(latest(join(home, "experiments.jsonl"), id)!["status"]).toBe("running");
      expect(cli.output()).not.toContain("second");
      writeFileSync(go, "");
      const exit = await cli.exited;
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.stdout).toBe(`${id}\n`);
      const err = exit.stderr;
      const at = (t: string): number => err.indexOf(t);
      expect(at(`running ${id}; log: `)).toBe(0);
      expect(at(`running ${id}`)).toBeLessThan(at("expflow: command (no shell)"));
      expect(at("first\n\u001b[31mred\u001b[0m\n")).toBeGreaterThan(at("expflow: command (no shell)"));
      expect(at("second\n")).toBeGreaterThan(at("first\n"));
      // The log to its last line, then the verdict (the lines about the run stay).
      expect(err).toMatch(new RegExp(`expflow: run completed\\n${id} completed; log: \\S+${id}\\.log\\n$`));
      expect(err.match(/second/g)).toHaveLength(1);
      expect(err).toContain(readFileSync(join(home, "logs", `${id}.log`), "utf8"));
    } finally {
      cli.child.kill("SIGKILL");
    }
  });

  it("also when an agent took the run first: its log as the agent's run writes it, until it is finished", async () => {
    const home = tempDir("expflow-wait-agent-");
    const registry = join(home, "experiments.jsonl");
    // The agent wins the race for the claim.
    vi.spyOn(LocalRunner.prototype, "claim").mockResolvedValue(undefined);
    let stderr = "";
    let stdout = "";
    const done = run(["run", "submit", "--wait", "--", "python", "train.py"], {
      stdin: Readable.from([]),
      stdout: { write: (t: string) => ((stdout += t), true) },
      stderr: { write: (t: string) => ((stderr += t), true) },
      env: { ...process.env, EXPFLOW_HOME: home },
      cwd: home,
    });
    const id = await waitFor(() => /exp-[0-9a-z]+/.exec(stdout)?.[0], "the id");
    await waitFor(() => stderr.includes("taken by an agent"), "the waiting line");
    // What the agent does: the run is running, its log grows, then it is completed.
    const snapshot = (status: string): void => appendFileSync(registry, `${JSON.stringify({ ...latest(registry, id), status })}\n`);
    snapshot("running");
    mkdirSync(join(home, "logs"), { recursive: true });
    const log = join(home, "logs", `${id}.log`);
    appendFileSync(log, "epoch 1\n");
    await waitFor(() => stderr.includes("epoch 1\n"), "the agent's run's first line");
    appendFileSync(log, "epoch 2\n");
    snapshot("completed");
    appendFileSync(log, "expflow: run completed\n");
    expect(await done).toBe(0);
    expect(stderr).toBe(`${id} was taken by an agent; waiting for it to finish\nepoch 1\nepoch 2\nexpflow: run completed\n${id} completed; log: ${log}\n`);
    expect(existsSync(log)).toBe(true);
  });

  it("a reader that goes away (2>&1 | head -3) stops the streaming, not the wait: the run still ends recorded, exit 0", () => {
    const home = tempDir("expflow-wait-pipe-");
    const s = script(home, "chatty.cjs", 'let i = 0; const t = setInterval(() => { console.log("line " + ++i); if (i === 8) { clearInterval(t); } }, 50);');
    const r = spawnSync("bash", ["-c", `'${process.execPath}' '${CLI}' run submit --wait -- '${process.execPath}' '${s}' 2>&1 | head -3; echo "status=\${PIPESTATUS[0]}" >&2`], {
      env: { ...process.env, EXPFLOW_HOME: home },
      cwd: home,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).toBe("status=0\n");
    const id = r.stdout.split("\n")[0]!;
    expect(id).toMatch(/^exp-/);
    // The waiter outlived its reader: the run is recorded as it ended, not left running.
    expect(latest(join(home, "experiments.jsonl"), id)).toMatchObject({ status: "completed", exit_code: 0 });
    expect(readFileSync(join(home, "logs", `${id}.log`), "utf8")).toContain("line 8\n");
  });

  it.skipIf(!hasTmux)("on a terminal, the output's escape sequences are shown as escapes, never acted on", async () => {
    const home = tempDir("expflow-wait-tty-");
    const s = script(home, "hostile.cjs", 'process.stdout.write("visible\\n\\u001b[2J\\u001b[Hgone?\\u001b]0;t\\u0007\\n")');
    const t = startInTmux(home, `run submit --wait -- '${process.execPath}' '${s}'`);
    try {
      const screen = await t.waitFor((x) => x.includes("EXIT="), "the run to end");
      expect(screen).toContain("visible\n");
      expect(screen).toContain("\\u001b[2J\\u001b[Hgone?\\u001b]0;t\\u0007\n");
      expect(screen).toMatch(/exp-\S+ completed; log: /);
      expect(screen).toContain("EXIT=0");
    } finally {
      t.close();
    }
  });
});

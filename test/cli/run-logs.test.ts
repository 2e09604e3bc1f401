import { spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, record, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import { latest, script, spawnCli, waitFor } from "../helpers/runs.js";
import { hasTmux, startInTmux } from "../helpers/tmux.js";

/** A home with a registry of `records` and a logs directory. */
function home(records: Record<string, unknown>[] = []): { home: string; registry: string; log: (id: string) => string; env: Record<string, string> } {
  const dir = tempDir("expflow-logs-cli-");
  const registry = writeRegistry(records, dir);
  mkdirSync(join(dir, "logs"), { mode: 0o700 });
  return { home: dir, registry, log: (id) => join(dir, "logs", `${id}.log`), env: { EXPFLOW_HOME: dir } };
}

/** Runs the built CLI and keeps its output as bytes. */
function runBytes(args: string[], env: Record<string, string>): { code: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: "buffer", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
}

/** A run script that prints `first`, waits until the file `go` exists, prints `second` and exits with `code`. */
function gatedScript(dir: string, go: string, code = 0): string {
  return script(
    dir,
    "gated.cjs",
    `const fs = require("fs");
console.log("first");
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) { clearInterval(t); console.log("second"); process.exit(${code}); } }, 20);`,
  );
}

const running = (id: string, extra: Record<string, unknown> = {}) => record(id, {}, { status: "running", method: "local", ...extra });

describe("expflow run logs", () => {
  it("copies the log byte for byte when standard output is not a terminal: escape sequences and bytes that are not UTF-8 kept", () => {
    const h = home([running("exp-bytes1")]);
    const content = Buffer.concat([Buffer.from("epoch 1\n\u001b[31mred\u001b[0m \u001b]0;title\u0007\n"), Buffer.from([0xff, 0xc3, 0x28, 0x0a]), Buffer.from("no final newline")]);
    writeFileSync(h.log("exp-bytes1"), content);
    const r = runBytes(["run", "logs", "exp-bytes1"], h.env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.equals(content)).toBe(true);
  });

  it("--tail N prints the last N lines; an id prefix works", async () => {
    const h = home([running("exp-tail1")]);
    writeFileSync(h.log("exp-tail1"), "one\ntwo\nthree\nfour\n");
    const r = await runInProcess(["run", "logs", "exp-tai", "--tail", "2"], { env: h.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("three\nfour\n");
    const bad = await runInProcess(["run", "logs", "exp-tail1", "--tail", "-1"], { env: h.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected a number of lines/);
  });

  it("an unknown id is exit 2; a run without a log yet says so and exits 0; a ClearML run says where its output is", async () => {
    const h = home([
      record("exp-queued1", {}, { status: "queued", method: "local" }),
      record("exp-cancel1", {}, { status: "cancelled", method: "local" }),
      record("exp-cml1", {}, { status: "running", method: "clearml", clearml_task_id: "4f2c0e11", clearml_web_url: "https://app.example/projects/p/experiments/4f2c0e11/output/log" }),
      record("exp-cml2", {}, { status: "running", method: "clearml", clearml_task_id: "4f2c0e12" }),
    ]);
    const unknown = await runInProcess(["run", "logs", "exp-nope"], { env: h.env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no experiment 'exp-nope'/);
    const queued = await runInProcess(["run", "logs", "exp-queued1"], { env: h.env });
    expect(queued).toMatchObject({ code: 0, stdout: "" });
    expect(queued.stderr).toMatch(/^no log yet for exp-queued1: it is queued; the agent writes .*exp-queued1\.log once it starts the run \(-f waits for it\)\n$/);
    const cancelled = await runInProcess(["run", "logs", "exp-cancel1"], { env: h.env });
    expect(cancelled.code).toBe(0);
    expect(cancelled.stderr).toMatch(/exp-cancel1 has no log: it is cancelled/);
    const cml = await runInProcess(["run", "logs", "exp-cml1"], { env: h.env });
    expect(cml).toMatchObject({ code: 0, stdout: "" });
    expect(cml.stderr).toBe("exp-cml1 runs on ClearML (task 4f2c0e11), so its output is not here: it is in the task's console on the ClearML server: https://app.example/projects/p/experiments/4f2c0e11/output/log\n");
    const bare = await runInProcess(["run", "logs", "exp-cml2", "-f"], { env: h.env });
    expect(bare.code).toBe(0);
    expect(bare.stderr).toMatch(/task 4f2c0e12.*`expflow run status exp-cml2` shows the task/);
  });

  it("a log that is a directory or a symlink to /dev/zero is refused at once (exit 2), never read", async () => {
    const h = home([running("exp-dir1"), running("exp-zero1")]);
    mkdirSync(h.log("exp-dir1"));
    symlinkSync("/dev/zero", h.log("exp-zero1"));
    const dir = await runInProcess(["run", "logs", "exp-dir1"], { env: h.env });
    expect(dir.code).toBe(2);
    expect(dir.stderr).toMatch(/^error: the log .*exp-dir1\.log is a directory, not a file: it is not read\n/);
    for (const args of [["run", "logs", "exp-zero1"], ["run", "logs", "-f", "exp-zero1"], ["run", "logs", "--tail", "5", "exp-zero1"]]) {
      const zero = await runInProcess(args, { env: h.env });
      expect(zero.code, args.join(" ")).toBe(2);
      expect(zero.stderr).toMatch(/exp-zero1\.log is a device, not a file/);
      expect(zero.stdout).toBe("");
    }
  });

  it.skipIf(process.getuid?.() === 0 && spawnSync("setpriv", ["--version"]).status !== 0)("an unreadable log is exit 4 with one line saying so", () => {
    const h = home([running("exp-secret1")]);
    writeFileSync(h.log("exp-secret1"), "hidden\n");
    chmodSync(h.log("exp-secret1"), 0o000);
    let r: { code: number | null; stdout: Buffer; stderr: string };
    if (process.getuid?.() === 0) {
      // root reads anything: run it as nobody, who owns the home but may not read the log.
      for (const p of [h.home, h.registry, join(h.home, "logs"), h.log("exp-secret1")]) chownSync(p, 65534, 65534);
      const s = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, CLI, "run", "logs", "exp-secret1"], { env: { ...process.env, ...h.env }, encoding: "buffer" });
      r = { code: s.status, stdout: s.stdout, stderr: s.stderr.toString() };
    } else r = runBytes(["run", "logs", "exp-secret1"], h.env);
    expect(r.stderr).toMatch(/^error: permission denied reading .*exp-secret1\.log\n/);
    expect(r.code).toBe(4);
    expect(r.stdout.length).toBe(0);
  });

  it("-f prints the output as the run writes it, then the final state on stderr: exit 0 completed, 1 failed", async () => {
    for (const code of [0, 3]) {
      const h = home();
      const go = join(h.home, "go");
      const s = gatedScript(h.home, go, code);
      const submitted = await runInProcess(["run", "submit", "--", process.execPath, s], { env: h.env, cwd: h.home });
      const id = submitted.stdout.trim();
      // Started before the run: it waits for the log to appear.
      const follow = spawnCli(["run", "logs", "-f", id], { env: h.env });
      await waitFor(() => follow.output().includes("waiting for it"), "the follower to wait for the log");
      const agent = spawnCli(["agent", "--once"], { env: h.env, cwd: h.home });
      try {
        await waitFor(() => follow.output().includes("first\n"), "the first line to be followed");
        // The run is still going (it waits for `go`): what was printed came as it was written.
        expect(latest(h.registry, id)!["status"]).toBe("running");
        expect(follow.output()).not.toContain("second");
        writeFileSync(go, "");
        const exit = await follow.exited;
        expect(exit.code, exit.stderr).toBe(code === 0 ? 0 : 1);
        expect(exit.stdout).toMatch(/first\nsecond\n/);
        expect(exit.stdout).toMatch(new RegExp(`expflow: run ${code === 0 ? "completed" : "failed: exit code 3"}\\n$`));
        expect(exit.stderr).toMatch(new RegExp(`^no log yet for ${id}: it is queued; the agent writes .* once it starts the run; waiting for it \\(Ctrl-C stops\\)\\n`));
        expect(exit.stderr).toMatch(new RegExp(`\\n${id} ${code === 0 ? "completed" : "failed: exit code 3"}\\n$`));
        await agent.exited;
      } finally {
        follow.child.kill("SIGKILL");
        agent.child.kill("SIGKILL");
      }
    }
  });

  it("-f ends on Ctrl-C with exit 130 and on SIGTERM with 143, quietly", async () => {
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const h = home([running("exp-sig1")]);
      writeFileSync(h.log("exp-sig1"), "line\n");
      const follow = spawnCli(["run", "logs", "-f", "exp-sig1"], { env: h.env });
      try {
        await waitFor(() => follow.output().includes("line\n"), "the log");
        appendFileSync(h.log("exp-sig1"), "more\n");
        await waitFor(() => follow.output().includes("more\n"), "the appended line");
        follow.child.kill(signal);
        const exit = await follow.exited;
        expect(exit.code).toBe(code);
        expect(exit.stderr).toBe("");
        expect(exit.stdout).toBe("line\nmore\n");
      } finally {
        follow.child.kill("SIGKILL");
      }
    }
  });

  it("a reader that goes away (| head -1) ends it quietly with exit 0, following or not", () => {
    const h = home([running("exp-pipe1")]);
    writeFileSync(h.log("exp-pipe1"), "x".repeat(200).concat("\n").repeat(100_000));
    for (const flags of ["", "-f"]) {
      const r = spawnSync("bash", ["-c", `'${process.execPath}' '${CLI}' run logs ${flags} exp-pipe1 | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`], { env: { ...process.env, ...h.env }, encoding: "utf8", timeout: 60_000 });
      expect(r.stderr, flags).toBe("");
      expect(r.stdout.trim(), flags).toBe("0");
    }
  });

  it.skipIf(!hasTmux)("on a terminal, escape sequences and control characters in the log are shown as escapes and never act", async () => {
    const h = home([running("exp-tty1", { name: "tty" })]);
    writeFileSync(h.log("exp-tty1"), "before\n\u001b[2J\u001b[Hcleared?\u001b]0;pwned\u0007 bell\nprogress 10%\rprogress 20%\n\u009b31mC1\n" + "\u00e9t\u00e9 \u{1F600}\n");
    const t = startInTmux(h.home, "run logs exp-tty1");
    try {
      const screen = await t.waitFor((s) => s.includes("EXIT="), "the command to end");
      expect(screen).toContain("before\n");
      expect(screen).toContain("\\u001b[2J\\u001b[Hcleared?\\u001b]0;pwned\\u0007 bell\n");
      // A carriage return that does not end a line shows what it would have overwritten.
      expect(screen).toContain("progress 10%\nprogress 20%\n");
      expect(screen).toContain("\\u009b31mC1\n");
      expect(screen).toContain("\u00e9t\u00e9 \u{1F600}\n");
      expect(screen).toContain("EXIT=0");
    } finally {
      t.close();
    }
    expect(existsSync(h.log("exp-tty1"))).toBe(true);
  });
});

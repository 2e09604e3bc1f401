import { appendFileSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { displayWidth, formatElapsed, renderFrame } from "../../src/cli/commands/run-watch.js";
import { run } from "../../src/cli/main.js";
import { colors } from "../../src/cli/output/color.js";
import { dropKeptLocks } from "../../src/util/lock.js";
import { tempDir, writeRegistry } from "../helpers/cli.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";
import { client } from "../fake-clearml/helpers.js";
import { spawnCli, waitFor } from "../helpers/runs.js";
import { hasTmux, startInTmux } from "../helpers/tmux.js";

const HOSTILE_NAME = "\u001b[2J\u001b[Hevil\u001b]0;title\u0007 \u202etxt.exe";
const HOSTILE_METRIC = "lo\u001b[31mss";

function rec(id: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { experiment_id: id, name: `n-${id}`, status: "running", queue: "default", method: "local", clearml_task_id: null, metrics: {}, ...fields };
}

function home(records: Record<string, unknown>[]): { home: string; registry: string; put: (r: Record<string, unknown>) => void; env: Record<string, string> } {
  const dir = tempDir("expflow-watch-");
  const registry = writeRegistry(records, dir);
  return { home: dir, registry, put: (r) => appendFileSync(registry, `${JSON.stringify(r)}\n`), env: { EXPFLOW_HOME: dir } };
}

/**
 * Runs the CLI in this process with standard output captured write by write: a pipe, or a
 * terminal of `columns` x `rows` when given. For commands that end on their own.
 */
function start(args: string[], env: Record<string, string>, terminal?: { columns: number; rows: number }): { writes: string[]; stderr: () => string; done: Promise<number> } {
  const writes: string[] = [];
  let stderr = "";
  const done = run(args, {
    stdin: Readable.from([]),
    stdout: { write: (t: string) => (writes.push(t), true), ...(terminal === undefined ? {} : { isTTY: true, ...terminal }) },
    stderr: { write: (t: string) => ((stderr += t), true) },
    env: { ...process.env, ...env, NO_COLOR: "1" },
    cwd: env["EXPFLOW_HOME"]!,
  }).finally(() => dropKeptLocks());
  return { writes, stderr: () => stderr, done };
}

/** A frame's text as a terminal shows it, without the view's own cursor and erase sequences. */
function visible(frame: string): string {
  // eslint-disable-next-line no-control-regex -- the view's own sequences are what is stripped
  return frame.replace(/\u001b\[\?25[lh]|\r(?:\u001b\[\d+A)?|\u001b\[H|\u001b\[K|\u001b\[J/g, "");
}

describe("expflow run watch", () => {
  it("into a pipe: one plain line per change (seen, new state, new metric values), ending once the runs named are finished", async () => {
    const h = home([rec("exp-w1", { name: HOSTILE_NAME, metrics: { loss: 1 } }), rec("exp-w2", { status: "queued" }), rec("exp-other", { status: "running" })]);
    const w = start(["run", "watch", "exp-w1", "exp-w2"], h.env);
    const out = (): string => w.writes.join("");
    await waitFor(() => out().includes("exp-w2"), "the first lines");
    h.put(rec("exp-w1", { name: HOSTILE_NAME, metrics: { loss: 0.5, [HOSTILE_METRIC]: "\u001b[2J" } }));
    await waitFor(() => out().includes("loss=0.5"), "the new metrics");
    // A record rewritten with nothing new in it prints nothing.
    h.put(rec("exp-w1", { name: HOSTILE_NAME, metrics: { loss: 0.5, [HOSTILE_METRIC]: "\u001b[2J" }, rev: 9 }));
    h.put(rec("exp-w2", { status: "running" }));
    await waitFor(() => out().includes("exp-w2 running"), "the state change");
    h.put(rec("exp-w1", { name: HOSTILE_NAME, status: "completed", metrics: { loss: 0.25, [HOSTILE_METRIC]: "\u001b[2J" } }));
    h.put(rec("exp-w2", { status: "failed" }));
    expect(await w.done).toBe(1);
    expect(out()).toBe(
      [
        'exp-w1 running name="\\u001b[2J\\u001b[Hevil\\u001b]0;title\\u0007 \\u202etxt.exe" loss=1',
        'exp-w2 queued name="n-exp-w2"',
        'exp-w1 running loss=0.5 lo\\u001b[31mss="\\u001b[2J"',
        "exp-w2 running",
        "exp-w1 completed loss=0.25",
        "exp-w2 failed",
        "",
      ].join("\n"),
    );
    expect(w.stderr()).toBe("");
  });

  it("exit 0 when every run named completed; a run deleted while watched is a line and exit 1; an unknown id is exit 2", async () => {
    const h = home([rec("exp-c1"), rec("exp-d1")]);
    const unknown = start(["run", "watch", "exp-c1", "exp-nope"], h.env);
    expect(await unknown.done).toBe(2);
    expect(unknown.stderr()).toMatch(/no experiment 'exp-nope'/);

    const ok = start(["run", "watch", "exp-c1"], h.env);
    await waitFor(() => ok.writes.length > 0, "the first line");
    h.put(rec("exp-c1", { status: "completed" }));
    expect(await ok.done).toBe(0);

    const gone = start(["run", "watch", "exp-d1"], h.env);
    await waitFor(() => gone.writes.length > 0, "the first line");
    h.put({ experiment_id: "exp-d1", deleted: true });
    expect(await gone.done).toBe(1);
    expect(gone.writes.join("")).toBe('exp-d1 running name="n-exp-d1"\nexp-d1 deleted\n');
  });

  it("a run on ClearML named by id is refreshed from its task while it is watched, and the watch ends when the task does", async () => {
    const project = fakeProject("PDEBench");
    const task = fakeTask({ project: project.id, name: "fno", status: "in_progress" });
    const fake = await FakeClearml.start({ projects: [project], tasks: [task] });
    try {
      const h = home([rec("exp-cml1", { method: "clearml", clearml_task_id: task.id, clearml_server: fake.url })]);
      writeFileSync(join(h.home, "clearml.conf"), "");
      const env = { ...h.env, CLEARML_CONFIG_FILE: join(h.home, "clearml.conf"), CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey };
      const w = start(["run", "watch", "exp-cml1"], env);
      await waitFor(() => w.writes.length > 0, "the first line");
      await (await client(fake))("tasks.completed", { task: task.id, status_reason: "done" });
      expect(await w.done).toBe(0);
      expect(w.writes.join("")).toBe('exp-cml1 running name="n-exp-cml1"\nexp-cml1 completed\n');
      expect(w.stderr()).toBe("");
      fake.assertClean();
    } finally {
      await fake.close();
    }
  });

  it("on a terminal: every frame is one write that redraws in place, fits 20 columns, shows no escape sequence from data, and the cursor comes back", async () => {
    const h = home([rec("exp-t1", { name: HOSTILE_NAME, metrics: { [HOSTILE_METRIC]: 1.23456789 } }), rec("exp-t2", { status: "queued", name: "\u4e2d\u6587\u540d\u5b57\u4e2d\u6587\u540d\u5b57" })]);
    const w = start(["run", "watch", "exp-t1", "exp-t2"], h.env, { columns: 20, rows: 10 });
    await waitFor(() => w.writes.length > 0, "the first frame");
    h.put(rec("exp-t1", { name: HOSTILE_NAME, status: "completed", metrics: { [HOSTILE_METRIC]: 2 } }));
    await waitFor(() => w.writes.length > 1, "a second frame");
    h.put(rec("exp-t2", { status: "cancelled" }));
    expect(await w.done).toBe(1);
    const frames = w.writes.slice(0, -1);
    expect(w.writes.at(-1)).toBe("\u001b[?25h");
    expect(frames[0]!.startsWith("\u001b[?25l\r")).toBe(true);
    for (const [i, frame] of frames.entries()) {
      // One write: back to the top of the last frame, each line erased to its end, the rest erased.
      // eslint-disable-next-line no-control-regex -- the view's own cursor movement is what is checked
      if (i > 0) expect(frame).toMatch(/^\r\u001b\[\d+A/);
      expect(frame.endsWith("\u001b[K\n\u001b[J")).toBe(true);
      const text = visible(frame);
      // eslint-disable-next-line no-control-regex -- no control character from data may be left
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
      for (const line of text.split("\n")) expect(displayWidth(line), line).toBeLessThanOrEqual(19);
    }
    const last = visible(frames.at(-1)!).split("\n");
    expect(last[0]).toBe("2 finished · Ctrl-…");
    expect(last[1]).toBe("exp-t1  completed …");
    expect(last[2]).toBe("exp-t2  cancelled …");
  });

  it("renders a frame that fits the terminal: runs still going first, '… N more' when they do not fit, numbers for people", () => {
    const runs = Array.from({ length: 12 }, (_, i) => ({
      id: `exp-r${i}`,
      name: i === 0 ? "a-very-long-name-that-goes-on-and-on" : null,
      status: i % 3 === 0 ? "completed" : "running",
      queue: "default",
      remote: false,
      since: 0,
      until: i % 3 === 0 ? 90_000 : null,
      metrics: { loss: 0.123456789, step: 12 },
    }));
    const lines = renderFrame({ view: { runs, changed: new Set() }, columns: 80, rows: 6, now: 3_725_000, colors: colors(false) });
    expect(lines).toEqual([
      "8 running, 4 finished · Ctrl-C stops",
      "exp-r1  running  1h02m  loss=0.1235 step=12",
      "exp-r2  running  1h02m  loss=0.1235 step=12",
      "exp-r4  running  1h02m  loss=0.1235 step=12",
      "… 9 more",
    ]);
    const wide = renderFrame({ view: { runs: runs.slice(0, 1), changed: new Set() }, columns: 80, rows: 24, now: 0, colors: colors(false) });
    expect(wide[1]).toBe("exp-r0  completed  1m30s  a-very-long-name-that-g…  loss=0.1235 step=12");
    // A metric that is a megabyte of text is cut, in a frame and in a line alike.
    const huge = renderFrame({ view: { runs: [{ ...runs[1]!, metrics: { ["n".repeat(100)]: "v".repeat(1_000_000) } }], changed: new Set() }, columns: 400, rows: 24, now: 0, colors: colors(false) });
    expect(huge[1]).toBe(`exp-r1  running  0s  ${"n".repeat(63)}…="${"v".repeat(62)}…`);
    expect([formatElapsed(42_000), formatElapsed(184_000), formatElapsed(7_500_000), formatElapsed(3 * 86_400_000 + 4 * 3_600_000)]).toEqual(["42s", "3m04s", "2h05m", "3d04h"]);
  });

  it("without ids into a pipe: waits for runs, prints new ones, and ends on SIGINT (130) or SIGTERM (143), never an escape code", async () => {
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const h = home([rec("exp-old", { status: "completed" })]);
      const w = spawnCli(["run", "watch"], { env: h.env });
      try {
        await waitFor(() => w.output().includes("no local run is running or queued"), "the empty view");
        h.put(rec("exp-new1", { status: "queued", name: HOSTILE_NAME }));
        await waitFor(() => w.output().includes("exp-new1 queued"), "the new run");
        w.child.kill(signal);
        const exit = await w.exited;
        expect(exit.code).toBe(code);
        expect(exit.stdout).toBe('exp-new1 queued name="\\u001b[2J\\u001b[Hevil\\u001b]0;title\\u0007 \\u202etxt.exe"\n');
        expect(exit.stdout + exit.stderr).not.toContain("\u001b");
      } finally {
        w.child.kill("SIGKILL");
      }
    }
  });

  it("a reader that goes away (| head -1) ends it quietly with exit 0 at the next line", async () => {
    const h = home([rec("exp-p1"), rec("exp-p2")]);
    const { spawn } = await import("node:child_process");
    const { CLI } = await import("../helpers/cli.js");
    const child = spawn("bash", ["-c", `'${process.execPath}' '${CLI}' run watch exp-p1 exp-p2 | head -1; echo "status=\${PIPESTATUS[0]}" >&2`], { env: { ...process.env, ...h.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    await waitFor(() => stdout.includes("exp-p1"), "the first line");
    h.put(rec("exp-p1", { status: "running", metrics: { loss: 1 } }));
    await closed;
    expect(stdout).toBe('exp-p1 running name="n-exp-p1"\n');
    expect(stderr).toBe("status=0\n");
  });

  it.skipIf(!hasTmux)("in a real terminal 20 columns wide: redrawn in place within the width; Ctrl-C is exit 130 with the cursor shown again", async () => {
    const h = home([rec("exp-x1", { name: HOSTILE_NAME, metrics: { loss: 0.5 } }), rec("exp-x2", { status: "queued" })]);
    const t = startInTmux(h.home, "run watch", { width: 20, height: 8 });
    try {
      await t.waitFor((s) => s.includes("exp-x2"), "the first frame");
      expect(t.cursorVisible()).toBe(false);
      h.put(rec("exp-x1", { name: HOSTILE_NAME, status: "completed", metrics: { loss: 0.25 } }));
      const screen = await t.waitFor((s) => s.includes("1 queued, 1 fin"), "the redrawn frame");
      const lines = screen.split("\n").filter((l) => l.trim() !== "");
      // Redrawn in place: one summary line, one line per run, nothing left of the first frame.
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^1 queued, 1 fin/);
      expect(lines[1]!.startsWith("exp-x2  queued")).toBe(true);
      expect(lines[2]!.startsWith("exp-x1  completed")).toBe(true);
      for (const line of lines) expect(displayWidth(line.trimEnd())).toBeLessThanOrEqual(20);
      t.keys("C-c");
      const end = await t.waitFor((s) => s.includes("EXIT="), "the exit");
      expect(end).toContain("EXIT=130");
      expect(t.cursorVisible()).toBe(true);
      expect(end).not.toContain("evil");
    } finally {
      t.close();
    }
  });

  it.skipIf(!hasTmux)("in a real terminal, SIGTERM ends it with 143 and the cursor shown again", async () => {
    const h = home([rec("exp-y1")]);
    const t = startInTmux(h.home, "run watch exp-y1", { width: 40, height: 8 });
    try {
      await t.waitFor((s) => s.includes("exp-y1"), "the first frame");
      // The pane's shell runs the CLI as its child: signal that one process by its id.
      const pid = cliPid(h.home);
      process.kill(pid, "SIGTERM");
      const end = await t.waitFor((s) => s.includes("EXIT="), "the exit");
      expect(end).toContain("EXIT=143");
      expect(t.cursorVisible()).toBe(true);
    } finally {
      t.close();
    }
  });
});

/** The pid of the `run watch` process whose environment has EXPFLOW_HOME=home. */
function cliPid(home: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!cmdline.includes("watch") || !cmdline.some((a) => a.endsWith("cli.js"))) continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`EXPFLOW_HOME=${home}`)) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error("the run watch process was not found");
}

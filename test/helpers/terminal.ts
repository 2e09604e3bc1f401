import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./cli.js";

/** Whether tmux is installed (the terminal tests are skipped without it). */
export const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

/**
 * Runs expflow in a tmux pseudo-terminal with `EXPFLOW_HOME=home`, answers each prompt in turn
 * (an answer is typed, then Enter; the answer `"^C"` presses Ctrl-C instead) and returns the
 * screen once the command has ended, with `EXIT=<code>` on it. The terminal is `size.x` columns
 * by `size.y` lines (default 200 by 40).
 */
export async function onTerminal(home: string, args: string, answers: string[], env = "", size: { x: number; y: number } = { x: 200, y: 40 }): Promise<string> {
  const session = `expflow-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // A tmux server of its own (-S): on the shared default one, a session started while another
  // test (of this run, or of anyone's on the machine) ends the server's last session can be lost
  // with the server, and the prompt never shows.
  const socket = join(tmpdir(), `${session}.tmux`);
  const tmux = (...a: string[]) => spawnSync("tmux", ["-S", socket, ...a], { encoding: "utf8" });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const command = `env EXPFLOW_HOME='${home}' EXPFLOW_PIN= NO_COLOR=1 ${env} '${process.execPath}' '${CLI}' ${args}; echo EXIT=$?; sleep 60`;
  tmux("new-session", "-d", "-s", session, "-x", String(size.x), "-y", String(size.y), command);
  const screen = () => tmux("capture-pane", "-p", "-t", session).stdout;
  const waitFor = async (pred: (s: string) => boolean) => {
    for (let i = 0; i < 300; i++) {
      if (pred(screen())) return;
      await sleep(50);
    }
    throw new Error(`timed out; screen:\n${screen()}`);
  };
  // Each prompt is a line of its own that starts with inquirer's mark; count them to know a new one is up.
  const prompts = (s: string) => (s.match(/^[?✔✖>] .*PIN/gm) ?? []).length;
  try {
    let seen = 0;
    for (const answer of answers) {
      await waitFor((s) => prompts(s) > seen);
      seen = prompts(screen());
      if (answer === "^C") tmux("send-keys", "-t", session, "C-c");
      else {
        tmux("send-keys", "-t", session, "-l", answer);
        tmux("send-keys", "-t", session, "Enter");
      }
    }
    await waitFor((s) => s.includes("EXIT="));
    return screen();
  } finally {
    tmux("kill-server");
    rmSync(socket, { force: true });
  }
}

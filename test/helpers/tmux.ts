import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./cli.js";

/** Whether tmux is installed (the real-terminal tests are skipped without it). */
export const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

/** A command running in a tmux pseudo-terminal of a given size, to look at and type into. */
export interface TmuxTerminal {
  /** The visible screen, as text (escape sequences already acted on, as a user sees it). */
  screen(): string;
  /** Waits (polling, at most 15 s: a guard, not a timing assertion) until `pred` holds for the screen; returns it. */
  waitFor(pred: (screen: string) => boolean, what: string): Promise<string>;
  /** Presses keys (`C-c` for Ctrl-C). */
  keys(...keys: string[]): void;
  /** Whether the terminal shows its cursor now. */
  cursorVisible(): boolean;
  /** Ends the session and its server. */
  close(): void;
}

/**
 * Runs `expflow <args>` in a tmux session of its own (its own server socket, so it cannot take
 * another test's session down with it) with the terminal `width` x `height`, `EXPFLOW_HOME=home`
 * and NO_COLOR unless `env` says otherwise. After the command the shell prints `EXIT=<code>` and
 * waits, so the screen can still be read.
 */
export function startInTmux(home: string, args: string, options: { width?: number; height?: number; env?: string } = {}): TmuxTerminal {
  const session = `expflow-t-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const socket = join(tmpdir(), `${session}.tmux`);
  const tmux = (...a: string[]) => spawnSync("tmux", ["-S", socket, ...a], { encoding: "utf8" });
  const command = `env EXPFLOW_HOME='${home}' EXPFLOW_PIN= ${options.env ?? "NO_COLOR=1"} '${process.execPath}' '${CLI}' ${args}; echo EXIT=$?; sleep 60`;
  tmux("new-session", "-d", "-s", session, "-x", String(options.width ?? 100), "-y", String(options.height ?? 30), command);
  const screen = (): string => tmux("capture-pane", "-p", "-t", session).stdout;
  return {
    screen,
    async waitFor(pred, what) {
      for (let i = 0; i < 300; i++) {
        const s = screen();
        if (pred(s)) return s;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}; screen:\n${screen()}`);
    },
    keys: (...keys) => void tmux("send-keys", "-t", session, ...keys),
    cursorVisible: () => tmux("display-message", "-p", "-t", session, "#{cursor_flag}").stdout.trim() === "1",
    close: () => {
      tmux("kill-server");
      rmSync(socket, { force: true });
    },
  };
}

import { existsSync, readdirSync, readFileSync } from "node:fs";

/** How long a process group gets between SIGTERM and SIGKILL, by default. */
export const DEFAULT_GRACE_MS = 5_000;

const POLL_MS = 50;

/** The state letter and process group of `/proc/<pid>/stat`, or `undefined` when unreadable. */
function procStat(pid: string): { state: string; pgrp: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: parse after its last ')'.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "", pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

/**
 * Whether any live (non-zombie) process is left in process group `pgid`. A zombie (exited, not
 * yet reaped by its parent) counts as gone: it runs nothing and holds nothing but its entry.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    // EPERM: the group exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  if (!existsSync("/proc/self/stat")) return true;
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const s = procStat(entry);
      if (s !== undefined && s.pgrp === pgid && s.state !== "Z") return true;
    }
    return false;
  } catch {
    return true;
  }
}

/**
 * Whether process `pid` is this run's process, when the system can tell (Linux: its environment
 * holds `EXPFLOW_EXPERIMENT_ID=<id>`). `undefined` where it cannot tell (no `/proc`); `false` when
 * the process is gone or its id was reused by something else.
 */
export function processIsRun(pid: number, id: string): boolean | undefined {
  if (!existsSync("/proc/self/environ")) return undefined;
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`EXPFLOW_EXPERIMENT_ID=${id}`);
  } catch {
    return false;
  }
}

/** How {@link stopProcessGroup} ended a group. */
export type StopOutcome = "gone" | "terminated" | "killed";

/**
 * Stops every process of group `pgid`: SIGTERM, then SIGKILL if any is left after `graceMs`.
 * Resolves once the group is gone (or SIGKILL was sent).
 *
 * @returns `gone` when nothing was left to stop, `terminated` when SIGTERM sufficed, `killed`
 *   when SIGKILL was needed.
 * @throws the `kill` error for anything but a missing group (EPERM: not ours to stop).
 */
export async function stopProcessGroup(pgid: number, graceMs: number = DEFAULT_GRACE_MS): Promise<StopOutcome> {
  if (!groupAlive(pgid) || !signalGroup(pgid, "SIGTERM")) return "gone";
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (!groupAlive(pgid)) return "terminated";
  }
  signalGroup(pgid, "SIGKILL");
  return "killed";
}

/**
 * Sends `signal` to process group `pgid`.
 *
 * @returns `false` when the group no longer exists.
 * @throws the `kill` error for anything else (EPERM).
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw e;
  }
}

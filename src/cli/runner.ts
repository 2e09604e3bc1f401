import { UsageError } from "../core/errors.js";
import type { CommandContext } from "./context.js";

/**
 * The check `agent` and `run submit --wait` make before they claim, spawn or write anything. The
 * runner withholds `EXPFLOW_PIN` from its runs, but a run can still read this process's initial
 * environment (on Linux, `/proc/<pid>/environ`, readable by any process of the same user), which
 * no process can change for itself; so these commands do not start while `EXPFLOW_PIN` is set
 * (non-empty: empty counts as unset, as the guard reads it). Neither needs a PIN.
 *
 * @param what the command, as its message names it (`the agent`, `run submit --wait`).
 * @param allowed `--allow-pin-env`: start anyway, with a warning.
 * @throws {UsageError} (exit 2) `E_PIN_IN_ENV` when `EXPFLOW_PIN` is set and not `allowed`.
 */
export function refusePinInEnvironment(ctx: CommandContext, what: string, allowed: boolean | undefined): void {
  const pin = ctx.io.env["EXPFLOW_PIN"];
  if (pin === undefined || pin === "") return;
  if (!allowed) {
    throw new UsageError("E_PIN_IN_ENV", `EXPFLOW_PIN is set: unset it before starting ${what}, which needs no PIN (its runs could read it from /proc/<pid>/environ), or pass --allow-pin-env`);
  }
  ctx.warn(`EXPFLOW_PIN is set and --allow-pin-env is given: runs started here can read the PIN from /proc/${process.pid}/environ`);
}

/** Exit code after a stop signal: 128 + its number (130 SIGINT, 143 SIGTERM). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1;
}

/**
 * Calls `handler` on SIGINT and SIGTERM (with the count of stop signals so far) instead of the
 * default of dying at once, so a command can stop its runs and record them first.
 *
 * @returns a function that removes the handlers.
 */
export function onStopSignals(handler: (signal: NodeJS.Signals, count: number) => void): () => void {
  let count = 0;
  const listener = (signal: NodeJS.Signals): void => handler(signal, ++count);
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
  return () => {
    process.off("SIGINT", listener);
    process.off("SIGTERM", listener);
  };
}

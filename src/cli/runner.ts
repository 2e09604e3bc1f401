import { hostname } from "node:os";
import { LocalRunner } from "../runner/local-runner.js";
import type { CommandContext } from "./context.js";
import type { OpenRegistry } from "./registry.js";

/** The embedded runner over an open registry, with the CLI's environment and working directory. */
export function openRunner(reg: OpenRegistry, ctx: CommandContext, onEvent?: (message: string) => void): LocalRunner {
  return new LocalRunner({
    writer: reg.writer,
    home: reg.home,
    metrics: reg.metrics,
    host: hostname(),
    env: ctx.io.env,
    cwd: ctx.io.cwd,
    onEvent,
  });
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

import { UsageError } from "../../core/errors.js";
import { isTerminal } from "../../core/lifecycle/lifecycle.js";
import type { RegistryRecord, RunResult } from "../../app/runs.js";
import { runLogPath } from "../../app/runs.js";
import { shellQuote } from "../../util/shell.js";
import type { CommandContext } from "../context.js";
import { openLocal } from "../backend.js";
import type { RunSubmitOptions } from "../define/run.js";
import { onStopSignals, refusePinInEnvironment, signalExitCode } from "../runner.js";

const ARG_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Parses `--arg k=v` values, in order.
 *
 * @throws {UsageError} `E_USAGE` for a value without `=`, a bad name or a name given twice.
 */
export function parseRunArgs(pairs: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? "" : pair.slice(0, eq);
    if (eq < 0 || !ARG_NAME.test(name)) {
      throw new UsageError("E_USAGE", `--arg expects name=value with a name of letters, digits, '_', '.' or '-' (not starting with '-'), got '${pair}'`, {
        hint: "e.g. --arg lr=3e-4 --arg sub_step=2 (passed to the command as --lr 3e-4 --sub_step 2)",
      });
    }
    if (out.some(([k]) => k === name)) throw new UsageError("E_USAGE", `--arg ${name} is given twice`);
    out.push([name, pair.slice(eq + 1)]);
  }
  return out;
}

/**
 * `expflow run submit [options] -- <command...>`: records a new run (created -> dispatched ->
 * queued, one snapshot with three history entries) for the local agent of its queue, and prints
 * its id (`--json`: the record). With `--wait` it claims and runs the command at once in the
 * foreground, exactly as the agent would, and returns its verdict: 0 completed, 1 failed or
 * cancelled, 130/143 when interrupted by SIGINT/SIGTERM (the run is then failed).
 *
 * @throws {UsageError} (exit 2) for an empty command or a bad `--arg`; with `--wait`,
 *   `E_PIN_IN_ENV` while `EXPFLOW_PIN` is set and `--allow-pin-env` is not given (nothing is
 *   written then; see {@link refusePinInEnvironment}).
 */
export async function runSubmitCommand(command: string[], flags: RunSubmitOptions, ctx: CommandContext): Promise<number> {
  if (command.length === 0 || command[0]!.trim() === "") {
    throw new UsageError("E_USAGE", "no command to run", { hint: "expflow run submit [options] -- python train.py --epochs 10" });
  }
  const queue = flags.queue ?? "default";
  if (queue.trim() === "") throw new UsageError("E_USAGE", "--queue must not be empty");
  const args = parseRunArgs(flags.arg ?? []);
  const argv = [...command, ...args.flatMap(([k, v]) => [`--${k}`, v])];
  // With --shell the words form one shell command line (as ssh joins them); otherwise the
  // display string is the argv quoted so that a shell would run exactly the same thing.
  const display = flags.shell ? [command.join(" "), ...args.flatMap(([k, v]) => [`--${k}`, shellQuote(v)])].join(" ") : argv.map(shellQuote).join(" ");
  if (flags.wait) refusePinInEnvironment(ctx, "run submit --wait", flags.allowPinEnv);

  const backend = await openLocal(ctx, { registry: flags.registry });
  const created = await backend.executor.submit({
    argv,
    display,
    shell: flags.shell === true,
    cwd: ctx.io.cwd,
    queue,
    name: flags.name ?? null,
    project: flags.project ?? null,
    tags: flags.tags ?? [],
    params: Object.fromEntries(args.map(([k, v]) => [`Args/${k}`, v])),
  });
  const id = created.id;
  const record = (): RegistryRecord | undefined => backend.store.raw(id);
  if (!flags.wait) {
    ctx.io.stdout.write(flags.json ? `${JSON.stringify(record())}\n` : `${id}\n`);
    return 0;
  }

  if (!flags.json) ctx.io.stdout.write(`${id}\n`);
  const { runner } = backend.executor;
  const claimed = await runner.claim(id, queue);
  let result: RunResult | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  if (claimed !== undefined) {
    ctx.io.stderr.write(`running ${id}; log: ${runLogPath(backend, id)}\n`);
    const handle = runner.start(claimed);
    const removeHandlers = onStopSignals((signal, count) => {
      stoppedBy ??= signal;
      if (count === 1) {
        ctx.io.stderr.write(`${signal}: stopping ${id} (again to kill it at once)\n`);
        handle.interrupt(`interrupted (${signal})`);
      } else handle.kill();
    });
    try {
      result = await handle.done;
    } finally {
      removeHandlers();
    }
  } else {
    // An agent took it first: follow it to its end.
    ctx.io.stderr.write(`${id} was taken by an agent; waiting for it to finish\n`);
    for (;;) {
      const r = record();
      if (r === undefined || isTerminal(String(r.status))) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const final = record();
  const finalStatus = String(final?.status ?? "unknown");
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(final ?? null)}\n`);
  const reason = typeof final?.["reason"] === "string" ? `: ${final["reason"]}` : "";
  ctx.io.stderr.write(`${id} ${finalStatus}${finalStatus === "failed" ? reason : ""}; log: ${result?.logPath ?? runLogPath(backend, id)}\n`);
  if (stoppedBy !== undefined) return signalExitCode(stoppedBy);
  return finalStatus === "completed" ? 0 : 1;
}

import { UsageError } from "../../core/errors.js";
import type { HistoryEntry } from "../../core/lifecycle/lifecycle.js";
import { isTerminal, nextState } from "../../core/lifecycle/lifecycle.js";
import type { RunResult } from "../../runner/local-runner.js";
import { logPathOf, shellQuote } from "../../runner/local-runner.js";
import { newExperimentId } from "../../stores/local/ids.js";
import type { RegistryRecord } from "../../stores/local/record.js";
import type { CommandContext } from "../context.js";
import type { RunSubmitOptions } from "../define/run.js";
import { openRegistry } from "../registry.js";
import { onStopSignals, openRunner, refusePinInEnvironment, signalExitCode } from "../runner.js";

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

  const reg = await openRegistry(ctx, flags.registry);
  const id = newExperimentId();
  const history: HistoryEntry[] = [reg.writer.entry("create", null, "created")];
  let status: string = "created";
  for (const event of ["dispatch", "queue"] as const) {
    const to = nextState(status, event, id);
    history.push(reg.writer.entry(event, status, to));
    status = to;
  }
  const record: RegistryRecord = {
    experiment_id: id,
    name: flags.name ?? null,
    status,
    queue,
    command: display,
    argv,
    shell: flags.shell === true,
    cwd: ctx.io.cwd,
    project: flags.project ?? null,
    tags: flags.tags ?? [],
    timestamp: new Date().toISOString(),
    method: "local",
    clearml_task_id: null,
    metrics: {},
    params: Object.fromEntries(args.map(([k, v]) => [`Args/${k}`, v])),
    history,
    archived: false,
  };
  const created = await reg.writer.create(record, { generatedId: true });
  if (!flags.wait) {
    ctx.io.stdout.write(flags.json ? `${JSON.stringify(created)}\n` : `${id}\n`);
    return 0;
  }

  if (!flags.json) ctx.io.stdout.write(`${id}\n`);
  const runner = openRunner(reg, ctx);
  const claimed = await runner.claim(id, queue);
  let result: RunResult | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  if (claimed !== undefined) {
    ctx.io.stderr.write(`running ${id}; log: ${logPathOf(reg.home, id)}\n`);
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
      const r = reg.record(id);
      if (r === undefined || isTerminal(String(r.status))) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const final = reg.record(id);
  const finalStatus = String(final?.status ?? "unknown");
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(final ?? null)}\n`);
  const reason = typeof final?.["reason"] === "string" ? `: ${final["reason"]}` : "";
  ctx.io.stderr.write(`${id} ${finalStatus}${finalStatus === "failed" ? reason : ""}; log: ${result?.logPath ?? logPathOf(reg.home, id)}\n`);
  if (stoppedBy !== undefined) return signalExitCode(stoppedBy);
  return finalStatus === "completed" ? 0 : 1;
}

import { UsageError } from "../../core/errors.js";
import { isTerminal } from "../../core/lifecycle/lifecycle.js";
import type { Dispatched, RegistryRecord, RunResult } from "../../app/runs.js";
import { dispatchRun, runLogPath } from "../../app/runs.js";
import type { Submission } from "../../app/submit.js";
import { clearmlSubmission, submitLocalRun } from "../../app/submit.js";
import type { FollowOptions } from "../../app/logs.js";
import { followRunLog } from "../../app/logs.js";
import type { LocalBackend } from "../../app/backend.js";
import { printable } from "../output/sanitize.js";
import type { CommandContext } from "../context.js";
import { openLocal } from "../backend.js";
import type { RunSubmitOptions } from "../define/run.js";
import { onStopSignals, refusePinInEnvironment, signalExitCode } from "../runner.js";
import { LogOutput, writeLogEvent } from "./run-logs.js";

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
  if (flags.queue !== undefined && flags.queue.trim() === "") throw new UsageError("E_USAGE", "--queue must not be empty");
  if (!flags.clearml) {
    if (flags.clone !== undefined) throw new UsageError("E_USAGE", "--clone makes a ClearML task: add --clearml");
    if (flags.repo === false) throw new UsageError("E_USAGE", "--no-repo is for ClearML tasks: add --clearml (a local run runs in this directory)");
  }
  if (flags.clearml && flags.clone !== undefined) {
    if (command.length > 0) throw new UsageError("E_USAGE", "--clone makes the task from an existing one: give no command", { hint: "change its parameters with --arg k=v" });
    if (flags.shell) throw new UsageError("E_USAGE", "--shell applies to a command; --clone takes none");
    if (flags.repo === false) throw new UsageError("E_USAGE", "--no-repo applies to a command; a clone keeps its source's repository");
  } else if (command.length === 0 || command[0]!.trim() === "") {
    throw new UsageError("E_USAGE", "no command to run", { hint: "expflow run submit [options] -- python train.py --epochs 10" });
  }
  const args = parseRunArgs(flags.arg ?? []);
  if (flags.clearml) return clearmlSubmit(command, args, flags, ctx);
  const submission: Submission = { command, args, shell: flags.shell === true, cwd: ctx.io.cwd, queue: flags.queue, name: flags.name ?? null, project: flags.project ?? null, tags: flags.tags ?? [] };
  const queue = flags.queue ?? "default";
  if (flags.wait) refusePinInEnvironment(ctx, "run submit --wait", flags.allowPinEnv);

  const backend = await openLocal(ctx, { registry: flags.registry });
  const created = await submitLocalRun(backend, submission);
  const id = created.id;
  const record = (): RegistryRecord | undefined => backend.store.raw(id);
  if (!flags.wait) {
    ctx.io.stdout.write(flags.json ? `${JSON.stringify(record())}\n` : `${id}\n`);
    return 0;
  }

  if (!flags.json) ctx.io.stdout.write(`${id}\n`);
  const { runner } = backend.executor.local;
  const claimed = await runner.claim(id, queue);
  let result: RunResult | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  if (claimed !== undefined) {
    ctx.io.stderr.write(`running ${id}; log: ${runLogPath(backend, id)}\n`);
    const handle = runner.start(claimed);
    // The run's output, on standard error as it is written, until the run has ended and its
    // log is read to the end (the runner's last line comes before `done` settles).
    const streamed = streamLog(backend, id, ctx, { finished: handle.done.then((r) => ({ id, status: r.status, reason: r.reason })) });
    const removeHandlers = onStopSignals((signal, count) => {
      stoppedBy ??= signal;
      if (count === 1) {
        ctx.io.stderr.write(`${signal}: stopping ${id} (again to kill it at once)\n`);
        handle.interrupt(`interrupted (${signal})`);
      } else handle.kill();
    });
    try {
      result = await handle.done;
      await streamed;
    } finally {
      removeHandlers();
    }
  } else {
    // An agent took it first: its log, as the agent's run writes it, until the run is finished.
    ctx.io.stderr.write(`${id} was taken by an agent; waiting for it to finish\n`);
    await streamLog(backend, id, ctx, {});
  }
  const final = record();
  const finalStatus = String(final?.status ?? "unknown");
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(final ?? null)}\n`);
  const reason = typeof final?.["reason"] === "string" ? `: ${final["reason"]}` : "";
  ctx.io.stderr.write(`${id} ${finalStatus}${finalStatus === "failed" ? reason : ""}; log: ${result?.logPath ?? runLogPath(backend, id)}\n`);
  if (stoppedBy !== undefined) return signalExitCode(stoppedBy);
  return finalStatus === "completed" ? 0 : 1;
}

/**
 * Copies the log of local run `id` to standard error as it is written (a terminal gets it made
 * printable, a file or a pipe byte for byte: see {@link LogOutput}) until the run is finished
 * and its log read to the end. A log that cannot be read is said once; the wait goes on.
 * Exported for the tests of the path where an agent took the run first.
 */
export async function streamLog(backend: LocalBackend, id: string, ctx: CommandContext, options: Pick<FollowOptions, "finished" | "signal">): Promise<void> {
  const out = new LogOutput(ctx.io.stderr);
  const notice = (line: string): void => void ctx.io.stderr.write(`${printable(line)}\n`);
  const path = runLogPath(backend, id);
  try {
    for await (const event of followRunLog(backend, id, options)) {
      if (event.kind === "end") return;
      writeLogEvent(event, out, notice, path);
      // Nobody reads standard error any more (`2>&1 | head`): stop showing the log, still wait.
      if (out.closed) break;
    }
    await untilFinished(backend, id, options.finished);
  } catch (e) {
    out.breakLine();
    ctx.warn(`the run's output cannot be shown: ${(e as Error).message}`);
    // Still wait for the run: the verdict is what --wait is for.
    await untilFinished(backend, id, options.finished);
  } finally {
    out.end();
  }
}

/** Until run `id` is finished: `finished` when given, else polling the registry until it is finished or gone. */
async function untilFinished(backend: LocalBackend, id: string, finished: Promise<unknown> | undefined): Promise<void> {
  if (finished !== undefined) {
    await finished.catch(() => undefined);
    return;
  }
  for (;;) {
    const r = backend.store.raw(id);
    if (r === undefined || isTerminal(String(r.status))) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * `run submit --clearml`: a ClearML task made from the command (or cloned with `--clone`),
 * enqueued, and recorded in the registry linked to it. Prints the run's id on standard output
 * (`--json`: the record) and the task, its queue and its link on standard error. With `--wait`
 * the task is followed until it ends: exit 0 completed, 1 failed or cancelled; an interrupt stops
 * the waiting, not the task.
 */
async function clearmlSubmit(command: string[], args: [string, string][], flags: RunSubmitOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, { registry: flags.registry, verbose: flags.verbose });
  const submission: Submission = { command, args, shell: flags.shell === true, cwd: ctx.io.cwd, queue: flags.queue, name: flags.name ?? null, project: flags.project ?? null, tags: flags.tags };
  const done: Dispatched & { server: string } = await dispatchRun(backend, clearmlSubmission(submission, { clone: flags.clone, noRepo: flags.repo === false }));
  const id = done.experiment.id;
  // With --wait, --json prints the final record (as a local --wait does).
  if (!(flags.json && flags.wait)) ctx.io.stdout.write(flags.json ? `${JSON.stringify(done.record)}\n` : `${id}\n`);
  const { stderr } = ctx.io;
  stderr.write(`ClearML task ${done.taskId} queued on '${printable(done.queue.name)}' at ${done.server}\n`);
  if (done.webUrl !== null) stderr.write(`  ${printable(done.webUrl)}\n`);
  for (const note of done.notes) stderr.write(`  note: ${printable(note)}\n`);
  if (!flags.wait) return 0;

  let stopped: NodeJS.Signals | undefined;
  const controller = new AbortController();
  const removeHandlers = onStopSignals((signal) => {
    stopped ??= signal;
    stderr.write(`${signal}: no longer waiting; task ${done.taskId} goes on on ClearML (\`expflow run cancel ${id}\` stops it)\n`);
    controller.abort();
  });
  let last = done.experiment;
  try {
    for await (const now of backend.executor.watch(id, { signal: controller.signal })) {
      last = now;
      stderr.write(`${id} ${now.status}\n`);
    }
  } finally {
    removeHandlers();
  }
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(backend.store.raw(id) ?? null)}\n`);
  if (stopped !== undefined) return signalExitCode(stopped);
  return last.status === "completed" ? 0 : 1;
}

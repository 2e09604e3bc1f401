import type { RunSpec } from "../executors/executor.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { shellQuote } from "../util/shell.js";
import type { LocalBackend } from "./backend.js";
import type { ClearmlSubmission } from "./runs.js";

/** A run to submit, as `run submit` and the MCP server's `submit_run` both take it. */
export interface Submission {
  /** The command's words (with `shell`, they form one shell command line). */
  readonly command: readonly string[];
  /** Parameters, in order: each is passed to the command as `--name value` and recorded as `Args/name`. */
  readonly args: readonly (readonly [string, string])[];
  readonly shell: boolean;
  /** The working directory the run starts in. */
  readonly cwd: string;
  /** Default: `default` locally, the server's default queue on ClearML. */
  readonly queue?: string;
  readonly name?: string | null;
  readonly project?: string | null;
  readonly tags?: readonly string[];
}

/**
 * The local run spec of a submission: with `shell` the words form one shell command line (as
 * ssh joins them), the parameters' values quoted; otherwise the display string is the argv
 * quoted so that a shell would run exactly the same thing.
 */
export function localRunSpec(s: Submission): RunSpec & { readonly queue: string } {
  const argv = [...s.command, ...s.args.flatMap(([k, v]) => [`--${k}`, v])];
  const display = s.shell ? [s.command.join(" "), ...s.args.flatMap(([k, v]) => [`--${k}`, shellQuote(v)])].join(" ") : argv.map(shellQuote).join(" ");
  return {
    argv,
    display,
    shell: s.shell,
    cwd: s.cwd,
    queue: s.queue ?? "default",
    name: s.name ?? null,
    project: s.project ?? null,
    tags: s.tags ?? [],
    params: Object.fromEntries(s.args.map(([k, v]) => [`Args/${k}`, v])),
  };
}

/**
 * The ClearML submission of a submission: a new task from the command, or with `clone` a clone
 * of that task (no command then; the parameters change the clone's). With `shell` the words
 * form one shell line, so the parameters' values go in quoted (as the local runner's line has
 * them); without, each word is one argument.
 */
export function clearmlSubmission(s: Submission, options: { readonly clone?: string; readonly noRepo?: boolean } = {}): ClearmlSubmission {
  const common = { queue: s.queue, name: s.name ?? null, project: s.project ?? null, cwd: s.cwd };
  if (options.clone !== undefined) {
    return { kind: "clone", sourceTaskId: options.clone, ...common, ...(s.tags === undefined ? {} : { tags: s.tags }), args: Object.fromEntries(s.args) };
  }
  const argv = [...s.command, ...s.args.flatMap(([k, v]) => [`--${k}`, s.shell ? shellQuote(v) : v])];
  return {
    kind: "command",
    argv,
    display: s.shell ? argv.join(" ") : argv.map(shellQuote).join(" "),
    shell: s.shell,
    ...common,
    tags: s.tags ?? [],
    params: Object.fromEntries(s.args.map(([k, v]) => [`Args/${k}`, v])),
    noRepo: options.noRepo === true,
  };
}

/** Records a new local run (created -> dispatched -> queued) for the agent of its queue; returns its id and record. */
export async function submitLocalRun(backend: LocalBackend, s: Submission): Promise<{ readonly id: string; readonly record: RegistryRecord | undefined }> {
  const created = await backend.executor.submit(localRunSpec(s));
  return { id: created.id, record: backend.store.raw(created.id) };
}

import { writeSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { LogEvent, RunLogPlace } from "../../app/logs.js";
import { followRunLog, locateRunLog, readRunLog } from "../../app/logs.js";
import { isTerminal } from "../../core/lifecycle/lifecycle.js";
import type { CommandContext, OutStream } from "../context.js";
import { openLocal } from "../backend.js";
import type { RunLogsOptions } from "../define/run.js";
import { printable, unguarded } from "../output/sanitize.js";
import { onStopSignals, signalExitCode } from "../runner.js";

/** A stream that takes bytes, as process.stdout does (the CLI's streams are typed for text). */
interface ByteStream {
  write(bytes: Uint8Array): unknown;
  readonly destroyed?: boolean;
  /** The file descriptor under the process's own standard streams. */
  readonly fd?: unknown;
}

/**
 * Where a run's log bytes go: as they are when the stream is not a terminal (a file or a pipe
 * gets the log byte for byte, as `cat` would give it: binary data, colours and all), or, on a
 * terminal, as text that cannot drive it: decoded as UTF-8 (bytes that are not become U+FFFD;
 * a character cut between two reads is joined first), every control character and escape
 * sequence shown as its JSON escape by {@link printable} (so `\e[2J` shows as `\u001b[2J`
 * instead of clearing the screen), and a carriage return that does not end a line becomes a line
 * break: a progress bar's redraws show one under the other instead of hiding what they overwrite.
 *
 * The process's own standard streams are written through their file descriptor, so a reader
 * that went away (`| head`) is an `EPIPE` this class sees ({@link closed}) instead of an error
 * event that ends the process: `run submit --wait 2>&1 | head` stops showing the log but still
 * waits for the run and records its end.
 */
export class LogOutput {
  private readonly terminal: boolean;
  private readonly decoder = new StringDecoder("utf8");
  /** A carriage return at the end of a read: a line end if a line feed comes next. */
  private heldCr = false;
  /** Whether the last text written ended a line. */
  private atLineStart = true;
  private gone = false;
  private viaStream = false;

  constructor(private readonly stream: OutStream) {
    this.terminal = stream.isTTY === true;
  }

  /** Whether the reader went away (`| head`): nothing more is written, nothing more is worth reading. */
  get closed(): boolean {
    return this.gone || (unguarded(this.stream) as unknown as ByteStream).destroyed === true;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (!this.terminal) {
      this.bytes(bytes);
      this.atLineStart = bytes[bytes.length - 1] === 0x0a;
      return;
    }
    let text = (this.heldCr ? "\r" : "") + this.decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    this.heldCr = text.endsWith("\r");
    if (this.heldCr) text = text.slice(0, -1);
    this.text(text);
  }

  private text(text: string): void {
    if (text === "") return;
    this.bytes(Buffer.from(printable(text.replace(/\r(?!\n)/g, "\n"), { multiline: true }), "utf8"));
    this.atLineStart = text.endsWith("\n");
  }

  /** Writes bytes: to the file descriptor of the process's own stream (see the class), else to the stream. */
  private bytes(buf: Uint8Array): void {
    if (this.gone) return;
    const raw = unguarded(this.stream) as unknown as ByteStream;
    let rest = buf;
    if (typeof raw.fd === "number" && !this.viaStream) {
      try {
        while (rest.length > 0) rest = rest.subarray(writeSync(raw.fd, rest));
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EPIPE") {
          this.gone = true;
          return;
        }
        // A descriptor left non-blocking by whoever opened it: the stream waits for room, and
        // from now on everything goes through it (a direct write would overtake what it holds).
        if (code !== "EAGAIN") throw e;
        this.viaStream = true;
      }
    }
    raw.write(rest);
  }

  /**
   * Writes what is held (a carriage return, the start of a cut character) and, on a terminal,
   * ends a last line that has no line break, so a line that follows starts on its own.
   */
  end(): void {
    if (!this.terminal) return;
    const rest = this.decoder.end() + (this.heldCr ? "\r" : "");
    this.heldCr = false;
    this.text(rest);
    if (!this.atLineStart) this.text("\n");
  }

  /** On a terminal, ends the current line so a message can follow (the log goes on after it). */
  breakLine(): void {
    if (this.terminal && !this.atLineStart) this.text("\n");
  }
}

/** Lets the event loop run between chunks: an EPIPE is noticed (and ends the process) before the next read. */
function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What to say of a run that has no log (yet). */
function noLogText(place: RunLogPlace & { kind: "local" }, follow: boolean): string {
  if (isTerminal(place.status)) return `${place.id} has no log: it is ${place.status} and never ran on this machine's runner, or its log (${place.path}) was removed`;
  if (place.status === "running") return `no log yet for ${place.id}: it is running, on another machine or just starting (${place.path})`;
  return `no log yet for ${place.id}: it is ${place.status}; the agent writes ${place.path} once it starts the run${follow ? "" : " (-f waits for it)"}`;
}

/**
 * The line `run logs -f` and `run submit --wait` end with: the run's final state (and why it
 * failed).
 */
export function finalStateLine(end: { id: string; status: string; reason: string | null }): string {
  if (end.status === "deleted") return `${end.id} was deleted while it was followed`;
  return `${end.id} ${end.status}${end.status === "failed" && end.reason !== null ? `: ${end.reason}` : ""}`;
}

/** Writes one event of a followed log: bytes to `out`, notices to `notice` (standard error). */
export function writeLogEvent(event: LogEvent, out: LogOutput, notice: (line: string) => void, path: string): void {
  if (event.kind === "data") out.write(event.bytes);
  else if (event.kind === "restarted") {
    out.breakLine();
    notice(`${path} was ${event.why === "truncated" ? "truncated" : "replaced by another file"}: reading it from its start`);
  }
}

/**
 * `expflow run logs <id> [-f] [--tail N]`: prints a local run's log (standard output; see
 * {@link LogOutput} for what a terminal gets). With `-f`, follows it as it grows until the run is
 * finished, then prints its final state to standard error: exit 0 completed, 1 failed,
 * cancelled or deleted; Ctrl-C or SIGTERM ends it (130, 143). A run with no log yet is said so
 * (exit 0), or, with `-f`, waited for. A run dispatched to ClearML has its output there: where
 * is said (exit 0).
 *
 * @throws {NotFoundError} (exit 2) for an unknown id; {@link ValidationError} `E_LOG_NOT_A_FILE`
 *   (exit 2) for a log that is a directory or a device; {@link BackendError} (exit 4) for one
 *   that cannot be read.
 */
export async function runLogsCommand(idOrPrefix: string, flags: RunLogsOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, { registry: flags.registry });
  const place = await locateRunLog(backend, idOrPrefix);
  const { stderr } = ctx.io;
  const notice = (line: string): void => void stderr.write(`${printable(line)}\n`);
  if (place.kind === "clearml") {
    const where = place.webUrl !== null ? `: ${place.webUrl}` : place.taskId !== null ? ` (\`expflow run status ${place.id}\` shows the task)` : "";
    notice(`${place.id} runs on ClearML${place.taskId === null ? "" : ` (task ${place.taskId})`}, so its output is not here: it is in the task's console on the ClearML server${where}`);
    return 0;
  }
  const out = new LogOutput(ctx.io.stdout);
  if (flags.follow !== true) {
    const reader = readRunLog(place.path, flags.tail === undefined ? {} : { tailLines: flags.tail });
    if (reader === undefined) {
      notice(noLogText(place, false));
      return 0;
    }
    try {
      for (const chunk of reader.chunks()) {
        out.write(chunk);
        await yieldToLoop();
        if (out.closed) break;
      }
    } finally {
      reader.close();
    }
    out.end();
    return 0;
  }

  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const removeHandlers = onStopSignals((signal) => {
    stoppedBy ??= signal;
    controller.abort();
  });
  try {
    for await (const event of followRunLog(backend, place.id, { signal: controller.signal, ...(flags.tail === undefined ? {} : { tailLines: flags.tail }) })) {
      if (event.kind === "waiting") notice(`${noLogText({ ...place, status: event.status }, true)}; waiting for it (Ctrl-C stops)`);
      else if (event.kind === "end") {
        out.end();
        notice(finalStateLine(event));
        return event.status === "completed" ? 0 : 1;
      } else writeLogEvent(event, out, notice, place.path);
      if (out.closed) return 0;
    }
  } finally {
    removeHandlers();
  }
  out.end();
  return signalExitCode(stoppedBy ?? "SIGINT");
}

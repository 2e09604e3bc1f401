import { hostname } from "node:os";
import { InterruptedError, UsageError } from "../core/errors.js";
import type { GuardContext } from "../security/guard.js";
import type { CommandContext, InStream } from "./context.js";
import { printable, unguarded } from "./output/sanitize.js";
import { terminalPrompt } from "./output/terminal-words.js";
import { currentUser } from "./identity.js";

/** Reads standard input line by line, on demand; never touches it unless asked. */
export class LineReader {
  private buffer = "";
  private ended = false;

  constructor(private readonly stream: InStream) {}

  /** The next line (without its line break), or "" at the end of input. At most 4 KiB a line. */
  next(): Promise<string> {
    const take = (): string | undefined => {
      const nl = this.buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl).replace(/\r$/, "");
        this.buffer = this.buffer.slice(nl + 1);
        return line;
      }
      if (this.ended) {
        const rest = this.buffer;
        this.buffer = "";
        return rest;
      }
      return undefined;
    };
    const ready = take();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const onData = (chunk: string | Buffer): void => {
        this.buffer += chunk.toString();
        if (this.buffer.length > 4096 && !this.buffer.includes("\n")) {
          cleanup();
          reject(new UsageError("E_STDIN_LINE", "standard input: expected a short line (a PIN), got more than 4 KiB without a line break"));
          return;
        }
        const line = take();
        if (line !== undefined) {
          cleanup();
          resolve(line);
        }
      };
      const onEnd = (): void => {
        this.ended = true;
        cleanup();
        resolve(take() ?? "");
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(e);
      };
      const cleanup = (): void => {
        this.stream.off("data", onData);
        this.stream.off("end", onEnd);
        this.stream.off("error", onError);
        // Let the process exit even if the writer keeps standard input open.
        this.stream.pause();
      };
      this.stream.on("data", onData);
      this.stream.once("end", onEnd);
      this.stream.once("error", onError);
      this.stream.resume();
    });
  }
}

/** A hidden-input prompt on the terminal (nothing echoed), or `undefined` without a TTY. */
export function hiddenPrompt(ctx: CommandContext): ((message: string) => Promise<string>) | undefined {
  const { stdin, stdout } = ctx.io;
  if (stdin.isTTY !== true || stdout.isTTY !== true) return undefined;
  return async (message) => {
    const { default: password } = await import("@inquirer/password");
    try {
      // The prompt draws on the terminal itself: the real stream, and the message made printable.
      return await password({ message: printable(terminalPrompt(message)) }, { input: stdin, output: unguarded(stdout) as NodeJS.WritableStream });
    } catch (e) {
      if ((e as Error).name === "ExitPromptError") throw new InterruptedError("E_PIN_CANCELLED", "PIN entry cancelled (Ctrl-C): nothing was done");
      throw e;
    }
  };
}

/**
 * The guard's context for a command: home and policy from config, channels from the CLI's I/O.
 *
 * @param registry the registry file the action changes, if any: its protection decides whose
 *   PIN applies.
 */
export async function guardContext(ctx: CommandContext, lines: LineReader = new LineReader(ctx.io.stdin), registry?: string): Promise<GuardContext> {
  const config = await ctx.config();
  return {
    home: config.home,
    env: ctx.io.env,
    cwd: ctx.io.cwd,
    configHash: config.pinHash,
    forceForbiddenBy: config.forceForbiddenBy,
    registry,
    warn: ctx.warn,
    now: () => new Date(),
    user: currentUser(ctx.io.env),
    host: hostname(),
    readStdinLine: () => lines.next(),
    prompt: hiddenPrompt(ctx),
  };
}

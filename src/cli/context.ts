import type { ResolvedConfig } from "../config/load.js";
import type { Colors } from "./output/color.js";
import type { Format } from "./output/render.js";

/**
 * A writable text stream, as much of one as the CLI needs. Large outputs are written as buffers
 * of UTF-8, each of whole characters, and wait for a full stream to drain when it has `once`
 * (see `streamSink` in util/chunk-writer.ts).
 */
export interface OutStream {
  write(text: string | Buffer): unknown;
  readonly isTTY?: boolean;
}

/** A readable text stream, as much of one as the CLI needs. */
export interface InStream extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
}

/** Everything a command reads from or writes to the outside world; injected for tests. */
export interface CliIO {
  readonly stdin: InStream;
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** What every command handler receives. */
export interface CommandContext {
  readonly io: CliIO;
  /** Colours for standard output (off unless it is a TTY and NO_COLOR is unset). */
  readonly colors: Colors;
  /** Loads the layered configuration (once), with `--registry` as the flag layer. */
  readonly config: (flags?: { registry?: string }) => Promise<ResolvedConfig>;
  /** Writes `warning: <message>` to standard error. */
  readonly warn: (message: string) => void;
}

/** Options shared by listing commands. */
export interface FormatFlags {
  json?: boolean;
  csv?: boolean;
  markdown?: boolean;
}

/** The output format chosen by `--json`, `--csv` or `--markdown` (default: table). */
export function formatOf(flags: FormatFlags): Format {
  if (flags.json) return "json";
  if (flags.csv) return "csv";
  if (flags.markdown) return "markdown";
  return "table";
}

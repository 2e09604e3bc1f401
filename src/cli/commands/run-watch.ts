import type { RunsView, WatchedRun } from "../../app/logs.js";
import { watchRuns } from "../../app/logs.js";
import { isTerminal } from "../../core/lifecycle/lifecycle.js";
import type { CommandContext, OutStream } from "../context.js";
import { openLocal } from "../backend.js";
import type { RunWatchOptions } from "../define/run.js";
import type { Colors } from "../output/color.js";
import { formatNumber } from "../output/render.js";
import { printable, unguarded } from "../output/sanitize.js";
import { onStopSignals, signalExitCode } from "../runner.js";

const ESC = "\u001b";
const HIDE_CURSOR = `${ESC}[?25l`;
const SHOW_CURSOR = `${ESC}[?25h`;
/** Erase from the cursor to the end of the line / of the screen. */
const ERASE_LINE = `${ESC}[K`;
const ERASE_DOWN = `${ESC}[J`;
/** How long the name column may be before it is cut. */
const NAME_WIDTH = 24;

/** A terminal as the view draws on it: the real stream (its size, its resize events). */
interface Terminal extends OutStream {
  readonly columns?: number;
  readonly rows?: number;
  on?(event: "resize", listener: () => void): unknown;
  off?(event: "resize", listener: () => void): unknown;
}

/** Time for people: `42s`, `3m04s`, `2h05m`, `3d04h`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number): string => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** Whether code point `c` takes two columns (East Asian wide and fullwidth forms, emoji). */
function isWide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0x303e) ||
    (c >= 0x3041 && c <= 0x33ff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xa000 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) ||
    (c >= 0x1f900 && c <= 0x1f9ff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  );
}

/** Whether code point `c` takes no column of its own (combining marks, joiners, variation selectors). */
function isZeroWidth(c: number): boolean {
  return (c >= 0x0300 && c <= 0x036f) || (c >= 0x200b && c <= 0x200d) || (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0x20d0 && c <= 0x20ff);
}

/** The columns `text` (printable: no control characters) takes on a terminal. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    w += isZeroWidth(c) ? 0 : isWide(c) ? 2 : 1;
  }
  return w;
}

/** `text` cut to at most `width` columns, with `…` where it was cut. */
export function cutToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return "";
  let out = "";
  let w = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const cw = isZeroWidth(c) ? 0 : isWide(c) ? 2 : 1;
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

function padTo(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}

/** The longest metric name and value shown (a record may hold anything: a line stays a line). */
const METRIC_TEXT_WIDTH = 64;

/**
 * One metric as `name=value`, made printable (a name or a text value from data cannot drive the
 * terminal), name and value each cut to 64 columns.
 */
function metricText(name: string, value: unknown): string {
  const v = typeof value === "number" ? formatNumber(value) : (JSON.stringify(value) ?? String(value));
  return `${cutToWidth(printable(name), METRIC_TEXT_WIDTH)}=${cutToWidth(printable(v), METRIC_TEXT_WIDTH)}`;
}

function paintStatus(status: string, text: string, c: Colors): string {
  if (status === "completed") return c.green(text);
  if (status === "failed") return c.red(text);
  if (status === "cancelled" || status === "deleted") return c.dim(text);
  if (status === "running") return c.yellow(text);
  return text;
}

/** What a frame counts in its first line: `2 running, 1 queued, 3 finished`. */
function summary(runs: readonly WatchedRun[]): string {
  let running = 0;
  let queued = 0;
  let done = 0;
  let other = 0;
  for (const r of runs) {
    if (r.status === "running") running++;
    else if (r.status === "queued") queued++;
    else if (isTerminal(r.status) || r.status === "deleted") done++;
    else other++;
  }
  const parts = [running > 0 ? `${running} running` : "", queued > 0 ? `${queued} queued` : "", other > 0 ? `${other} waiting` : "", done > 0 ? `${done} finished` : ""].filter((p) => p !== "");
  return parts.length === 0 ? "no run is running or queued" : parts.join(", ");
}

/** What a frame is drawn for. */
export interface FrameInput {
  readonly view: RunsView;
  /** The terminal's size. */
  readonly columns: number;
  readonly rows: number;
  /** Now (ms since the epoch): elapsed times run to it. */
  readonly now: number;
  readonly colors: Colors;
  /** A warning to show under the runs (it would break the frame on standard error). */
  readonly warning?: string;
}

/**
 * The lines of one frame of `run watch` on a terminal: a summary, then one line per run (id,
 * state, elapsed time, name, its metrics as `name=value`), runs still going first. Every line
 * fits in `columns - 1` columns (the last column is left free: a line that fills it would wrap on
 * some terminals, and the redraw would count lines wrong), and the frame in `rows - 1` lines
 * (`… N more` says how many runs did not fit). Data is made printable before it is measured.
 */
export function renderFrame(input: FrameInput): string[] {
  const width = Math.max(1, input.columns - 1);
  const maxLines = Math.max(1, input.rows - 1);
  const runs = [...input.view.runs].sort((a, b) => Number(isTerminal(a.status) || a.status === "deleted") - Number(isTerminal(b.status) || b.status === "deleted"));
  const warning = input.warning === undefined ? [] : [cutToWidth(`warning: ${printable(input.warning)}`, width)];
  // The runs that fit (the summary, the warning and, when some are left out, `… N more` take a line each).
  const room = Math.max(0, maxLines - 1 - warning.length);
  const shown = runs.length <= room ? runs : runs.slice(0, Math.max(0, room - 1));
  const rows = shown.map((r) => {
    const elapsed = r.since === null ? "-" : formatElapsed((r.until ?? input.now) - r.since);
    const metrics = Object.entries(r.metrics)
      .map(([k, v]) => metricText(k, v))
      .join(" ");
    return { id: r.id, status: printable(r.status), raw: r.status, elapsed, name: r.name === null ? "" : printable(r.name), metrics, remote: r.remote };
  });
  // Columns as wide as the runs shown need (a name cut at 24).
  const w = { id: 0, status: 0, elapsed: 0, name: 0 };
  for (const r of rows) {
    w.id = Math.max(w.id, displayWidth(r.id));
    w.status = Math.max(w.status, displayWidth(r.status));
    w.elapsed = Math.max(w.elapsed, r.elapsed.length);
    w.name = Math.min(NAME_WIDTH, Math.max(w.name, displayWidth(r.name)));
  }
  const lines: string[] = [cutToWidth(`${summary(runs)} · Ctrl-C stops`, width)];
  for (const r of rows) {
    const head = `${padTo(r.id, w.id)}  `;
    const rest = `${" ".repeat(w.status - displayWidth(r.status))}  ${r.elapsed.padStart(w.elapsed)}${w.name > 0 ? `  ${padTo(cutToWidth(r.name, w.name), w.name)}` : ""}${r.remote ? "  (ClearML)" : ""}${r.metrics === "" ? "" : `  ${r.metrics}`}`;
    const plain = cutToWidth(`${head}${r.status}${rest}`.trimEnd(), width);
    // The state is painted once the line is cut, when the cut left it whole.
    const whole = `${head}${r.status}`;
    lines.push(plain.startsWith(whole) ? `${head}${paintStatus(r.raw, r.status, input.colors)}${plain.slice(whole.length)}` : plain);
  }
  if (shown.length < runs.length && room > 0) lines.push(cutToWidth(`… ${runs.length - shown.length} more`, width));
  lines.push(...warning);
  return lines.slice(0, maxLines);
}

/**
 * Draws frames in place: each frame is one write (cursor back to the first line of the last
 * frame, every line rewritten and erased to its end, the rest of the screen erased), so the
 * terminal never shows half a frame; the cursor is hidden while it runs and shown again at the end.
 */
class TerminalView {
  private drawn = 0;
  private started = false;
  private last = "";

  constructor(
    private readonly term: Terminal,
    private readonly frame: (columns: number, rows: number) => string[],
  ) {}

  draw(options: { force?: boolean; fromTop?: boolean } = {}): void {
    const lines = this.frame(this.term.columns ?? 80, this.term.rows ?? 24);
    const body = lines.map((l) => `${l}${ERASE_LINE}\n`).join("");
    if (options.force !== true && body === this.last) return;
    // After a resize the old frame may have been rewrapped: start again from the top of the screen.
    const back = options.fromTop === true ? `${ESC}[H` : this.drawn > 0 ? `\r${ESC}[${this.drawn}A` : "\r";
    this.term.write(`${this.started ? "" : HIDE_CURSOR}${back}${body}${ERASE_DOWN}`);
    this.started = true;
    this.drawn = lines.length;
    this.last = body;
  }

  /** The last frame, redrawn (it also wipes a `^C` the terminal echoed), and the cursor back. */
  close(): void {
    if (!this.started) return;
    this.draw({ force: true });
    this.term.write(SHOW_CURSOR);
  }
}

/** One plain line per change: `ID STATE [name="..."] [metric=value ...]`, never an escape sequence. */
class LineView {
  private readonly seen = new Map<string, { status: string; metrics: Map<string, string> }>();

  constructor(private readonly out: OutStream) {}

  update(view: RunsView): void {
    let text = "";
    for (const r of view.runs) {
      if (!view.changed.has(r.id)) continue;
      const before = this.seen.get(r.id);
      const metrics = new Map(Object.entries(r.metrics).map(([k, v]) => [k, metricText(k, v)]));
      const changedMetrics = [...metrics].filter(([k, t]) => before?.metrics.get(k) !== t).map(([, t]) => t);
      this.seen.set(r.id, { status: r.status, metrics });
      if (before !== undefined && before.status === r.status && changedMetrics.length === 0) continue;
      const name = before === undefined && r.name !== null ? ` name=${printable(JSON.stringify(r.name))}` : "";
      text += `${r.id} ${printable(r.status)}${name}${changedMetrics.length > 0 ? ` ${changedMetrics.join(" ")}` : ""}\n`;
    }
    if (text !== "") this.out.write(text);
  }
}

/**
 * `expflow run watch [ID...]`: a live view of runs, polled from the local registry every 500 ms
 * (see `watchRuns`). On a terminal it is redrawn in place (one write per frame, fitted to the
 * terminal's width and height, redrawn when it is resized) until Ctrl-C or SIGTERM (exit 130,
 * 143; the cursor is shown again), or, when ids are given, until they are all finished: exit 0
 * when every one completed, 1 otherwise (failed, cancelled, deleted). Into a file or a pipe it
 * prints one plain line per change instead.
 *
 * @throws {NotFoundError} (exit 2) for an unknown id; `E_AMBIGUOUS_ID` for an ambiguous prefix.
 */
export async function runWatchCommand(ids: string[], flags: RunWatchOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, { registry: flags.registry });
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const removeHandlers = onStopSignals((signal) => {
    stoppedBy ??= signal;
    controller.abort();
  });
  const onTerminal = ctx.io.stdout.isTTY === true;
  // The frames carry their own escape sequences (data in them is made printable first).
  const term = unguarded(ctx.io.stdout) as Terminal;
  let last: RunsView | undefined;
  let warning: string | undefined;
  const view = onTerminal
    ? new TerminalView(term, (columns, rows) => renderFrame({ view: last ?? { runs: [], changed: new Set() }, columns, rows, now: Date.now(), colors: ctx.colors, ...(warning === undefined ? {} : { warning }) }))
    : undefined;
  const lines = onTerminal ? undefined : new LineView(ctx.io.stdout);
  const onResize = (): void => view?.draw({ force: true, fromTop: true });
  if (view !== undefined) term.on?.("resize", onResize);
  let saidEmpty = false;
  try {
    for await (const now of watchRuns(backend, {
      ids,
      signal: controller.signal,
      warn: (message) => {
        if (view !== undefined) warning = message;
        else ctx.warn(message);
      },
    })) {
      last = now;
      if (view !== undefined) view.draw();
      else {
        lines!.update(now);
        if (now.runs.length === 0 && !saidEmpty) {
          saidEmpty = true;
          ctx.io.stderr.write("no local run is running or queued; waiting for one (Ctrl-C stops)\n");
        }
      }
    }
  } finally {
    removeHandlers();
    if (view !== undefined) term.off?.("resize", onResize);
    view?.close();
  }
  if (stoppedBy !== undefined) return signalExitCode(stoppedBy);
  return last !== undefined && last.runs.every((r) => r.status === "completed") ? 0 : 1;
}

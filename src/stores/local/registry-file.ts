import { closeSync, openSync, statSync } from "node:fs";
import { NotFoundError, ValidationError } from "../../core/errors.js";
import type { WarningSink } from "../store.js";
import type { DamagedLine, LineSink, RawLineSink } from "../../util/jsonl.js";
import { forEachRawLine, nonBlankText, parseObjectLine } from "../../util/jsonl.js";
import { checkedRecordId } from "./record.js";

/** How many damaged lines are named one by one before the rest are summed up. */
export const MAX_LINE_WARNINGS = 20;

/**
 * Checks that the registry exists and is a file, before a command reads or rewrites it.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` naming the path (exit 2).
 * @throws {ValidationError} `E_REGISTRY_UNREADABLE` when the path is not a readable file.
 */
export function assertRegistryFile(path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new NotFoundError("E_REGISTRY_NOT_FOUND", `registry file not found: ${path}`, {
        hint: "check the path; the configured registry is `registry:` in expflow.yaml, else EXPFLOW_REGISTRY, else experiments.jsonl in EXPFLOW_HOME",
      });
    }
    throw new ValidationError("E_REGISTRY_UNREADABLE", `cannot read registry ${path}: ${(e as Error).message}`);
  }
  if (!isFile) throw new ValidationError("E_REGISTRY_UNREADABLE", `registry ${path} is not a file`);
}

/** Passes damaged lines to `warn` as {@link LocalStore} does: the first 20 by number, then a count. */
export function warnDamaged(path: string, damaged: readonly DamagedLine[], warn: WarningSink): void {
  damaged.slice(0, MAX_LINE_WARNINGS).forEach((d) => warn(`${path}: line ${d.line} skipped: ${d.reason}`));
  if (damaged.length > MAX_LINE_WARNINGS) warn(`${path}: ${damaged.length - MAX_LINE_WARNINGS} more damaged lines skipped (${damaged.length} in all)`);
}


/** Receives each usable record of {@link scanRegistry}, with where its line is in the file. */
export type RecordSink = (id: string, record: Record<string, unknown>, text: string, repaired: boolean, offset: number, bytes: number) => void;

/**
 * Offered each line's bytes `bytes[start, end)` (its offset in the file) first: `true` when it
 * took the line itself as a usable record, `false` to leave the line to the general way.
 */
export type FastLineSink = (bytes: Buffer, start: number, end: number, offset: number) => boolean;

/**
 * Reads every line of a registry: each record that parses, with an id that passes the id rule,
 * goes to `onRecord` (in file order, so the last call for an id is its latest snapshot); every
 * other non-blank line (not JSON, nested too deeply, no id, an id that is not a name) is
 * collected as damaged. Returns the damaged lines and the count of non-blank lines.
 *
 * @param file a path, or a file open for reading (read from its start, left open).
 * @param fast offered each line before it is decoded; a line it takes (a usable record, as it
 *   must only take) goes no further.
 */
export function scanRegistry(file: string | { readonly fd: number }, onRecord: RecordSink, fast?: FastLineSink): { damaged: DamagedLine[]; lines: number } {
  const damaged: DamagedLine[] = [];
  let lines = 0;
  const onLine: LineSink = (text, line, offset, bytes) => {
    lines++;
    const parsed = parseObjectLine(text);
    if ("reason" in parsed) {
      damaged.push({ line, reason: parsed.reason });
      return;
    }
    const checked = checkedRecordId(parsed.value);
    if ("reason" in checked) {
      damaged.push({ line, reason: checked.reason });
      return;
    }
    onRecord(checked.id, parsed.value, text, parsed.repaired === true, offset, bytes);
  };
  // The lines as bytes, offered to `fast` first; the others decoded as forEachLine decodes them.
  const onRaw: RawLineSink = (bytes, start, end, line, offset) => {
    if (fast?.(bytes, start, end, offset) === true) lines++;
    else {
      const t = nonBlankText(bytes, start, end, offset);
      if (t !== null) onLine(t, line, offset, end - start);
    }
  };
  if (typeof file === "string") {
    const fd = openSync(file, "r");
    try {
      forEachRawLine(fd, onRaw);
    } finally {
      closeSync(fd);
    }
  } else forEachRawLine(file.fd, onRaw);
  return { damaged, lines };
}

import { existsSync } from "node:fs";
import type { AppendedAt, PendingAppend } from "../../util/append-file.js";
import { appendText, appendTextUnsynced } from "../../util/append-file.js";

/**
 * Appends one line to a file, acknowledged only when complete (see {@link appendText}: every
 * byte written, fsynced, read back; on failure the file is truncated back, so no partial line
 * stays). If the file does not end with a line break (a writer crashed mid-line), the new line
 * starts on a fresh line, so the torn fragment never merges with new data. Callers hold the
 * registry lock.
 *
 * @throws {BackendError} (exit 4) a full disk (`no space left on device writing FILE`), a
 *   read-only file system, no permission; {@link UsageError} (exit 2) a path that is a directory
 *   or under a file.
 */
export function appendLine(path: string, line: string): AppendedAt {
  return appendText(path, `${line}\n`, { mode: 0o644 });
}

/**
 * Lines appended without the flush to disk, which the caller runs ({@link PendingAppend.flush})
 * after releasing the registry lock and before acknowledging anything. Each line is one
 * snapshot, written whole with the others in one append.
 */
export function appendLinesUnsynced(path: string, lines: readonly string[]): PendingAppend {
  return appendTextUnsynced(path, lines.map((l) => `${l}\n`).join(""), { mode: 0o644 });
}

/** Whether a file exists. */
export function fileExists(path: string): boolean {
  return existsSync(path);
}

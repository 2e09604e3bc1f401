import { closeSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, statSync } from "node:fs";
import { BackendError } from "../core/errors.js";
import { writeAll } from "./atomic-file.js";
import { storageError } from "./fs-errors.js";

/**
 * Appends `text` (whole lines, ending with a line break) to `path`, acknowledged only when it is
 * complete: every byte is written (partial writes are continued), fsynced and read back. If the
 * file does not end with a line break (a writer crashed mid-line), the text starts on a fresh
 * line, so a torn fragment never merges with new data. On any failure the file is truncated back
 * to its previous length, so no partial line stays, and a typed error is thrown. The caller
 * holds whatever lock orders the writers of `path`.
 *
 * @param options.mode the mode of a file created by this append (narrowed by the umask).
 * @param options.what how the message names the file (default: its path).
 * @returns where the text starts in the file and the file's length after it.
 * @throws {BackendError} exit 4: `E_NO_SPACE` ("no space left on device writing FILE"),
 *   `E_READ_ONLY`, `E_PERMISSION`, `E_FILE_TOO_LARGE`, `E_APPEND_VERIFY` (read back different);
 *   {@link UsageError} exit 2: `E_IS_DIRECTORY`, `E_NOT_DIRECTORY`, `E_NO_DIRECTORY`.
 */
export function appendText(path: string, text: string, options: AppendOptions = {}): AppendedAt {
  const pending = appendTextUnsynced(path, text, options);
  try {
    pending.flush();
  } catch (e) {
    // Still under the caller's lock: nobody appended after this text.
    pending.takeBack();
    throw e;
  }
  return pending;
}

/** Options of {@link appendText} and {@link appendTextUnsynced}. */
export interface AppendOptions {
  readonly mode?: number;
  readonly what?: string;
  /** Set the file's mode to this on every append (a file restored or made with looser permissions). */
  readonly chmod?: number;
}

/** Where {@link appendText} put the text: its first byte, and the end of the file after it. */
export interface AppendedAt {
  readonly offset: number;
  readonly end: number;
}

/** An append written and read back but not yet flushed to disk: see {@link appendTextUnsynced}. */
export interface PendingAppend extends AppendedAt {
  /** The file's length before the append (before the line break it may have begun with). */
  readonly start: number;
  /**
   * Flushes the file to disk (fsync) and closes it: the append is complete only once this
   * returned. When it throws, the file stays open for {@link takeBack} or {@link close}.
   *
   * @throws {BackendError} exit 4 (`E_IO`, `E_NO_SPACE`, ...) naming the file.
   */
  flush(): void;
  /**
   * Flushes the file to disk (fsync) and keeps it open, for a caller with one more step before the
   * append counts (then {@link close}, or {@link takeBack} when that step fails).
   *
   * @throws {BackendError} exit 4 naming the file; the file stays open.
   */
  sync(): void;
  /**
   * After a failed {@link flush} or a failed step after {@link sync}: takes the append back, truncating the file to its previous
   * length if it still ends where this append ended and is still the file at the path (nobody
   * appended after it, nothing replaced it), and closes it. The caller holds the writers' lock
   * again. True when taken back.
   */
  takeBack(): boolean;
  /** Closes the file without flushing it (the append is then not acknowledged). */
  close(): void;
}

/**
 * The first half of {@link appendText}: writes `text` (checking every byte, truncating back on
 * any failure, as appendText does) and reads it back, leaving the fsync to
 * {@link PendingAppend.flush}, which the caller may run after releasing its lock: writers
 * that flush outside the lock overlap their flushes (one journal commit can carry several),
 * where flushing under it makes every writer wait for every other's disk. Acknowledge nothing
 * before `flush` returned. The caller holds the writers' lock.
 *
 * @throws what {@link appendText} throws, before anything was acknowledged.
 */
export function appendTextUnsynced(path: string, text: string, options: AppendOptions = {}): PendingAppend {
  const what = options.what ?? path;
  let fd: number;
  try {
    fd = openSync(path, "a+", options.mode ?? 0o644);
  } catch (e) {
    throw storageError(e, what);
  }
  let size = -1;
  let lead = "";
  try {
    if (options.chmod !== undefined) fchmodSync(fd, options.chmod);
    size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = "\n";
    }
    const data = Buffer.from(`${lead}${text}`, "utf8");
    writeAll(fd, data);
    // Nothing is acknowledged that cannot be read back.
    const back = Buffer.allocUnsafe(data.length);
    let got = 0;
    while (got < back.length) {
      const n = readSync(fd, back, got, back.length - got, size + got);
      if (n === 0) break;
      got += n;
    }
    if (got !== data.length || !back.equals(data)) {
      throw new BackendError("E_APPEND_VERIFY", `what was appended to ${what} does not read back as written`, {
        hint: "the storage is failing; nothing was acknowledged (the file was truncated back)",
      });
    }
  } catch (e) {
    if (size >= 0) truncateBack(fd, size);
    closeSync(fd);
    throw storageError(e, what);
  }
  const start = size;
  const offset = size + lead.length;
  const end = offset + Buffer.byteLength(text, "utf8");
  let open = true;
  const close = (): void => {
    if (open) closeSync(fd);
    open = false;
  };
  return {
    start,
    offset,
    end,
    flush() {
      this.sync();
      close();
    },
    sync() {
      try {
        fsyncSync(fd);
      } catch (e) {
        // Left open for takeBack (or close).
        throw storageError(e, what);
      }
    },
    takeBack() {
      if (!open) return false;
      try {
        const mine = fstatSync(fd);
        const now = statSync(path);
        if (mine.size !== end || now.ino !== mine.ino || now.dev !== mine.dev) return false;
        return truncateBack(fd, start);
      } catch {
        return false;
      } finally {
        close();
      }
    },
    close,
  };
}

/** Truncates `fd` to `size` and flushes it; false when that failed too (the torn line stays, and readers skip it). */
function truncateBack(fd: number, size: number): boolean {
  try {
    ftruncateSync(fd, size);
    fsyncSync(fd);
    return true;
  } catch {
    return false;
  }
}

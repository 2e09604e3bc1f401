import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync } from "node:fs";
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
 * @throws {BackendError} exit 4: `E_NO_SPACE` ("no space left on device writing FILE"),
 *   `E_READ_ONLY`, `E_PERMISSION`, `E_FILE_TOO_LARGE`, `E_APPEND_VERIFY` (read back different);
 *   {@link UsageError} exit 2: `E_IS_DIRECTORY`, `E_NOT_DIRECTORY`, `E_NO_DIRECTORY`.
 */
export function appendText(path: string, text: string, options: { mode?: number; what?: string } = {}): void {
  const what = options.what ?? path;
  let fd: number;
  try {
    fd = openSync(path, "a+", options.mode ?? 0o644);
  } catch (e) {
    throw storageError(e, what);
  }
  let size = -1;
  try {
    size = fstatSync(fd).size;
    let lead = "";
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = "\n";
    }
    const data = Buffer.from(`${lead}${text}`, "utf8");
    writeAll(fd, data);
    fsyncSync(fd);
    // Nothing is acknowledged that cannot be read back.
    const back = Buffer.alloc(data.length);
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
    if (size >= 0) {
      try {
        ftruncateSync(fd, size);
        fsyncSync(fd);
      } catch {
        // The torn line stays; the next append starts on a fresh line and readers skip it.
      }
    }
    closeSync(fd);
    throw storageError(e, what);
  }
  closeSync(fd);
}

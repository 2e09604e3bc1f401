import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";

/**
 * Appends one line to a file as a single write, fsynced. If the file does not end with a line
 * break (a writer crashed mid-line), the new line starts on a fresh line, so the torn fragment
 * never merges with new data. Callers hold the registry lock.
 */
export function appendLine(path: string, line: string): void {
  const fd = openSync(path, "a", 0o644);
  try {
    let lead = "";
    const size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfd = openSync(path, "r");
      try {
        readSync(rfd, last, 0, 1, size - 1);
      } finally {
        closeSync(rfd);
      }
      if (last[0] !== 0x0a) lead = "\n";
    }
    writeSync(fd, `${lead}${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether a file exists. */
export function fileExists(path: string): boolean {
  return existsSync(path);
}

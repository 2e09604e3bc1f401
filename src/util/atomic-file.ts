import { chmodSync, closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

/**
 * Replaces `path` atomically: `write` fills a temporary file in the same directory, which is
 * fsynced and renamed over the target, then the directory is fsynced. A reader sees the old
 * content or the new, never a mix; a crash leaves the old file. On failure the temporary file
 * is removed and the error rethrown.
 *
 * @param options.mode the file's mode, applied exactly (whatever the umask); omitted: 0666
 *   narrowed by the umask, as for any new file.
 */
export function replaceFileAtomic(path: string, write: (fd: number) => void, options: { mode?: number } = {}): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", options.mode ?? 0o666);
  let closed = false;
  try {
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    if (options.mode !== undefined) chmodSync(tmp, options.mode);
    renameSync(tmp, path);
  } catch (e) {
    if (!closed) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never written
    }
    throw e;
  }
  fsyncDir(dir);
}

/** Fsyncs a directory after a rename in it, where the file system allows (some refuse; the rename itself is still atomic). */
export function fsyncDir(dir: string): void {
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  }
}

/** Writes all of `data` to `fd`. */
export function writeAll(fd: number, data: string | Buffer): void {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
}

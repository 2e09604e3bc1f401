import { lstatSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { BackendError, ExpflowError, UsageError } from "../core/errors.js";

/** Error codes of the file system that say something about the place, not a bug of ours. */
const STORAGE_CODES = new Set(["ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "ENOENT", "EIO", "ELOOP", "ENAMETOOLONG", "EEXIST", "EMLINK", "ENXIO", "ETXTBSY", "EBUSY"]);

/** Whether `e` is a Node file-system error of the place written to (full, read-only, in the way). */
export function isStorageErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && STORAGE_CODES.has((e as NodeJS.ErrnoException).code!);
}

/**
 * The typed error for a failed write to `path` (the file the user knows of, not an internal
 * temporary or lock path): one line naming the file and what the system said.
 *
 * - exit 4 ({@link BackendError}): the storage is full (`ENOSPC`: "no space left on device
 *   writing FILE"), over quota, read-only, refuses permission or fails;
 * - exit 2 ({@link UsageError}): the path named is wrong: a directory (`EISDIR`), a file where a
 *   directory belongs (`ENOTDIR`), a directory that does not exist (`ENOENT`);
 * - an {@link ExpflowError} is returned unchanged; anything else that is not a file-system error
 *   is returned as it is (a bug, exit 70).
 */
export function storageError(e: unknown, path: string, verb = "writing"): unknown {
  if (e instanceof ExpflowError || !(e instanceof Error)) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code !== "string") return e;
  const free = "free some space and run it again; nothing was written";
  const fix = "choose a path you can write to, or fix its permissions";
  switch (code) {
    case "ENOSPC":
      return new BackendError("E_NO_SPACE", `no space left on device ${verb} ${path}`, { hint: free, cause: e });
    case "EDQUOT":
      return new BackendError("E_NO_SPACE", `disk quota exceeded ${verb} ${path}`, { hint: free, cause: e });
    case "EFBIG":
      return new BackendError("E_FILE_TOO_LARGE", `file too large ${verb} ${path} (a file-size limit)`, { hint: free, cause: e });
    case "EROFS":
      return new BackendError("E_READ_ONLY", `read-only file system ${verb} ${path}`, { hint: fix, cause: e });
    case "EACCES":
    case "EPERM":
      return new BackendError("E_PERMISSION", `permission denied ${verb} ${path}`, { hint: fix, cause: e });
    case "EISDIR":
      return new UsageError("E_IS_DIRECTORY", `${path} is a directory, not a file`, { hint: "name a file", cause: e });
    case "ENOTDIR":
      return new UsageError("E_NOT_DIRECTORY", `a part of ${path} is not a directory`, { hint: "name a path under directories", cause: e });
    case "ENOENT":
      return new UsageError("E_NO_DIRECTORY", `the directory ${dirname(path)} of ${path} does not exist or cannot be made`, { hint: "create the directory first, or name another path", cause: e });
    default:
      if (!STORAGE_CODES.has(code)) return e;
      return new BackendError("E_STORAGE", `${code} ${verb} ${path}`, { hint: fix, cause: e });
  }
}

/**
 * Creates `dir` and its missing parents one level at a time (never Node's recursive `mkdir`,
 * which loops forever under `/proc` on Node 20): the longest existing prefix is found first and
 * must be a directory. New directories get `mode` (narrowed by the umask).
 *
 * @returns whether `dir` was created (`false`: it existed).
 * @throws the raw file-system error (`ENOTDIR` when a file is in the way, `ENOENT`, `EACCES`,
 *   `EROFS`, ...); {@link storageError} turns it into a message.
 */
export function makeDirs(dir: string, mode = 0o777): boolean {
  const missing: string[] = [];
  let cur = dir;
  for (;;) {
    let st;
    try {
      st = statSync(cur);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") throw e;
      const parent = dirname(cur);
      if (parent === cur) throw e;
      missing.push(cur);
      cur = parent;
      continue;
    }
    if (!st.isDirectory()) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: "ENOTDIR", path: cur, syscall: "mkdir" });
    }
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (e) {
      // Another process may have made it meanwhile.
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || !lstatSync(d).isDirectory()) throw e;
    }
  }
  return missing.length > 0;
}

import { dirname, join } from "node:path";
import { mkdirSync } from "node:fs";
import { BackendError } from "../core/errors.js";
import { ensurePrivateDir } from "./files.js";

/**
 * Runs `fn` while holding the inter-process lock `lockPath` (proper-lockfile: an atomic mkdir
 * of that path, refreshed while held, taken over when stale after 10 s). Waits up to about
 * 10 s for another holder. The lock's directory must be writable; it is created if missing.
 *
 * @throws {BackendError} `E_LOCK_TIMEOUT` when the lock cannot be had.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T> | T): Promise<T> {
  mkdirSync(dirname(lockPath), { recursive: true });
  const { lock } = await import("proper-lockfile");
  let release: () => Promise<void>;
  try {
    // Keyed on the lock's own path: proper-lockfile keeps one lock per key in a process, so two
    // locks in one directory (audit, then pin inside it) must not share the directory as key.
    release = await lock(lockPath, {
      lockfilePath: lockPath,
      realpath: false,
      stale: 10_000,
      retries: { retries: 60, factor: 1.3, minTimeout: 5, maxTimeout: 250, randomize: true },
    });
  } catch (e) {
    throw new BackendError("E_LOCK_TIMEOUT", `could not take the lock ${lockPath}: ${(e as Error).message}`, {
      hint: "another expflow process holds it; if none is running, remove that .lock directory",
    });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}

/**
 * {@link withFileLock} on `<dir>/<name>.lock`, for the private home directory (made 0700).
 */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T> | T): Promise<T> {
  ensurePrivateDir(dir);
  return withFileLock(join(dir, `${name}.lock`), fn);
}

import { join } from "node:path";
import { BackendError } from "../core/errors.js";
import { ensurePrivateDir } from "./files.js";

/**
 * Runs `fn` while holding an inter-process lock named `name` in `dir` (proper-lockfile: an
 * atomic mkdir, refreshed while held, taken over when stale after 10 s). Waits up to about 10 s
 * for another holder.
 *
 * @throws {BackendError} `E_LOCK_TIMEOUT` when the lock cannot be had.
 */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T> | T): Promise<T> {
  ensurePrivateDir(dir);
  const { lock } = await import("proper-lockfile");
  const lockfilePath = join(dir, `${name}.lock`);
  let release: () => Promise<void>;
  try {
    release = await lock(dir, {
      lockfilePath,
      realpath: false,
      stale: 10_000,
      retries: { retries: 60, factor: 1.3, minTimeout: 5, maxTimeout: 250, randomize: true },
    });
  } catch (e) {
    throw new BackendError("E_LOCK_TIMEOUT", `could not take the lock ${lockfilePath}: ${(e as Error).message}`, {
      hint: "another expflow process holds it; if none is running, remove the .lock directory",
    });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}

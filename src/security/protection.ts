import { lstatSync, readFileSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DeniedError } from "../core/errors.js";
import { replaceFileAtomic, writeAll } from "../util/atomic-file.js";
import { removeFile } from "../util/private-files.js";

/** The sidecar beside a registry that names the PIN protecting it: `<registry>.protection.json`. */
export const SIDECAR_SUFFIX = ".protection.json";

/**
 * A registry's protection sidecar. It binds the registry to one PIN (the PIN file of one expflow
 * home) and to that PIN's audit log, so that every guarded action on the registry needs that PIN
 * and is recorded in that log, whichever `EXPFLOW_HOME`, path, symlink or setting reached it.
 */
export interface Protection {
  readonly version: 1;
  /** The real path of the expflow home whose PIN protects the registry. */
  readonly home: string;
  /** When and by whom the registry was bound. */
  readonly bound_at: string;
  readonly bound_by: string;
}

/**
 * The real path of a registry: symlinks resolved, relative paths made absolute; for a file that
 * does not exist yet, its directory's real path and its name.
 */
export function realRegistryPath(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/** The sidecar's path for a registry (beside its real file). */
export function sidecarOf(registry: string): string {
  return `${realRegistryPath(registry)}${SIDECAR_SUFFIX}`;
}

/** The real path of a home directory (as it is named in sidecars). */
export function realHome(home: string): string {
  return realRegistryPath(home);
}

function unreadable(path: string, why: string): DeniedError {
  return new DeniedError("E_PROTECTION_UNREADABLE", `the registry's protection record ${path} cannot be read (${why}), so protected actions on it are refused`, {
    hint: "restore it; it names the expflow home whose PIN protects the registry",
  });
}

/**
 * The registry's protection, or `undefined` when it has no sidecar (it is not bound to a PIN).
 *
 * @throws {DeniedError} `E_PROTECTION_UNREADABLE` (exit 3) when the sidecar exists but cannot be
 *   read or is not one expflow wrote: a broken sidecar fails closed.
 */
export function readProtection(registry: string): Protection | undefined {
  const path = sidecarOf(registry);
  let text: string;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw unreadable(path, st.isDirectory() ? "it is a directory" : "it is not a regular file");
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof DeniedError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw unreadable(path, code ?? (e as Error).message);
  }
  let p: Partial<Protection> | null;
  try {
    p = JSON.parse(text) as Partial<Protection> | null;
  } catch {
    throw unreadable(path, "not valid JSON");
  }
  if (p === null || typeof p !== "object" || p.version !== 1 || typeof p.home !== "string" || !p.home.startsWith("/") || typeof p.bound_at !== "string" || typeof p.bound_by !== "string") {
    throw unreadable(path, "not a protection record expflow wrote");
  }
  return { version: 1, home: p.home, bound_at: p.bound_at, bound_by: p.bound_by };
}

/**
 * Binds a registry to the PIN of `home` by writing its sidecar (atomically, mode 0644: it holds no
 * secret, and whoever reaches the registry must be able to learn that it is protected).
 */
export function bindRegistry(registry: string, home: string, actor: { now: () => Date; user: string; host: string }): Protection {
  const p: Protection = { version: 1, home: realHome(home), bound_at: actor.now().toISOString(), bound_by: `${actor.user}@${actor.host}` };
  replaceFileAtomic(sidecarOf(registry), (fd) => writeAll(fd, `${JSON.stringify(p)}\n`), { mode: 0o644 });
  return p;
}

/**
 * Removes a registry's sidecar, only if it names `home`'s PIN (another PIN's binding is not
 * this home's to remove). Callers go through the guard first: removing protection is guarded.
 *
 * @returns whether a sidecar was removed.
 */
export function unbindRegistry(registry: string, home: string): boolean {
  let p: Protection | undefined;
  try {
    p = readProtection(registry);
  } catch {
    return false;
  }
  if (p === undefined || p.home !== realHome(home)) return false;
  return removeFile(sidecarOf(registry));
}

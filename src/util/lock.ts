import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { BackendError } from "../core/errors.js";
import { ensurePrivateDir } from "./private-files.js";

/** How long a waiter waits for a live holder before giving up (ms): 120 s. */
export const DEFAULT_LOCK_WAIT_MS = 120_000;

/**
 * Who holds a lock: the name of an empty file `<lock>/owner.<pid>.<start>.<token>.<host in hex>`,
 * made before the lock appears.
 */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid apart. */
  readonly start: string | null;
  /** Unique per acquisition: what a takeover checks it is removing. */
  readonly token: string;
}

/** Options of {@link withFileLock}; the defaults are what the product uses. */
export interface LockOptions {
  /** How long to wait for a live holder (ms); default {@link DEFAULT_LOCK_WAIT_MS}. */
  readonly waitMs?: number;
  /**
   * Keep the lock's directory a second after the release (`<lock>.<token>.new`), so this
   * process takes the lock again with one rename: for a lock taken again and again (the
   * registry's). Removed after that second, at exit, or by {@link dropKeptLocks}.
   */
  readonly keep?: boolean;
  /** With `keep`: how long the directory is kept after the release (ms); default {@link DEFAULT_LOCK_KEEP_MS}. */
  readonly keepMs?: number;
}

/** State and start time (clock ticks since boot) of process `pid` from /proc (Linux), or null where it cannot be read. */
function processStat(pid: number): { state: string; start: string | null } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields 3 and 22, counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", start: fields[19] ?? null };
  } catch {
    return null;
  }
}

function processStart(pid: number): string | null {
  return processStat(pid)?.start ?? null;
}

/** This process's start time, recorded in every lock it takes. */
const OWN_START = processStart(process.pid);

/** A process as a lock records its holder: pid, host, and start time (to tell a reused pid apart). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly host: string;
  /** Clock ticks since boot (Linux), or `null` where it cannot be read. */
  readonly start: string | null;
}

/** This process, as {@link processAlive} judges it later (what a lock records of its holder). */
export function thisProcess(): ProcessIdentity {
  return { pid: process.pid, host: hostname(), start: OWN_START };
}

/**
 * Whether a process recorded by {@link thisProcess} still runs, judged as a lock's holder is
 * (for a claim that is not a lock: an approval being performed). A process on another host
 * counts as alive.
 */
export function processAlive(p: ProcessIdentity): boolean {
  return holderAlive(p, hostname());
}

/**
 * Whether the recorded holder still runs. Only a holder on this host can be judged: a lock from
 * another host counts as alive (never taken over automatically). A stopped process (SIGSTOP) is
 * alive; so is one of another user (EPERM).
 */
function holderAlive(owner: ProcessIdentity, host: string): boolean {
  if (owner.host !== host) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  // The pid exists: unless it is a zombie (killed, not yet reaped by its parent) or a new
  // process that got a dead holder's pid.
  const now = processStat(owner.pid);
  if (now === null) return true;
  if (now.state === "Z" || now.state === "X") return false;
  return owner.start === null || now.start === null || now.start === owner.start;
}

function ownerName(o: LockOwner): string {
  return ["owner", o.pid, o.start ?? "-", o.token, Buffer.from(o.host, "utf8").toString("hex")].join(".");
}

function readOwner(lockPath: string): LockOwner | null {
  try {
    for (const name of readdirSync(lockPath)) {
      const m = /^owner\.(\d+)\.(\d+|-)\.([0-9a-f]+)\.([0-9a-f]*)$/.exec(name);
      if (m) return { pid: Number(m[1]), start: m[2] === "-" ? null : m[2]!, token: m[3]!, host: Buffer.from(m[4]!, "hex").toString("utf8") };
    }
  } catch {
    // gone, or not a lock directory
  }
  return null;
}

function isCode(e: unknown, ...codes: string[]): boolean {
  return codes.includes((e as NodeJS.ErrnoException).code ?? "");
}

/**
 * Removes a lock directory without ever leaving it half-removed under its own name; `owner`,
 * when known, is its only entry (one unlink instead of a listing).
 */
function removeLockDir(lockPath: string, owner?: LockOwner): void {
  const gone = `${lockPath}.${randomBytes(6).toString("hex")}.gone`;
  try {
    renameSync(lockPath, gone);
  } catch (e) {
    if (isCode(e, "ENOENT")) return;
    throw e;
  }
  if (owner === undefined) rmSync(gone, { recursive: true, force: true });
  else removeOwnedDir(gone, owner);
}

/** Removes a directory holding at most the owner file `owner` (anything else too, if it must). */
function removeOwnedDir(dir: string, owner: LockOwner): void {
  try {
    unlinkSync(join(dir, ownerName(owner)));
    rmdirSync(dir);
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How long this process keeps a lock's directory after releasing it, to take the lock again with one rename (ms): 1 s. */
export const DEFAULT_LOCK_KEEP_MS = 1000;
/** How often one process looks for the leftovers of dead processes beside one lock (ms). */
const SWEEP_MS = 60_000;

/** A released lock's directory (`<lock>.<token>.new`, its owner file in it), kept for this process's next acquisition. */
interface Spare {
  readonly owner: LockOwner;
  readonly candidate: string;
  readonly timer: NodeJS.Timeout;
}

// Process-wide on purpose (the one exception to "no module-level state" here): what is kept
// are directories on disk owned by this process, reused by whichever writer of the process
// takes the lock next, and removed at the process's exit, which only the process can observe.
const spares = new Map<string, Spare>();
const swept = new Map<string, number>();
let removeSparesAtExit = false;

function keepSpare(lockPath: string, owner: LockOwner, candidate: string, keepMs: number): void {
  if (spares.has(lockPath)) return removeOwnedDir(candidate, owner);
  const timer = setTimeout(() => {
    if (spares.get(lockPath)?.candidate !== candidate) return;
    spares.delete(lockPath);
    removeOwnedDir(candidate, owner);
  }, keepMs);
  timer.unref();
  spares.set(lockPath, { owner, candidate, timer });
  if (!removeSparesAtExit) {
    removeSparesAtExit = true;
    process.once("exit", dropKeptLocks);
  }
}

/**
 * Removes every lock directory this process keeps for taking a lock again (they go by
 * themselves a second after their release, and at exit): for a long-lived process that is
 * done with a registry, and for tests that look at a directory at once.
 */
export function dropKeptLocks(): void {
  for (const spare of spares.values()) {
    clearTimeout(spare.timer);
    removeOwnedDir(spare.candidate, spare.owner);
  }
  spares.clear();
}

function takeSpare(lockPath: string): Spare | undefined {
  const spare = spares.get(lockPath);
  if (spare === undefined) return undefined;
  spares.delete(lockPath);
  clearTimeout(spare.timer);
  return spare;
}

/**
 * Removes what dead processes on this host left beside `lockPath`: candidates of waiters
 * killed while waiting, spares of holders killed before their exit, released locks of holders
 * killed while removing them. Only a directory holding just the owner file of a dead process on
 * this host, or nothing for over a minute, is removed: what a live process or another host
 * owns, and anything else, is left alone. At most once a minute per lock per process.
 */
function sweepLeftovers(lockPath: string, host: string): void {
  const now = Date.now();
  if (now - (swept.get(lockPath) ?? -Infinity) < SWEEP_MS) return;
  swept.set(lockPath, now);
  const dir = dirname(lockPath);
  const prefix = `${basename(lockPath)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^(break-[0-9a-f]+\.)*[0-9a-f]+\.(new|gone)$/.test(name.slice(prefix.length))) continue;
    const path = join(dir, name);
    try {
      // Only a directory holding just an owner file, or nothing (its maker died before writing
      // it): anything else is not expflow's to remove.
      const st = statSync(path);
      if (!st.isDirectory()) continue;
      const entries = readdirSync(path);
      const owner = readOwner(path);
      if (entries.length === 0 ? now - st.mtimeMs > 60_000 : entries.length === 1 && owner !== null && owner.host === host && !holderAlive(owner, host)) {
        rmSync(path, { recursive: true, force: true });
      }
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}

/**
 * One holder's attempts at one lock. The holder makes a candidate directory with its owner
 * file and renames it onto the lock's name: the rename is atomic, fails while the lock exists
 * (a lock directory is never empty), and the lock never exists without its owner. The
 * candidate is made once and kept while the holder waits, so each try is one rename; on
 * release the lock is renamed back to the candidate's name and kept a moment, so a process
 * changing the registry again and again takes and releases the lock with one rename each.
 */
class Attempt {
  readonly owner: LockOwner;
  private readonly candidate: string;
  private made = false;

  constructor(
    readonly lockPath: string,
    private readonly host: string,
    private readonly keep: boolean,
    private readonly keepMs = DEFAULT_LOCK_KEEP_MS,
  ) {
    const spare = keep ? takeSpare(lockPath) : undefined;
    if (spare !== undefined && spare.owner.host === host) {
      this.owner = spare.owner;
      this.candidate = spare.candidate;
      this.made = true;
      return;
    }
    if (spare !== undefined) removeOwnedDir(spare.candidate, spare.owner);
    const token = randomBytes(9).toString("hex");
    this.owner = { pid: process.pid, host, start: OWN_START, token };
    this.candidate = `${lockPath}.${token}.new`;
  }

  /** Whether the candidate is made (kept from this process's last hold of the lock). */
  get ready(): boolean {
    return this.made;
  }

  /** Tries once to take the lock; true when held. */
  tryAcquire(): boolean {
    if (!this.made) {
      sweepLeftovers(this.lockPath, this.host);
      mkdirSync(this.candidate);
      this.made = true;
      // Everything in the file's name, the file empty: recording the owner needs no data written.
      writeFileSync(join(this.candidate, ownerName(this.owner)), "");
    }
    try {
      renameSync(this.candidate, this.lockPath);
      this.made = false;
      return true;
    } catch (e) {
      if (isCode(e, "ENOTEMPTY", "EEXIST", "ENOTDIR", "EISDIR")) return false;
      // The kept candidate was removed (by hand): made again at the next try.
      if (isCode(e, "ENOENT") && !existsSync(this.candidate)) {
        this.made = false;
        return false;
      }
      throw e;
    }
  }

  /** Removes the candidate if it was never used. */
  abandon(): void {
    if (this.made) removeOwnedDir(this.candidate, this.owner);
    this.made = false;
  }

  /** Releases the lock, if it is still ours (it always is: nobody takes a live holder's lock). */
  release(): void {
    if (!existsSync(join(this.lockPath, ownerName(this.owner)))) return;
    if (!this.keep) return removeLockDir(this.lockPath, this.owner);
    try {
      renameSync(this.lockPath, this.candidate);
    } catch {
      return removeLockDir(this.lockPath, this.owner);
    }
    keepSpare(this.lockPath, this.owner, this.candidate, this.keepMs);
  }
}

/**
 * Removes the lock `lockPath` of the dead holder `dead`, race-free between several waiters:
 * the right to remove that one lock is itself a lock (`<lock>.break-<token>`), taken by one
 * waiter only; under it the owner is read again, and the lock is removed only if it is still
 * the dead holder's (another waiter may have removed it and taken a new lock meanwhile). A
 * breaker that died in between is broken the same way, one level down.
 */
function breakDeadLock(lockPath: string, dead: LockOwner, host: string, depth = 0): void {
  if (depth > 4) return;
  const breaker = new Attempt(`${lockPath}.break-${dead.token}`, host, false);
  try {
    if (!breaker.tryAcquire()) {
      const other = readOwner(breaker.lockPath);
      if (other !== null && !holderAlive(other, host)) breakDeadLock(breaker.lockPath, other, host, depth + 1);
      return;
    }
  } finally {
    breaker.abandon();
  }
  try {
    if (readOwner(lockPath)?.token === dead.token) removeLockDir(lockPath, dead);
  } finally {
    breaker.release();
  }
}

/**
 * Tries a waiter makes at once (each after one turn of the event loop) before it polls: a
 * registry change holds the lock for about 0.1 ms, far less than the shortest timer (1 ms).
 */
const SPIN_TRIES = 30;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


/**
 * The path a lock for `file` is keyed on: the file's real path (symbolic links resolved, also
 * a link to a file not yet created), so every name of one file takes the same lock.
 */
export function realFilePath(file: string): string {
  let path = resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    try {
      return realpathSync(path);
    } catch (e) {
      if (!isCode(e, "ENOENT")) return path;
    }
    try {
      path = resolve(dirname(path), readlinkSync(path));
    } catch {
      // Not a link: the file does not exist yet; resolve its directory.
      try {
        return join(realpathSync(dirname(path)), basename(path));
      } catch {
        return path;
      }
    }
  }
  return path;
}

/**
 * Runs `fn` while holding the inter-process lock `lockPath`: a directory naming its owner
 * (pid, host, process start time, a token), renamed into place atomically.
 *
 * A live holder never loses the lock, however long it works or is stopped: staleness is
 * decided by the holder's liveness, never by age. A lock whose holder is dead (on this host:
 * `kill(pid, 0)` fails, or the pid now belongs to a process started later) is removed by one
 * of the waiters and taken by one; a lock from another host is never taken over automatically.
 * A waiter tries again at once a few times (after one turn of the event loop each), then polls
 * every 1-3 ms (jittered), checking the holder's liveness every 50 ms. The lock's
 * directory must be writable; it is created if missing. Not re-entrant: a process that takes
 * a lock it holds waits for itself.
 *
 * @throws {BackendError} `E_LOCK_TIMEOUT` when a live holder keeps the lock longer than
 *   `options.waitMs` (naming the holder); `E_LOCK_FAILED` when the lock cannot be created.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const host = hostname();
  const attempt = new Attempt(lockPath, host, options.keep === true, options.keepMs);
  const started = Date.now();
  let lastCheck = started;
  let holder: LockOwner | null = null;
  let spins = 0;
  try {
    // (A kept candidate is in that directory already.)
    if (!attempt.ready) mkdirSync(dirname(lockPath), { recursive: true });
    for (;;) {
      // A stat while the lock is held; an attempt only when it looks free.
      if (!existsSync(lockPath) && attempt.tryAcquire()) break;
      const now = Date.now();
      if (now - lastCheck >= 50 || holder === null) {
        lastCheck = now;
        holder = readOwner(lockPath);
        if (holder !== null && !holderAlive(holder, host)) {
          breakDeadLock(lockPath, holder, host);
          continue;
        }
        // An empty directory (an older expflow's lock, never a live one of ours): the rename
        // replaces it atomically, so at most one waiter gets it.
        if (holder === null && attempt.tryAcquire()) break;
      }
      if (now - started > waitMs) {
        const who = holder === null ? "another process" : `process ${holder.pid} on host ${holder.host}`;
        const remote = holder !== null && holder.host !== host;
        throw new BackendError("E_LOCK_TIMEOUT", `could not take the lock ${lockPath} within ${Math.round(waitMs / 1000)} s: held by ${who}`, {
          hint: remote
            ? `a lock taken on another host is never taken over automatically: if no expflow process runs on ${holder!.host}, remove ${lockPath}`
            : `wait for it to finish; if no expflow process is running, remove ${lockPath}`,
        });
      }
      // First a few immediate tries (a change holds the lock for a fraction of a millisecond),
      // then short jittered polls: a waiter costs one stat per poll.
      spins++;
      if (spins <= SPIN_TRIES) await new Promise<void>((r) => setImmediate(r));
      else await sleep(1 + Math.random() * 2);
    }
  } catch (e) {
    if (e instanceof BackendError) throw e;
    throw new BackendError("E_LOCK_FAILED", `cannot create the lock ${lockPath}: ${(e as Error).message}`, {
      hint: "the directory holding it must be writable",
      cause: e,
    });
  } finally {
    attempt.abandon();
  }
  try {
    return await fn();
  } finally {
    try {
      attempt.release();
    } catch {
      // Cannot happen short of a broken file system; the lock stays until this process ends.
    }
  }
}

/**
 * {@link withFileLock} on `<dir>/<name>.lock`, for the private home directory (made 0700).
 */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T> | T): Promise<T> {
  ensurePrivateDir(dir);
  return withFileLock(join(dir, `${name}.lock`), fn);
}

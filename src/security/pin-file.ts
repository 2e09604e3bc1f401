import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DeniedError } from "../core/errors.js";
import { writeFileAtomic } from "../util/private-files.js";

/** The PIN file's name in expflow's home. */
export const PIN_FILE = "pin.hash";

/** A recent record of the audit log, as the PIN file remembers it. */
export interface AuditAnchor {
  /** The hash of the log's first record: the log's identity. */
  readonly first: string;
  /** The seq and hash of the last record the PIN file saw written. */
  readonly seq: number;
  readonly hash: string;
}

/**
 * What the PIN file holds besides the hash (its second line, a JSON object). Everything the
 * protection depends on lives beside the hash it depends on, so that none of it can be changed
 * or removed without the PIN file changing too.
 */
export interface PinFileMeta {
  /** The owner's force policy: whether `--force` may stand in for the PIN. Default false. */
  readonly allow_force: boolean;
  /** When and by whom the policy was last changed; `null` while it is the default. */
  readonly policy_changed: { readonly time: string; readonly by: string } | null;
  /** The audit log's identity and a recent record, so that deleting the whole log shows. */
  readonly audit: AuditAnchor | null;
  /** The registries this PIN protects (real paths), whose sidecars `pin clear` removes. */
  readonly registries: readonly string[];
}

/** The meta of a PIN file that has none yet (written by the earlier tool or by `pin init`). */
export const DEFAULT_PIN_META: PinFileMeta = Object.freeze({ allow_force: false, policy_changed: null, audit: null, registries: Object.freeze([]) as readonly string[] });

/** A PIN file as read: the hash line and the meta (defaults when the file has no meta line). */
export interface PinFileContent {
  readonly path: string;
  /** The hash line, trimmed. */
  readonly hash: string;
  /** `undefined` when the meta line is present but unreadable (the file is then damaged). */
  readonly meta: PinFileMeta | undefined;
}

function isAnchor(v: unknown): v is AuditAnchor {
  const a = v as Partial<AuditAnchor> | null;
  return (
    a !== null &&
    typeof a === "object" &&
    typeof a.first === "string" &&
    /^[0-9a-f]{64}$/.test(a.first) &&
    Number.isSafeInteger(a.seq) &&
    (a.seq as number) >= 1 &&
    typeof a.hash === "string" &&
    /^[0-9a-f]{64}$/.test(a.hash)
  );
}

/** Parses the meta line; `undefined` when it is not one expflow wrote. Pure. */
export function parsePinMeta(line: string): PinFileMeta | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  const m = v as Partial<Record<keyof PinFileMeta, unknown>> | null;
  if (m === null || typeof m !== "object" || Array.isArray(m)) return undefined;
  if (typeof m.allow_force !== "boolean") return undefined;
  const pc = m.policy_changed as { time?: unknown; by?: unknown } | null | undefined;
  if (pc !== null && pc !== undefined && (typeof pc !== "object" || typeof pc.time !== "string" || typeof pc.by !== "string")) return undefined;
  if (m.audit !== null && m.audit !== undefined && !isAnchor(m.audit)) return undefined;
  if (m.registries !== undefined && (!Array.isArray(m.registries) || !m.registries.every((r) => typeof r === "string"))) return undefined;
  return {
    allow_force: m.allow_force,
    policy_changed: pc ? { time: pc.time as string, by: pc.by as string } : null,
    audit: (m.audit as AuditAnchor | null | undefined) ?? null,
    registries: (m.registries as string[] | undefined) ?? [],
  };
}

/**
 * Reads `<home>/pin.hash`. `undefined` when there is none.
 *
 * @throws {DeniedError} `E_PIN_DAMAGED` (exit 3: protected actions fail closed) when the path
 *   exists but is not a readable regular file (a directory, a FIFO, no permission).
 */
export function readPinFile(home: string): PinFileContent | undefined {
  const path = join(home, PIN_FILE);
  let text: string;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) throw Object.assign(new Error(st.isDirectory() ? "it is a directory" : "it is not a regular file"), { code: "ENOTREG" });
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
    throw new DeniedError("E_PIN_DAMAGED", `the PIN file ${path} cannot be read (${err.code === "ENOTREG" ? err.message : (err.code ?? err.message)}), so protected actions are refused`, {
      hint: "restore it as a regular file readable by you, or remove it and set a new PIN with `expflow pin init`",
    });
  }
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const hash = lines[0] ?? "";
  const meta = lines.length < 2 ? DEFAULT_PIN_META : lines.length === 2 ? parsePinMeta(lines[1]!) : undefined;
  return { path, hash, meta };
}

/** Writes `<home>/pin.hash` atomically (mode 0600): the hash line, then the meta line. */
export function writePinFile(home: string, hash: string, meta: PinFileMeta): void {
  writeFileAtomic(join(home, PIN_FILE), `${hash}\n${JSON.stringify(meta)}\n`);
}

import type { ErrorJson } from "../../contracts/error.js";
import type { ExpflowError } from "../../core/errors.js";
import { terminalWording } from "./terminal-words.js";

/**
 * The error of the `--json` contract (`ErrorSchema` in `src/contracts`), as it appears in
 * `{"error": ...}` on standard error (and in `clearml status --json`): a stable `code`, the
 * `message`, and a `hint` on how to fix it (`null` when there is none). The hint is never folded
 * into the message.
 */
export type { ErrorJson };

/** The hint of every usage error commander reports without a suggestion. */
export const USAGE_HINT = "add --help for usage";

/** The contract's error for an expflow error, in the CLI's words ({@link terminalWording}). */
export function errorJsonOf(e: ExpflowError): ErrorJson {
  const { message, hint } = terminalWording(e);
  return { code: e.code, message, hint: hint ?? null };
}

/**
 * The contract's error for a message commander produced (`error: unknown option '--gates'`,
 * followed, with suggestions on, by a line `(Did you mean --gate?)`): code `E_USAGE`, the
 * message without commander's `error: ` prefix, the suggestion as the hint (else
 * {@link USAGE_HINT}).
 */
export function commanderErrorJson(text: string): ErrorJson {
  const lines = text
    .replace(/^error: /, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const suggestion = lines.length > 1 ? /^\((Did you mean .*\?)\)$/.exec(lines[lines.length - 1]!) : null;
  const message = (suggestion ? lines.slice(0, -1) : lines).join(" ");
  return { code: "E_USAGE", message, hint: suggestion ? suggestion[1]! : USAGE_HINT };
}

/** `{"error": {...}}` as one line, as `--json` errors are written to standard error. */
export function formatErrorJson(error: ErrorJson): string {
  return `${JSON.stringify({ error: { code: error.code, message: error.message, hint: error.hint } })}\n`;
}

import { homedir } from "node:os";
import type { ClearmlConnection } from "../stores/clearml/connection.js";
import { clientOptionsOf, resolveClearmlConnection } from "../stores/clearml/connection.js";
import { ClearmlClient } from "../stores/clearml/client.js";
import type { RequestInfo } from "../stores/clearml/client.js";
import { ClearmlStore, DEFAULT_PAGE_CONCURRENCY, MAX_PAGE_CONCURRENCY } from "../stores/clearml/clearml-store.js";
import { ConfigError } from "../core/errors.js";
import type { CommandContext } from "./context.js";

/** Flags every command that talks to ClearML takes. */
export interface ClearmlFlags {
  /** Log every request (endpoint, status, time; never credentials or tokens) to standard error. */
  verbose?: boolean;
}

/** A connection, its client and the store over it. */
export interface OpenClearml {
  readonly connection: ClearmlConnection;
  readonly client: ClearmlClient;
  readonly store: ClearmlStore;
  /** Clears the progress line, if one was drawn. Call before writing results. */
  readonly done: () => void;
}

/** The user's home directory as the SDK finds `~/clearml.conf`: HOME first, as a shell expands `~`. */
function userHome(env: Readonly<Record<string, string | undefined>>): string {
  const home = env["HOME"] ?? env["USERPROFILE"];
  return home !== undefined && home !== "" ? home : homedir();
}

/** The variable that bounds how many pages of a listing are asked for at once. */
export const PAGES_IN_FLIGHT_VARIABLE = "EXPFLOW_CLEARML_PAGES_IN_FLIGHT";

/**
 * `EXPFLOW_CLEARML_PAGES_IN_FLIGHT`: how many pages of a listing are asked for at once (1 to
 * {@link MAX_PAGE_CONCURRENCY}; default {@link DEFAULT_PAGE_CONCURRENCY}); 1 asks one page after
 * the other, for a server that limits concurrent requests.
 *
 * @throws {ConfigError} `E_CONFIG` (exit 2) for anything else.
 */
export function pagesInFlight(env: Readonly<Record<string, string | undefined>>): number {
  const text = env[PAGES_IN_FLIGHT_VARIABLE];
  if (text === undefined || text.trim() === "") return DEFAULT_PAGE_CONCURRENCY;
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_CONCURRENCY) {
    throw new ConfigError("the environment", PAGES_IN_FLIGHT_VARIABLE, `must be a whole number from 1 to ${MAX_PAGE_CONCURRENCY}, got '${text.slice(0, 40)}'`);
  }
  return n;
}

/**
 * Finds the ClearML server and credentials (environment over clearml.conf; `CLEARML_AUTH_TOKEN`
 * in place of the keys) and opens a client and a store; a CA bundle named by
 * `api.verify_certificate` becomes the client's trust store. While a long listing runs on a
 * terminal, the number of tasks fetched so far is shown on standard error (never when it is not
 * a TTY).
 *
 * @throws {BackendError} `E_CLEARML_NOT_CONFIGURED` / `E_CLEARML_CONFIG` (exit 4).
 */
export function openClearml(ctx: CommandContext, flags: ClearmlFlags = {}, options: { listParams?: boolean } = {}): OpenClearml {
  const connection = resolveClearmlConnection(ctx.io.env, userHome(ctx.io.env), { cwd: ctx.io.cwd });
  const { stderr } = ctx.io;
  if (!connection.verifyCertificate) {
    ctx.warn(
      "certificate checks stay on: expflow ignores CLEARML_API_HOST_VERIFY_CERT / api.verify_certificate = false; to trust a self-signed server, set either to the path of its CA certificate (or point NODE_EXTRA_CA_CERTS at it)",
    );
  }
  const onRequest = flags.verbose
    ? (r: RequestInfo) => {
        const outcome = r.status === null ? "no answer" : String(r.status);
        stderr.write(`clearml: ${r.endpoint} -> ${outcome}${r.error ? ` (${r.error})` : ""} in ${r.ms} ms${r.attempt > 1 ? `, attempt ${r.attempt}` : ""}\n`);
      }
    : undefined;
  const client = new ClearmlClient({ ...clientOptionsOf(connection), onRequest });
  let drawn = false;
  const onProgress = stderr.isTTY && !flags.verbose
    ? (fetched: number) => {
        stderr.write(`\r\x1b[2Kfetching tasks from ${client.server}: ${fetched}`);
        drawn = true;
      }
    : undefined;
  const store = new ClearmlStore({ client, onWarning: ctx.warn, onProgress, listParams: options.listParams, pageConcurrency: pagesInFlight(ctx.io.env) });
  const done = () => {
    if (drawn) stderr.write("\r\x1b[2K");
    drawn = false;
  };
  return { connection, client, store, done };
}

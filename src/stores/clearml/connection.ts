import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { BackendError } from "../../core/errors.js";
import type { ConfObject } from "./conf.js";
import { ConfSyntaxError, confGet, parseClearmlConf } from "./conf.js";

/** Where the ClearML server is and how to log in. Secrets are never printed. */
export interface ClearmlConnection {
  readonly apiServer: string;
  readonly webServer: string | null;
  readonly filesServer: string | null;
  readonly accessKey: string;
  readonly secretKey: string;
  /** Where the server URL and the credentials came from (an environment variable or a file). */
  readonly sources: { readonly apiServer: string; readonly credentials: string };
  /**
   * `false` when `CLEARML_API_HOST_VERIFY_CERT` or `api.verify_certificate` asks to skip TLS
   * certificate checks. expflow always verifies; the CLI says how to trust a self-signed server.
   */
  readonly verifyCertificate: boolean;
}

function falsy(v: unknown): boolean {
  if (v === false || v === 0) return true;
  return typeof v === "string" && ["false", "0", "no", "off"].includes(v.trim().toLowerCase());
}

function envValue(env: Readonly<Record<string, string | undefined>>, names: readonly string[]): { value: string; name: string } | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v.trim() !== "") return { value: v.trim(), name };
  }
  return undefined;
}

function confString(conf: ConfObject | undefined, path: string): string | undefined {
  if (conf === undefined) return undefined;
  const v = confGet(conf, path);
  if (v === undefined || v === null || typeof v === "object") return undefined;
  const s = String(v).trim();
  return s === "" ? undefined : s;
}

/**
 * Reads the configuration file as the SDK finds it: `CLEARML_CONFIG_FILE` (or
 * `TRAINS_CONFIG_FILE`) when set, and then only that file; else `~/clearml.conf` if present.
 *
 * @throws {BackendError} `E_CLEARML_CONFIG` (exit 4) for a named file that is missing, or any
 *   file that cannot be read or parsed (with the line; never the content).
 */
export function readClearmlConf(env: Readonly<Record<string, string | undefined>>, userHome: string = homedir()): { conf: ConfObject; path: string } | undefined {
  const named = envValue(env, ["CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE"]);
  const path = named?.value ?? join(userHome, "clearml.conf");
  if (!existsSync(path)) {
    if (named) throw new BackendError("E_CLEARML_CONFIG", `${named.name} names ${path}, which does not exist`, { hint: `fix ${named.name}, or unset it to use ~/clearml.conf` });
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new BackendError("E_CLEARML_CONFIG", `cannot read the ClearML configuration ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  try {
    return { conf: parseClearmlConf(text), path };
  } catch (e) {
    if (e instanceof ConfSyntaxError) throw new BackendError("E_CLEARML_CONFIG", `cannot parse the ClearML configuration ${path}: ${e.message}`);
    throw e;
  }
}

/**
 * Finds the server and credentials as the official SDK does: `CLEARML_API_HOST`,
 * `CLEARML_API_ACCESS_KEY`, `CLEARML_API_SECRET_KEY` (and their `TRAINS_*` aliases) override the
 * configuration file's `api.api_server` (fallback `api.host`), `api.credentials.access_key` and
 * `api.credentials.secret_key`.
 *
 * @throws {BackendError} `E_CLEARML_NOT_CONFIGURED` (exit 4) naming what is missing and how to
 *   set it; `E_CLEARML_CONFIG` for an unreadable file.
 */
export function resolveClearmlConnection(env: Readonly<Record<string, string | undefined>>, userHome: string = homedir()): ClearmlConnection {
  const file = readClearmlConf(env, userHome);
  const fromFile = (path: string) => confString(file?.conf, path);
  const host = envValue(env, ["CLEARML_API_HOST", "TRAINS_API_HOST"]);
  const access = envValue(env, ["CLEARML_API_ACCESS_KEY", "TRAINS_API_ACCESS_KEY"]);
  const secret = envValue(env, ["CLEARML_API_SECRET_KEY", "TRAINS_API_SECRET_KEY"]);
  const apiServer = host?.value ?? fromFile("api.api_server") ?? fromFile("api.host");
  const accessKey = access?.value ?? fromFile("api.credentials.access_key");
  const secretKey = secret?.value ?? fromFile("api.credentials.secret_key");
  const missing: string[] = [];
  if (apiServer === undefined) missing.push("the API server (CLEARML_API_HOST, or api.api_server in clearml.conf)");
  if (accessKey === undefined) missing.push("the access key (CLEARML_API_ACCESS_KEY, or api.credentials.access_key)");
  if (secretKey === undefined) missing.push("the secret key (CLEARML_API_SECRET_KEY, or api.credentials.secret_key)");
  if (missing.length > 0) {
    throw new BackendError("E_CLEARML_NOT_CONFIGURED", `ClearML is not configured: missing ${missing.join("; ")}`, {
      hint: file ? `read ${file.path}; run \`clearml-init\` or set the variables` : "no clearml.conf found (CLEARML_CONFIG_FILE or ~/clearml.conf); run `clearml-init` or set the variables",
    });
  }
  const verifyEnv = envValue(env, ["CLEARML_API_HOST_VERIFY_CERT", "TRAINS_API_HOST_VERIFY_CERT"]);
  const verifyFile = file ? confGet(file.conf, "api.verify_certificate") : undefined;
  const webEnv = envValue(env, ["CLEARML_WEB_HOST", "TRAINS_WEB_HOST"]);
  const filesEnv = envValue(env, ["CLEARML_FILES_HOST", "TRAINS_FILES_HOST"]);
  return {
    apiServer: apiServer!.replace(/\/+$/, ""),
    webServer: webEnv?.value ?? fromFile("api.web_server") ?? null,
    filesServer: filesEnv?.value ?? fromFile("api.files_server") ?? null,
    accessKey: accessKey!,
    secretKey: secretKey!,
    verifyCertificate: !falsy(verifyEnv?.value ?? verifyFile),
    sources: {
      apiServer: host?.name ?? file!.path,
      credentials: access && secret ? `${access.name}, ${secret.name}` : access || secret ? `${file?.path ?? "?"} and the environment` : file!.path,
    },
  };
}

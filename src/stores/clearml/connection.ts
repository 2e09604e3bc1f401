import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { BackendError } from "../../core/errors.js";
import type { ClearmlClientOptions } from "./client.js";
import type { ConfObject, ConfValue } from "./conf.js";
import { ConfSyntaxError, confGet, mergeConf, parseClearmlConf } from "./conf.js";

/** Where the ClearML server is and how to log in. Secrets (the keys, the token) are never printed. */
export interface ClearmlConnection {
  readonly apiServer: string;
  readonly webServer: string | null;
  readonly filesServer: string | null;
  /** The access key; `""` when {@link authToken} stands in for the keys. */
  readonly accessKey: string;
  /** The secret key; `""` when {@link authToken} stands in for the keys. */
  readonly secretKey: string;
  /**
   * `CLEARML_AUTH_TOKEN`, which clearml-agent hands to the tasks it runs: when set it replaces
   * the access key and secret, as in the SDK (they are then neither required nor used). `null`
   * when unset.
   */
  readonly authToken: string | null;
  /** Where the server URL and the credentials came from (an environment variable or a file). */
  readonly sources: { readonly apiServer: string; readonly credentials: string };
  /**
   * `false` when `CLEARML_API_HOST_VERIFY_CERT` or `api.verify_certificate` asks to skip TLS
   * certificate checks. expflow always verifies; the CLI says how to trust a self-signed server.
   */
  readonly verifyCertificate: boolean;
  /**
   * The CA bundle (absolute path of a PEM file) that `CLEARML_API_HOST_VERIFY_CERT` or
   * `api.verify_certificate` names instead of true or false: HTTPS requests then trust the
   * certificates in it, and only them (as the SDK's `requests` does). `null` when not set.
   */
  readonly caBundle: string | null;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The values the SDK reads as booleans (its `strtobool`); any other text names a CA bundle. */
const TRUE_TEXT = new Set(["y", "yes", "t", "true", "on", "1"]);
const FALSE_TEXT = new Set(["n", "no", "f", "false", "off", "0"]);

function envValue(env: Env, names: readonly string[]): { value: string; name: string } | undefined {
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

/** `~` and `~/...` as the user's home directory, as the SDK's `expanduser`. */
function expandHome(path: string, userHome: string): string {
  if (path === "~") return userHome;
  if (path.startsWith("~/")) return join(userHome, path.slice(2));
  return path;
}

/** Reads a file for the configuration: its text, or `undefined` when there is none. */
function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

function errnoCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code) ? code : "error";
}

/** One configuration file read: its path and its content. */
export interface ClearmlConfFile {
  readonly path: string;
  readonly conf: ConfObject;
}

/** The configuration as the SDK finds it (see {@link readClearmlConf}). */
export interface ClearmlConf {
  /** The files merged into {@link conf}, later ones winning. */
  readonly files: readonly ClearmlConfFile[];
  /** All of them merged. */
  readonly conf: ConfObject;
  /** The last file read (the one that wins), for messages. */
  readonly path: string;
}

/**
 * Where the SDK looks for its configuration: the file `CLEARML_CONFIG_FILE` (or
 * `TRAINS_CONFIG_FILE`) names, `~` expanded, and then only that one; else `~/trains.conf` and
 * `~/clearml.conf`, in that order.
 */
export function clearmlConfCandidates(env: Readonly<Record<string, string | undefined>>, userHome: string = homedir()): { readonly paths: readonly string[]; readonly named?: { readonly variable: string; readonly path: string } } {
  const named = envValue(env, ["CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE"]);
  if (named) {
    const path = expandHome(named.value, userHome);
    return { paths: [path], named: { variable: named.name, path } };
  }
  return { paths: [join(userHome, "trains.conf"), join(userHome, "clearml.conf")] };
}

/**
 * Reads the configuration as the SDK finds it: the file `CLEARML_CONFIG_FILE` (or
 * `TRAINS_CONFIG_FILE`) names, `~` expanded, and then only that file; else `~/trains.conf` and
 * `~/clearml.conf` merged, the latter winning. A file that does not exist is no file, as in the
 * SDK (a named one too: {@link resolveClearmlConnection} says so when the environment does not
 * make up for it). `${VAR}` substitutions read `env`; includes are read relative to their file.
 *
 * @returns `undefined` when no file exists.
 * @throws {BackendError} `E_CLEARML_CONFIG` (exit 4) for a file that cannot be read or parsed
 *   (with the line; never the content).
 */
export function readClearmlConf(env: Readonly<Record<string, string | undefined>>, userHome: string = homedir()): ClearmlConf | undefined {
  const files: ClearmlConfFile[] = [];
  for (const path of clearmlConfCandidates(env, userHome).paths) {
    let text: string | undefined;
    try {
      text = readIfExists(path);
    } catch (e) {
      throw new BackendError("E_CLEARML_CONFIG", `cannot read the ClearML configuration ${path}: ${errnoCode(e)}`);
    }
    if (text === undefined) continue;
    try {
      files.push({ path, conf: parseClearmlConf(text, { env, path, readFile: readIfExists }) });
    } catch (e) {
      if (e instanceof ConfSyntaxError) throw new BackendError("E_CLEARML_CONFIG", `cannot parse the ClearML configuration ${path}: ${e.message}`);
      throw e;
    }
  }
  if (files.length === 0) return undefined;
  return { files, conf: files.slice(1).reduce((merged, f) => mergeConf(merged, f.conf), files[0]!.conf), path: files[files.length - 1]!.path };
}

/** The value at `key` and the file it came from (the last file that sets it wins). */
function fromFiles(file: ClearmlConf | undefined, key: string): { value: string; path: string } | undefined {
  for (const f of [...(file?.files ?? [])].reverse()) {
    const value = confString(f.conf, key);
    if (value !== undefined) return { value, path: f.path };
  }
  return undefined;
}

/**
 * `api.verify_certificate` / `CLEARML_API_HOST_VERIFY_CERT`: true, false, or a CA bundle's path
 * (checked to be a file).
 */
function verifyOf(env: Env, file: ClearmlConf | undefined, userHome: string, cwd: string): { verify: boolean; caBundle: string | null } {
  const fromEnv = envValue(env, ["CLEARML_API_HOST_VERIFY_CERT", "TRAINS_API_HOST_VERIFY_CERT"]);
  let value: ConfValue | undefined = fromEnv?.value;
  let where = fromEnv?.name;
  if (value === undefined && file !== undefined) {
    for (const f of [...file.files].reverse()) {
      const v = confGet(f.conf, "api.verify_certificate");
      if (v !== undefined && v !== null) {
        value = v;
        where = `api.verify_certificate in ${f.path}`;
        break;
      }
    }
  }
  if (value === undefined || value === null || value === true) return { verify: true, caBundle: null };
  if (value === false || value === 0) return { verify: false, caBundle: null };
  if (typeof value === "number") return { verify: true, caBundle: null };
  if (typeof value !== "string") throw new BackendError("E_CLEARML_CONFIG", `${where} must be true, false or the path of a CA bundle`);
  const text = value.trim();
  if (TRUE_TEXT.has(text.toLowerCase())) return { verify: true, caBundle: null };
  if (FALSE_TEXT.has(text.toLowerCase())) return { verify: false, caBundle: null };
  const expanded = expandHome(text, userHome);
  const path = isAbsolute(expanded) ? expanded : resolve(cwd, expanded);
  const hint = "name a PEM file of the CA certificates that sign the server's certificate, or set it to true to use the system's";
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (e) {
    const code = errnoCode(e);
    throw new BackendError("E_CLEARML_CONFIG", `${where} names the CA bundle ${path}, which ${code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be read (${code})`}`, { hint });
  }
  if (!isFile) throw new BackendError("E_CLEARML_CONFIG", `${where} names the CA bundle ${path}, which is not a file`, { hint });
  return { verify: true, caBundle: path };
}

/**
 * Reads a CA bundle ({@link ClearmlConnection.caBundle}): the PEM text for the client's `ca`.
 *
 * @throws {BackendError} `E_CLEARML_CONFIG` (exit 4) when it cannot be read or holds no certificate.
 */
export function readCaBundle(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new BackendError("E_CLEARML_CONFIG", `cannot read the CA bundle ${path}: ${errnoCode(e)}`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new BackendError("E_CLEARML_CONFIG", `the CA bundle ${path} holds no PEM certificate`, { hint: "a CA bundle is a text file of '-----BEGIN CERTIFICATE-----' blocks" });
  }
  return text;
}

/**
 * Finds the server and credentials as the official SDK does: `CLEARML_API_HOST`,
 * `CLEARML_API_ACCESS_KEY`, `CLEARML_API_SECRET_KEY` (and their `TRAINS_*` aliases) override the
 * configuration files' `api.api_server` (fallback `api.host`), `api.credentials.access_key` and
 * `api.credentials.secret_key` (see {@link readClearmlConf}); `CLEARML_AUTH_TOKEN`, when set,
 * replaces the keys. A CA bundle named by `api.verify_certificate` is resolved against `cwd`.
 *
 * @throws {BackendError} `E_CLEARML_NOT_CONFIGURED` (exit 4) naming what is missing and how to
 *   set it; `E_CLEARML_CONFIG` for an unreadable file, a CA bundle that is not a file, or a
 *   `CLEARML_CONFIG_FILE` that does not exist while the environment lacks the server or the
 *   credentials (naming the file and what is missing).
 */
export function resolveClearmlConnection(env: Readonly<Record<string, string | undefined>>, userHome: string = homedir(), options: { readonly cwd?: string } = {}): ClearmlConnection {
  const file = readClearmlConf(env, userHome);
  const host = envValue(env, ["CLEARML_API_HOST", "TRAINS_API_HOST"]);
  const access = envValue(env, ["CLEARML_API_ACCESS_KEY", "TRAINS_API_ACCESS_KEY"]);
  const secret = envValue(env, ["CLEARML_API_SECRET_KEY", "TRAINS_API_SECRET_KEY"]);
  const token = envValue(env, ["CLEARML_AUTH_TOKEN"]);
  const serverFile = fromFiles(file, "api.api_server") ?? fromFiles(file, "api.host");
  const accessFile = token ? undefined : fromFiles(file, "api.credentials.access_key");
  const secretFile = token ? undefined : fromFiles(file, "api.credentials.secret_key");
  const apiServer = host?.value ?? serverFile?.value;
  const accessKey = token ? "" : (access?.value ?? accessFile?.value);
  const secretKey = token ? "" : (secret?.value ?? secretFile?.value);
  const missing: string[] = [];
  if (apiServer === undefined) missing.push("the API server (CLEARML_API_HOST, or api.api_server in clearml.conf)");
  if (accessKey === undefined) missing.push("the access key (CLEARML_API_ACCESS_KEY, or api.credentials.access_key)");
  if (secretKey === undefined) missing.push("the secret key (CLEARML_API_SECRET_KEY, or api.credentials.secret_key)");
  if (missing.length > 0) {
    const named = clearmlConfCandidates(env, userHome).named;
    if (named !== undefined && file === undefined) {
      throw new BackendError("E_CLEARML_CONFIG", `${named.variable} names ${named.path}, which does not exist, and the environment does not supply ${missing.join("; ")}`, {
        hint: `fix ${named.variable}, unset it to use ~/clearml.conf, or set the missing variables`,
      });
    }
    throw new BackendError("E_CLEARML_NOT_CONFIGURED", `ClearML is not configured: missing ${missing.join("; ")}`, {
      hint: file
        ? `read ${file.files.map((f) => f.path).join(" and ")}; run \`clearml-init\` or set the variables`
        : "no clearml.conf found (CLEARML_CONFIG_FILE, ~/clearml.conf or ~/trains.conf); run `clearml-init` or set the variables",
    });
  }
  const { verify, caBundle } = verifyOf(env, file, userHome, options.cwd ?? process.cwd());
  const webEnv = envValue(env, ["CLEARML_WEB_HOST", "TRAINS_WEB_HOST"]);
  const filesEnv = envValue(env, ["CLEARML_FILES_HOST", "TRAINS_FILES_HOST"]);
  let credentials: string;
  if (token) credentials = token.name;
  else if (access && secret) credentials = `${access.name}, ${secret.name}`;
  else if (access || secret) credentials = `${(access ? secretFile : accessFile)?.path ?? "?"} and the environment`;
  else credentials = accessFile!.path === secretFile!.path ? accessFile!.path : `${accessFile!.path}, ${secretFile!.path}`;
  return {
    apiServer: apiServer!.replace(/\/+$/, ""),
    webServer: webEnv?.value ?? fromFiles(file, "api.web_server")?.value ?? null,
    filesServer: filesEnv?.value ?? fromFiles(file, "api.files_server")?.value ?? null,
    accessKey: accessKey!,
    secretKey: secretKey!,
    authToken: token?.value ?? null,
    verifyCertificate: verify,
    caBundle,
    sources: { apiServer: host?.name ?? serverFile!.path, credentials },
  };
}

/**
 * What a {@link ClearmlClient} needs of a connection: the server, the token or the keys, and the
 * CA bundle's certificates when one is named.
 *
 * @throws {BackendError} `E_CLEARML_CONFIG` (exit 4) for a CA bundle that cannot be read or holds no certificate.
 */
export function clientOptionsOf(connection: ClearmlConnection): Pick<ClearmlClientOptions, "apiServer" | "accessKey" | "secretKey" | "authToken" | "ca"> {
  const credentials = connection.authToken !== null ? { authToken: connection.authToken } : { accessKey: connection.accessKey, secretKey: connection.secretKey };
  return { apiServer: connection.apiServer, ...credentials, ...(connection.caBundle === null ? {} : { ca: readCaBundle(connection.caBundle) }) };
}

import { BackendError, ExpflowError } from "../../core/errors.js";
import type { ClearmlErrorDetails } from "./errors.js";
import { ClearmlBackendError, clearmlError, isClearmlFailure } from "./errors.js";

/** One HTTP exchange, as the client reports it to `onRequest` (never headers, bodies or secrets). */
export interface RequestInfo {
  readonly endpoint: string;
  /** HTTP status, or `null` when no answer came (connection error, timeout). */
  readonly status: number | null;
  readonly ms: number;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  /** Why the exchange failed, when it did (`ECONNREFUSED`, `timeout`, `500/0`). */
  readonly error?: string;
}

/**
 * The API version every request path names (`/v2.26/tasks.get_all`): the newest that the keys
 * expflow sends need (`include_subprojects` of `tasks.get_all` and `new_status` of
 * `tasks.dequeue` came with 2.26), so that a newer server never reads a request by rules
 * expflow was not written for. A server older than this answers it with its own newest.
 */
export const CLEARML_API_VERSION = "2.26";

/**
 * Options of {@link ClearmlClient}, read once in the constructor. The credentials are an access
 * key and secret, or an `authToken` (which wins when both are given, as in the SDK).
 */
export interface ClearmlClientOptions {
  /** The API server, e.g. `http://localhost:8008`. */
  readonly apiServer: string;
  /** The access key; with {@link secretKey}, logs in with `auth.login` (Basic) once. */
  readonly accessKey?: string;
  readonly secretKey?: string;
  /**
   * A session token (as clearml-agent hands to the tasks it runs in `CLEARML_AUTH_TOKEN`), used
   * instead of the keys: sent as `Bearer` without a login. When the server calls it invalid
   * (401/30), or it is about to expire, it is renewed once with `auth.login` sent with it, as
   * the SDK does.
   */
  readonly authToken?: string;
  /** API version put in every path (`/v2.26/...`). Default {@link CLEARML_API_VERSION}. */
  readonly apiVersion?: string;
  /**
   * CA certificates (PEM text) that HTTPS requests trust instead of the system's, from the CA
   * bundle `api.verify_certificate` names. The TLS code that uses them is loaded only then.
   * Ignored when `fetch` is given.
   */
  readonly ca?: string;
  /** Per-request timeout. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /**
   * Retries of a read after a connection error, a timeout or a 5xx answer. Default 2. Writes are
   * never retried: a lost answer does not tell whether the server applied them.
   */
  readonly maxRetries?: number;
  /** Injected for tests; default the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Injected for tests; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; default `Math.random`. */
  readonly random?: () => number;
  /** The clock (epoch ms), for token expiry and request timings. Injected for tests; default `Date.now`. */
  readonly now?: () => number;
  /** Called after every HTTP exchange (for `--verbose`). */
  readonly onRequest?: (info: RequestInfo) => void;
  /**
   * The largest response body read, in bytes. Default {@link DEFAULT_MAX_RESPONSE_BYTES} (256 MiB).
   * A longer answer (or one announcing more in `Content-Length`) is refused with
   * `E_CLEARML_TOO_LARGE` as soon as it passes the cap: the body is read as a stream and never
   * held beyond it.
   */
  readonly maxResponseBytes?: number;
}

/** How a call may be repeated. */
export interface CallOptions {
  /** Reads may be retried; writes (`false`) never. Default true. */
  readonly idempotent?: boolean;
}

interface Envelope {
  meta: { result_code?: unknown; result_subcode?: unknown; result_msg?: unknown };
  data?: unknown;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** The default cap on a response body: 256 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_RETRIES = 2;
const BASE_DELAY_MS = 250;
const MAX_DELAY_MS = 4_000;
/** Connection failures worth another try; a wrong host name (ENOTFOUND) is not. */
const TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "timeout"]);

class AttemptError extends Error {
  constructor(
    readonly reason: string,
    readonly transient: boolean,
    readonly status: number | null,
    readonly details?: ClearmlErrorDetails,
  ) {
    super(reason);
  }
}

/** The URL without user name or password, for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/+$/, "");
  } catch {
    // Not a URL: drop everything up to the last `@` of the authority, whatever it holds.
    return url.replace(/^([^:/]*:\/\/)[^/]*@/, "$1").replace(/\/+$/, "");
  }
}

/** `n` bytes as MiB (or KiB, or bytes) for messages. */
function sizeText(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}

/** Why a request got no answer: an error code (`ECONNREFUSED`), `timeout`, or the innermost message. */
function connectionCode(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    // Only the request's own timeout aborts it (node:https says ABORT_ERR, fetch TimeoutError).
    if (cur.name === "TimeoutError" || cur.name === "AbortError") return "timeout";
    const code = (cur as NodeJS.ErrnoException).code;
    // Only a plain code (`ECONNREFUSED`): never a message, which may quote the URL with its user information.
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return "connection error";
}

/** OpenSSL's and Node's codes for a certificate that cannot be trusted or does not fit the host. */
function isTlsCode(code: string): boolean {
  return /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT|ERR_SSL_|HOSTNAME_MISMATCH)/.test(code);
}

/** The payload of a JWT, undecoded when the token is not one (nothing is verified: for messages and pre-checks). */
function jwtPayload(token: string): Record<string, unknown> | null {
  const payload = token.split(".")[1];
  if (payload === undefined) return null;
  try {
    const v = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * A `fetch` for HTTPS that trusts the CA certificates `ca` (and only them), over node:https with
 * keep-alive connections; loaded only when a CA bundle is configured. Plain HTTP goes to the
 * global fetch.
 */
async function fetchTrusting(ca: string): Promise<typeof fetch> {
  const [https, { Readable }] = await Promise.all([import("node:https"), import("node:stream")]);
  const agent = new https.Agent({ ca, keepAlive: true });
  return ((input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== "https:") return globalThis.fetch(input, init);
    return new Promise<Response>((resolvePromise, reject) => {
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const req = https.request(url, { method: init.method ?? "GET", headers, agent, signal: init.signal ?? undefined }, (res) => {
        const status = res.statusCode ?? 0;
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) out.append(k, x);
        const empty = status === 204 || status === 205 || status === 304 || init.method === "HEAD";
        try {
          resolvePromise(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: out }));
        } catch (e) {
          // A status a Response cannot hold (below 200 or past 599).
          res.destroy();
          reject(e);
        }
      });
      req.on("error", reject);
      req.end(typeof init.body === "string" ? init.body : undefined);
    });
  }) as typeof fetch;
}

function decodeJwtExp(token: string): number | null {
  const exp = jwtPayload(token)?.["exp"];
  return typeof exp === "number" ? exp * 1000 : null;
}



/**
 * A client of the ClearML REST API, in the style of openai-node: options read once, one login per
 * client (`auth.login` with Basic credentials, then `Bearer` tokens; with an `authToken`, that
 * token from the start and no login), one re-login (or token renewal) when the server calls the
 * token invalid (401/30), every path pinned to an API version ({@link CLEARML_API_VERSION}),
 * per-request timeouts, bounded jittered retries of reads on connection errors and 5xx, every
 * error answer mapped by {@link clearmlError}.
 *
 * Credentials and tokens are never put in an error message or passed to `onRequest`; a server
 * message that echoes one is redacted.
 */
export class ClearmlClient {
  /** The server's URL, without any user information, for messages. */
  readonly server: string;
  readonly #base: string;
  /** `Basic ...` for a login with keys; `undefined` with a token, which is renewed with itself. */
  readonly #basic: string | undefined;
  readonly #secrets: string[];
  readonly #version: string;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #fetch: typeof fetch | Promise<typeof fetch>;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #onRequest: ((info: RequestInfo) => void) | undefined;
  readonly #maxResponseBytes: number;
  #token: Promise<string> | undefined;
  #tokenValue: string | undefined;
  #tokenExpires: number | null = null;
  /** Every token the client held, to redact from server messages. */
  readonly #tokensSeen = new Set<string>();
  readonly #hasCa: boolean;

  /**
   * @throws {BackendError} `E_CLEARML_CONFIG` (exit 4) when `apiServer` is not an http(s) URL
   *   (without quoting it: it may hold user information); `E_CLEARML_NOT_CONFIGURED` (exit 4)
   *   without an `authToken` or both keys.
   */
  constructor(options: ClearmlClientOptions) {
    let base: URL;
    try {
      base = new URL(options.apiServer.trim());
    } catch {
      throw new BackendError("E_CLEARML_CONFIG", "the ClearML API server is not a valid URL", { hint: "set CLEARML_API_HOST (or api.api_server in clearml.conf) to the API server, e.g. http://localhost:8008" });
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new BackendError("E_CLEARML_CONFIG", `the ClearML API server must be an http:// or https:// URL, not ${base.protocol.replace(/[^a-z0-9+.-]/gi, "")}`, { hint: "set CLEARML_API_HOST (or api.api_server in clearml.conf) to the API server, e.g. http://localhost:8008" });
    }
    // User information in the URL is never sent (ClearML logs in with keys) and never printed.
    base.username = "";
    base.password = "";
    base.search = "";
    base.hash = "";
    this.#base = base.toString().replace(/\/+$/, "");
    this.server = this.#base;
    const token = options.authToken !== undefined && options.authToken.trim() !== "" ? options.authToken.trim() : undefined;
    if (token !== undefined) {
      this.#basic = undefined;
      this.#useToken(token);
      this.#token = Promise.resolve(token);
    } else {
      if (options.accessKey === undefined || options.secretKey === undefined) {
        throw new BackendError("E_CLEARML_NOT_CONFIGURED", "no ClearML credentials: an access key and a secret key, or an auth token, are needed", {
          hint: "set CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY (or api.credentials in clearml.conf), or CLEARML_AUTH_TOKEN",
        });
      }
      this.#basic = `Basic ${Buffer.from(`${options.accessKey}:${options.secretKey}`).toString("base64")}`;
    }
    this.#secrets = [options.accessKey ?? "", options.secretKey ?? "", token ?? ""].filter((s) => s.length >= 4);
    this.#version = options.apiVersion ?? CLEARML_API_VERSION;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxRetries = Math.max(0, Math.min(options.maxRetries ?? DEFAULT_MAX_RETRIES, 10));
    this.#hasCa = options.ca !== undefined && options.fetch === undefined;
    // The TLS code for a CA bundle loads on the first request, and only when one is configured.
    if (options.fetch === undefined && options.ca !== undefined) {
      const loading = fetchTrusting(options.ca);
      // A failure surfaces on the first request (as a connection error), not as an unhandled rejection.
      loading.catch(() => undefined);
      this.#fetch = loading;
    } else {
      this.#fetch = options.fetch ?? globalThis.fetch;
    }
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#onRequest = options.onRequest;
    const cap = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!(Number.isInteger(cap) && cap >= 1)) throw new RangeError(`maxResponseBytes must be a positive integer, got ${cap}`);
    this.#maxResponseBytes = cap;
  }

  /**
   * Calls `endpoint` (`service.action`) with a JSON body and returns the envelope's `data`.
   *
   * @throws {ClearmlBackendError} and the other classes of {@link clearmlError} for error
   *   answers; `BackendError` `E_CLEARML_UNREACHABLE` / `E_CLEARML_TIMEOUT` when no answer comes
   *   (after the retries a read gets), `E_CLEARML_BAD_RESPONSE` for an answer that is not a
   *   ClearML envelope, `E_CLEARML_TOO_LARGE` for a body past `maxResponseBytes`,
   *   `E_CLEARML_REDIRECT` for a redirect (none is followed). All exit 4.
   */
  async call<T = unknown>(endpoint: string, body: Record<string, unknown> = {}, options: CallOptions = {}): Promise<T> {
    return this.#authorised<T>(endpoint, JSON.stringify(body), "application/json", options.idempotent ?? true);
  }

  /**
   * Calls `endpoint` with a newline-delimited JSON body (`events.add_batch`). Never retried.
   *
   * @throws as {@link call}.
   */
  async callJsonLines<T = unknown>(endpoint: string, lines: readonly Record<string, unknown>[]): Promise<T> {
    return this.#authorised<T>(endpoint, lines.map((l) => JSON.stringify(l)).join("\n"), "application/json-lines", false);
  }

  /** `debug.ping`, which needs no credentials: whether a ClearML server answers at all. */
  async ping(): Promise<unknown> {
    return this.#send("debug.ping", "{}", "application/json", undefined, true);
  }

  /**
   * Logs in now (or reuses the session token): proves the credentials work. With an
   * `authToken`, renews it once with `auth.login` (as the SDK does when it starts), which the
   * server answers only for a valid token.
   */
  async login(): Promise<void> {
    if (this.#basic === undefined && this.#token !== undefined) {
      const current = await this.#token;
      if (this.#tokenValue === current) this.#token = undefined;
    }
    await this.#ensureToken();
  }

  /**
   * Who the server says the caller is (company and user), from the session token; logs in first
   * when needed. Decoded, not verified: for messages and checks before a request, never for
   * security. Empty when the token is not a JWT.
   */
  async identity(): Promise<{ readonly company?: string; readonly user?: string }> {
    const token = await this.#ensureToken();
    const identity = jwtPayload(token)?.["identity"];
    if (identity === null || typeof identity !== "object" || Array.isArray(identity)) return {};
    const { company, user } = identity as Record<string, unknown>;
    return { ...(typeof company === "string" ? { company } : {}), ...(typeof user === "string" ? { user } : {}) };
  }

  #useToken(token: string): void {
    this.#tokenValue = token;
    this.#tokenExpires = decodeJwtExp(token);
    this.#tokensSeen.add(token);
  }

  async #authorised<T>(endpoint: string, body: string, contentType: string, idempotent: boolean): Promise<T> {
    let token = await this.#ensureToken();
    try {
      return (await this.#send(endpoint, body, contentType, `Bearer ${token}`, idempotent)) as T;
    } catch (e) {
      if (!(e instanceof ClearmlBackendError && e.clearml.resultCode === 401 && e.clearml.resultSubcode === 30)) throw e;
      // The token expired or was revoked: log in (or renew the token) once more and repeat the call
      // once. The call was refused before it ran, so repeating a write is safe here.
      if (this.#tokenValue === token) this.#token = undefined;
      token = await this.#ensureToken();
      return (await this.#send(endpoint, body, contentType, `Bearer ${token}`, idempotent)) as T;
    }
  }

  #ensureToken(): Promise<string> {
    // Renew a token that expires within a minute rather than wait for the server to refuse it.
    if (this.#token !== undefined && this.#tokenExpires !== null && this.#tokenExpires - this.#now() < 60_000) this.#token = undefined;
    if (this.#token === undefined) {
      // With keys: Basic. With a token: the latest token renews itself, as the SDK renews it.
      const authorization = this.#basic ?? `Bearer ${this.#tokenValue ?? ""}`;
      const pending = this.#send("auth.login", "{}", "application/json", authorization, true).then((data) => {
        const token = (data as { token?: unknown } | null)?.token;
        if (typeof token !== "string" || token === "") {
          throw new BackendError("E_CLEARML_BAD_RESPONSE", `ClearML at ${this.server}: auth.login answered without a token`);
        }
        this.#useToken(token);
        return token;
      });
      // A failed login is not cached: the next call tries again.
      pending.catch(() => {
        if (this.#token === pending) this.#token = undefined;
      });
      this.#token = pending;
    }
    return this.#token;
  }

  #redact(text: string): string {
    let out = text;
    for (const s of [...this.#secrets, ...this.#tokensSeen]) out = out.split(s).join("[redacted]");
    return out;
  }

  async #send(endpoint: string, body: string, contentType: string, authorization: string | undefined, idempotent: boolean): Promise<unknown> {
    const url = `${this.#base}/v${this.#version}/${endpoint}`;
    for (let attempt = 1; ; attempt++) {
      const started = this.#now();
      try {
        const data = await this.#attempt(endpoint, url, body, contentType, authorization);
        this.#onRequest?.({ endpoint, status: 200, ms: this.#now() - started, attempt });
        return data;
      } catch (e) {
        const ms = this.#now() - started;
        if (!(e instanceof AttemptError)) {
          const status = isClearmlFailure(e) ? e.clearml.resultCode : null;
          this.#onRequest?.({ endpoint, status, ms, attempt, error: isClearmlFailure(e) ? `${e.clearml.resultCode}/${e.clearml.resultSubcode}` : e instanceof ExpflowError ? e.code : "error" });
          throw e;
        }
        this.#onRequest?.({ endpoint, status: e.status, ms, attempt, error: e.reason });
        if (!(idempotent && e.transient && attempt <= this.#maxRetries)) throw this.#finalError(endpoint, e, attempt);
        const backoff = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
        await this.#sleep(backoff * (0.75 + 0.5 * this.#random()));
      }
    }
  }

  #finalError(endpoint: string, e: AttemptError, attempts: number): Error {
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    if (e.details !== undefined) return clearmlError(e.details, this.server, { token: this.#basic === undefined });
    if (e.status !== null) {
      // A 5xx without a usable envelope.
      return new ClearmlBackendError("E_CLEARML_SERVER", `ClearML at ${this.server} failed on ${endpoint}${tries} (HTTP ${e.status}, not a ClearML answer)`, {
        endpoint,
        resultCode: e.status,
        resultSubcode: 0,
        resultMsg: e.reason,
      });
    }
    if (isTlsCode(e.reason)) {
      return new BackendError("E_CLEARML_TLS", `cannot trust the TLS certificate of ClearML at ${this.server} (${e.reason})`, {
        hint: this.#hasCa
          ? "the CA bundle that api.verify_certificate (or CLEARML_API_HOST_VERIFY_CERT) names did not sign the server's certificate, or the certificate is not for this host: name the bundle of the CA that signed it"
          : "to trust a private CA, set api.verify_certificate in clearml.conf (or CLEARML_API_HOST_VERIFY_CERT) to the path of its CA bundle (PEM)",
      });
    }
    if (e.reason === "timeout") {
      return new BackendError("E_CLEARML_TIMEOUT", `ClearML at ${this.server} did not answer ${endpoint} within ${Math.round(this.#timeoutMs / 1000)} s${tries}`, {
        hint: "the server is slow or unreachable; check the URL, or try again later",
      });
    }
    return new BackendError("E_CLEARML_UNREACHABLE", `cannot reach ClearML at ${this.server} (${e.reason})${tries}`, {
      hint: "check that the server is running and that CLEARML_API_HOST (or api.api_server in clearml.conf) names it",
    });
  }

  /** The refusal of a redirect, naming where it pointed (its origin only: no path, no user information). */
  #redirectError(endpoint: string, response: Response): BackendError {
    const location = response.headers.get("location");
    let target = "an undisclosed location";
    let sameOrigin = false;
    if (location !== null) {
      try {
        const to = new URL(location, `${this.#base}/`);
        target = to.origin === "null" ? "a location that is not a web origin" : to.origin;
        sameOrigin = to.origin === new URL(this.#base).origin;
      } catch {
        target = "a location that is not a URL";
      }
    }
    const status = response.status >= 300 && response.status < 400 ? `HTTP ${response.status}` : "a redirect";
    return new BackendError(
      "E_CLEARML_REDIRECT",
      `ClearML at ${this.server} answered ${endpoint} with a redirect to ${sameOrigin ? "another path on the same server" : target} (${status}); expflow follows no redirects`,
      { hint: sameOrigin ? "set CLEARML_API_HOST (or api.api_server) to the API server's own URL" : `set CLEARML_API_HOST (or api.api_server) to the API server itself; if ${target} is it, name it directly` },
    );
  }

  /** Reads the body as a stream, refusing it as soon as it passes the cap. */
  async #readBody(endpoint: string, response: Response): Promise<string> {
    const cap = this.#maxResponseBytes;
    const tooLarge = (): BackendError =>
      new BackendError("E_CLEARML_TOO_LARGE", `ClearML at ${this.server} sent more than ${sizeText(cap)} for ${endpoint}, the cap on a response body; the answer was dropped`, {
        hint: "a listing asks for 500 tasks at a time, which is far below the cap: check what answers at this URL (a proxy, another service)",
      });
    const announced = Number(response.headers.get("content-length") ?? NaN);
    if (Number.isFinite(announced) && announced > cap) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    if (response.body === null) return "";
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > cap) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks, total).toString("utf8");
  }

  async #attempt(endpoint: string, url: string, body: string, contentType: string, authorization: string | undefined): Promise<unknown> {
    const headers: Record<string, string> = { "Content-Type": contentType, Accept: "application/json" };
    if (authorization !== undefined) headers.Authorization = authorization;
    let response: Response;
    let text: string;
    try {
      // No redirect is followed: the API server never redirects, and whoever answers at the
      // other end of one would be trusted with the token and asked for the data.
      const doFetch = await this.#fetch;
      response = await doFetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(this.#timeoutMs), redirect: "manual" });
      if ((response.status >= 300 && response.status < 400) || response.type === "opaqueredirect") {
        await response.body?.cancel().catch(() => undefined);
        throw this.#redirectError(endpoint, response);
      }
      text = await this.#readBody(endpoint, response);
    } catch (e) {
      if (e instanceof ExpflowError) throw e;
      const code = connectionCode(e);
      // Only failures that may pass are retried: not a wrong host name, a refused port or a bad URL.
      throw new AttemptError(code, TRANSIENT.has(code), null);
    }
    let envelope: Envelope | undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === "object" && "meta" in parsed && (parsed as Envelope).meta !== null && typeof (parsed as Envelope).meta === "object") {
        envelope = parsed as Envelope;
      }
    } catch {
      envelope = undefined;
    }
    if (envelope === undefined) {
      // Never the reason phrase: it is the other end's free text (a proxy's), not ClearML's.
      if (response.status >= 500) throw new AttemptError("no ClearML envelope", true, response.status);
      throw new BackendError(
        "E_CLEARML_BAD_RESPONSE",
        `ClearML at ${this.server} gave an answer to ${endpoint} that is not a ClearML API response (HTTP ${response.status}${text.length === 0 ? ", empty body" : ""})`,
        { hint: "check that CLEARML_API_HOST (or api.api_server) names the API server (often port 8008), not the web app or a proxy's login page" },
      );
    }
    const meta = envelope.meta;
    const resultCode = typeof meta.result_code === "number" ? meta.result_code : response.status;
    const resultSubcode = typeof meta.result_subcode === "number" ? meta.result_subcode : 0;
    const resultMsg = this.#redact(typeof meta.result_msg === "string" ? meta.result_msg : "");
    if (resultCode === 200 && response.ok) {
      if (!("data" in envelope) || envelope.data === null || typeof envelope.data !== "object") {
        throw new BackendError("E_CLEARML_BAD_RESPONSE", `ClearML at ${this.server} answered ${endpoint} without data`, {
          hint: "the server or a proxy in front of it returned an incomplete answer; try again, or check the server",
        });
      }
      return envelope.data;
    }
    if (resultCode >= 500) throw new AttemptError(`${resultCode}/${resultSubcode}`, true, resultCode, { endpoint, resultCode, resultSubcode, resultMsg });
    throw clearmlError({ endpoint, resultCode, resultSubcode, resultMsg }, this.server, { token: this.#basic === undefined });
  }
}

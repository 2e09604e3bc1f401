import type { ExpflowError } from "../../core/errors.js";
import { BackendError, ConflictError, NotFoundError } from "../../core/errors.js";

/** What the ClearML server said about a failed call (from the response envelope's `meta`). */
export interface ClearmlErrorDetails {
  /** The endpoint called, e.g. `tasks.get_all`. */
  readonly endpoint: string;
  /** `meta.result_code` (equals the HTTP status), or the HTTP status when there was no envelope. */
  readonly resultCode: number;
  readonly resultSubcode: number;
  /** `meta.result_msg`, with any credential or token in it redacted. */
  readonly resultMsg: string;
}

/** An error from a ClearML call, whatever its class: carries the server's codes. */
export interface ClearmlFailure extends ExpflowError {
  readonly clearml: ClearmlErrorDetails;
}

/** The server failed, refused the credentials or rejected a request expflow made. Exit 4. */
export class ClearmlBackendError extends BackendError implements ClearmlFailure {
  readonly clearml: ClearmlErrorDetails;
  constructor(code: string, message: string, details: ClearmlErrorDetails, options?: { hint?: string; cause?: unknown }) {
    super(code, message, options);
    this.clearml = details;
  }
}

/** Something the user named does not exist on the server (a task id, a project id). Exit 2. */
export class ClearmlNotFoundError extends NotFoundError implements ClearmlFailure {
  readonly clearml: ClearmlErrorDetails;
  constructor(code: string, message: string, details: ClearmlErrorDetails, options?: { hint?: string; cause?: unknown }) {
    super(code, message, options);
    this.clearml = details;
  }
}

/** The server refuses the action in the target's current state (events to a published task). Exit 2. */
export class ClearmlConflictError extends ConflictError implements ClearmlFailure {
  readonly clearml: ClearmlErrorDetails;
  constructor(code: string, message: string, details: ClearmlErrorDetails, options?: { hint?: string; cause?: unknown }) {
    super(code, message, options);
    this.clearml = details;
  }
}

/** Whether `e` came from a ClearML call (and so carries `result_code`, `result_subcode`, `result_msg`). */
export function isClearmlFailure(e: unknown): e is ClearmlFailure {
  return e instanceof ClearmlBackendError || e instanceof ClearmlNotFoundError || e instanceof ClearmlConflictError;
}

/** How the client authenticated, for what {@link clearmlError} says of a 401. */
export interface ClearmlErrorContext {
  /** `true` when `CLEARML_AUTH_TOKEN` stood in for the access key and secret. */
  readonly token?: boolean;
}

/**
 * Maps a ClearML error answer to the error hierarchy: the one place where result codes become
 * error classes and exit codes.
 *
 * - 401 (20 no credentials, 21/22 bad credentials): `E_CLEARML_AUTH`, exit 4.
 *   401/30 (invalid token) is handled by the client (one re-login, or one renewal of
 *   `CLEARML_AUTH_TOKEN`) and lands here only when that fails or the new token is refused too.
 * - 403: `E_CLEARML_FORBIDDEN`, exit 4.
 * - 400/101 invalid task id, 400/401 invalid project id: `E_CLEARML_NOT_FOUND`, exit 2.
 * - 400/131 events not added (a published, publishing or public task), 400/110 invalid task
 *   status: `E_CLEARML_REFUSED`, exit 2.
 * - 404 unknown endpoint: `E_CLEARML_UNSUPPORTED` (the server is too old), exit 4.
 * - 400/11, 400/12 and other 400s: `E_CLEARML_REQUEST` (the server rejected the request), exit 4.
 * - 5xx: `E_CLEARML_SERVER`, exit 4.
 */
export function clearmlError(details: ClearmlErrorDetails, server: string, context: ClearmlErrorContext = {}): ClearmlFailure {
  const { endpoint, resultCode: code, resultSubcode: sub, resultMsg: msg } = details;
  const said = `${code}/${sub}${msg ? ` ${msg}` : ""}`;
  if (code === 401 && context.token === true) {
    const why = sub === 30 ? "CLEARML_AUTH_TOKEN was refused as invalid or expired, and could not be renewed" : "CLEARML_AUTH_TOKEN was refused";
    return new ClearmlBackendError("E_CLEARML_AUTH", `ClearML at ${server}: ${why} (${said})`, details, {
      hint: "clearml-agent sets CLEARML_AUTH_TOKEN for the task it runs; elsewhere unset it, and the access key and secret (CLEARML_API_ACCESS_KEY / CLEARML_API_SECRET_KEY, or api.credentials in clearml.conf) are used",
    });
  }
  if (code === 401) {
    const why = sub === 20 ? "no credentials were accepted" : sub === 30 ? "the session token was refused even after a fresh login" : "the credentials were refused";
    return new ClearmlBackendError("E_CLEARML_AUTH", `ClearML at ${server}: ${why} (${said})`, details, {
      hint: "check CLEARML_API_ACCESS_KEY / CLEARML_API_SECRET_KEY or api.credentials in clearml.conf (create a new key pair under Settings > Workspace in the ClearML web app)",
    });
  }
  if (code === 403) {
    return new ClearmlBackendError("E_CLEARML_FORBIDDEN", `ClearML at ${server} refused ${endpoint}: no permission (${said})`, details, {
      hint: "these credentials may read but not write; use a key pair of a user with access",
    });
  }
  if (code === 400 && (sub === 101 || sub === 401)) {
    return new ClearmlNotFoundError("E_CLEARML_NOT_FOUND", `ClearML at ${server}: ${sub === 101 ? "no such task" : "no such project"} (${said})`, details, {
      hint: sub === 101 ? "check the task id (the ID shown in the ClearML web app's task info)" : undefined,
    });
  }
  if (code === 400 && (sub === 131 || sub === 110)) {
    return new ClearmlConflictError("E_CLEARML_REFUSED", `ClearML at ${server} refused ${endpoint} (${said})`, details, {
      hint: sub === 131 ? "a published or publishing task, and a public one, accepts no new events; report to a task of your workspace that is not published" : undefined,
    });
  }
  if (code === 404) {
    return new ClearmlBackendError("E_CLEARML_UNSUPPORTED", `ClearML at ${server} does not know ${endpoint} (${said})`, details, {
      hint: "the server may be too old for expflow; `expflow clearml status` shows its API version",
    });
  }
  if (code >= 500) {
    return new ClearmlBackendError("E_CLEARML_SERVER", `ClearML at ${server} failed on ${endpoint} (${said})`, details, {
      hint: "the server is failing; try again later, or ask its administrator",
    });
  }
  return new ClearmlBackendError("E_CLEARML_REQUEST", `ClearML at ${server} rejected ${endpoint} (${said})`, details, {
    hint: "the server may run an API version expflow does not support; `expflow clearml status` shows it",
  });
}

/**
 * The one error hierarchy of expflow. Library code throws these; only `src/cli/main.ts` turns
 * them into an exit code and a message. Every error has a stable `code` (`E_*`) that scripts
 * may match on, and the exit code of its class:
 *
 * - 2: usage or input error ({@link UsageError}, {@link ValidationError}, {@link NotFoundError},
 *   {@link ConflictError}, {@link ConfigError})
 * - 3: denied by governance ({@link DeniedError})
 * - 4: backend unreachable, unauthorised or failing ({@link BackendError})
 * - 130: interrupted by the user at a prompt ({@link InterruptedError})
 */
export class ExpflowError extends Error {
  /** Stable machine-readable code, e.g. `E_GATE_SYNTAX`. */
  readonly code: string;
  /** The process exit code the CLI uses for this error. */
  readonly exitCode: number;
  /** Optional advice on how to fix the problem, shown after the message. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, exitCode: number, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options?.hint;
  }
}

/** Bad command-line usage: unknown option values, malformed gates, unknown metrics. Exit 2. */
export class UsageError extends ExpflowError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, 2, options);
  }
}

/** Input data that fails validation (metric values, records). Exit 2. */
export class ValidationError extends ExpflowError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, 2, options);
  }
}

/** A configuration file or variable that is invalid; the message names the file and key. Exit 2. */
export class ConfigError extends ExpflowError {
  /** The file (or environment variable) at fault. */
  readonly source: string;
  /** The dotted key at fault, when one is known. */
  readonly key: string | undefined;

  constructor(source: string, key: string | undefined, message: string, options?: { hint?: string; cause?: unknown }) {
    super("E_CONFIG", `${source}${key ? `: key '${key}'` : ""}: ${message}`, 2, options);
    this.source = source;
    this.key = key;
  }
}

/** Something named does not exist (a file, an experiment, a metric). Exit 2. */
export class NotFoundError extends ExpflowError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, 2, options);
  }
}

/** An action conflicts with the current state (e.g. an illegal lifecycle transition). Exit 2. */
export class ConflictError extends ExpflowError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, 2, options);
  }
}

/** Denied by governance: PIN missing or wrong, lockout, forced action disallowed. Exit 3. */
export class DeniedError extends ExpflowError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, 3, options);
  }
}

/** A backend is unreachable, refuses the credentials or fails. Exit 4. */
export class BackendError extends ExpflowError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, 4, options);
  }
}

/** The user interrupted a prompt (Ctrl-C): nothing was done. Exit 130, as for SIGINT. */
export class InterruptedError extends ExpflowError {
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, 130, options);
  }
}

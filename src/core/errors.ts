/**
 * What an error carries besides its code and message. `field`, `value` and `suggestion` say what
 * was wrong in data, so that each surface can word it: the library's messages name the options
 * of its calls (`sortBy`), the CLI names its flags (`--sort-by`), the MCP server its parameters.
 */
export interface ExpflowErrorOptions {
  /** Advice on how to fix the problem. */
  hint?: string;
  cause?: unknown;
  /**
   * The input at fault, as the library's options and parameters name it (`sortBy`, `thenBy`,
   * `gates`, `statuses`, `max`, `rules`, `force`).
   */
  field?: string;
  /** The value given for `field` that is at fault, as given (a metric name, a status). */
  value?: string;
  /** A value that would do instead, when one is known (the nearest name, a qualified metric name). */
  suggestion?: string;
}

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
  /** The input at fault, by its library name (`sortBy`), when one is: see {@link ExpflowErrorOptions.field}. */
  readonly field: string | undefined;
  /** The value of `field` at fault, as given, when one is. */
  readonly value: string | undefined;
  /** A value that would do instead, when one is known. */
  readonly suggestion: string | undefined;

  constructor(code: string, message: string, exitCode: number, options?: ExpflowErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options?.hint;
    this.field = options?.field;
    this.value = options?.value;
    this.suggestion = options?.suggestion;
  }
}

/** Bad command-line usage: unknown option values, malformed gates, unknown metrics. Exit 2. */
export class UsageError extends ExpflowError {
  constructor(code: string, message: string, options?: ExpflowErrorOptions) {
    super(code, message, 2, options);
  }
}

/** Input data that fails validation (metric values, records). Exit 2. */
export class ValidationError extends ExpflowError {
  constructor(code: string, message: string, options?: ExpflowErrorOptions) {
    super(code, message, 2, options);
  }
}

/** A configuration file or variable that is invalid; the message names the file and key. Exit 2. */
export class ConfigError extends ExpflowError {
  /** The file (or environment variable) at fault. */
  readonly source: string;
  /** The dotted key at fault, when one is known. */
  readonly key: string | undefined;

  constructor(source: string, key: string | undefined, message: string, options?: ExpflowErrorOptions) {
    super("E_CONFIG", `${source}${key ? `: key '${key}'` : ""}: ${message}`, 2, options);
    this.source = source;
    this.key = key;
  }
}

/** Something named does not exist (a file, an experiment, a metric). Exit 2. */
export class NotFoundError extends ExpflowError {
  constructor(code: string, message: string, options?: ExpflowErrorOptions) {
    super(code, message, 2, options);
  }
}

/** An action conflicts with the current state (e.g. an illegal lifecycle transition). Exit 2. */
export class ConflictError extends ExpflowError {
  constructor(code: string, message: string, options?: ExpflowErrorOptions) {
    super(code, message, 2, options);
  }
}

/** Denied by governance: PIN missing or wrong, lockout, forced action disallowed. Exit 3. */
export class DeniedError extends ExpflowError {
  constructor(code: string, message: string, options?: ExpflowErrorOptions) {
    super(code, message, 3, options);
  }
}

/** A backend is unreachable, refuses the credentials or fails. Exit 4. */
export class BackendError extends ExpflowError {
  constructor(code: string, message: string, options?: ExpflowErrorOptions) {
    super(code, message, 4, options);
  }
}

/** The user interrupted a prompt (Ctrl-C): nothing was done. Exit 130, as for SIGINT. */
export class InterruptedError extends ExpflowError {
  constructor(code: string, message: string, options?: ExpflowErrorOptions) {
    super(code, message, 130, options);
  }
}

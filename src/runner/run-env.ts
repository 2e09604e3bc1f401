/**
 * Which of the runner's environment variables a run does not inherit. The rule lives here, once:
 * the runner applies it, the README documents it, the tests check it.
 */

/** Variables withheld from every run by name: the PIN and its hash. */
export const WITHHELD_FROM_RUNS: readonly string[] = Object.freeze(["EXPFLOW_PIN", "EXPFLOW_PIN_HASH"]);

/**
 * Any other `EXPFLOW_*` variable (prefix in any case) whose name contains one of these words (in
 * any case) is withheld too, so a secret expflow reads later (a token, a key) is covered without
 * remembering to list it. Variables outside `EXPFLOW_*` (`CLEARML_API_SECRET_KEY`, cloud
 * credentials) pass: a training script may need them.
 */
export const SECRET_NAME_WORDS: readonly string[] = Object.freeze(["PIN", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL"]);

const SECRET_EXPFLOW_NAME = new RegExp(`^EXPFLOW_.*(?:${SECRET_NAME_WORDS.join("|")})`, "i");

/** Whether the variable `name` is withheld from runs (see {@link WITHHELD_FROM_RUNS}, {@link SECRET_NAME_WORDS}). */
export function isWithheldFromRuns(name: string): boolean {
  return WITHHELD_FROM_RUNS.includes(name) || SECRET_EXPFLOW_NAME.test(name);
}

/**
 * The environment of run `id`: `base` without the withheld variables (and without unset ones),
 * plus `EXPFLOW_EXPERIMENT_ID` and `EXPFLOW_METRICS_FILE`, which always win over inherited values.
 */
export function runEnvironment(base: Readonly<Record<string, string | undefined>>, id: string, metricsFile: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !isWithheldFromRuns(k)) env[k] = v;
  env["EXPFLOW_EXPERIMENT_ID"] = id;
  env["EXPFLOW_METRICS_FILE"] = metricsFile;
  return env;
}

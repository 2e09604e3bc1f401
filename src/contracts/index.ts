/**
 * The contracts of expflow: one zod schema for each thing that leaves the process (`--json`
 * output, and what the library returns in the same shape), with its TypeScript type inferred
 * from it. See README.md in this folder for what each one is.
 *
 * Code that builds an output imports the types only (`import type`): zod is loaded by whoever
 * validates (the tests, a library user), never on the CLI's start-up path.
 */
export * from "./error.js";
export * from "./experiment.js";
export * from "./ranking.js";
export * from "./audit.js";
export * from "./runs.js";
export * from "./metrics.js";
export * from "./security.js";
export * from "./approvals.js";
export * from "./config.js";
export * from "./clearml.js";
export * from "./report.js";
export { JSON_OUTPUTS, JSON_ERROR_OUTPUT, type JsonOutput } from "./outputs.js";

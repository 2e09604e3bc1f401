/**
 * expflow as a library: the curated, stable surface. What is not exported here (helpers,
 * renderers, the CLI, the registry's file utilities) may change in any release.
 *
 * Every type that appears in the signature of an export is exported too, so a consumer can
 * name it: `test/public-api.test.ts` compiles a consumer against the built package to check.
 *
 * @example
 * import { compareScores, parseGate, LocalStore } from "expflow";
 * const experiments = await new LocalStore({ path: "experiments.jsonl" }).list();
 * const ranked = compareScores(experiments, { sortBy: "pde_mean", gates: [parseGate("pde_mean:lt:18.09")] });
 */

// Errors: one hierarchy, each with a stable `code` and an exit code; the ClearML ones carry the
// server's answer.
export {
  ExpflowError,
  UsageError,
  ValidationError,
  ConfigError,
  NotFoundError,
  ConflictError,
  DeniedError,
  BackendError,
  InterruptedError,
  type ExpflowErrorOptions,
} from "./core/errors.js";
export { ClearmlBackendError, ClearmlNotFoundError, ClearmlConflictError, isClearmlFailure, type ClearmlFailure, type ClearmlErrorDetails } from "./stores/clearml/errors.js";

// The metrics registry.
export {
  STANDARD_METRICS,
  MetricRegistry,
  reportStandard,
  validateMetricValues,
  type ValidateOptions,
  type Direction,
  type MetricDefinition,
  type MetricOverride,
  type MetricSink,
  type MetricValues,
} from "./core/metrics/registry.js";
export type { MetricHistory } from "./core/metrics/history.js";

// Gates: the grammar parses to a typed value; evaluation is pure.
export { GATE_OPS, parseGate, formatGate, evaluateGates, thresholdGates, type Gate, type GateOp, type GateResult, type GateFailure } from "./core/gates/gate.js";

// Ranking.
export {
  compareScores,
  rankingMetricNames,
  rankedRows,
  type CompareScoresOptions,
  type CompareScoresResult,
  type ExperimentList,
  type RankedExperiment,
  type RankedRows,
} from "./core/ranking/compare-scores.js";
export { DEFAULT_RANKED_STATUSES, type StatusSelection } from "./core/ranking/selection.js";
export { parseParetoSpec, paretoFronts, type ParetoObjective, type ParetoDirection } from "./core/ranking/pareto.js";

// Experiments side by side.
export { diffExperiments, type ExperimentDiff, type DiffRow, type DiffValue, type DiffMark, type DiffKind, type DiffOptions } from "./core/experiment-diff.js";

// Competition rules and their audit.
export {
  validateCompetitionRules,
  PDEBENCH_RULES,
  type RulePack,
  type MetricRule,
  type ParamRule,
  type StatusRule,
  type RuleCheck,
  type RulesValidation,
} from "./core/rules/rules.js";
export { loadRulePack } from "./config/rules.js";

// Experiments and their lifecycle.
export { LIFECYCLE_STATES, type Experiment, type ExperimentFilter } from "./core/experiment.js";
export {
  RUN_STATES,
  TERMINAL_STATES,
  TRANSITIONS,
  allowedEvents,
  nextState,
  pathTo,
  isTerminal,
  type RunState,
  type RunEvent,
  type ArchiveEvent,
  type HistoryEntry,
} from "./core/lifecycle/lifecycle.js";

// Stores: where experiments live. One interface; open the local registry with its path (from
// `loadConfig(...).registry.value`), a ClearML server with a client on
// `resolveClearmlConnection(env)`.
export type { Store, RankingListing, WarningSink } from "./stores/store.js";
export { LocalStore, type LocalStoreOptions, type RegistrySnapshot } from "./stores/local/local-store.js";
export type { DamagedLine } from "./util/jsonl.js";
export { ClearmlStore, CLEARML_STATUSES, type ClearmlStoreOptions } from "./stores/clearml/clearml-store.js";
export { ClearmlClient, type ClearmlClientOptions, type CallOptions, type RequestInfo } from "./stores/clearml/client.js";
export { resolveClearmlConnection, type ClearmlConnection } from "./stores/clearml/connection.js";

// Backends: the Store's reads and writes, the Executor beside it, and opening both from the
// configuration in one call, every destructive operation guarded by construction.
export { BaseStore, type StoreCapability, type NewExperiment, type TransitionOptions, type RemoteLink, type LinkedTasks } from "./stores/store.js";
export type { FollowChange, FollowResult } from "./stores/local/local-store.js";
export type { RegistryRecord } from "./stores/local/record.js";
export type { RawRegistry, WriterContext } from "./stores/local/registry-writer.js";
export type { RegistryHealth, CompactResult } from "./stores/local/maintenance.js";
export type { Executor, RunSpec, CancelOutcome } from "./executors/executor.js";
export { LocalExecutor, type LocalExecutorOptions } from "./executors/local/local-executor.js";
export { RoutingExecutor } from "./executors/routing-executor.js";
// ClearML dispatch: tasks clearml-agent runs from a git repository, recorded and followed locally.
export {
  ClearmlExecutor,
  type ClearmlExecutorOptions,
  type ClearmlRunSpec,
  type ClearmlCloneSpec,
  type Dispatched,
  type DescribeScript,
  type SyncReport,
  type SyncChange,
} from "./executors/clearml/clearml-executor.js";
export { ClearmlTasks, type QueueRef, type NewTask, type TaskScript } from "./executors/clearml/clearml-tasks.js";
export type { TaskState } from "./executors/clearml/task-state.js";
export { openLocalBackend as openBackend, type LocalBackend, type BackendContext, type ClearmlSide, type OpenClearmlClient } from "./app/backend.js";
export { guardedStore, guardedExecutor, type Authorize } from "./security/guarded.js";
// The contracts (zod schemas of everything printed or returned) are the subpath
// `expflow/contracts`, so that importing the library does not load zod.

// Configuration: layered, with provenance.
export {
  loadConfig,
  metricRegistryOf,
  expflowHome,
  type ResolvedConfig,
  type ConfigEnvironment,
  type ConfigFlags,
  type Sourced,
  type Provenance,
} from "./config/load.js";

// Security: the guard every destructive action passes, the PIN, registry bindings, the audit log.
export { guard, forcePolicy, type GuardOptions, type GuardContext, type GuardOutcome, type ForcePolicy } from "./security/guard.js";
export {
  initPin,
  verifyPin,
  pinIsSet,
  clearPin,
  pinStatus,
  updatePinMeta,
  type PinContext,
  type PinSource,
  type PinStatus,
  type ActivePin,
  type VerifyResult,
} from "./security/pin.js";
export { hashPin, isValidPin, PIN_MIN_DIGITS, PIN_MAX_DIGITS, type PinHashFormat, type ParsedPinHash } from "./security/pin-hash.js";
export type { PinFileMeta, AuditAnchor } from "./security/pin-file.js";
export { readProtection, bindRegistry, unbindRegistry, sidecarOf, type Protection } from "./security/protection.js";
export {
  appendAudit,
  readAudit,
  verifyAudit,
  type AuditRecord,
  type AuditOutcome,
  type AuditVerification,
  type AuditProblem,
  type AuditActor,
} from "./security/audit-log.js";
// Approval requests: what an agent asks for, and a human approves with the PIN or denies.
export {
  openApprovals,
  leavesPending,
  APPROVAL_ACTIONS,
  DEFAULT_APPROVAL_TTL_MS,
  MAX_APPROVAL_TTL_MS,
  type Approvals,
  type ApprovalsContext,
  type ApprovalAction,
  type ApprovalState,
  type ApprovalJson,
  type ApprovalRequester,
  type ApprovalListOptions,
  type NewApproval,
} from "./app/approvals.js";

/**
 * expflow as a library: the metrics registry, the gate grammar, ranking, and the local store.
 *
 * @example
 * import { compareScores, parseGate, LocalStore } from "expflow";
 * const experiments = await new LocalStore({ path: "experiments.jsonl" }).list();
 * const ranked = compareScores(experiments, { sortBy: "pde_mean", gates: [parseGate("pde_mean:lt:18.09")] });
 */
export * from "./core/errors.js";
export { editDistance, nearest, didYouMean } from "./core/suggest.js";
export { ID_PATTERN, MAX_ID_LENGTH, idProblem, isValidId, assertValidId } from "./core/ids.js";
export {
  STANDARD_METRICS,
  MetricRegistry,
  reportStandard,
  validateMetricValues,
  parseDecimal,
  type Direction,
  type MetricDefinition,
  type MetricOverride,
  type MetricSink,
  type MetricValues,
} from "./core/metrics/registry.js";
export {
  GATE_OPS,
  GATE_OP_SYMBOLS,
  parseGate,
  formatGate,
  compareOp,
  evaluateGates,
  gatePredicate,
  metricValue,
  thresholdGates,
  type Gate,
  type GateOp,
  type GateResult,
  type GateFailure,
} from "./core/gates/gate.js";
export {
  compareScores,
  resolveMetricName,
  type CompareScoresOptions,
  type CompareScoresResult,
  type RankedExperiment,
} from "./core/ranking/compare-scores.js";
export { DEFAULT_RANKED_STATUSES, selectByStatus, type StatusSelection } from "./core/ranking/selection.js";
export { LIFECYCLE_STATES, matchesFilter, matchesStatus, assertUnambiguous, type Experiment, type ExperimentFilter } from "./core/experiment.js";
export type { Store, WarningSink } from "./stores/store.js";
export { LocalStore, type LocalStoreOptions, type RegistrySnapshot } from "./stores/local/local-store.js";
export { loadConfig, metricRegistryOf, expflowHome, type ResolvedConfig, type ConfigEnvironment } from "./config/load.js";
export { guard, forcePolicy, describeAction, type GuardOptions, type GuardContext, type GuardOutcome, type ForcePolicy } from "./security/guard.js";
export { readProtection, bindRegistry, unbindRegistry, sidecarOf, realRegistryPath, SIDECAR_SUFFIX, type Protection } from "./security/protection.js";
export { readPinFile, parsePinMeta, PIN_FILE, DEFAULT_PIN_META, type PinFileMeta, type PinFileContent, type AuditAnchor } from "./security/pin-file.js";
export {
  initPin,
  updatePinMeta,
  verifyPin,
  pinIsSet,
  clearPin,
  pinStatus,
  activePin,
  lockedUntil,
  lockoutMs,
  LOCKOUT_THRESHOLD,
  LOCKOUT_BASE_MS,
  LOCKOUT_MAX_MS,
  type PinContext,
  type PinSource,
  type PinStatus,
  type ActivePin,
  type VerifyResult,
} from "./security/pin.js";
export { hashPin, parsePinHash, isValidPin, isWeakerThanDefault, offlineGuessMs, SCRYPT_DEFAULTS, PIN_RULE, PIN_MIN_DIGITS, PIN_MAX_DIGITS, type PinHashFormat } from "./security/pin-hash.js";
export {
  appendAudit,
  readAudit,
  verifyAudit,
  auditHash,
  auditLogState,
  type AuditRecord,
  type AuditOutcome,
  type AuditVerification,
  type AuditProblem,
  type AuditActor,
} from "./security/audit-log.js";
export {
  validateCompetitionRules,
  metricBound,
  PDEBENCH_RULES,
  type RulePack,
  type MetricRule,
  type ParamRule,
  type StatusRule,
  statusRuleLabel,
  type RuleCheck,
  type RulesValidation,
} from "./core/rules/rules.js";
export { loadRulePack } from "./config/rules.js";
export { RUN_STATES, TERMINAL_STATES, TRANSITIONS, allowedEvents, nextState, isTerminal, type RunState, type RunEvent, type HistoryEntry } from "./core/lifecycle/lifecycle.js";
export { RegistryWriter, readRaw, readOne, resolveId, type WriterContext } from "./stores/local/registry-writer.js";
export { newExperimentId } from "./stores/local/ids.js";
export { ClearmlClient, displayUrl, type ClearmlClientOptions, type CallOptions, type RequestInfo } from "./stores/clearml/client.js";
export {
  ClearmlStore,
  CLEARML_STATUSES,
  CLEARML_PAGE_LIMIT,
  lifecycleOf,
  clearmlStatusesFor,
  metricsOfTask,
  paramsOfTask,
  experimentOfTask,
  type ClearmlStoreOptions,
} from "./stores/clearml/clearml-store.js";
export { ClearmlBackendError, ClearmlNotFoundError, ClearmlConflictError, clearmlError, isClearmlFailure, type ClearmlErrorDetails, type ClearmlFailure } from "./stores/clearml/errors.js";
export { resolveClearmlConnection, readClearmlConf, type ClearmlConnection } from "./stores/clearml/connection.js";
export { parseClearmlConf, confGet, ConfSyntaxError, type ConfObject, type ConfValue } from "./stores/clearml/conf.js";

// The contracts themselves: their enums and types agree with the core's, they stay free of I/O,
// the CLI never loads zod to print, and a strict contract refuses a field added or taken away.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { ApprovalAction, ApprovalJson } from "../../src/app/approvals.js";
import type { ApprovalJson as ApprovalSchemaJson } from "../../src/contracts/approvals.js";
import type { AuditOutcome, AuditProblem, AuditRecord, AuditVerification } from "../../src/security/audit-log.js";
import type { PinStatus, PinSource } from "../../src/security/pin.js";
import type { PinHashFormat } from "../../src/security/pin-hash.js";
import type { RegistryHealth } from "../../src/stores/local/maintenance.js";
import type { Direction, MetricDefinition } from "../../src/core/metrics/registry.js";
import type { Gate, GateFailure, GateOp, GateResult } from "../../src/core/gates/gate.js";
import { GATE_OPS } from "../../src/core/gates/gate.js";
import type { ParamRule, RuleCheck } from "../../src/core/rules/rules.js";
import type { HistoryEntry, RunState } from "../../src/core/lifecycle/lifecycle.js";
import { RUN_STATES } from "../../src/core/lifecycle/lifecycle.js";
import { LIFECYCLE_STATES } from "../../src/core/experiment.js";
import { STANDARD_METRICS } from "../../src/core/metrics/registry.js";
import { gateOp, runState } from "../../src/contracts/primitives.js";
import type {
  AuditProblemJson,
  AuditRecordJson,
  AuditVerificationJson,
  GateJson,
  GateResultJson,
  HistoryEntryJson,
  MetricDefinitionJson,
  ParamRuleJson,
  PinStatusJson,
  RegistryCheckJson,
  RuleCheckJson,
  RunRecordJson,
} from "../../src/contracts/index.js";
import {
  ErrorOutputSchema,
  ExperimentListSchema,
  GateResultSchema,
  JSON_OUTPUTS,
  MetricDefinitionSchema,
  PinStatusSchema,
  RankingSchema,
  RegistryRecordSchema,
} from "../../src/contracts/index.js";
import { metricJson } from "../../src/cli/commands/metrics.js";

const SRC = new URL("../../src/", import.meta.url).pathname;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** Every import and export-from of a file, with whether it is type-only. */
function importsOf(file: string): { spec: string; typeOnly: boolean }[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const out: { spec: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const typeOnly = c !== undefined && (c.isTypeOnly || (c.name === undefined && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      out.push({ spec: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ spec: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      out.push({ spec: arg && ts.isStringLiteral(arg) ? arg.text : "<dynamic>", typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

describe("the contracts agree with the code that builds the outputs", () => {
  it("the enums are the core's (gate operators, lifecycle states)", () => {
    expect(gateOp.options).toEqual([...GATE_OPS]);
    expect(runState.options).toEqual([...RUN_STATES]);
    expect(runState.options).toEqual([...LIFECYCLE_STATES]);
  });

  it("the types of the core, the stores and the security fit the contracts (checked by tsc)", () => {
    expectTypeOf<Gate>().toExtend<GateJson>();
    expectTypeOf<GateResult>().toExtend<GateResultJson>();
    expectTypeOf<RuleCheck>().toExtend<RuleCheckJson>();
    expectTypeOf<MetricDefinition>().toExtend<MetricDefinitionJson>();
    expectTypeOf<AuditRecord>().toExtend<AuditRecordJson>();
    expectTypeOf<AuditProblem>().toExtend<AuditProblemJson>();
    expectTypeOf<AuditVerification>().toExtend<AuditVerificationJson>();
    expectTypeOf<PinStatus>().toExtend<PinStatusJson>();
    expectTypeOf<RegistryHealth>().toExtend<RegistryCheckJson>();
    // The enumerations are exactly the core's: a state or operator added there must be added here.
    expectTypeOf<GateJson["op"]>().toEqualTypeOf<GateOp>();
    expectTypeOf<GateResultJson["reason"]>().toEqualTypeOf<GateFailure | null>();
    expectTypeOf<RunRecordJson["status"]>().toEqualTypeOf<RunState>();
    expectTypeOf<HistoryEntryJson["event"]>().toEqualTypeOf<HistoryEntry["event"]>();
    expectTypeOf<AuditRecordJson["outcome"]>().toEqualTypeOf<AuditOutcome>();
    expectTypeOf<PinStatusJson["source"]>().toEqualTypeOf<PinSource>();
    expectTypeOf<PinStatusJson["format"]>().toEqualTypeOf<PinHashFormat | "unreadable" | null>();
    expectTypeOf<MetricDefinitionJson["direction"]>().toEqualTypeOf<Direction>();
    expectTypeOf<NonNullable<ParamRuleJson["type"]>>().toEqualTypeOf<NonNullable<ParamRule["type"]>>();
    // The approvals' type is the contract's, written out (the library's types need no zod).
    expectTypeOf<ApprovalJson>().toEqualTypeOf<ApprovalSchemaJson>();
    expectTypeOf<ApprovalSchemaJson["action"]>().toEqualTypeOf<ApprovalAction>();
  });

  it("every standard metric's definition fits", () => {
    for (const m of STANDARD_METRICS) expect(MetricDefinitionSchema.safeParse(metricJson(m)).success, m.name).toBe(true);
  });
});

describe("the contracts stay where they belong", () => {
  it("src/contracts imports zod and itself only", () => {
    for (const file of filesUnder(join(SRC, "contracts"))) {
      const bad = importsOf(file).filter(({ spec }) => spec !== "zod" && !spec.startsWith("./"));
      expect(bad, relative(SRC, file)).toEqual([]);
    }
  });

  it("code outside src/contracts imports them as types only, so zod never loads to print", () => {
    // src/mcp hands the schemas themselves to the MCP SDK (tools' input and output schemas); it is
    // loaded only by `expflow mcp`, never on another command's path.
    for (const file of filesUnder(SRC).filter((f) => !f.startsWith(join(SRC, "contracts")) && !f.startsWith(join(SRC, "mcp")))) {
      const bad = importsOf(file).filter(({ spec, typeOnly }) => spec.includes("contracts/") && !typeOnly);
      expect(bad, relative(SRC, file)).toEqual([]);
    }
  });
});

describe("the schemas are strict where the shape is fixed", () => {
  const gate = { metric: "pde_mean", op: "lt", threshold: 18.09, actual: 16, passed: true, reason: null };
  const experiment = { id: "e", name: null, status: "completed", clearml_status: null, project: null, tags: [], created: null, archived: false, metrics: {}, ambiguous_metrics: {}, params: {} };

  it("a field added, taken away or of the wrong type fails", () => {
    expect(GateResultSchema.safeParse(gate).success).toBe(true);
    expect(GateResultSchema.safeParse({ ...gate, extra: 1 }).success).toBe(false);
    const { reason: _reason, ...withoutReason } = gate;
    expect(GateResultSchema.safeParse(withoutReason).success).toBe(false);
    expect(GateResultSchema.safeParse({ ...gate, op: "<" }).success).toBe(false);
    const list = { location: "/r.jsonl", experiments: [experiment] };
    expect(ExperimentListSchema.safeParse(list).success).toBe(true);
    expect(ExperimentListSchema.safeParse({ ...list, experiments: [{ ...experiment, backend_status: null }] }).success).toBe(false);
    expect(ExperimentListSchema.safeParse({ ...list, experiments: [{ ...experiment, params: { a: 1 } }] }).success).toBe(false);
    expect(ErrorOutputSchema.safeParse({ error: { code: "E_USAGE", message: "m", hint: null } }).success).toBe(true);
    expect(ErrorOutputSchema.safeParse({ error: { code: "E_USAGE", message: "m" } }).success).toBe(false);
    expect(ErrorOutputSchema.safeParse({ error: { code: "usage", message: "m", hint: null } }).success).toBe(false);
  });

  it("the invariants of today's outputs are checked too", () => {
    expect(GateResultSchema.safeParse({ ...gate, passed: false }).success).toBe(false);
    expect(GateResultSchema.safeParse({ ...gate, actual: null, passed: false, reason: "not_met" }).success).toBe(false);
    const ranking = {
      sort_by: "pde_mean",
      ascending: true,
      gates: [{ metric: "pde_mean", op: "lt", value: 18.09 }],
      selection: { statuses: ["completed"], default: true, ranked: 1, excluded: 0, excluded_by_status: {} },
      pareto: null,
      results: [{ rank: 1, id: "e", name: null, status: "completed", passed: true, value: 16, metrics: { pde_mean: 16 }, gates: [gate] }],
    };
    expect(RankingSchema.safeParse(ranking).success).toBe(true);
    expect(RankingSchema.safeParse({ ...ranking, results: [{ ...ranking.results[0], rank: 2 }] }).success).toBe(false);
    expect(RankingSchema.safeParse({ ...ranking, selection: { ...ranking.selection, excluded: 3 } }).success).toBe(false);
    const { pareto: _pareto, ...withoutPareto } = ranking;
    expect(RankingSchema.safeParse(withoutPareto).success).toBe(false);
  });

  it("a Pareto ranking's ranks are fronts: from 1, passing first, never falling, never skipping one", () => {
    const failed = { ...gate, actual: 20, passed: false, reason: "not_met" };
    const row = (id: string, rank: number | null) => ({ rank, id, name: null, status: "completed", passed: rank !== null, value: 16, metrics: { pde_mean: 16 }, gates: [rank === null ? failed : gate] });
    const ranking = (...ranks: (number | null)[]) => ({
      sort_by: "pde_mean",
      ascending: true,
      gates: [{ metric: "pde_mean", op: "lt", value: 18.09 }],
      selection: { statuses: ["completed"], default: true, ranked: ranks.length, excluded: 0, excluded_by_status: {} },
      pareto: [
        { metric: "pde_mean", direction: "min" },
        { metric: "train_time_min", direction: "min" },
      ],
      results: ranks.map((r, i) => row(`e${i}`, r)),
    });
    for (const ok of [[], [1], [1, 1, 1], [1, 1, 2, 3, 3], [1, 2, null, null]]) expect(RankingSchema.safeParse(ranking(...ok)).success, JSON.stringify(ok)).toBe(true);
    for (const bad of [[2], [1, 3], [1, 2, 1], [null, 1], [1, null, 2]]) expect(RankingSchema.safeParse(ranking(...bad)).success, JSON.stringify(bad)).toBe(false);
    // Without pareto the same fronts are not ranks.
    expect(RankingSchema.safeParse({ ...ranking(1, 1), pareto: null }).success).toBe(false);
    const one = ranking(1);
    expect(RankingSchema.safeParse({ ...one, pareto: one.pareto.slice(0, 1) }).success).toBe(false);
    expect(RankingSchema.safeParse({ ...one, pareto: [one.pareto[0], one.pareto[0]] }).success).toBe(false);
    expect(RankingSchema.safeParse({ ...one, pareto: [one.pareto[0], { metric: "x", direction: "up" }] }).success).toBe(false);
    expect(PinStatusSchema.safeParse({ active: true, source: "none", format: null, locked_until: null }).success).toBe(false);
  });

  it("a registry record is loose: the earlier tool's lines hold what it wrote", () => {
    expect(RegistryRecordSchema.safeParse({ experiment_id: "exp-1", metrics: { pde_mean: null }, anything: [1] }).success).toBe(true);
    expect(RegistryRecordSchema.safeParse({ name: "no id" }).success).toBe(false);
  });

  it("JSON_OUTPUTS names a schema for each output", () => {
    for (const [key, schema] of Object.entries(JSON_OUTPUTS)) expect(typeof schema.safeParse, key).toBe("function");
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExpflowError } from "../../src/core/errors.js";
import type { Experiment } from "../../src/core/experiment.js";
import type { CompareScoresOptions } from "../../src/core/ranking/compare-scores.js";
import { compareScores } from "../../src/core/ranking/compare-scores.js";
import { parseParetoSpec } from "../../src/core/ranking/pareto.js";
import { validateCompetitionRules } from "../../src/core/rules/rules.js";
import { MetricRegistry, validateMetricValues } from "../../src/core/metrics/registry.js";
import { loadConfig } from "../../src/config/load.js";
import { guard } from "../../src/security/guard.js";
import { ClearmlClient } from "../../src/stores/clearml/client.js";
import { ClearmlStore } from "../../src/stores/clearml/clearml-store.js";
import { assertRegistryFile } from "../../src/stores/local/registry-file.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { guardContext, setPin } from "../security/helpers.js";

/**
 * Bad inputs to the library (core, config, stores, security) and the error each one throws: the
 * errors whose words the CLI changes for the terminal, and a few it does not. Shared by the
 * test that library messages name no flags and the test of the CLI's words for them.
 */
export interface LibraryErrorCase {
  readonly name: string;
  /** Throws (or rejects with) the error; `dir` is a fresh temporary directory. */
  readonly run: (dir: string) => unknown;
}

const PIN = "6947";

function experiment(id: string, metrics: Record<string, unknown>, ambiguous?: Record<string, string[]>): Experiment {
  return { id, name: null, status: "completed", project: "P", tags: [], created: null, metrics, params: {}, ...(ambiguous ? { ambiguousMetrics: ambiguous } : {}) };
}

const PLAIN = [experiment("e1", { pde_mean: 17, seg_total: 50 }), experiment("e2", { pde_mean: 18, seg_total: 40 })];
const AMBIGUOUS = [experiment("t1", { pde_mean: 17, "Score/seg_total": 50, "Loss/seg_total": 0.1 }, { seg_total: ["Loss/seg_total", "Score/seg_total"] })];

const rank = (experiments: readonly Experiment[], options: CompareScoresOptions) => () => compareScores(experiments, options);

function offlineStore(): ClearmlStore {
  const client = new ClearmlClient({ apiServer: "http://127.0.0.1:9", accessKey: "a", secretKey: "b", sleep: async () => undefined });
  return new ClearmlStore({ client });
}

/** A home whose PIN is set (by the owner's file, never allowing force), and a working directory. */
async function pinHome(dir: string): Promise<{ home: string; cwd: string }> {
  const home = join(dir, "home");
  const cwd = join(dir, "cwd");
  mkdirSync(home);
  mkdirSync(cwd);
  await setPin(home, PIN);
  return { home, cwd };
}

export const LIBRARY_ERROR_CASES: readonly LibraryErrorCase[] = [
  { name: "unknown sortBy metric", run: rank(PLAIN, { sortBy: "pde_maen" }) },
  { name: "unknown thenBy metric", run: rank(PLAIN, { sortBy: "pde_mean", thenBy: ["bogus_x"] }) },
  { name: "unknown gate metric", run: rank(PLAIN, { sortBy: "pde_mean", gates: ["bogus_x:lt:1"] }) },
  { name: "unknown metric reported, strict", run: () => validateMetricValues({ val_loss: 0.1 }, MetricRegistry.create({}, undefined, { strict: true }), { custom: true }) },
  { name: "malformed gate", run: rank(PLAIN, { sortBy: "pde_mean", gates: ["pde_mean:lt"] }) },
  { name: "malformed pareto objective", run: () => parseParetoSpec("pde_mean:up,seg_total:max") },
  { name: "pareto with one objective", run: () => parseParetoSpec("pde_mean:min") },
  { name: "unknown pareto metric", run: rank(PLAIN, { pareto: [{ metric: "pde_maen", direction: "min" }, { metric: "seg_total", direction: "max" }] }) },
  {
    name: "pareto metric named twice",
    run: rank(PLAIN, { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "pde", direction: "max" }], registry: MetricRegistry.create({ pde_mean: { aliases: ["pde"] } }) }),
  },
  { name: "ambiguous pareto metric", run: rank(AMBIGUOUS, { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "seg_total", direction: "max" }] }) },
  { name: "neither sortBy nor pareto", run: rank(PLAIN, {}) },
  { name: "ascending without sortBy", run: rank(PLAIN, { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "seg_total", direction: "max" }], ascending: true }) },
  { name: "max not positive", run: rank(PLAIN, { sortBy: "pde_mean", max: 0 }) },
  { name: "statuses empty", run: rank(PLAIN, { sortBy: "pde_mean", statuses: [] }) },
  { name: "ambiguous sortBy metric", run: rank(AMBIGUOUS, { sortBy: "seg_total" }) },
  { name: "ambiguous thenBy metric", run: rank(AMBIGUOUS, { sortBy: "pde_mean", thenBy: ["seg_total"] }) },
  { name: "ambiguous gate metric", run: rank(AMBIGUOUS, { sortBy: "pde_mean", gates: ["seg_total:gt:0.5"] }) },
  {
    name: "ambiguous rule metric",
    run: () => validateCompetitionRules(AMBIGUOUS[0]!.metrics, {}, undefined, { ambiguousMetrics: AMBIGUOUS[0]!.ambiguousMetrics }),
  },
  { name: "unknown ClearML status", run: () => offlineStore().assertStatuses(["runing"]) },
  {
    name: "ClearML task not found",
    run: async () => {
      const fake = await FakeClearml.start({ projects: [], tasks: [] });
      try {
        const client = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey, sleep: async () => undefined });
        await new ClearmlStore({ client }).requireTask("0123456789abcdef0123456789abcdef");
      } finally {
        await fake.close();
      }
    },
  },
  { name: "registry file missing", run: (dir) => assertRegistryFile(join(dir, "missing.jsonl")) },
  {
    name: "config allows force",
    run: async (dir) => {
      const cwd = join(dir, "project");
      mkdirSync(cwd);
      writeFileSync(join(cwd, "expflow.yaml"), "pin:\n  allow_force: true\n");
      await loadConfig({ env: { EXPFLOW_HOME: join(dir, "home") }, cwd, userHome: dir });
    },
  },
  {
    name: "PIN required",
    run: async (dir) => {
      const { home, cwd } = await pinHome(dir);
      await guard("run.archive", "exp-1", {}, guardContext(home, cwd));
    },
  },
  {
    name: "PIN required to allow force",
    run: async (dir) => {
      const { home, cwd } = await pinHome(dir);
      await guard("pin.policy", "allow_force=true", {}, guardContext(home, cwd));
    },
  },
  {
    name: "force not allowed by the owner",
    run: async (dir) => {
      const { home, cwd } = await pinHome(dir);
      await guard("run.archive", "exp-1", { force: true }, guardContext(home, cwd));
    },
  },
  {
    name: "force forbidden by a file",
    run: async (dir) => {
      const { home, cwd } = await pinHome(dir);
      await guard("run.archive", "exp-1", { force: true }, guardContext(home, cwd, { forceForbiddenBy: "/p/expflow.yaml" }));
    },
  },
  {
    name: "audit log missing",
    run: async (dir) => {
      const { home, cwd } = await pinHome(dir);
      await guard("run.cancel", "x", { pin: PIN }, guardContext(home, cwd));
      rmSync(join(home, "audit.jsonl"));
      await guard("run.cancel", "y", { pin: PIN }, guardContext(home, cwd));
    },
  },
];

/**
 * The error a case throws, in a fresh temporary directory (removed after), and `clean`, which
 * writes that directory as `<dir>` in a text.
 */
export async function errorOf(c: LibraryErrorCase): Promise<{ error: ExpflowError; clean: (text: string | undefined) => string | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), "expflow-errors-"));
  const clean = (text: string | undefined): string | undefined => text?.split(dir).join("<dir>");
  try {
    await c.run(dir);
  } catch (e) {
    if (!(e instanceof ExpflowError)) throw e;
    return { error: e, clean };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error(`${c.name}: expected an error, but none was thrown`);
}

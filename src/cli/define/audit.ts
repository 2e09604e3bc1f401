/** The definitions of `expflow audit ...`; the implementations are `commands/audit.ts` and `commands/audit-log.ts`. */
import type { Command, OptionValues } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { formatOptions, jsonOption, registryOption, verboseOption } from "./options.js";

/** `--rules <file>` of the audit commands. */
function rulesOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd.option("--rules <file>", "a rule pack (YAML); default: audit.rules in config, else the built-in pdebench pack");
}

/** `--task-id <id>` of the audit commands that can read a ClearML task. */
function taskIdOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd.option("--task-id <id>", "take the status, metrics and parameters from this ClearML task");
}

const EXPERIMENT_ID = ["<experiment-id>", "experiment id or unique prefix (with --task-id: only the report's label)"] as const;

function declareAudit(program: Command) {
  return program.command("audit").description("competition-rules audits, and the tamper-evident audit log of protected actions");
}

type Audit = ReturnType<typeof declareAudit>;

function declareValidate(audit: Audit) {
  const cmd = verboseOption(audit.command("validate"))
    .description("check an experiment's status, metrics and parameters against the competition rules: exit 0 all pass, 1 any fails")
    .argument(...EXPERIMENT_ID)
    .option("--competition-rules", "check the competition rules (the earlier tool's form; the default)");
  return formatOptions(registryOption(taskIdOption(rulesOption(cmd)).option("--junit <file>", "also write JUnit XML (one testcase per check) for CI")));
}

function declareRules(audit: Audit) {
  return jsonOption(rulesOption(audit.command("rules").description("show the active rule pack")));
}

function declareReport(audit: Audit) {
  const cmd = verboseOption(audit.command("report"))
    .description("a Markdown report of an experiment: its status, the rules' verdict, its parameters and metrics")
    .argument(...EXPERIMENT_ID);
  return registryOption(taskIdOption(rulesOption(cmd)).option("--output <file>", "write the report to this file instead of standard output"));
}

function declareLog(audit: Audit) {
  return jsonOption(audit.command("log").description("show the audit log, or verify its hash chain with --verify (exit 1 when broken)")).option(
    "--verify",
    "verify the hash chain: exit 0 intact, 1 naming the first record altered, removed or inserted",
  );
}

/** The options of `expflow audit validate`. */
export type AuditValidateOptions = OptionsOf<ReturnType<typeof declareValidate>>;
/** The options of `expflow audit rules`. */
export type AuditRulesOptions = OptionsOf<ReturnType<typeof declareRules>>;
/** The options of `expflow audit report`. */
export type AuditReportOptions = OptionsOf<ReturnType<typeof declareReport>>;
/** The options of `expflow audit log`. */
export type AuditLogOptions = OptionsOf<ReturnType<typeof declareLog>>;

/** Adds `expflow audit` (validate, rules, report, log) to `program`. */
export function defineAudit(program: Command, ctx: CommandContext, setExit: SetExit): void {
  const audit = declareAudit(program);
  declareValidate(audit).action(async (id, opts) => {
    const { auditValidateCommand } = await import("../commands/audit.js");
    setExit(await auditValidateCommand(id, opts, ctx));
  });
  declareRules(audit).action(async (opts) => {
    const { auditRulesCommand } = await import("../commands/audit.js");
    setExit(await auditRulesCommand(opts, ctx));
  });
  declareReport(audit).action(async (id, opts) => {
    const { auditReportCommand } = await import("../commands/audit.js");
    setExit(await auditReportCommand(id, opts, ctx));
  });
  declareLog(audit).action(async (opts) => {
    const { auditLogCommand } = await import("../commands/audit-log.js");
    setExit(await auditLogCommand(opts, ctx));
  });
}

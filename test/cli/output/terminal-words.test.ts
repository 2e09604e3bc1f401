import { describe, expect, it } from "vitest";
import { ExpflowError, UsageError } from "../../../src/core/errors.js";
import { errorJsonOf } from "../../../src/cli/output/error-json.js";
import { flagOf, terminalPrompt, terminalWording } from "../../../src/cli/output/terminal-words.js";
import { errorOf, LIBRARY_ERROR_CASES } from "../../helpers/library-errors.js";

/**
 * What the CLI said for each of these errors before the library's messages named fields instead
 * of flags (taken from the binary of that time): the terminal's words must stay byte for byte.
 */
const TERMINAL: Record<string, { message: string; hint: string | undefined }> = {
  // Issue 14: an unknown metric's hint says how to declare one, with the command that does it.
  "unknown sortBy metric": { message: "unknown metric 'pde_maen' in --sort-by: it is neither registered nor reported by any selected experiment. Did you mean 'pde_mean'?", hint: "`expflow metrics list` shows the registered metrics; if 'pde_maen' is a metric of your own, declare it: `expflow metrics add pde_maen --direction lower|higher`" },
  "unknown thenBy metric": { message: "unknown metric 'bogus_x' in --then-by: it is neither registered nor reported by any selected experiment.", hint: "`expflow metrics list` shows the registered metrics; if 'bogus_x' is a metric of your own, declare it: `expflow metrics add bogus_x --direction lower|higher`" },
  "unknown gate metric": { message: "unknown metric 'bogus_x' in gate 'bogus_x:lt:1': it is neither registered nor reported by any selected experiment.", hint: "`expflow metrics list` shows the registered metrics; if 'bogus_x' is a metric of your own, declare it: `expflow metrics add bogus_x --direction lower|higher`" },
  "unknown metric reported, strict": {
    message: "unknown metric 'val_loss' (metrics.strict is set in the configuration, so only registered metrics are kept).",
    hint: "known metrics: seg_total, seg1, seg2, seg3, val_mse, val_relmse, pde_mean, pde_seg1, pde_seg2, pde_seg3, train_time_min, arch_params, epochs; declare it: `expflow metrics add val_loss --direction lower|higher`",
  },
  "malformed gate": { message: "invalid gate 'pde_mean:lt': expected three parts separated by ':'", hint: "a gate is metric:op:value, e.g. pde_mean:lt:18.09; ops: lt le gt ge eq ne; the value is a finite decimal number" },
  "malformed pareto objective": { message: "invalid objective 'pde_mean:up' in --pareto: the direction 'up' is neither max nor min", hint: "write two or more objectives as metric:max or metric:min, separated by commas, e.g. pde_mean:min,train_time_min:min" },
  "pareto with one objective": { message: "invalid objectives 'pde_mean:min' in --pareto: a Pareto ranking needs at least two objectives (for one, rank by it alone)", hint: "write two or more objectives as metric:max or metric:min, separated by commas, e.g. pde_mean:min,train_time_min:min" },
  "unknown pareto metric": { message: "unknown metric 'pde_maen' in --pareto: it is neither registered nor reported by any selected experiment. Did you mean 'pde_mean'?", hint: "`expflow metrics list` shows the registered metrics; if 'pde_maen' is a metric of your own, declare it: `expflow metrics add pde_maen --direction lower|higher`" },
  "pareto metric named twice": { message: "invalid objective 'pde:max' in --pareto: it names pde_mean, as 'pde_mean:min' does already; each metric may be one objective only", hint: "write two or more objectives as metric:max or metric:min, separated by commas, e.g. pde_mean:min,train_time_min:min" },
  "ambiguous pareto metric": { message: "metric 'seg_total' in --pareto is ambiguous: experiment t1 reports it under 2 titles, as 'Loss/seg_total' and 'Score/seg_total'", hint: "name one of them instead, e.g. --pareto 'Score/seg_total:...'" },
  // The CLI says these in its own words before the library can (compare-scores needs --sort-by or --pareto).
  "neither sortBy nor pareto": { message: "a ranking needs sortBy (a metric) or pareto (two or more objectives)", hint: undefined },
  "ascending without sortBy": { message: "ascending orders by sortBy, which is not given: each objective of pareto has its own direction", hint: undefined },
  "max not positive": { message: "max must be a positive whole number, got 0", hint: undefined },
  "statuses empty": { message: "statuses must name at least one status; pass \"all\" to rank every status", hint: undefined },
  "ambiguous sortBy metric": { message: "metric 'seg_total' in --sort-by is ambiguous: experiment t1 reports it under 2 titles, as 'Loss/seg_total' and 'Score/seg_total'", hint: "name one of them instead, e.g. --sort-by 'Score/seg_total'" },
  "ambiguous thenBy metric": { message: "metric 'seg_total' in --then-by is ambiguous: experiment t1 reports it under 2 titles, as 'Loss/seg_total' and 'Score/seg_total'", hint: "name one of them instead, e.g. --then-by 'Score/seg_total'" },
  "ambiguous gate metric": { message: "metric 'seg_total' in gate 'seg_total:gt:0.5' is ambiguous: experiment t1 reports it under 2 titles, as 'Loss/seg_total' and 'Score/seg_total'", hint: "name one of them instead, e.g. --gate 'Score/seg_total:...'" },
  "ambiguous rule metric": { message: "metric 'seg_total' in rule 'seg_total present (primary score)' is ambiguous: experiment under audit reports it under 2 titles, as 'Loss/seg_total' and 'Score/seg_total'", hint: "name one of them instead, e.g. a rule pack (--rules FILE) whose metric rule has name: Score/seg_total" },
  "unknown ClearML status": { message: "unknown status 'runing' in --status. Did you mean 'running'?", hint: "lifecycle states: created, dispatched, queued, running, completed, failed, cancelled; ClearML statuses: created, queued, in_progress, stopped, published, publishing, closed, failed, completed, unknown" },
  "ClearML task not found": { message: "no ClearML task '0123456789abcdef0123456789abcdef' on <server>", hint: "check the task id (the ID in the ClearML web app's task info); `expflow clearml tasks --project P` lists them" },
  "registry file missing": { message: "registry file not found: <dir>/missing.jsonl", hint: "pass --registry FILE, set `registry:` in expflow.yaml or EXPFLOW_REGISTRY, or point EXPFLOW_HOME at the directory holding experiments.jsonl" },
  "config allows force": { message: "<dir>/project/expflow.yaml: key 'pin.allow_force': a configuration file can only forbid --force (false); allowing it is the PIN owner's choice", hint: "remove the key, or set it to false; the PIN owner allows --force with `expflow pin policy --allow-force` (asks the PIN)" },
  "PIN required": { message: "a PIN is required to archive run exp-1 (run.archive), and none was supplied", hint: "supply it with EXPFLOW_PIN in the environment, --pin-stdin (one line on standard input), --pin PIN, or run it on a terminal to be asked" },
  "PIN required to allow force": { message: "a PIN is required to let --force stand in for the PIN (pin.policy), and none was supplied", hint: "supply it with EXPFLOW_PIN in the environment, --pin-stdin (one line on standard input), --pin PIN, or run it on a terminal to be asked" },
  "force not allowed by the owner": { message: "--force is not allowed: the PIN owner has not allowed it (expflow pin policy --allow-force), so archive run exp-1 needs the PIN", hint: "without a terminal, pass the PIN as EXPFLOW_PIN in the environment or on standard input with --pin-stdin (printf '%s\\n' \"$PIN\" | expflow ... --pin-stdin)" },
  "force forbidden by a file": { message: "--force is not allowed: pin.allow_force is false in /p/expflow.yaml, so archive run exp-1 needs the PIN", hint: "without a terminal, pass the PIN as EXPFLOW_PIN in the environment or on standard input with --pin-stdin (printf '%s\\n' \"$PIN\" | expflow ... --pin-stdin)" },
  "audit log missing": { message: "the audit log of the PIN in <dir>/home/pin.hash was expected at <dir>/home/audit.jsonl, and it is missing or empty: protected actions are refused", hint: "the damage is now recorded there; `expflow audit log --verify` shows it. Restore the log from a backup, or run the command again to go on with the log as it is" },
};

describe("terminalWording: the library's errors in the CLI's words", () => {
  it("covers every case", () => {
    expect(Object.keys(TERMINAL).sort()).toEqual(LIBRARY_ERROR_CASES.map((c) => c.name).sort());
  });

  it.each(LIBRARY_ERROR_CASES.map((c) => [c.name, c] as const))("%s: as the CLI has always said it", async (name, c) => {
    const { error, clean } = await errorOf(c);
    const worded = terminalWording(error);
    const server = (text: string | undefined) => clean(text)?.replace(/http:\/\/127\.0\.0\.1:\d+/, "<server>");
    expect({ message: server(worded.message), hint: server(worded.hint) }).toEqual(TERMINAL[name]);
    // --json says the same.
    const json = errorJsonOf(error);
    expect({ code: json.code, message: server(json.message), hint: server(json.hint ?? undefined) }).toEqual({ code: error.code, ...TERMINAL[name] });
  });

  it("the git errors of a ClearML submit name --no-repo, where the library names its noRepo option", () => {
    const hint = "run it from a clone of a repository the agent can reach, or set noRepo to send no repository (the command must then be self-contained)";
    for (const code of ["E_NO_REPOSITORY", "E_NO_REMOTE", "E_GIT_MISSING"]) {
      expect(terminalWording(new UsageError(code, "m", { hint })).hint).toBe("run it from a clone of a repository the agent can reach, or pass --no-repo to send no repository (the command must then be self-contained)");
    }
    expect(terminalWording(new UsageError("E_OTHER", "m", { hint })).hint).toBe(hint);
  });

  it("the guard's prompt for the force policy", () => {
    expect(terminalPrompt("PIN to let force stand in for the PIN:")).toBe("PIN to let --force stand in for the PIN:");
    expect(terminalPrompt("Wrong PIN (2 tries left before the PIN is locked for 30 s). PIN to let force stand in for the PIN:")).toBe(
      "Wrong PIN (2 tries left before the PIN is locked for 30 s). PIN to let --force stand in for the PIN:",
    );
    expect(terminalPrompt("PIN to cancel run exp-1:")).toBe("PIN to cancel run exp-1:");
  });

  it("an error without a field, or of a field the CLI has no flag for, passes through as worded", () => {
    const plain = new UsageError("E_X", "something in sortBy went wrong", { hint: "do it again" });
    expect(terminalWording(plain)).toEqual({ message: "something in sortBy went wrong", hint: "do it again" });
    const other = new UsageError("E_X", "unknown thing 'a' in widgets", { field: "widgets", value: "a" });
    expect(terminalWording(other)).toEqual({ message: "unknown thing 'a' in widgets", hint: undefined });
  });

  it("values are data: `$` patterns, quotes and the field's own name in a value are copied, not interpreted", () => {
    for (const value of ["$&", "$'x", "a' in sortBy", "in sortBy"]) {
      const e = new UsageError("E_UNKNOWN_METRIC", `unknown metric '${value}' in sortBy: it is neither registered nor reported by any selected experiment.`, { field: "sortBy", value });
      expect(terminalWording(e).message).toBe(`unknown metric '${value}' in --sort-by: it is neither registered nor reported by any selected experiment.`);
    }
  });

  it("a phrase is swapped only where the library puts it: a path holding the same words is left alone", () => {
    const phrase = "a configuration file can only forbid force in place of the PIN (false); allowing it is the PIN owner's choice";
    const e = new ExpflowError("E_CONFIG", `/tmp/${phrase}/expflow.yaml: key 'pin.allow_force': ${phrase}`, 2);
    expect(terminalWording(e).message).toBe(`/tmp/${phrase}/expflow.yaml: key 'pin.allow_force': a configuration file can only forbid --force (false); allowing it is the PIN owner's choice`);
  });

  it("flagOf names the flag of each field the CLI takes, and nothing for the others", () => {
    expect([flagOf("sortBy"), flagOf("thenBy"), flagOf("gates"), flagOf("statuses"), flagOf("force"), flagOf("pinStdin")]).toEqual([
      "--sort-by",
      "--then-by",
      "--gate",
      "--status",
      "--force",
      "--pin-stdin",
    ]);
    expect([flagOf(undefined), flagOf("widgets"), flagOf("toString"), flagOf("__proto__")]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

/** The definitions of `expflow approvals`, `approve` and `deny`; the implementations are in `commands/approvals.ts`. */
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { forceOption, jsonOption, pinChannelOptions, wideOption } from "./options.js";

const ID = ["<id>", "approval request id or unique prefix (apr-... ; the apr- may be left out)"] as const;

function declareApprovals(program: Command) {
  const cmd = program
    .command("approvals")
    .description("list agents' requests for protected actions, which only approve performs (pending ones; --all: every one)")
    .option("--all", "every request, decided ones too (newest first)");
  return wideOption(jsonOption(cmd, "print JSON (a stable contract: see the README)"));
}

function declareApprove(program: Command) {
  const cmd = program
    .command("approve")
    .description("perform an agent's pending request: shows it, asks the PIN as the command itself would, then does it")
    .argument(...ID);
  const guarded = forceOption(pinChannelOptions(cmd)).option("--new-pin-stdin", "for a pin.change request: read the new PIN from standard input (after the current one, with --pin-stdin)");
  return jsonOption(guarded, "print the request decided as JSON");
}

function declareDeny(program: Command) {
  const cmd = program.command("deny").description("refuse an agent's pending request (no PIN needed: nothing is done)").argument(...ID).option("--reason <text>", "why, recorded with the denial");
  return jsonOption(cmd, "print the request decided as JSON");
}

/** The options of `expflow approvals`. */
export type ApprovalsOptions = OptionsOf<ReturnType<typeof declareApprovals>>;
/** The options of `expflow approve`. */
export type ApproveOptions = OptionsOf<ReturnType<typeof declareApprove>>;
/** The options of `expflow deny`. */
export type DenyOptions = OptionsOf<ReturnType<typeof declareDeny>>;

/** Adds `expflow approvals`, `approve` and `deny` to `program`. */
export function defineApprovals(program: Command, ctx: CommandContext, setExit: SetExit): void {
  declareApprovals(program).action(async (opts) => {
    const { approvalsCommand } = await import("../commands/approvals.js");
    setExit(await approvalsCommand(opts, ctx));
  });
  declareApprove(program).action(async (id, opts) => {
    const { approveCommand } = await import("../commands/approvals.js");
    setExit(await approveCommand(id, opts, ctx));
  });
  declareDeny(program).action(async (id, opts) => {
    const { denyCommand } = await import("../commands/approvals.js");
    setExit(await denyCommand(id, opts, ctx));
  });
}

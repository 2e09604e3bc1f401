/** The definition of `expflow completion`; the implementation is `commands/completion.ts`. */
import { Argument } from "@commander-js/extra-typings";
import type { Command } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";
import type { SetExit } from "./options.js";

/** The shells `expflow completion` writes a script for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@link COMPLETION_SHELLS}. */
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

function declareCompletion(program: Command) {
  return program
    .command("completion")
    .description("print a completion script for bash, zsh or fish: commands, subcommands and options")
    .addArgument(new Argument("<shell>", "the shell").choices(COMPLETION_SHELLS))
    .addHelpText(
      "after",
      `
Examples:
  source <(expflow completion bash)        # bash, this shell (or add it to ~/.bashrc)
  expflow completion bash > ~/.local/share/bash-completion/completions/expflow
  expflow completion zsh > "\${fpath[1]}/_expflow"     # zsh, then start a new shell
  expflow completion fish > ~/.config/fish/completions/expflow.fish`,
    );
}

/**
 * Adds `expflow completion <shell>` to `program`. The script is generated from `program` itself
 * when the command runs, so it covers every command defined on it.
 */
export function defineCompletion(program: Command, ctx: CommandContext, setExit: SetExit): void {
  declareCompletion(program).action(async (shell) => {
    const { completionCommand } = await import("../commands/completion.js");
    setExit(completionCommand(shell, program, ctx));
  });
}

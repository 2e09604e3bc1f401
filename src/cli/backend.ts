import { hostname } from "node:os";
import type { LocalBackend } from "../app/backend.js";
import { openLocalBackend } from "../app/backend.js";
import { guard } from "../security/guard.js";
import type { GuardOptions } from "../security/guard.js";
import type { CommandContext } from "./context.js";
import { whoAmI } from "./identity.js";
import { guardContext } from "./security.js";
import type { ClearmlFlags } from "./clearml.js";

/**
 * The local backend for a command: the registry named by `--registry`, configuration or the
 * default, with the command's PIN channels (`--pin`, `--pin-stdin`, `--force`) for the guard
 * that wraps its destructive operations.
 */
export async function openLocal(ctx: CommandContext, flags: { registry?: string } & GuardOptions & ClearmlFlags = {}, onEvent?: (message: string) => void): Promise<LocalBackend> {
  const config = await ctx.config({ registry: flags.registry });
  const path = config.registry.value;
  const channels: GuardOptions = { pin: flags.pin, pinStdin: flags.pinStdin, force: flags.force };
  return openLocalBackend({
    config,
    authorize: async (action, target) => {
      await guard(action, target, channels, await guardContext(ctx, undefined, path));
    },
    env: ctx.io.env,
    cwd: ctx.io.cwd,
    host: hostname(),
    who: whoAmI(ctx.io.env),
    now: () => new Date(),
    warn: ctx.warn,
    onEvent,
    // ClearML is opened only when a run goes there or comes from there, with `--verbose` logging.
    openClearml: async () => {
      const { openClearml } = await import("./clearml.js");
      const opened = openClearml(ctx, { verbose: flags.verbose });
      return { client: opened.client, webServer: opened.connection.webServer };
    },
  });
}

import type { ResolvedConfig } from "../config/load.js";
import { LocalStore } from "../stores/local/local-store.js";
import type { Store, WarningSink } from "../stores/store.js";

/** What a command that only reads the local registry may do with it: list and rank. */
export type LocalReader = Pick<Store, "location" | "list" | "statuses" | "assertStatuses" | "rankingListing">;

/**
 * The local registry of `config`, to read: the store alone, opened without a writer (a change
 * through it is refused), and without the backend around it (`openLocalBackend` in
 * ./backend.ts: executors, runner and the guard, which are for changes), so a command that only
 * reads (a ranking) loads none of their modules.
 */
export function openLocalReader(config: ResolvedConfig, onWarning: WarningSink): LocalReader {
  return new LocalStore({ path: config.registry.value, onWarning });
}

import { checkArchiveEvent } from "../core/lifecycle/lifecycle.js";
import type { Executor } from "../executors/executor.js";
import type { Store } from "../stores/store.js";

/**
 * Asks for the right to do a protected action (`run.archive`, `run.delete`, `run.cancel`,
 * `registry.compact`) on a target; throws `DeniedError` (exit 3) when refused. Built over
 * `guard()` with the caller's PIN channels and context: see `cli/security.ts`.
 */
export type Authorize = (action: string, target: string) => Promise<void>;

/**
 * The store with its destructive writes guarded, by construction: `archive` (archive and
 * delete; restore is not protected) asks `authorize` first, after checking that the event is
 * possible at all (so no PIN is asked for what cannot happen; checked again under the lock),
 * and so does a local store's `compact` (`registry.compact`), after checking that the registry
 * exists and can be rewritten.
 * Every other member is the store's own, so a guarded local store keeps its local reads.
 */
export function guardedStore<S extends Store>(store: S, authorize: Authorize): S {
  return withGuarded(store, (target, key) => {
    if (key === "archive") {
      return async (id: string, event: Parameters<Store["archive"]>[1]) => {
        if (event !== "restore") {
          const current = await target.get(id);
          if (current !== undefined) checkArchiveEvent(current.status, current.archived === true, event, id);
          await authorize(`run.${event}`, id);
        }
        return target.archive(id, event);
      };
    }
    if (key === "compact" && typeof (target as { compact?: unknown }).compact === "function") {
      const local = target as unknown as { compact(): Promise<unknown>; assertCompactable?(): void; location: string };
      return async () => {
        // A missing or read-only registry is said before any PIN is asked.
        local.assertCompactable?.();
        await authorize("registry.compact", local.location);
        return local.compact();
      };
    }
    return undefined;
  });
}

/**
 * The executor with `cancel` guarded (`run.cancel`), by construction. An executor that can say
 * beforehand that a cancel cannot happen (`assertCancellable`: a finished run) says it before any
 * PIN is asked; the cancel checks again itself.
 */
export function guardedExecutor<E extends Executor>(executor: E, authorize: Authorize): E {
  return withGuarded(executor, (target, key) =>
    key === "cancel"
      ? async (id: string) => {
          await (target as { assertCancellable?(id: string): Promise<void> | void }).assertCancellable?.(id);
          await authorize("run.cancel", id);
          return target.cancel(id);
        }
      : undefined,
  );
}

/**
 * `target` with the members `guard` returns a replacement for (the protected operations); every
 * other member is the target's own, its methods bound to it.
 */
function withGuarded<T extends object>(target: T, guard: (target: T, key: string | symbol) => unknown): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      const replaced = guard(t, key);
      if (replaced !== undefined) return replaced;
      const value: unknown = Reflect.get(t, key, receiver);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}

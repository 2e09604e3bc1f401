import { z } from "zod";
import { isoTime } from "./primitives.js";

/** `pin status --json` (`security/pin.ts`'s `PinStatus`). */
export const PinStatusSchema = z
  .strictObject({
    active: z.boolean(),
    /** Where the active PIN hash comes from: `$EXPFLOW_HOME/pin.hash`, `EXPFLOW_PIN_HASH`, `pin.hash` in config, or none. */
    source: z.enum(["file", "env", "config", "none"]),
    /** The hash's format; `unreadable` for a hash that cannot be parsed; `null` without a PIN. */
    format: z.enum(["scrypt", "sha256-legacy", "unreadable"]).nullable(),
    /** The end of a lockout in force, else `null`. */
    locked_until: isoTime.nullable(),
  })
  .refine((s) => s.active === (s.source !== "none") && s.active === (s.format !== null), { message: "source and format are set exactly when a PIN is active" });
export type PinStatusJson = z.infer<typeof PinStatusSchema>;

/** `pin policy --json` (and `pin.allow_force` of `config show`): whether `--force` may stand in for the PIN. */
export const PinPolicySchema = z
  .strictObject({
    allow_force: z.boolean(),
    /** Where the decision comes from: `default`, the PIN file (with who changed it, when), or the config file that forbids it. */
    source: z.string().min(1),
    /** The PIN owner's choice, before configuration files narrow it. */
    owner_allows_force: z.boolean(),
    /** The config file that says `pin.allow_force: false`, if any. */
    forbidden_by: z.string().min(1).nullable(),
  })
  .refine((p) => p.allow_force === (p.owner_allows_force && p.forbidden_by === null), { message: "allow_force is the owner's choice unless a config file forbids it" });
export type PinPolicyJson = z.infer<typeof PinPolicySchema>;

import { z } from "zod";
import { ErrorSchema } from "./error.js";

/**
 * `clearml status --json`: the same fields in every case (fine, not configured, unreachable,
 * credentials refused, server failing), printed on standard output even when the command fails.
 */
export const ClearmlStatusSchema = z
  .strictObject({
    /** `false` when the server or a credential is missing, or clearml.conf cannot be read. */
    configured: z.boolean(),
    /** The server's URL (without user information). */
    server: z.string().min(1).nullable(),
    /** Where the URL came from (a variable or a file). */
    server_source: z.string().min(1).nullable(),
    /** Where the credentials came from. */
    credentials_source: z.string().min(1).nullable(),
    /** The server answered as ClearML does. */
    reachable: z.boolean(),
    /** The login worked. */
    credentials_ok: z.boolean(),
    /** From `server.info`; `null` when not reached. */
    version: z.string().nullable(),
    api_version: z.string().nullable(),
    /** Why something failed, as written to standard error; `null` when all works. */
    error: ErrorSchema.nullable(),
  })
  .refine((s) => s.configured === (s.server !== null) && s.configured === (s.server_source !== null) && s.configured === (s.credentials_source !== null), {
    message: "server, server_source and credentials_source are set exactly when configured",
  })
  .refine((s) => (s.configured || !s.reachable) && (s.reachable || !s.credentials_ok), { message: "reachable needs configured, credentials_ok needs reachable" })
  .refine((s) => s.error !== null || (s.configured && s.reachable && s.credentials_ok), { message: "error is set unless all works" });
export type ClearmlStatusJson = z.infer<typeof ClearmlStatusSchema>;

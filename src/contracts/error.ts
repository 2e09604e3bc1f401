import { z } from "zod";

/**
 * The error of the `--json` contract: a stable `code` (`E_*`), the `message`, and a `hint` on
 * how to fix it (`null` when there is none; it is never folded into the message). The same
 * object is `error` in `clearml status --json`.
 */
export const ErrorSchema = z.strictObject({
  code: z.string().regex(/^E_[A-Z0-9_]+$/),
  message: z.string().min(1),
  hint: z.string().min(1).nullable(),
});
export type ErrorJson = z.infer<typeof ErrorSchema>;

/** What every command writes to standard error, alone on one line, when it fails under `--json`. */
export const ErrorOutputSchema = z.strictObject({ error: ErrorSchema });
export type ErrorOutputJson = z.infer<typeof ErrorOutputSchema>;

import pc from "picocolors";

/** The colour functions the renderers use; identity functions when colour is off. */
export type Colors = Pick<ReturnType<typeof pc.createColors>, "bold" | "dim" | "red" | "green" | "yellow">;

/**
 * Colour only when the stream is a terminal, `NO_COLOR` is unset (or empty, as the convention
 * says), `TERM` is not `dumb`, and `--no-color` was not given.
 */
export function shouldColor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>, flag = true): boolean {
  if (!flag) return false;
  if (stream.isTTY !== true) return false;
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return false;
  if (env["TERM"] === "dumb") return false;
  return true;
}

/** Colour functions for `enabled`. */
export function colors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

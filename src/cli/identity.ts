import { hostname, userInfo } from "node:os";

/** The user running this process (the account, else USER / LOGNAME, else `unknown`). */
export function currentUser(env: Readonly<Record<string, string | undefined>>): string {
  try {
    return userInfo().username;
  } catch {
    return env["USER"] ?? env["LOGNAME"] ?? "unknown";
  }
}

/** `user@host` of this process, for history entries. */
export function whoAmI(env: Readonly<Record<string, string | undefined>>): string {
  return `${currentUser(env)}@${hostname()}`;
}

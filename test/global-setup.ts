import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What tsup prints once it has written the JavaScript (its one format, ESM) to dist/. */
const JS_WRITTEN = /^ESM .*Build success/m;

/**
 * Builds dist/ once per test run, with `npm run build`'s build (tsup and tsup.config.ts, from the
 * repository root whatever the caller's working directory). The spawned tests run dist/cli.js as
 * a user runs it, so no test file starts before its JavaScript is written; the type declarations,
 * which no test reads and which take most of the build's time, are still being built beside the
 * first tests, and the teardown waits for the build to end: a build that fails, declarations
 * included, fails the run. The in-process tests need none of it: they import src/.
 *
 * @throws when the build fails before the JavaScript is written (vitest then runs no test);
 *   the teardown throws when it fails later.
 */
export default async function buildDist(): Promise<() => Promise<void>> {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve("tsup/package.json")), "dist", "cli-default.js");
  // Not --silent: the line saying the JavaScript is written is the signal to start the tests.
  const child = spawn(process.execPath, [bin], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let written: () => void = () => undefined;
  const jsWritten = new Promise<void>((resolve) => (written = resolve));
  const onOutput = (chunk: Buffer): void => {
    output += chunk.toString();
    if (JS_WRITTEN.test(output)) written();
  };
  child.stdout.on("data", onOutput);
  child.stderr.on("data", onOutput);
  const ended = new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`building dist/ for the tests failed (${signal ?? `exit ${code}`}; \`npm run build\` shows the same):\n${output}`));
    });
  });
  // Whichever comes first; were tsup ever to print something else, the tests only start later.
  await Promise.race([jsWritten, ended]);
  // Settled at teardown; until then a failure must not surface as an unhandled rejection.
  ended.catch(() => undefined);
  return async () => {
    try {
      await ended;
    } catch (e) {
      // vitest reports a teardown's error but keeps its exit code: the run must fail.
      process.exitCode = 1;
      throw e;
    }
  };
}

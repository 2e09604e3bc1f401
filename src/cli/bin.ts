#!/usr/bin/env node
// The executable's entry. `expflow --version` is answered here without loading the CLI, so the
// most frequent liveness probe costs no more than starting Node itself.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${__EXPFLOW_VERSION__}\n`);
} else {
  const { main } = await import("./main.js");
  await main();
}

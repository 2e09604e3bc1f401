// The throughput floor: the least any tool must do to use a registry file — read it and
// JSON.parse every non-empty line. Nothing else.
//   node bench/floor.mjs FILE
import { readFileSync } from "node:fs";

const lines = readFileSync(process.argv[2], "utf8").split("\n");
let parsed = 0;
for (const line of lines) {
  if (line === "") continue;
  JSON.parse(line);
  parsed++;
}
process.stdout.write(`${parsed}\n`);

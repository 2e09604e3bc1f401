import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// CLI tests spawn the built binary, as a user would run it. `npm test` builds first.
export default function setup(): void {
  const cli = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm test does it for you)`);
}

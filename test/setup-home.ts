import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

// Every test file runs with its own EXPFLOW_HOME, so nothing ever reads or writes ~/.expflow.
const home = mkdtempSync(join(tmpdir(), "expflow-test-home-"));
process.env["EXPFLOW_HOME"] = home;
delete process.env["EXPFLOW_REGISTRY"];
delete process.env["NO_COLOR"];

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
});

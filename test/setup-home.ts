import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

// No EXPFLOW_* variable of the machine leaks in (a PIN in the developer's shell would make the
// agent refuse to start, and change what the guard sees).
for (const name of Object.keys(process.env)) if (name.startsWith("EXPFLOW_")) delete process.env[name];
// Every test file runs with its own EXPFLOW_HOME, so nothing ever reads or writes ~/.expflow.
const home = mkdtempSync(join(tmpdir(), "expflow-test-home-"));
process.env["EXPFLOW_HOME"] = home;
delete process.env["NO_COLOR"];
// Tables fit COLUMNS when it is set: a developer's exported COLUMNS must not change what tests see.
delete process.env["COLUMNS"];
// Nor does any test read the real ~/clearml.conf or reach a real ClearML server: HOME is a
// temporary directory (the SDK's ~/clearml.conf lives there) and no CLEARML_* / TRAINS_*
// variable from the machine leaks in. ClearML tests set their own, pointing at the fake server.
const userHome = mkdtempSync(join(tmpdir(), "expflow-test-user-"));
process.env["HOME"] = userHome;
for (const name of Object.keys(process.env)) if (name.startsWith("CLEARML_") || name.startsWith("TRAINS_")) delete process.env[name];

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(userHome, { recursive: true, force: true });
});

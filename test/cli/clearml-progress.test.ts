// The progress line of long ClearML listings, through the CLI's injected streams: drawn on a
// terminal's standard error, cleared before the results, never on a pipe or a file.
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, manyTasks } from "../../fake-clearml/tasks.js";
import { tempDir } from "../helpers/cli.js";

const P = fakeProject("PDEBench");
let fake: FakeClearml;
beforeAll(async () => {
  fake = await FakeClearml.start({ projects: [P], tasks: manyTasks(1_200, { project: P.id, seed: 5 }) });
});
afterEach(() => fake.assertClean());
afterAll(() => fake.close());

async function cli(args: string[], tty: boolean, extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    stdin: Readable.from([]) as unknown as NodeJS.ReadableStream & { isTTY?: boolean },
    stdout: { write: (t: string) => (stdout += t), isTTY: false },
    stderr: { write: (t: string) => (stderr += t), isTTY: tty },
    env: { HOME: tempDir(), EXPFLOW_HOME: tempDir(), NO_COLOR: "1", CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey, ...extraEnv },
    cwd: tempDir(),
  });
  return { code, stdout, stderr };
}

describe("certificate checks", () => {
  it("stay on when CLEARML_API_HOST_VERIFY_CERT is false, with a warning saying how to trust a server", async () => {
    const r = await cli(["clearml", "tasks", "--project", "PDEBench", "--json"], false, { CLEARML_API_HOST_VERIFY_CERT: "False" });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning: certificate checks stay on");
    expect(r.stderr).toContain("NODE_EXTRA_CA_CERTS");
  });
});

describe("ClearML listing progress", () => {
  it("on a terminal: tasks fetched so far after each page, then the line is cleared", async () => {
    const r = await cli(["clearml", "compare-scores", "--project", "PDEBench", "--sort-by", "pde_mean", "--include-archived", "--json"], true);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`fetching tasks from ${fake.url}: 500`);
    expect(r.stderr).toContain(": 1000");
    expect(r.stderr).toContain(": 1200");
    expect(r.stderr.endsWith("\r\x1b[2K")).toBe(true);
    // Every task fetched is accounted for: the completed ones ranked, the others counted.
    const out = JSON.parse(r.stdout) as { results: unknown[]; selection: { excluded: number } };
    expect(out.results.length + out.selection.excluded).toBe(1_200);
  });

  it("not on a terminal: no progress at all", async () => {
    const r = await cli(["clearml", "tasks", "--project", "PDEBench", "--json"], false);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("--verbose logs each request instead, with no secret", async () => {
    const r = await cli(["clearml", "tasks", "--project", "PDEBench", "--verbose", "--json"], true);
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines.map((l) => l.split(" ")[1])).toEqual(["auth.login", "projects.get_all", "tasks.get_all", "tasks.get_all", "tasks.get_all"]);
    expect(r.stderr).not.toContain("fetching");
    expect(r.stderr).not.toContain(fake.secretKey);
    expect(r.stderr).not.toContain(fake.accessKey);
  });
});

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { openApprovals } from "../../src/app/approvals.js";
import { readAudit } from "../../src/security/audit-log.js";
import { runAtBarrier } from "../helpers/barrier.js";
import { bundleForChildren } from "../helpers/bundle.js";
import { tempDirs } from "../security/helpers.js";

const newDir = tempDirs("expflow-approvals-conc-");
const WORKER = fileURLToPath(new URL("./fixtures/approvals-worker.mjs", import.meta.url));
const ENTRY = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

// The children load the library from a bundle of the current source (not a possibly stale dist/).
let bundle = "";
beforeAll(async () => {
  bundle = await bundleForChildren("expflow-approvals", ENTRY);
}, 120_000);

/** One worker per index, released together; each prints its outcome as JSON. */
async function runWorkers(n: number, args: string[]): Promise<{ id: string; state?: string; code?: string }[]> {
  const results = await runAtBarrier(WORKER, bundle, newDir(), Array.from({ length: n }, () => args));
  for (const r of results) expect(r.code, r.stderr).toBe(0);
  return results.map((r) => JSON.parse(r.stdout.trim()) as { id: string; state?: string; code?: string });
}

describe("approvals across processes", () => {
  it("four processes approving one request at once: it is performed once, the others get E_APPROVAL_DECIDED", async () => {
    const home = newDir();
    const marker = join(newDir(), "performed.txt");
    const approvals = openApprovals({ home, now: () => new Date() });
    const a = await approvals.request({ action: "registry.compact", target: "/tmp/r.jsonl", requester: { client: "test", tool: "compact_registry" } });
    const results = await runWorkers(4, [home, a.id, marker]);
    const approved = results.filter((r) => r.state === "approved");
    expect(approved).toHaveLength(1);
    expect(results.filter((r) => r.code === "E_APPROVAL_DECIDED")).toHaveLength(3);
    expect(readFileSync(marker, "utf8")).toBe(`performed by child ${approved[0]!.id}\n`);
    expect(await approvals.get(a.id)).toMatchObject({ state: "approved", decided_by: `child-${approved[0]!.id}@worker`, outcome: `done by child ${approved[0]!.id}` });
    expect(readAudit(home).map((r) => `${r.action}:${r.outcome}`)).toEqual(["approval.request:requested", "approval.approve:done"]);
  }, 120_000);
});

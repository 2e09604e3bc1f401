import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What a worker printed, and how it ended. */
export interface WorkerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawns `node worker bundle sync i ...args` for each argument list, waits until every worker is
 * at the barrier (it writes `ready-<i>` in `sync`, or has died), releases them together (`go`),
 * and waits for all of them. A worker must write `ready-<i>` and then wait for `go`.
 *
 * @throws when the workers do not reach the barrier within 60 s.
 */
export async function runAtBarrier(worker: string, bundle: string, sync: string, argLists: readonly (readonly string[])[]): Promise<WorkerResult[]> {
  const exited: boolean[] = argLists.map(() => false);
  const done = argLists.map(
    (args, i) =>
      new Promise<WorkerResult>((resolve, reject) => {
        const child = spawn(process.execPath, [worker, bundle, sync, String(i), ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 90_000 });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => {
          exited[i] = true;
          resolve({ code, stdout, stderr });
        });
      }),
  );
  // A generous guard only: wait until every child is at the barrier (or one died), then release.
  const deadline = Date.now() + 60_000;
  while (!argLists.every((_a, i) => existsSync(join(sync, `ready-${i}`)) || exited[i])) {
    if (Date.now() > deadline) throw new Error("workers did not reach the barrier");
    await new Promise((r) => setTimeout(r, 5));
  }
  writeFileSync(join(sync, "go"), "");
  return Promise.all(done);
}

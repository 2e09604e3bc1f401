// The fake ClearML server of the ClearML benchmark (bench/run.mjs), run in a child process of its
// own (started with `fork`), so that its event loop is not the harness's: the harness blocks in
// spawnSync while a command runs against it.
//
//   fork("bench/clearml-server.mjs", [bundle.cjs, tasks, perTaskTasks, latencyMs, seed])
//
// Loads the fake (bundled from fake-clearml by the harness), fills two projects,
// BenchScores (<tasks> tasks) and BenchPerTask (<perTaskTasks> tasks), from `manyTasks` with the
// archived system tag removed (so a default listing returns every task), and starts it with
// <latencyMs> added to every answer. Then it talks over the IPC channel only, never over HTTP
// (a control endpoint on the fake would itself be recorded as a violation):
//
//   -> {type: "ready", url, accessKey, secretKey, projects: {scores, perTask}, tasks}
//   <- {type: "reset"}   -> {type: "reset"}       forgets recorded requests, restarts the busy clock
//   <- {type: "counts"}  -> {type: "counts", total, byEndpoint, notOk, violations, busyMs}
//   <- {type: "taskIds", n} -> {type: "taskIds", ids}  the ids of the first n BenchScores tasks
//   <- {type: "close"}   closes the server and exits
//
// `violations` are taken (returned and cleared) from the fake; `busyMs` is the time the child's
// event loop was busy since the last reset (performance.eventLoopUtilization): the server's own
// work (filtering, sorting, projecting, serialising), latency timers excluded.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const [bundle, tasksText, perTaskText, latencyText, seedText] = process.argv.slice(2);
const lib = createRequire(import.meta.url)(bundle);
const send = (msg) => process.send?.(msg);

const unarchived = (tasks) => tasks.map((t) => ({ ...t, system_tags: t.system_tags.filter((s) => s !== "archived") }));
const scores = lib.fakeProject("BenchScores");
const perTask = lib.fakeProject("BenchPerTask");
const seed = Number(seedText);
const tasks = [
  ...unarchived(lib.manyTasks(Number(tasksText), { project: scores.id, seed, namePrefix: "scores" })),
  ...unarchived(lib.manyTasks(Number(perTaskText), { project: perTask.id, seed: seed + 1, namePrefix: "pertask" })),
];
const fake = await lib.FakeClearml.start({ projects: [scores, perTask], tasks, latencyMs: Number(latencyText), memoizeQueries: true });

let elu = performance.eventLoopUtilization();
process.on("message", (msg) => {
  if (msg?.type === "reset") {
    fake.resetCounts();
    elu = performance.eventLoopUtilization();
    send({ type: "reset" });
  } else if (msg?.type === "counts") {
    const busy = performance.eventLoopUtilization(elu);
    const byEndpoint = {};
    const notOk = [];
    for (const r of fake.requests) {
      byEndpoint[r.endpoint] = (byEndpoint[r.endpoint] ?? 0) + 1;
      if (r.status !== 200) notOk.push(`${r.endpoint} -> ${r.status}`);
    }
    send({ type: "counts", total: fake.count(), byEndpoint, notOk, violations: fake.takeViolations(), busyMs: busy.active });
  } else if (msg?.type === "taskIds") {
    // Ids of BenchScores tasks, for the registry of the sync benchmark.
    send({ type: "taskIds", ids: fake.tasks.filter((t) => t.project === scores.id).slice(0, Number(msg.n)).map((t) => t.id) });
  } else if (msg?.type === "close") {
    void fake.close().then(() => process.disconnect());
  }
});
// The harness going away (even killed) closes the channel: stop serving then.
process.on("disconnect", () => void fake.close());

send({ type: "ready", url: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey, projects: { scores: scores.name, perTask: perTask.name }, tasks: tasks.length });

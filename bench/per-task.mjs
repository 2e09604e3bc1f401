// The per-task pattern of the ClearML benchmark (bench/run.mjs): how the earlier tool (and the
// ClearML Python SDK's Task.get_tasks + task.get_last_scalar_metrics()) read a project's metrics.
// Logs in, resolves the project, lists the task ids (paged, 500 a page, only_fields ["id"]),
// then asks for each task's last_metrics, one request at a time (tasks.get_all with one id and
// only_fields ["last_metrics"]). Plain fetch, keep-alive as Node's fetch does by default.
//
//   CLEARML_API_HOST=... CLEARML_API_ACCESS_KEY=... CLEARML_API_SECRET_KEY=... node bench/per-task.mjs <project>
//
// Prints one JSON line: {tasks, withMetrics, requests, ms, requestMs: [per request, in order]}.
const [project] = process.argv.slice(2);
const base = process.env.CLEARML_API_HOST.replace(/\/+$/, "");
const basic = `Basic ${Buffer.from(`${process.env.CLEARML_API_ACCESS_KEY}:${process.env.CLEARML_API_SECRET_KEY}`).toString("base64")}`;
const PAGE = 500;

const requestMs = [];
let auth = basic;
async function call(endpoint, body) {
  const t0 = performance.now();
  const res = await fetch(`${base}/${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: auth },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  requestMs.push(performance.now() - t0);
  if (res.status !== 200 || json?.meta?.result_code !== 200) throw new Error(`${endpoint} answered ${res.status}: ${json?.meta?.result_msg ?? "?"}`);
  return json.data;
}

const start = performance.now();
const { token } = await call("auth.login", {});
auth = `Bearer ${token}`;
const escaped = project.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const projects = (await call("projects.get_all", { name: `^${escaped}$`, only_fields: ["id", "name"] })).projects;
const projectId = projects.find((p) => p.name === project)?.id;
if (projectId === undefined) throw new Error(`no project named ${project}`);

const ids = [];
for (let page = 0; ; page++) {
  const { tasks } = await call("tasks.get_all", { project: [projectId], system_tags: ["-archived"], only_fields: ["id"], order_by: ["created", "id"], page, page_size: PAGE });
  for (const t of tasks) ids.push(t.id);
  if (tasks.length < PAGE) break; // no total in the answer: a short page is the end
}

let withMetrics = 0;
for (const id of ids) {
  const { tasks } = await call("tasks.get_all", { id: [id], only_fields: ["last_metrics"] });
  if (tasks.length !== 1 || tasks[0].id !== id) throw new Error(`tasks.get_all for ${id} returned ${tasks.length} tasks`);
  if (Object.keys(tasks[0].last_metrics ?? {}).length > 0) withMetrics += 1;
}
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ tasks: ids.length, withMetrics, requests: requestMs.length, ms, requestMs })}\n`);

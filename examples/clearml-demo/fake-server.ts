// What examples/clearml-demo/serve.mjs needs from the test suite's fake ClearML server. The demo
// bundles this file with tsup at start, so it runs from a clone after `npm ci` without a build step
// of its own.
export { FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeClearml } from "../../fake-clearml/server.js";
export { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";

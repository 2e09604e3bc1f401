// Issue: project lookups (a project with its subprojects, and the close names suggested for a
// name that matches none) page past the server's 500 per call, statelessly, ordered by name.
import { afterEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../../src/core/errors.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { ClearmlStore } from "../../../src/stores/clearml/clearml-store.js";
import type { FakeProject } from "../../../fake-clearml/server.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { fakeProject } from "../../../fake-clearml/tasks.js";
import { assertCleanAndClose } from "../../fake-clearml/helpers.js";

const P = fakeProject("PDEBench");
let fake: FakeClearml | undefined;
afterEach(async () => {
  const f = fake;
  fake = undefined;
  await assertCleanAndClose(f);
});

async function start(projects: FakeProject[]): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects });
  return fake;
}

function store(f: FakeClearml): ClearmlStore {
  return new ClearmlStore({ client: new ClearmlClient({ apiServer: f.url, accessKey: f.accessKey, secretKey: f.secretKey }) });
}

describe("ClearmlStore.resolveProject: pages past 500 projects", () => {
  const many = (n: number, prefix: string) => Array.from({ length: n }, (_, k) => fakeProject(`${prefix}${String(k).padStart(5, "0")}`));

  it("a project with 1,200 subprojects: all of them, in stateless pages ordered by name", async () => {
    const f = await start([P, ...many(1_200, "PDEBench/sub-"), fakeProject("Other")]);
    const found = await store(f).resolveProject("PDEBench", true);
    expect(found.size).toBe(1_201);
    const bodies = f.requests.filter((r) => r.endpoint === "projects.get_all").map((r) => r.body as { page: number; page_size: number; order_by: string[] });
    expect(bodies.map((b) => [b.page, b.page_size, b.order_by.join(",")])).toEqual([
      [0, 500, "name,id"],
      [1, 500, "name,id"],
      [2, 500, "name,id"],
    ]);
  });

  it("close names come from past the first 500 projects too", async () => {
    const f = await start([...many(1_200, "aaa-"), fakeProject("zz-PDEBench")]);
    const e = (await store(f)
      .resolveProject("PDEBench")
      .catch((x: unknown) => x)) as NotFoundError;
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.message).toContain("Close names: 'zz-PDEBench'");
    expect(f.count("projects.get_all")).toBe(1 + 3);
  });

  it("close names read at most 10,000 projects", async () => {
    const f = await start(many(10_600, "p-"));
    await expect(store(f).resolveProject("nothing-like-it")).rejects.toBeInstanceOf(NotFoundError);
    expect(f.count("projects.get_all")).toBe(1 + 20);
  });

  it("a server that repeats the same page of projects: exit 4 E_CLEARML_LISTING", async () => {
    const f = await start([P, ...many(600, "PDEBench/s")]);
    let first: string | undefined;
    f.respondNext(
      "projects.get_all",
      (res, answer) => {
        first ??= answer.text;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(first);
      },
      Infinity,
    );
    const e = await store(f)
      .resolveProject("PDEBench", true)
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "E_CLEARML_LISTING", exitCode: 4 });
    expect((e as Error).message).toContain("only projects it had already sent");
    expect(f.count("projects.get_all")).toBe(2);
  });
});

// Issue: listing pages are asked for concurrently (stateless pages, yielded in order, bounded,
// every guarantee of a sequential listing kept).
import { afterEach, describe, expect, it } from "vitest";
import { ExpflowError } from "../../../src/core/errors.js";
import type { Experiment } from "../../../src/core/experiment.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { ClearmlStore, DEFAULT_PAGE_CONCURRENCY } from "../../../src/stores/clearml/clearml-store.js";
import type { FakeTask } from "../../../fake-clearml/server.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { fakeProject, manyTasks } from "../../../fake-clearml/tasks.js";
import { assertCleanAndClose } from "../../fake-clearml/helpers.js";

const P = fakeProject("PDEBench");
let fake: FakeClearml | undefined;
afterEach(async () => {
  const f = fake;
  fake = undefined;
  await assertCleanAndClose(f);
});

async function start(tasks: FakeTask[], options: { latencyMs?: number } = {}): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects: [P], tasks, latencyMs: options.latencyMs });
  return fake;
}

/** The listing's tasks.get_all requests as the client sends them: page numbers in the order asked, the most in flight at once. */
interface Probe {
  asked: number[];
  maxInFlight: number;
  /** Answers this page with a 400/12 instead of asking the server. */
  fail?: Set<number>;
}

function store(f: FakeClearml, options: { pageConcurrency?: number; maxTasks?: number; probe?: Probe } = {}): ClearmlStore {
  let inFlight = 0;
  const probe = options.probe;
  const wrapped: typeof fetch = async (input, init) => {
    const endpoint = String(input).split("/").pop();
    if (probe === undefined || endpoint !== "tasks.get_all") return fetch(input, init);
    const page = (JSON.parse(String(init?.body)) as { page: number }).page;
    probe.asked.push(page);
    inFlight += 1;
    probe.maxInFlight = Math.max(probe.maxInFlight, inFlight);
    try {
      if (probe.fail?.has(page)) {
        return new Response(JSON.stringify({ meta: { result_code: 400, result_subcode: 12, result_msg: "Validation error" }, data: {} }), { status: 400 });
      }
      return await fetch(input, init);
    } finally {
      inFlight -= 1;
    }
  };
  const client = new ClearmlClient({ apiServer: f.url, accessKey: f.accessKey, secretKey: f.secretKey, sleep: async () => undefined, fetch: wrapped });
  return new ClearmlStore({ client, pageConcurrency: options.pageConcurrency, maxTasks: options.maxTasks });
}

async function pagesOf(s: ClearmlStore): Promise<Experiment[][]> {
  const out: Experiment[][] = [];
  for await (const page of s.pages({ includeArchived: true })) out.push(page);
  return out;
}

describe("ClearmlStore.pages: concurrent stateless pages", () => {
  it(`4,000 tasks: three pages alone, then 2, then ${DEFAULT_PAGE_CONCURRENCY} at once, yielded in order; 9 pages, none wasted`, async () => {
    const f = await start(manyTasks(4_000, { project: P.id, seed: 5 }));
    const probe: Probe = { asked: [], maxInFlight: 0 };
    const pages = await pagesOf(store(f, { probe }));
    expect(pages.map((p) => p.length)).toEqual(Array.from({ length: 8 }, () => 500));
    const ids = pages.flat().map((e) => e.id);
    // In order: the server's order (created, then id), as a sequential listing yields it.
    expect(ids).toEqual(f.tasks.map((t) => t.id));
    // Rounds [0] [1] [2] [3, 4] [5, 6, 7, 8]: page 8 is the empty one that ends the listing.
    expect(probe.asked).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(probe.maxInFlight).toBe(DEFAULT_PAGE_CONCURRENCY);
    expect(f.count("tasks.get_all")).toBe(9);
  });

  it("a listing that ends inside a round asks for at most concurrency - 1 pages past it, answered before it returns", async () => {
    const f = await start(manyTasks(3_000, { project: P.id, seed: 5 }));
    const probe: Probe = { asked: [], maxInFlight: 0 };
    expect((await pagesOf(store(f, { probe }))).flat()).toHaveLength(3_000);
    // Rounds [0] [1] [2] [3, 4] [5, 6, 7, 8]: page 6 is empty; 7 and 8 were asked for with it.
    expect(probe.asked).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // No request of the listing is left running: the server has answered all of them.
    expect(f.count("tasks.get_all")).toBe(9);
  });

  it("the answer of a page past the end is dropped unread, even an error", async () => {
    const f = await start(manyTasks(3_000, { project: P.id, seed: 5 }));
    const probe: Probe = { asked: [], maxInFlight: 0, fail: new Set([7, 8]) };
    expect((await pagesOf(store(f, { probe }))).flat()).toHaveLength(3_000);
  });

  it("a page that fails fails the listing after every page before it was yielded, in order", async () => {
    const f = await start(manyTasks(5_000, { project: P.id, seed: 5 }));
    const probe: Probe = { asked: [], maxInFlight: 0, fail: new Set([4]) };
    const yielded: number[] = [];
    const e = await (async () => {
      for await (const page of store(f, { probe }).pages({ includeArchived: true })) yielded.push(page.length);
    })().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ExpflowError);
    expect((e as ExpflowError).code).toBe("E_CLEARML_REQUEST");
    expect(yielded).toEqual([500, 500, 500, 500]);
    // Page 4 was in the round [3, 4]: nothing past it was asked for.
    expect(probe.asked).toEqual([0, 1, 2, 3, 4]);
  });

  it("a consumer that stops early leaves no request running", async () => {
    const f = await start(manyTasks(5_000, { project: P.id, seed: 5 }), { latencyMs: 5 });
    let n = 0;
    for await (const _page of store(f).pages({ includeArchived: true })) if (++n === 4) break;
    // Rounds [0] [1] [2] [3, 4]: the consumer stopped at page 3 while page 4 was in flight.
    expect(f.count("tasks.get_all")).toBe(5);
  });

  it("repeats across concurrent pages are dropped by id; maxTasks bounds what is asked for", async () => {
    const f = await start(manyTasks(10, { project: P.id, seed: 5 }));
    let n = 0;
    f.respondNext(
      "tasks.get_all",
      (res) => {
        // Every page holds 250 tasks seen before and 250 new ones.
        const base = n++ * 250;
        const tasks = Array.from({ length: 500 }, (_, k) => ({ id: `t${base + k}`, name: "x", status: "completed" }));
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ meta: { result_code: 200, result_subcode: 0, result_msg: "OK" }, data: { tasks } }));
      },
      Infinity,
    );
    const probe: Probe = { asked: [], maxInFlight: 0 };
    const e = await store(f, { probe, maxTasks: 4_000 })
      .list({ includeArchived: true })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "E_CLEARML_LISTING", exitCode: 4 });
    expect((e as Error).message).toContain("limit of 4000");
    // Page 8 is the first whose tasks pass the bound: none after it is asked for.
    expect(Math.max(...probe.asked)).toBe(8);
  });

  it("pageConcurrency 1 asks for one page at a time; it must be 1..16", async () => {
    const f = await start(manyTasks(3_000, { project: P.id, seed: 5 }));
    const probe: Probe = { asked: [], maxInFlight: 0 };
    await pagesOf(store(f, { probe, pageConcurrency: 1 }));
    expect(probe.asked).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(probe.maxInFlight).toBe(1);
    expect(() => store(f, { pageConcurrency: 0 })).toThrow(RangeError);
    expect(() => store(f, { pageConcurrency: 17 })).toThrow(RangeError);
  });
});

import { describe, expect, it } from "vitest";
import { pagesInFlight, PAGES_IN_FLIGHT_VARIABLE } from "../../src/cli/clearml.js";
import { DEFAULT_PAGE_CONCURRENCY } from "../../src/stores/clearml/clearml-store.js";
import { runInProcess } from "../helpers/cli.js";

describe("EXPFLOW_CLEARML_PAGES_IN_FLIGHT: how many pages of a listing are asked for at once", () => {
  it("defaults to the store's window, takes 1 to 16, refuses anything else", () => {
    expect(pagesInFlight({})).toBe(DEFAULT_PAGE_CONCURRENCY);
    expect(pagesInFlight({ [PAGES_IN_FLIGHT_VARIABLE]: " " })).toBe(DEFAULT_PAGE_CONCURRENCY);
    expect(pagesInFlight({ [PAGES_IN_FLIGHT_VARIABLE]: "1" })).toBe(1);
    expect(pagesInFlight({ [PAGES_IN_FLIGHT_VARIABLE]: "16" })).toBe(16);
    for (const bad of ["0", "17", "2.5", "four", "-1"]) expect(() => pagesInFlight({ [PAGES_IN_FLIGHT_VARIABLE]: bad }), bad).toThrow(/EXPFLOW_CLEARML_PAGES_IN_FLIGHT.*from 1 to 16/);
  });

  it("a bad value is exit 2 before any request", async () => {
    const r = await runInProcess(["clearml", "tasks", "--project", "P"], { env: { CLEARML_API_HOST: "http://127.0.0.1:9", CLEARML_API_ACCESS_KEY: "k", CLEARML_API_SECRET_KEY: "s", [PAGES_IN_FLIGHT_VARIABLE]: "0" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("EXPFLOW_CLEARML_PAGES_IN_FLIGHT");
  });
});

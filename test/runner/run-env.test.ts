import { describe, expect, it } from "vitest";
import { isWithheldFromRuns, runEnvironment, WITHHELD_FROM_RUNS } from "../../src/runner/run-env.js";

describe("isWithheldFromRuns", () => {
  it("withholds the PIN, its hash and EXPFLOW_* names holding PIN, SECRET, TOKEN, PASSWORD, PASSWD, KEY or CREDENTIAL (any case)", () => {
    expect(WITHHELD_FROM_RUNS).toEqual(["EXPFLOW_PIN", "EXPFLOW_PIN_HASH"]);
    for (const name of ["EXPFLOW_PIN", "EXPFLOW_PIN_HASH", "EXPFLOW_PINHASH", "EXPFLOW_CLEARML_SECRET", "EXPFLOW_TOKEN", "EXPFLOW_API_TOKEN", "EXPFLOW_DB_PASSWORD", "EXPFLOW_PASSWD", "EXPFLOW_API_KEY", "EXPFLOW_ACCESSKEY", "EXPFLOW_CREDENTIALS_FILE", "expflow_pin", "Expflow_Api_Key"]) {
      expect(isWithheldFromRuns(name), name).toBe(true);
    }
  });

  it("passes the other EXPFLOW_* variables and every variable outside EXPFLOW_*", () => {
    for (const name of ["EXPFLOW_HOME", "EXPFLOW_REGISTRY", "EXPFLOW_EXPERIMENT_ID", "EXPFLOW_METRICS_FILE", "CLEARML_API_SECRET_KEY", "CLEARML_API_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "PIN", "MY_EXPFLOW_PIN", "PATH"]) {
      expect(isWithheldFromRuns(name), name).toBe(false);
    }
  });
});

describe("runEnvironment", () => {
  it("drops withheld and unset variables and sets the run's id and metrics file over inherited ones", () => {
    expect(runEnvironment({ PATH: "/bin", EXPFLOW_PIN: "1234", EXPFLOW_PIN_HASH: "h", UNSET: undefined, EXPFLOW_EXPERIMENT_ID: "old", EXPFLOW_METRICS_FILE: "/old" }, "exp-1", "/m/exp-1.jsonl")).toEqual({
      PATH: "/bin",
      EXPFLOW_EXPERIMENT_ID: "exp-1",
      EXPFLOW_METRICS_FILE: "/m/exp-1.jsonl",
    });
  });
});

import { describe, expect, it } from "vitest";
import { isPinKey, pinKeys } from "../../src/mcp/gate.js";

describe("the PIN gate's keys", () => {
  it("names a PIN by a word of the key, however it is written", () => {
    for (const key of ["pin", "PIN", "Pin", "pin_code", "pinCode", "newPin", "new-pin", "EXPFLOW_PIN", "pin_stdin", "pinStdin", "pins", "pincode", "PinNumber", "current pin"]) {
      expect(isPinKey(key), key).toBe(true);
    }
  });

  // Regression: /pin/i refused these, so a run with a `--mapping` argument or a metric named
  // spinal_loss could not be submitted or reported through the MCP server.
  it("leaves a key that only holds the letters: parameters and metrics of real runs", () => {
    for (const key of ["mapping", "Args/--mapping", "spinal_loss", "pinned", "Args/--pinned_memory", "shipping", "opinion", "spin", "pipeline", "lr"]) {
      expect(isPinKey(key), key).toBe(false);
    }
  });

  it("finds them at any depth, by path, never reading their values", () => {
    expect(pinKeys({ id: "x", args: { "Args/--mapping": "1", PIN: "9" }, list: [{ pin_code: 1 }, { spinal: 2 }] })).toEqual(["args.PIN", "list[0].pin_code"]);
    expect(pinKeys("pin")).toEqual([]);
    expect(pinKeys(null)).toEqual([]);
  });
});

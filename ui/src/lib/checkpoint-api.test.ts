import { describe, expect, it } from "vitest";
import { parsePort } from "./checkpoint-api";

describe("the Checkpoint API port", () => {
  it("takes a port from 1 to 65535, spaces around it", () => {
    expect(parsePort(" 8555 ")).toEqual({ port: 8555, problem: null });
    expect(parsePort("1").port).toBe(1);
    expect(parsePort("65535").port).toBe(65535);
  });

  it("refuses anything else beside the field", () => {
    for (const text of ["", "0", "65536", "80a", "-1", "8555.5", "123456"]) {
      const parsed = parsePort(text);
      expect(parsed.port).toBeNull();
      expect(parsed.problem).toEqual({ field: "port", message: "Give a port from 1 to 65535, for example 8555." });
    }
  });
});

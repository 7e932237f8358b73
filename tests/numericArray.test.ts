import { describe, expect, it } from "vitest";
import { isNumericArray } from "../src/numericArray.js";

describe("isNumericArray", () => {
  it("accepts every typed array of numbers", () => {
    for (const a of [new Float64Array(1), new Float32Array(1), new Int32Array(1), new Uint8Array(1), new BigInt64Array(1), new BigUint64Array(1)]) {
      expect(isNumericArray(a)).toBe(true);
    }
  });
  it("rejects DataView, plain arrays and scalars", () => {
    expect(isNumericArray(new DataView(new ArrayBuffer(8)))).toBe(false);
    expect(isNumericArray([1, 2])).toBe(false);
    expect(isNumericArray(3)).toBe(false);
    expect(isNumericArray(null)).toBe(false);
  });
});

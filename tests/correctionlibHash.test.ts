/**
 * XXH64 and PCG32 under the HashPRNG node. XXH64 reference values come from the system's libxxhash
 * 0.8.1 (Debian libxxhash0), called through Python ctypes:
 *   lib = ctypes.CDLL("libxxhash.so.0"); lib.XXH64.restype = ctypes.c_uint64; "%016x" % lib.XXH64(data, len(data), seed)
 * covering the < 32-byte path, the 32-byte stripes, and 4-byte / 1-byte tails. The generator and
 * distributions are checked end to end against correctionlib's test_hashprng.py in correctionlibNodes.test.ts.
 */
import { describe, expect, it } from "vitest";
import { hashDraw, Pcg32, xxh64 } from "../src/histmaker/correctionlib/hashprng.js";

const range = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

describe("xxh64", () => {
  it("matches libxxhash", () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), "ef46db3751d8e999"],
      [new TextEncoder().encode("a"), "d24ec4f1a98c6e5b"],
      [range(24), "dd14a0292632be9b"],
      [range(40), "f5da40f1b11741e9"],
      [range(37), "d93fa2dfee5c24c9"],
      [range(64), "f7c67301db6713f0"],
      [new TextEncoder().encode("correctionlib HashPRNG test vector"), "07ae4ce507dea78d"],
    ];
    for (const [data, want] of cases) expect(xxh64(data).toString(16).padStart(16, "0"), `${data.length} bytes`).toBe(want);
    expect(xxh64(range(40), 12345n).toString(16).padStart(16, "0")).toBe("9d0fe4ffe607eaa7");
  });
});

describe("pcg32 and draws", () => {
  it("is deterministic and 32-bit", () => {
    const a = new Pcg32(42n);
    const b = new Pcg32(42n);
    const xs = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(xs);
    for (const x of xs) expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
    expect(new Set(xs).size).toBe(8);
  });
  it("stdflat lies in [0, 1) with mean ≈ 1/2 and normal has mean ≈ 0, variance ≈ 1", () => {
    const words = new Uint8Array(8);
    const view = new DataView(words.buffer);
    let sf = 0;
    let sn = 0;
    let sn2 = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      view.setBigInt64(0, BigInt(i), true);
      const u = hashDraw(words, "stdflat");
      expect(u >= 0 && u < 1).toBe(true);
      sf += u;
      const g = hashDraw(words, "normal");
      sn += g;
      sn2 += g * g;
    }
    // 5σ bands: σ(mean of U) = 0.289/√n, σ(mean of N) = 1/√n, σ(var of N) ≈ √2/√n
    expect(Math.abs(sf / n - 0.5)).toBeLessThan((5 * 0.289) / Math.sqrt(n));
    expect(Math.abs(sn / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sn2 / n - 1)).toBeLessThan((5 * Math.SQRT2) / Math.sqrt(n));
  });
});

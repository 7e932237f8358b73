import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendName } from "../fitter/tfBackends.js";
import { IndexMap, planSlotReduction, type IndexKernels, type SlotReductionPlan } from "../fitter/tfIndexMap.js";
import { indexKernelsFor } from "../fitter/tfLikelihood.js";
import { xorshift } from "./helpers/random.js";

const rng = xorshift;

/** Entries of skewed slot sizes in shuffled order: empty slots (first, middle, last), single entries and one slot of 300. */
function skewedIndex(seed: number): { idx: Int32Array; slots: number } {
  const sizes = [0, 1, 37, 0, 5, 300, 2, 16, 17, 0, 64, 1, 0];
  const idx: number[] = [];
  sizes.forEach((n, j) => {
    for (let k = 0; k < n; k++) idx.push(j);
  });
  const rand = rng(seed);
  for (let i = idx.length - 1; i > 0; i--) {
    const k = Math.floor(rand() * (i + 1));
    [idx[i], idx[k]] = [idx[k], idx[i]];
  }
  return { idx: Int32Array.from(idx), slots: sizes.length };
}

function loopScatterAdd(idx: Int32Array, u: Float32Array, slots: number): Float64Array {
  const out = new Float64Array(slots);
  for (let i = 0; i < idx.length; i++) out[idx[i]] += u[i];
  return out;
}

/** Runs a plan on the host in float64: level 0 reads the entries, later ones all earlier outputs (index = length: zero). */
function runPlan(plan: SlotReductionPlan, u: ArrayLike<number>): Float64Array {
  const outputs: number[] = [];
  let sums = new Float64Array(0);
  plan.levels.forEach(({ width, groups, table }, l) => {
    const source = l === 0 ? Array.from(u) : outputs.slice();
    sums = new Float64Array(groups);
    for (let k = 0; k < width; k++) for (let g = 0; g < groups; g++) sums[g] += table[k * groups + g] === source.length ? 0 : source[table[k * groups + g]];
    outputs.push(...sums);
  });
  return sums;
}

describe("planSlotReduction", () => {
  it("sums every entry exactly once into its own slot, with groups no wider than the cap", () => {
    const { idx, slots } = skewedIndex(3);
    for (const cap of [undefined, 2, 16, 1000]) {
      const plan = planSlotReduction(idx, slots, cap);
      for (const level of plan.levels) expect(level.width).toBeLessThanOrEqual(cap ?? Infinity);
      if (cap === 16) expect(plan.levels.length).toBeGreaterThan(1); // the slot of 300 needs a second level
      expect(plan.levels[plan.levels.length - 1].groups).toBe(slots);
      // integer sums are exact: a lost or doubled entry changes them
      const u = Float64Array.from(idx, (_, i) => i);
      const ones = new Float64Array(idx.length).fill(1);
      expect(Array.from(runPlan(plan, u))).toEqual(Array.from(loopScatterAdd(idx, Float32Array.from(u), slots)));
      expect(Array.from(runPlan(plan, ones))).toEqual(Array.from(loopScatterAdd(idx, Float32Array.from(ones), slots)));
      expect(plan.cells).toBe(plan.levels.reduce((c, l) => c + l.width * l.groups, 0));
    }
  });

  it("keeps the padded tables within 2× the entries for power-law slot sizes", () => {
    const rand = rng(9);
    const idx: number[] = [];
    const slots = 2000;
    for (let j = 0; j < slots; j++) {
      const n = Math.floor(3000 / (1 + j) ** 1.1 + (rand() < 0.2 ? 0 : 1 + 20 * rand()));
      for (let k = 0; k < n; k++) idx.push(j);
    }
    const plan = planSlotReduction(Int32Array.from(idx), slots);
    expect(plan.cells / idx.length).toBeLessThan(2);
    const u = Float64Array.from(idx, () => rand());
    const want = loopScatterAdd(Int32Array.from(idx), Float32Array.from(u), slots);
    const got = runPlan(plan, Float32Array.from(u));
    for (let j = 0; j < slots; j++) expect(got[j]).toBeCloseTo(want[j], 9);
  });

  it("rejects an index outside the slots", () => {
    expect(() => planSlotReduction(Int32Array.from([0, 3]), 3)).toThrow(/index 3 at entry 1/);
  });
});

describe("indexKernelsFor", () => {
  it("picks segment sums on cpu, gather-reduce on webgpu and GatherNd/ScatterNd elsewhere", () => {
    expect(indexKernelsFor("cpu")).toBe("segment");
    expect(indexKernelsFor("webgpu")).toBe("ell");
    expect(indexKernelsFor("wasm")).toBe("nd");
    expect(indexKernelsFor("tensorflow")).toBe("nd");
  });
});

for (const backend of ["cpu", "wasm"] as BackendName[]) {
  describe(`IndexMap on ${backend}`, () => {
    it.each([["ell", 4], ["ell", undefined], ["nd", undefined], ["segment", undefined]] as [IndexKernels, number | undefined][])(
      "%s (max width %s): scatterAdd equals a loop sum over skewed slots; gather is its adjoint, also under tf.grad",
      async (kernels, width) => {
        await initBackend(backend);
        const { idx, slots } = skewedIndex(5);
        const rand = rng(11);
        const u = Float32Array.from(idx, () => rand() - 0.5);
        const w = Float32Array.from({ length: slots }, () => rand() - 0.5);
        const map = new IndexMap(idx, slots, kernels, width);
        const ut = tf.tensor1d(u);
        const wt = tf.tensor1d(w);
        const summed = await map.scatterAdd(ut).data();
        const expected = loopScatterAdd(idx, u, slots);
        expect(summed.length).toBe(slots);
        for (let j = 0; j < slots; j++) expect(summed[j]).toBeCloseTo(expected[j], 5);
        const gathered = await map.gather(wt).data();
        for (let i = 0; i < idx.length; i++) expect(gathered[i]).toBe(w[idx[i]]);
        // d⟨scatterAdd(u), w⟩/du = gather(w), and d⟨gather(w), u⟩/dw = scatterAdd(u)
        const du = await tf.grad((a: tf.Tensor) => tf.sum(tf.mul(map.scatterAdd(a as tf.Tensor1D), wt)))(ut).data();
        for (let i = 0; i < idx.length; i++) expect(du[i]).toBeCloseTo(w[idx[i]], 6);
        const dw = await tf.grad((b: tf.Tensor) => tf.sum(tf.mul(map.gather(b as tf.Tensor1D), ut)))(wt).data();
        for (let j = 0; j < slots; j++) expect(dw[j]).toBeCloseTo(expected[j], 5);
        map.dispose();
        tf.dispose([ut, wt]);
      },
    );
  });
}

/**
 * Batched Hessian-vector products (Objective.hessianVectorProducts, the native hvpBatch): K products
 * at one point are bit for bit the K single products, for every model option (asymmetric, POI modes,
 * Barlow–Beeston with split bins, normal systematics, float32 values, 32-bit columns), every batch
 * size (passes of 16/8/4/2/1 vectors) and through the wrappers (external terms, frozen parameters,
 * the one-by-one fallback).
 */
import { describe, expect, it } from "vitest";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { CudaEvaluator } from "../fitter/cuda/CudaEvaluator.js";
import { WithExternalTerms, type ResolvedExternalTerm } from "../fitter/externalTerms.js";
import type { LikelihoodSpec, PoiMode } from "../fitter/likelihoodSpec.js";
import { hessianVectorProducts, type Objective } from "../fitter/objective.js";
import { FrozenObjective } from "../fitter/parameters.js";
import type { SystematicType } from "../src/tensor/types.js";
import { rng } from "./helpers/random.js";

interface Options {
  symmetric: boolean;
  poiMode: PoiMode;
  bb: boolean;
  systematicType: SystematicType;
  float32?: boolean;
  /** at least this many log κ columns (> 65536: the 32-bit column path) */
  minCols?: number;
  seed: number;
}

const NBINS = 15;
const NMASKED = 2;
const NPROC = 4;
const NSIG = 2;

function makeSpec(o: Options): LikelihoodSpec {
  const r = rng(o.seed);
  const nsyst = o.minCols ? (o.symmetric ? o.minCols : Math.ceil(o.minCols / 2)) : 11;
  const ncols = o.symmetric ? nsyst : 2 * nsyst;
  const nbinsFull = NBINS + NMASKED;
  const nrows = nbinsFull * NPROC;
  const norm = new Float64Array(nrows);
  for (let i = 0; i < nrows; i++) norm[i] = 5 + 60 * r();
  const rowPtr = new Int32Array(nrows + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  const scale = o.systematicType === "normal" ? 3 : 0.08;
  for (let row = 0; row < nrows; row++) {
    if (o.minCols) {
      // a few entries spread over the wide column range (the last column included)
      const picks = new Set<number>([ncols - 1 - (row % 3)]);
      for (let i = 0; i < 6; i++) picks.add(Math.floor(r() * ncols));
      for (const c of [...picks].sort((a, b) => a - b)) {
        cols.push(c);
        vals.push(scale * (2 * r() - 1));
      }
    } else {
      for (let c = 0; c < ncols; c++) {
        if (r() < 0.5) {
          cols.push(c);
          vals.push(scale * (2 * r() - 1));
        }
      }
    }
    rowPtr[row + 1] = cols.length;
  }
  const data = new Float64Array(NBINS);
  for (let b = 0; b < NBINS; b++) {
    let s = 0;
    for (let p = 0; p < NPROC; p++) s += norm[b * NPROC + p];
    data[b] = Math.round(s * (0.8 + 0.4 * r()));
  }
  data[2] = 0;
  let bbK: Float64Array | null = null;
  let bbActive: Uint8Array | null = null;
  if (o.bb) {
    bbK = new Float64Array(NBINS);
    for (let b = 0; b < NBINS; b++) bbK[b] = b % 5 === 2 ? Number.POSITIVE_INFINITY : 20 + 400 * r();
    // split bins: processes without MC statistical uncertainty are not scaled by β
    bbActive = new Uint8Array(NBINS * NPROC).fill(1);
    for (let b = 0; b < NBINS; b += 2) bbActive[b * NPROC + 3] = 0;
  }
  const constraintWeights = new Float64Array(nsyst).fill(1);
  constraintWeights[0] = 0;
  const theta0 = new Float64Array(nsyst);
  for (let s = 0; s < nsyst; s++) theta0[s] = 0.3 * (2 * r() - 1);
  const values = o.float32 ? Float32Array.from(vals) : Float64Array.from(vals);
  return {
    nbins: NBINS,
    nbinsFull,
    nproc: NPROC,
    nsig: NSIG,
    nsyst,
    norm,
    logk: { nrows, ncols, rowPtr, cols: Int32Array.from(cols), values },
    symmetric: o.symmetric,
    systematicType: o.systematicType,
    data,
    bbK,
    bbActive,
    constraintWeights,
    theta0,
    poiMode: o.poiMode,
  };
}

/** POIs around 1, θ inside and outside the asymmetry window */
function point(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = i < NSIG ? 0.8 + 0.4 * r() : 2.6 * (r() - 0.5);
  return x;
}

/** k random vectors, some of them unit or 0/1 probe vectors like the sparse Hessian's */
function vectors(n: number, k: number, seed: number): Float64Array {
  const r = rng(seed);
  const vs = new Float64Array(k * n);
  for (let j = 0; j < k; j++) {
    if (j % 3 === 1) vs[j * n + (j % n)] = 1;
    else if (j % 3 === 2) for (let i = j % 4; i < n; i += 4) vs[j * n + i] = 1;
    else for (let i = 0; i < n; i++) vs[j * n + i] = 2 * r() - 1;
  }
  return vs;
}

async function oneByOne(obj: Objective, x: Float64Array, vs: Float64Array, k: number): Promise<Float64Array> {
  const n = obj.nparams;
  const out = new Float64Array(k * n);
  for (let j = 0; j < k; j++) out.set(await obj.hessianVectorProduct(x, vs.slice(j * n, (j + 1) * n)), j * n);
  return out;
}

/** bit for bit (Object.is: also tells -0 from 0 and compares NaN) */
function expectIdentical(got: Float64Array, want: Float64Array): void {
  expect(got.length).toBe(want.length);
  let differ = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differ++;
  expect(differ).toBe(0);
}

const combos: Options[] = [];
let seed = 31;
for (const symmetric of [true, false])
  for (const poiMode of ["linear", "square"] as PoiMode[])
    for (const bb of [false, true])
      for (const systematicType of ["log_normal", "normal"] as SystematicType[])
        combos.push({ symmetric, poiMode, bb, systematicType, seed: seed++ });
combos.push({ symmetric: false, poiMode: "linear", bb: true, systematicType: "log_normal", float32: true, seed: seed++ });
combos.push({ symmetric: false, poiMode: "square", bb: true, systematicType: "log_normal", minCols: 66000, seed: seed++ });

const label = (o: Options) =>
  `${o.symmetric ? "sym" : "asym"} ${o.poiMode} ${o.bb ? "BB split" : "noBB"} ${o.systematicType}` +
  `${o.float32 ? " float32" : ""}${o.minCols ? " int32 columns" : ""}`;

describe("Float64Evaluator.hessianVectorProducts = single products, bit for bit", () => {
  for (const o of combos) {
    it(label(o), async () => {
      const spec = makeSpec(o);
      for (const threads of [1, 3]) {
        const ev = new Float64Evaluator(spec, { threads });
        try {
          const n = ev.nparams;
          const x = point(n, o.seed);
          // 21 = 16 + 4 + 1 passes; 7 = 4 + 2 + 1
          const ks = o.minCols ? [1, 3] : [1, 2, 7, 8, 16, 21];
          for (const k of ks) {
            const vs = vectors(n, k, o.seed + k);
            const want = await oneByOne(ev, x, vs, k);
            const got = ev.hessianVectorProducts(x, vs, k);
            expectIdentical(got, want);
            expect(want.some((v) => v !== 0)).toBe(true);
          }
        } finally {
          ev.dispose();
        }
      }
    });
  }

  it("accepts vectors given as a subarray and rejects a wrong K or length", () => {
    const spec = makeSpec(combos[5]);
    const ev = new Float64Evaluator(spec, { threads: 2 });
    try {
      const n = ev.nparams;
      const x = point(n, 2);
      const all = vectors(n, 5, 3);
      const got = ev.hessianVectorProducts(x, all.subarray(2 * n), 3);
      expectIdentical(got, Float64Array.from([2, 3, 4].flatMap((j) => [...ev.hessianVectorProduct(x, all.slice(j * n, (j + 1) * n))])));
      expect(() => ev.hessianVectorProducts(x, all, 4)).toThrow(/vs has length/);
      expect(() => ev.hessianVectorProducts(x, all, 0)).toThrow(/positive integer/);
      expect(() => ev.hessianVectorProducts(x, all, 2.5)).toThrow(/positive integer/);
    } finally {
      ev.dispose();
    }
  });
});

describe("CudaEvaluator.hessianVectorProducts (CPU emulation device) = its single products", () => {
  for (const o of [combos[0], combos[7], combos[13], combos[16]]) {
    it(label(o), () => {
      const ev = new CudaEvaluator(makeSpec(o), { mode: "emulate" });
      try {
        const n = ev.nparams;
        const x = point(n, o.seed);
        const k = 9;
        const vs = vectors(n, k, o.seed);
        const want = new Float64Array(k * n);
        for (let j = 0; j < k; j++) want.set(ev.hessianVectorProduct(x, vs.slice(j * n, (j + 1) * n)), j * n);
        expectIdentical(ev.hessianVectorProducts(x, vs, k), want);
        expect(() => ev.hessianVectorProducts(x, vs, 0)).toThrow(/positive integer/);
      } finally {
        ev.dispose();
      }
    });
  }
});

describe("hessianVectorProducts through the wrappers", () => {
  const spec = makeSpec(combos[10]);
  const n = NSIG + spec.nsyst;
  const terms: ResolvedExternalTerm[] = [
    { name: "dense", indices: Int32Array.from([0, 3, 5]), grad: Float64Array.from([0.1, -0.2, 0.3]), hess: Float64Array.from([2, 0.5, 0.1, 0.4, 3, 0.2, 0.1, 0.3, 1.5]), hessSparse: null },
    {
      name: "sparse",
      indices: Int32Array.from([2, 7, 9]),
      grad: null,
      hess: null,
      hessSparse: { rows: Int32Array.from([0, 1, 2, 0]), cols: Int32Array.from([0, 1, 2, 2]), values: Float64Array.from([1.5, 2.5, 0.7, -0.3]) },
    },
  ];

  it("WithExternalTerms and FrozenObjective: batched = one by one, bit for bit", async () => {
    const ev = new Float64Evaluator(spec, { threads: 2 });
    try {
      const withTerms = new WithExternalTerms(ev, terms);
      const x = point(n, 4);
      const frozen = new FrozenObjective(withTerms, x, [1, 4, 6]);
      for (const [obj, at] of [
        [withTerms, x],
        [frozen, frozen.reduce(x)],
      ] as [Objective, Float64Array][]) {
        const k = 11;
        const vs = vectors(obj.nparams, k, 9);
        expect(obj.hessianVectorProducts).toBeDefined();
        const got = await hessianVectorProducts(obj, at, vs, k);
        expectIdentical(got, await oneByOne(obj, at, vs, k));
      }
    } finally {
      ev.dispose();
    }
  });

  it("an objective without a batch: the fallback calls hessianVectorProduct once per vector", async () => {
    const ev = new Float64Evaluator(spec, { threads: 2 });
    try {
      let calls = 0;
      const plain: Objective = {
        nparams: ev.nparams,
        valueAndGradient: (x) => ev.valueAndGradient(x),
        hessianVectorProduct: async (x, v) => {
          calls++;
          return ev.hessianVectorProduct(x, v);
        },
      };
      const x = point(n, 6);
      const vs = vectors(n, 6, 7);
      const got = await hessianVectorProducts(new WithExternalTerms(plain, terms), x, vs, 6);
      expect(calls).toBe(6);
      expectIdentical(got, await oneByOne(new WithExternalTerms(ev, terms), x, vs, 6));
      await expect(hessianVectorProducts(plain, x, vs, 5)).rejects.toThrow(/vs has length/);
    } finally {
      ev.dispose();
    }
  });
});

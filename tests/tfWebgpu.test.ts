/**
 * The tfjs webgpu backend for real: TfLikelihood and a full fit on whatever WebGPU adapter the
 * `webgpu` package (Dawn) finds — in CI, without a GPU, Mesa's lavapipe Vulkan driver on the CPU
 * (.ci/run installs it). Skipped with the reason printed when no adapter can be had.
 */
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendInfo } from "../fitter/tfBackends.js";
import { TfLikelihood } from "../fitter/tfLikelihood.js";
import { IndexMap } from "../fitter/tfIndexMap.js";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import type { LikelihoodSpec, PoiMode } from "../fitter/likelihoodSpec.js";
import type { LogKCsr, SystematicType } from "../src/tensor/types.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { fit } from "../fitter/fit.js";
import { xorshift } from "./helpers/random.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/** Initialises webgpu once; the reason it cannot be used, or null. */
async function probeWebgpu(): Promise<{ info: BackendInfo | null; problem: string | null }> {
  try {
    return { info: await initBackend("webgpu"), problem: null };
  } catch (err) {
    return { info: null, problem: err instanceof Error ? err.message : String(err) };
  }
}

function nativeProblem(): string | null {
  try {
    new Float64Evaluator(makeSpec({ symmetric: true, poiMode: "linear", bb: false, systematicType: "log_normal" }, 1), { threads: 1 }).dispose();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const rng = xorshift;

interface Options {
  symmetric: boolean;
  poiMode: PoiMode;
  bb: boolean;
  systematicType: SystematicType;
}

/** A random sparse model with masked bins, empty bins, a free θ and a bin without β. */
function makeSpec(opts: Options, seed: number, size = { nbins: 12, nproc: 4, nsyst: 7 }): LikelihoodSpec {
  const rand = rng(seed);
  const { nbins, nproc, nsyst } = size;
  const nbinsFull = nbins + 3;
  const nsig = 2;
  const ncols = opts.symmetric ? nsyst : 2 * nsyst;
  const nrows = nbinsFull * nproc;
  const norm = Float64Array.from({ length: nrows }, () => (rand() < 0.1 ? 0 : 20 + 500 * rand()));
  const rowPtr = new Int32Array(nrows + 1);
  const cols: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < nrows; r++) {
    for (let c = 0; c < ncols; c++) {
      if (rand() < 0.4) continue;
      const rel = (rand() - 0.5) * (c < nsyst ? 0.2 : 0.06);
      cols.push(c);
      values.push(opts.systematicType === "normal" ? rel * (norm[r] + 10) : rel);
    }
    rowPtr[r + 1] = cols.length;
  }
  const logk: LogKCsr = { nrows, ncols, rowPtr, cols: Int32Array.from(cols), values: Float64Array.from(values) };
  const data = Float64Array.from({ length: nbins }, (_, b) => {
    let nu = 0;
    for (let p = 0; p < nproc; p++) nu += norm[b * nproc + p];
    return b === 3 ? 0 : Math.round(nu * (0.9 + 0.2 * rand()));
  });
  const bbK = opts.bb ? Float64Array.from({ length: nbins }, (_, b) => (b === 5 ? Number.POSITIVE_INFINITY : 200 + 3000 * rand())) : null;
  return {
    nbins,
    nbinsFull,
    nproc,
    nsig,
    nsyst,
    norm,
    logk,
    symmetric: opts.symmetric,
    systematicType: opts.systematicType,
    data,
    bbK,
    constraintWeights: Float64Array.from({ length: nsyst }, (_, s) => (s === 0 ? 0 : 1)),
    theta0: Float64Array.from({ length: nsyst }, () => (rand() - 0.5) * 0.6),
    poiMode: opts.poiMode,
  };
}

function randomPoint(spec: LikelihoodSpec, rand: () => number): Float64Array {
  const x = new Float64Array(spec.nsig + spec.nsyst);
  for (let i = 0; i < spec.nsig; i++) x[i] = (spec.poiMode === "square" && rand() < 0.5 ? -1 : 1) * (0.6 + 0.8 * rand());
  // θ on both sides of the smooth-step window |θ| < 0.5
  for (let s = 0; s < spec.nsyst; s++) x[spec.nsig + s] = (rand() - 0.5) * 3;
  return x;
}

function maxAbs(a: Float64Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const { info, problem: webgpuProblem } = await probeWebgpu();
const skipReason = webgpuProblem ?? nativeProblem();
if (skipReason) console.log(`skipping webgpu tests: ${skipReason}`);
else console.log(`webgpu adapter found (BackendInfo.device = ${info?.device})`);

const combos: Options[] = [
  { symmetric: true, poiMode: "linear", bb: false, systematicType: "log_normal" },
  { symmetric: false, poiMode: "square", bb: true, systematicType: "log_normal" },
  { symmetric: false, poiMode: "linear", bb: true, systematicType: "normal" },
  { symmetric: true, poiMode: "square", bb: false, systematicType: "normal" },
];
const label = (o: Options): string => `${o.symmetric ? "sym" : "asym"} ${o.poiMode} ${o.bb ? "BB" : "noBB"} ${o.systematicType}`;

describe.skipIf(skipReason !== null)("TfLikelihood on webgpu vs the float64 evaluator", () => {
  it("initBackend reports webgpu in float32", () => {
    expect(tf.getBackend()).toBe("webgpu");
    expect(info?.name).toBe("webgpu");
    expect(info?.precision).toBe("float32");
    expect(["cpu", "gpu"]).toContain(info?.device);
  });

  // tfjs hands ops on small tensors still in host memory to its cpu kernels (WEBGPU_CPU_FORWARD):
  // with forwarding off every op of these small models runs as a WGSL shader on the adapter
  const cases = [true, false].flatMap((forward) => combos.map((o, i) => [`${label(o)}${forward ? "" : ", every op on the adapter"}`, o, i, forward] as const));
  it.each(cases)("%s: value, gradient, HVP", async (_l, opts, i, cpuForward) => {
    await initBackend("webgpu");
    tf.env().set("WEBGPU_CPU_FORWARD", cpuForward);
    const spec = makeSpec(opts, 2000 + i);
    const like = new TfLikelihood(spec);
    const native = new Float64Evaluator(spec, { threads: 1 });
    const rand = rng(40 + i);
    for (let trial = 0; trial < 3; trial++) {
      const x = randomPoint(spec, rand);
      const v = Float64Array.from(x, () => rand() - 0.5);
      const ref = native.valueAndGradient(x);
      const refHv = native.hessianVectorProduct(x, v);
      const value = await like.nll(x);
      const vg = await like.valueAndGradient(x);
      const hv = await like.hessianVectorProduct(x, v);
      // float32: ~1e-7 relative per op on per-bin terms of O(1000)
      expect(Math.abs(value - ref.value)).toBeLessThan(2e-5 * Math.abs(ref.value) + 1e-3);
      expect(Math.abs(vg.value - ref.value)).toBeLessThan(2e-5 * Math.abs(ref.value) + 1e-3);
      expect(maxAbsDiff(vg.gradient, ref.gradient)).toBeLessThan(1e-4 * maxAbs(ref.gradient) + 1e-3);
      expect(maxAbsDiff(hv, refHv)).toBeLessThan(1e-4 * maxAbs(refHv) + 1e-3);
    }
    native.dispose();
    like.dispose();
    tf.env().set("WEBGPU_CPU_FORWARD", true);
  });

  it.each([4, undefined])("IndexMap ell (max width %s) on the adapter: scatterAdd equals a loop sum over skewed slots (empty, single, longer than the cap); gather is its adjoint", async (maxWidth) => {
    await initBackend("webgpu");
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    const sizes = [0, 1, 37, 0, 5, 300, 2, 16, 17, 0, 64, 1, 0];
    const idx = Int32Array.from(sizes.flatMap((n, j) => Array.from({ length: n }, () => j)));
    const rand = rng(21);
    for (let i = idx.length - 1; i > 0; i--) {
      const k = Math.floor(rand() * (i + 1));
      [idx[i], idx[k]] = [idx[k], idx[i]];
    }
    const u = Float32Array.from(idx, () => rand() - 0.5);
    const w = Float32Array.from(sizes, () => rand() - 0.5);
    const loop = new Float64Array(sizes.length);
    idx.forEach((j, i) => (loop[j] += u[i]));
    const map = new IndexMap(idx, sizes.length, "ell", maxWidth);
    const [ut, wt] = [tf.tensor1d(u), tf.tensor1d(w)];
    const summed = await map.scatterAdd(ut).data();
    expect(summed.length).toBe(sizes.length);
    loop.forEach((want, j) => expect(Math.abs(summed[j] - want)).toBeLessThan(1e-5));
    const du = await tf.grad((a: tf.Tensor) => tf.sum(tf.mul(map.scatterAdd(a as tf.Tensor1D), wt)))(ut).data();
    idx.forEach((j, i) => expect(du[i]).toBeCloseTo(w[j], 6));
    map.dispose();
    tf.dispose([ut, wt]);
    tf.env().set("WEBGPU_CPU_FORWARD", true);
  });

  it("normalisation-only model (no log κ): the full-tape path", async () => {
    await initBackend("webgpu");
    const base = makeSpec({ symmetric: true, poiMode: "square", bb: true, systematicType: "log_normal" }, 77);
    const nrows = base.nbinsFull * base.nproc;
    const spec: LikelihoodSpec = { ...base, logk: { ...base.logk, rowPtr: new Int32Array(nrows + 1), cols: new Int32Array(0), values: new Float64Array(0) } };
    const like = new TfLikelihood(spec);
    const native = new Float64Evaluator(spec, { threads: 1 });
    const rand = rng(5);
    const x = randomPoint(spec, rand);
    const v = Float64Array.from(x, () => rand() - 0.5);
    const ref = native.valueAndGradient(x);
    const refHv = native.hessianVectorProduct(x, v);
    const vg = await like.valueAndGradient(x);
    expect(Math.abs(vg.value - ref.value)).toBeLessThan(2e-5 * Math.abs(ref.value) + 1e-3);
    expect(maxAbsDiff(vg.gradient, ref.gradient)).toBeLessThan(1e-4 * maxAbs(ref.gradient) + 1e-3);
    expect(maxAbsDiff(await like.hessianVectorProduct(x, v), refHv)).toBeLessThan(1e-4 * maxAbs(refHv) + 1e-3);
    native.dispose();
    like.dispose();
  });

  it("keeps the tensor count flat across calls and frees everything on dispose", async () => {
    await initBackend("webgpu");
    const before = tf.memory().numTensors;
    const spec = makeSpec({ symmetric: false, poiMode: "square", bb: true, systematicType: "log_normal" }, 99);
    const like = new TfLikelihood(spec);
    const resident = tf.memory().numTensors;
    const x = randomPoint(spec, rng(3));
    const v = Float64Array.from(x, () => 0.1);
    for (let k = 0; k < 3; k++) {
      await like.valueAndGradient(x);
      await like.hessianVectorProduct(x, v);
      like.setData(spec.data);
      expect(tf.memory().numTensors).toBe(resident);
    }
    like.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

interface Expected {
  bbb: boolean;
  poi_mode: PoiMode;
  names: string[];
  values: number[];
  errors: number[];
  nll: number;
  ndf: number;
}

describe.skipIf(skipReason !== null)("fit on webgpu vs ref_fit.py", () => {
  it.each([true, false])("dense symmetric (ref_dense.hdf5), cpu forwarding %s: the bars of tests/fitReference.test.ts", async (cpuForward) => {
    tf.env().set("WEBGPU_CPU_FORWARD", cpuForward);
    const want = JSON.parse(readFileSync(join(fixtures, "ref_dense.expected.json"), "utf8")) as Expected;
    const model = await readTensor(join(fixtures, "ref_dense.hdf5"));
    const result = await fit(model, { backend: "webgpu", poiMode: want.poi_mode, bbb: want.bbb, threads: 2 });
    expect(result.status, result.message).toBe("converged");
    expect(result.engine).toEqual({ backend: "webgpu", precision: "float64", device: info?.device, float64_engine: "native", float64_device: expect.stringMatching(/^cpu \(\d+ threads\)$/) });
    expect(result.ndf).toBe(want.ndf);
    expect(result.parameters.map((p) => p.name)).toEqual(want.names);
    result.parameters.forEach((p, i) => {
      expect(Math.abs(p.value - want.values[i]) / want.errors[i]).toBeLessThan(1e-5);
      expect(Math.abs(p.error / want.errors[i] - 1)).toBeLessThan(1e-5);
    });
    expect(Math.abs(result.nll - want.nll)).toBeLessThan(1e-6);
    expect(result.edm).toBeLessThan(1e-10);
    tf.env().set("WEBGPU_CPU_FORWARD", true);
  });
});

afterAll(async () => {
  await initBackend("cpu");
});

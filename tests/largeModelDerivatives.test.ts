/**
 * The float64 likelihood on a small member of the "large fit" family of issue 12
 * (`fit-gen --procs 6 --sparse --local 0.9 --bbb`, here 2000 bins × 1200 nuisances, 1.3M log κ
 * entries, Barlow–Beeston on, 90% local systematics): NLL against an independent evaluation of
 * likelihood.md, gradient and Hessian-vector products against central differences along unit
 * vectors (POI, first and last nuisance, a local and a global one) and random directions. A wrong
 * HVP at scale (index widths, BB with local systematics) would stall the minimiser exactly like a
 * bad trust region does, so this rules it out for the family.
 */
import { describe, expect, it } from "vitest";
import { Float64Evaluator } from "../fitter/Float64Evaluator.js";
import { buildLikelihoodSpec, type LikelihoodSpec } from "../fitter/likelihoodSpec.js";
import { generateModel } from "../src/tensor/modelGenerator.js";
import { rng } from "./helpers/random.js";

const BINS = 2000;
const SYSTS = 1200;
const NLOCAL = Math.round(0.9 * SYSTS);

/** NLL of likelihood.md for a symmetric log-normal model with BB-lite on every process, written independently. */
function naiveNll(spec: LikelihoodSpec, x: Float64Array): number {
  const { nbins, nproc, nsig, nsyst, logk } = spec;
  let total = 0;
  for (let b = 0; b < nbins; b++) {
    let nu = 0;
    for (let p = 0; p < nproc; p++) {
      const row = b * nproc + p;
      let e = 0;
      for (let k = logk.rowPtr[row]; k < logk.rowPtr[row + 1]; k++) e += x[nsig + logk.cols[k]] * logk.values[k];
      nu += (p < nsig ? x[p] : 1) * spec.norm[row] * Math.exp(e);
    }
    const n = spec.data[b];
    const kb = spec.bbK ? spec.bbK[b] : Number.POSITIVE_INFINITY;
    if (Number.isFinite(kb) && kb > 0) {
      const beta = (n + kb) / (nu + kb);
      total += beta * nu - n - (n > 0 ? n * Math.log((beta * nu) / n) : 0) + kb * (beta - 1) - kb * Math.log(beta);
    } else {
      total += nu - n - (n > 0 ? n * Math.log(nu / n) : 0);
    }
  }
  for (let s = 0; s < nsyst; s++) total += 0.5 * spec.constraintWeights[s] * (x[nsig + s] - spec.theta0[s]) ** 2;
  return total;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe("float64 likelihood on a member of the large-fit family (2000 bins × 6 processes × 1200 nuisances, BB)", () => {
  const model = generateModel({ bins: BINS, procs: 6, systs: SYSTS, sparse: true, local: 0.9, bbb: true });
  const spec = buildLikelihoodSpec(model, { poiMode: "linear" });
  const n = spec.nsig + spec.nsyst;
  // away from the prefit point: every nuisance moved, the POI off 1
  const r = rng(2024);
  const x = new Float64Array(n);
  x[0] = 1.07;
  for (let i = spec.nsig; i < n; i++) x[i] = 0.6 * (2 * r() - 1);

  it("is the model it claims to be (sizes, BB on every process, symmetric log-normal)", () => {
    expect(spec.nbins).toBe(BINS);
    expect(spec.nproc).toBe(6);
    expect(spec.nsyst).toBe(SYSTS);
    expect(spec.symmetric).toBe(true);
    expect(spec.systematicType).toBe("log_normal");
    expect(spec.bbK).not.toBeNull();
    expect(spec.logk.values.length).toBeGreaterThan(1e6);
  });

  it("NLL, gradient and HVPs agree with an independent evaluation and central differences", () => {
    const ev = new Float64Evaluator(spec, { threads: 2 });
    try {
      const { value, gradient } = ev.valueAndGradient(x);
      const naive = naiveNll(spec, x);
      expect(Math.abs(value - naive)).toBeLessThan(1e-11 * Math.abs(naive));

      const unit = (j: number) => {
        const e = new Float64Array(n);
        e[j] = 1;
        return e;
      };
      const random = () => {
        const v = Float64Array.from({ length: n }, () => 2 * r() - 1);
        const nv = Math.sqrt(dot(v, v));
        return v.map((a) => a / nv);
      };
      // POI, first nuisance (local), last local, first global, last nuisance (global), random directions
      const directions = [unit(0), unit(1), unit(NLOCAL), unit(NLOCAL + 1), unit(n - 1), random(), random(), random()];
      const h = 1e-4;
      for (const v of directions) {
        const plus = ev.valueAndGradient(x.map((a, i) => a + h * v[i]));
        const minus = ev.valueAndGradient(x.map((a, i) => a - h * v[i]));
        // directional derivative: the O(h²) error of the central difference is ~1e-9 relative here
        const gv = dot(gradient, v);
        const fd = (plus.value - minus.value) / (2 * h);
        expect(Math.abs(gv - fd)).toBeLessThan(1e-7 * Math.abs(gv) + 1e-6);
        // every component of H v against the central difference of the gradient
        const hv = ev.hessianVectorProduct(x, v);
        let scale = 0;
        for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(hv[i]));
        for (let i = 0; i < n; i++) {
          const fdi = (plus.gradient[i] - minus.gradient[i]) / (2 * h);
          if (!(Math.abs(hv[i] - fdi) <= 1e-7 * scale + 1e-7)) {
            throw new Error(`HVP component ${i}: ${hv[i]} vs central difference ${fdi} (scale ${scale})`);
          }
        }
      }
    } finally {
      ev.dispose();
    }
  });
});

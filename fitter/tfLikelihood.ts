/**
 * The binned likelihood of ../shared/spec/likelihood.md as float32 TensorFlow.js ops on the active
 * backend (see tfBackends.ts). Gradient and Hessian-vector products come from autodiff (the HVP by
 * double backprop: the gradient of ⟨∇f, v⟩), never from finite differences.
 *
 * log κ is applied sparsely: the effective θ of every CSR entry is gathered, scaled by its value and
 * summed per (bin, process) row. tfjs' own gather gradient uses UnsortedSegmentSum, which the wasm
 * backend lacks, the cpu backend runs in O(segments × entries) and webgpu runs with atomics; so
 * gather and the segment sum are a pair of custom-gradient ops, each the other's adjoint
 * (IndexMap in tfIndexMap.ts), differentiable to any order.
 *
 * tfjs' higher-order gradients are only right for ops whose gradient uses their saved inputs:
 * ops that save their output (Exp) or branch on the input (clipByValue) are replaced here by
 * custom ops (expTwice, expm1Twice, host-side smooth-step masks).
 *
 * float32 precision: the NLL is Σ_b d − n·log1p(d/n) with d = ν − n formed from the float64
 * constant Σ_p norm − n plus the small deviations norm·((r − 1) + r·expm1(s)), so rounding is
 * relative to ν − n (~√n) rather than to ν; the NLL is then smooth to ~1e-3 even at 1e6 events
 * per bin.
 */
import * as tf from "@tensorflow/tfjs";
import type { LikelihoodSpec } from "./likelihoodSpec.js";
import type { Objective, ValueAndGradient } from "./objective.js";
import { silenceTfjs } from "./tfBackends.js";
import { IndexMap, type IndexKernels } from "./tfIndexMap.js";

/**
 * exp with a gradient that recomputes exp from a saved copy of the input. tfjs' own Exp gradient
 * uses the saved output, whose copy is taped before the Exp node and so is cut off from x: a
 * second derivative through it silently comes out wrong. Saved inputs stay connected.
 */
function expTwice(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    (save as tf.GradSaveFunc)([input as tf.Tensor]);
    return {
      value: tf.exp(input as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, expTwice(saved[0])),
    };
  });
  return op(x);
}

/** expm1 with a gradient (dy·exp(x)) that is itself differentiable, like expTwice. */
function expm1Twice(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    (save as tf.GradSaveFunc)([input as tf.Tensor]);
    return {
      value: tf.expm1(input as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, expTwice(saved[0])),
    };
  });
  return op(x);
}

/**
 * log1p accurate to a few ulp on every backend (the wasm kernel computes log(1 + u), which loses
 * all digits for |u| ≲ 1e-7): Goldberg's log(w)·u/(w − 1) with w = 1 + u rounded. The forward
 * pass of a custom op is not taped, so the branch on w = 1 costs no differentiability; the
 * gradient dy/(1 + u) is made of differentiable ops.
 */
function log1pAccurate(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
    const u = input as tf.Tensor;
    (save as tf.GradSaveFunc)([u]);
    const w = tf.add(u, 1);
    const wm1 = tf.sub(w, 1);
    const exact = tf.equal(wm1, 0);
    const safe = tf.where(exact, tf.onesLike(wm1), wm1);
    return {
      value: tf.where(exact, u, tf.div(tf.mul(tf.log(w), u), safe)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.div(dy, tf.add(saved[0], 1)),
    };
  });
  return op(x);
}

export interface TfLikelihoodOptions {
  /** how the sparse log κ products run; default indexKernelsFor(the active backend) */
  indexKernels?: IndexKernels;
}

/** The IndexMap kernels that are fastest on a tfjs backend (see IndexKernels). */
export function indexKernelsFor(backend: string): IndexKernels {
  if (backend === "cpu") return "segment";
  if (backend === "webgpu") return "ell";
  return "nd";
}

/** stand-in for n + k in bins without β: d/m ≈ 0 keeps the (masked) BB term finite, never NaN */
const NO_BB_SCALE = 1e30;

/** Resident tensors that depend on the data (replaced by setData). */
interface DataTensors {
  /** counts n_b */
  n: tf.Tensor1D;
  /** Σ_p norm_bp − n_b, computed in float64 */
  nominalMinusData: tf.Tensor1D;
  /** n_b, or 1 where n_b = 0 (there n·log1p(d/n) is 0 and must not produce NaN) */
  nSafe: tf.Tensor1D;
  /** n_b + k_b for BB bins; elsewhere (masked out) a huge value, so log1p(d/m) stays finite for any d */
  bbM: tf.Tensor1D | null;
}

/** Per-point tensors kept between valueAndGradient and the HVPs of a Lanczos sweep. */
interface PointCache {
  x: Float64Array;
  xt: tf.Tensor1D;
  step: SmoothStepMasks | null;
  /** s = K·u(x), flat over the rows */
  shift: tf.Tensor1D;
  /** Kᵀ ∂L/∂s */
  gradU: tf.Tensor1D;
  value: number;
  gradient: Float64Array;
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Branch of α(θ) per systematic: 1 inside the window, else 0; sign(θ) outside, else 0. */
interface SmoothStepMasks {
  inside: tf.Tensor1D;
  outsideSign: tf.Tensor1D;
}

export class TfLikelihood implements Objective {
  readonly nparams: number;
  private readonly spec: LikelihoodSpec;
  /** nominal yields of the NLL bins, [nbins, nproc] */
  private readonly norm: tf.Tensor2D;
  /** CSR entry ↦ effective-θ column, and CSR entry ↦ (bin, process) row */
  private readonly logkCols: IndexMap | null;
  private readonly logkRows: IndexMap | null;
  private readonly logkValues: tf.Tensor1D | null;
  /** 1 where the bin has a BB parameter (finite k), else 0 */
  private readonly bbMask: tf.Tensor1D | null;
  private readonly constraintWeights: tf.Tensor1D;
  private theta0: tf.Tensor1D;
  private readonly backgroundOnes: tf.Tensor1D | null;
  private readonly backgroundZeros: tf.Tensor1D | null;
  private dataTensors: DataTensors;
  /** the last point whose value and gradient were computed, with what its HVPs reuse */
  private cache: PointCache | null = null;
  private disposed = false;

  constructor(spec: LikelihoodSpec, opts: TfLikelihoodOptions = {}) {
    const { nbins, nproc, nsig, nsyst, logk } = spec;
    if (spec.norm.length < nbins * nproc) throw new Error(`TfLikelihood: norm has ${spec.norm.length} entries, need ${nbins * nproc}`);
    if (spec.data.length < nbins) throw new Error(`TfLikelihood: data has ${spec.data.length} entries, need ${nbins}`);
    if (nsig > nproc) throw new Error(`TfLikelihood: ${nsig} signals but only ${nproc} processes`);
    const expectedCols = spec.symmetric ? nsyst : 2 * nsyst;
    if (logk.ncols !== expectedCols && logk.rowPtr[logk.nrows] > 0) {
      throw new Error(`TfLikelihood: logk has ${logk.ncols} columns, expected ${expectedCols}`);
    }
    silenceTfjs(); // also when the caller never picked a backend (the default cpu one greets in Node)
    this.spec = spec;
    this.nparams = nsig + nsyst;
    this.norm = tf.tensor2d(Float32Array.from(spec.norm.subarray(0, nbins * nproc)), [nbins, nproc]);

    // only rows of the NLL bins matter: masked-channel rows come after nbins * nproc
    const nrowsNll = nbins * nproc;
    const nnz = logk.rowPtr[Math.min(nrowsNll, logk.nrows)];
    if (nnz > 0 && nsyst > 0) {
      const rowIds = new Int32Array(nnz);
      for (let r = 0; r < Math.min(nrowsNll, logk.nrows); r++) rowIds.fill(r, logk.rowPtr[r], logk.rowPtr[r + 1]);
      const kernels = opts.indexKernels ?? indexKernelsFor(tf.getBackend());
      this.logkRows = new IndexMap(rowIds, nrowsNll, kernels);
      this.logkCols = new IndexMap(logk.cols.subarray(0, nnz), logk.ncols, kernels);
      this.logkValues = tf.tensor1d(Float32Array.from(logk.values.subarray(0, nnz)));
    } else {
      this.logkRows = null;
      this.logkCols = null;
      this.logkValues = null;
    }

    if (spec.bbK) {
      const mask = new Float32Array(nbins);
      for (let b = 0; b < nbins; b++) mask[b] = Number.isFinite(spec.bbK[b]) ? 1 : 0;
      this.bbMask = tf.tensor1d(mask);
    } else {
      this.bbMask = null;
    }
    this.constraintWeights = tf.tensor1d(Float32Array.from(spec.constraintWeights));
    this.theta0 = tf.tensor1d(Float32Array.from(spec.theta0));
    this.backgroundOnes = nproc > nsig ? tf.ones([nproc - nsig]) : null;
    this.backgroundZeros = nproc > nsig ? tf.zeros([nproc - nsig]) : null;
    this.dataTensors = this.makeDataTensors(spec.data);
  }

  private makeDataTensors(data: Float64Array): DataTensors {
    const { nbins, nproc, bbK, norm } = this.spec;
    const n = new Float32Array(nbins);
    const nominalMinusData = new Float32Array(nbins);
    const nSafe = new Float32Array(nbins);
    const bbM = bbK ? new Float32Array(nbins) : null;
    for (let b = 0; b < nbins; b++) {
      n[b] = data[b];
      let nominal = 0;
      for (let p = 0; p < nproc; p++) nominal += norm[b * nproc + p];
      nominalMinusData[b] = nominal - data[b];
      nSafe[b] = data[b] > 0 ? data[b] : 1;
      if (bbM && bbK) {
        const m = data[b] + bbK[b];
        // n = k = 0: β̂ = 0 and the term vanishes; f(m, d) → d as m → 0 gives exactly that
        bbM[b] = !Number.isFinite(bbK[b]) ? NO_BB_SCALE : m > 0 ? m : 1e-30;
      }
    }
    return { n: tf.tensor1d(n), nominalMinusData: tf.tensor1d(nominalMinusData), nSafe: tf.tensor1d(nSafe), bbM: bbM ? tf.tensor1d(bbM) : null };
  }

  /** Replaces the observed counts (toys, Asimov); length ≥ nbins. */
  setData(data: Float64Array): void {
    this.checkAlive();
    if (data.length < this.spec.nbins) throw new Error(`TfLikelihood.setData: ${data.length} counts, need ${this.spec.nbins}`);
    this.dropCache();
    const old = this.dataTensors;
    this.dataTensors = this.makeDataTensors(data);
    disposeData(old);
  }

  /** Replaces the constraint centres θ0 (frequentist toys); length nsyst. */
  setTheta0(theta0: Float64Array): void {
    this.checkAlive();
    if (theta0.length !== this.spec.nsyst) throw new Error(`TfLikelihood.setTheta0: ${theta0.length} values, need ${this.spec.nsyst}`);
    this.dropCache();
    const old = this.theta0;
    this.theta0 = tf.tensor1d(Float32Array.from(theta0));
    old.dispose();
  }

  /** θ·α(θ), the coefficient of the half-difference columns; inside a tidy. */
  private halfDifferenceWeight(theta: tf.Tensor1D, step: SmoothStepMasks): tf.Tensor1D {
    // smooth step α(θ) = p(2θ) inside |θ| < 0.5, p(t) = t(3t⁴ − 10t² + 15)/8, and sign(θ) outside.
    // The window is chosen on the host: a taped comparison (clipByValue's gradient) has no
    // second derivative in tfjs, and α is locally one branch anyway.
    const t = tf.mul(theta, 2);
    const t2 = tf.square(t);
    const poly = tf.mul(t, tf.add(tf.mul(t2, tf.sub(tf.mul(t2, 3 / 8), 10 / 8)), 15 / 8));
    const alpha = tf.add(tf.mul(step.inside, poly), step.outsideSign);
    return tf.mul(theta, alpha) as tf.Tensor1D;
  }

  /** u(x): what the log κ columns multiply, θ or [θ, θ·α(θ)]; inside a tidy. */
  private logkCoefficients(x: tf.Tensor1D, step: SmoothStepMasks | null): tf.Tensor1D {
    const { nsig, nsyst, symmetric } = this.spec;
    const theta = x.slice(nsig, nsyst);
    if (symmetric || !step) return theta;
    return tf.concat([theta, this.halfDifferenceWeight(theta, step)]);
  }

  /** s = K·u, the log κ shift of every (bin, process) row, flat [nbins·nproc]. */
  private applyLogk(u: tf.Tensor1D): tf.Tensor1D {
    const { logkCols, logkRows, logkValues } = this.sparse();
    return logkRows.scatterAdd(tf.mul(logkValues, logkCols.gather(u)) as tf.Tensor1D);
  }

  /** Kᵀ·w for w over the rows, length ncols. */
  private applyLogkTransposed(w: tf.Tensor1D): tf.Tensor1D {
    const { logkCols, logkRows, logkValues } = this.sparse();
    return logkCols.scatterAdd(tf.mul(logkValues, logkRows.gather(w)) as tf.Tensor1D);
  }

  private sparse(): { logkCols: IndexMap; logkRows: IndexMap; logkValues: tf.Tensor1D } {
    if (!this.logkCols || !this.logkRows || !this.logkValues) throw new Error("TfLikelihood: no log κ entries");
    return { logkCols: this.logkCols, logkRows: this.logkRows, logkValues: this.logkValues };
  }

  private get hasLogk(): boolean {
    return this.logkValues !== null;
  }

  /**
   * ν_bp − norm_bp for the NLL bins, [nbins, nproc], given the log κ shift; inside a tidy. Working
   * with deviations keeps the float32 rounding relative to ν − norm (about √n) instead of ν
   * itself: for log_normal ν_bp − norm_bp = norm_bp·((r_p − 1) + r_p·expm1(s_bp)).
   */
  private yieldDeviations(x: tf.Tensor1D, shiftFlat: tf.Tensor1D | null): tf.Tensor2D {
    const { nsig, nproc, nbins, poiMode, systematicType } = this.spec;
    const mu = x.slice(0, nsig);
    const r = poiMode === "square" ? tf.square(mu) : mu;
    // r − 1, as (μ − 1)(μ + 1) in square mode so that it stays exact near μ = 1
    const rm1 = poiMode === "square" ? tf.mul(tf.sub(mu, 1), tf.add(mu, 1)) : tf.sub(mu, 1);
    const scale = this.backgroundOnes ? tf.concat([r, this.backgroundOnes]) : r;
    const scaleM1 = this.backgroundZeros ? tf.concat([rm1, this.backgroundZeros]) : rm1;
    const shift = shiftFlat ? (tf.reshape(shiftFlat, [nbins, nproc]) as tf.Tensor2D) : null;
    if (systematicType === "log_normal") {
      const rel = shift ? tf.add(scaleM1, tf.mul(scale, expm1Twice(shift))) : scaleM1;
      return tf.mul(this.norm, rel);
    }
    const base = tf.mul(this.norm, scaleM1) as tf.Tensor2D;
    return shift ? tf.add(base, shift) : base;
  }

  /**
   * L(x, s): the NLL with the log κ shift s as an independent input (everything but the sparse
   * product, all of it small: one value per bin and process). NLL(x) = L(x, K·u(x)).
   */
  private nllFromShift(x: tf.Tensor1D, shiftFlat: tf.Tensor1D | null): tf.Scalar {
    const { nsig, nsyst } = this.spec;
    const { n, nSafe, bbM, nominalMinusData } = this.dataTensors;
    // ν − n − n·log(ν/n) written as d − n·log1p(d/n) with d = ν − n: both parts come from the
    // same d, so the float32 cancellation is relative to d rather than to n; d itself is
    // (Σ_p norm − n, exact in float64) + Σ_p (ν_bp − norm_bp)
    const d = tf.add(nominalMinusData, tf.sum(this.yieldDeviations(x, shiftFlat), 1));
    let perBin = tf.sub(d, tf.mul(n, log1pAccurate(tf.div(d, nSafe))));
    if (bbM && this.bbMask) {
      // profiled BB: term = f(n, d) − f(n + k, d) with f(m, d) = d − m·log1p(d/m)
      const bbPart = tf.sub(d, tf.mul(bbM, log1pAccurate(tf.div(d, bbM))));
      perBin = tf.sub(perBin, tf.mul(this.bbMask, bbPart));
    }
    let total = tf.sum(perBin);
    if (nsyst > 0) {
      const diff = tf.sub(x.slice(nsig, nsyst), this.theta0);
      total = tf.add(total, tf.mul(0.5, tf.sum(tf.mul(this.constraintWeights, tf.square(diff)))));
    }
    return total as tf.Scalar;
  }

  /** The NLL as a scalar tensor, differentiable in x end to end; inside a tidy. */
  private nllTensor(x: tf.Tensor1D, step: SmoothStepMasks | null): tf.Scalar {
    return this.nllFromShift(x, this.hasLogk ? this.applyLogk(this.logkCoefficients(x, step)) : null);
  }

  /** Which branch of the smooth step each θ is on (asymmetric tensors only); inside a tidy. */
  private smoothStepMasks(x: Float64Array): SmoothStepMasks | null {
    if (this.spec.symmetric) return null;
    const { nsig, nsyst } = this.spec;
    const inside = new Float32Array(nsyst);
    const outsideSign = new Float32Array(nsyst);
    for (let s = 0; s < nsyst; s++) {
      const theta = x[nsig + s];
      if (Math.abs(theta) < 0.5) inside[s] = 1;
      else outsideSign[s] = Math.sign(theta);
    }
    return { inside: tf.tensor1d(inside), outsideSign: tf.tensor1d(outsideSign) };
  }

  private toTensor(x: Float64Array, what: string): tf.Tensor1D {
    if (x.length !== this.nparams) throw new Error(`TfLikelihood: ${what} has ${x.length} entries, need ${this.nparams}`);
    return tf.tensor1d(Float32Array.from(x));
  }

  async nll(x: Float64Array): Promise<number> {
    this.checkAlive();
    if (this.cache && sameValues(this.cache.x, x)) return this.cache.value;
    const value = tf.tidy(() => this.nllTensor(this.toTensor(x, "x"), this.smoothStepMasks(x)));
    const out = (await value.data())[0];
    value.dispose();
    return out;
  }

  /**
   * Value, gradient and what the HVPs at this point reuse. With s = K·u(x) and w = ∂L/∂s:
   * ∇NLL = ∂L/∂x + J_uᵀ Kᵀ w. Only the two sparse products touch the log κ entries.
   */
  private async point(x: Float64Array): Promise<PointCache> {
    if (this.cache && sameValues(this.cache.x, x)) return this.cache;
    this.dropCache();
    type PointTensors = Omit<PointCache, "x" | "value" | "gradient"> & { value: tf.Scalar; gradient: tf.Tensor1D };
    // tidy keeps whatever the returned object holds (its typing only knows plain containers)
    const tensors = tf.tidy((): tf.TensorContainer => {
      const xt = this.toTensor(x, "x");
      const step = this.smoothStepMasks(x);
      const shift = this.applyLogk(this.logkCoefficients(xt, step));
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => this.nllFromShift(a as tf.Tensor1D, b as tf.Tensor1D))([xt, shift]);
      const gradU = this.applyLogkTransposed(grads[1] as tf.Tensor1D);
      const throughU = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(this.logkCoefficients(a as tf.Tensor1D, step), gradU)))(xt);
      const gradient = tf.add(grads[0], throughU) as tf.Tensor1D;
      const out: PointTensors = { xt, step, shift, gradU, value, gradient };
      return out as unknown as tf.TensorContainer;
    }) as unknown as PointTensors;
    const [v, g] = await Promise.all([tensors.value.data(), tensors.gradient.data()]);
    tensors.value.dispose();
    tensors.gradient.dispose();
    this.cache = {
      x: Float64Array.from(x),
      xt: tensors.xt,
      step: tensors.step,
      shift: tensors.shift,
      gradU: tensors.gradU,
      value: v[0],
      gradient: Float64Array.from(g),
    };
    return this.cache;
  }

  async valueAndGradient(x: Float64Array): Promise<ValueAndGradient> {
    this.checkAlive();
    if (!this.hasLogk) {
      const { value, grad } = tf.tidy(() => {
        const step = this.smoothStepMasks(x);
        return tf.valueAndGrad((xt: tf.Tensor1D) => this.nllTensor(xt, step))(this.toTensor(x, "x"));
      });
      try {
        const [v, g] = await Promise.all([value.data(), grad.data()]);
        return { value: v[0], gradient: Float64Array.from(g) };
      } finally {
        value.dispose();
        grad.dispose();
      }
    }
    const pc = await this.point(x);
    return { value: pc.value, gradient: Float64Array.from(pc.gradient) };
  }

  /**
   * H·v, exactly, by autodiff. With s = K·u(x) (K the sparse log κ matrix, linear) the chain rule
   * splits it into pieces that autodiff handles on small tensors:
   *   ṡ = K·(J_u v),  [a_x, a_s] = ∇_{x,s} ⟨∇_{x,s} L, (v, ṡ)⟩  (double backprop of L(x, s)),
   *   H v = a_x + J_uᵀ Kᵀ a_s + ∇_x ⟨∇_x ⟨u(x), Kᵀ w⟩, v⟩   (w = ∂L/∂s, cached per point).
   * Two sparse products per HVP instead of the four-plus of a double backprop through K; the
   * shift s and Kᵀw are reused across the HVPs of a Lanczos sweep at one point.
   */
  async hessianVectorProduct(x: Float64Array, v: Float64Array): Promise<Float64Array> {
    this.checkAlive();
    if (v.length !== this.nparams) throw new Error(`TfLikelihood: v has ${v.length} entries, need ${this.nparams}`);
    if (!this.hasLogk) return this.hessianVectorProductByTape(x, v);
    const pc = await this.point(x);
    const { nsig, nsyst, symmetric } = this.spec;
    const hv = tf.tidy(() => {
      const vt = this.toTensor(v, "v");
      const step = pc.step;
      const vTheta = vt.slice(nsig, nsyst);
      let uDot: tf.Tensor1D = vTheta;
      if (!symmetric && step) {
        // θ·α(θ) acts elementwise: its Jacobian is the diagonal of derivatives
        const slope = tf.grad((th: tf.Tensor) => tf.sum(this.halfDifferenceWeight(th as tf.Tensor1D, step)))(pc.xt.slice(nsig, nsyst));
        uDot = tf.concat([vTheta, tf.mul(slope, vTheta) as tf.Tensor1D]);
      }
      const sDot = this.applyLogk(uDot);
      const gradL = tf.grads((a: tf.Tensor, b: tf.Tensor) => this.nllFromShift(a as tf.Tensor1D, b as tf.Tensor1D));
      const directional = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => {
        const [ga, gb] = gradL([a, b]);
        return tf.add(tf.sum(tf.mul(ga, vt)), tf.sum(tf.mul(gb, sDot))) as tf.Scalar;
      };
      const [ax, as] = tf.grads(directional)([pc.xt, pc.shift]);
      const au = this.applyLogkTransposed(as as tf.Tensor1D);
      const throughU = (a: tf.Tensor): tf.Scalar => {
        const u = this.logkCoefficients(a as tf.Tensor1D, step);
        let out = tf.sum(tf.mul(u, au));
        if (!symmetric) {
          // curvature of u(x) itself, weighted by the gradient Kᵀw
          const inner = tf.grad((b: tf.Tensor) => tf.sum(tf.mul(this.logkCoefficients(b as tf.Tensor1D, step), pc.gradU)))(a);
          out = tf.add(out, tf.sum(tf.mul(inner, vt)));
        }
        return out as tf.Scalar;
      };
      return tf.add(ax, tf.grad(throughU)(pc.xt));
    });
    try {
      return Float64Array.from(await hv.data());
    } finally {
      hv.dispose();
    }
  }

  /** H·v by plain double backprop through the whole NLL: ∇_x ⟨∇_x NLL(x), v⟩. */
  private async hessianVectorProductByTape(x: Float64Array, v: Float64Array): Promise<Float64Array> {
    const hv = tf.tidy(() => {
      const vt = this.toTensor(v, "v");
      const step = this.smoothStepMasks(x);
      const gradient = tf.grad((xt: tf.Tensor) => this.nllTensor(xt as tf.Tensor1D, step));
      const directional = (xt: tf.Tensor): tf.Scalar => tf.sum(tf.mul(gradient(xt), vt));
      return tf.grad(directional)(this.toTensor(x, "x"));
    });
    try {
      return Float64Array.from(await hv.data());
    } finally {
      hv.dispose();
    }
  }

  private dropCache(): void {
    if (!this.cache) return;
    const { xt, step, shift, gradU } = this.cache;
    for (const t of [xt, shift, gradU, step?.inside ?? null, step?.outsideSign ?? null]) t?.dispose();
    this.cache = null;
  }

  /** Frees every resident tensor; the object is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dropCache();
    this.logkCols?.dispose();
    this.logkRows?.dispose();
    const owned: (tf.Tensor | null)[] = [
      this.norm,
      this.logkValues,
      this.bbMask,
      this.constraintWeights,
      this.theta0,
      this.backgroundOnes,
      this.backgroundZeros,
    ];
    for (const t of owned) t?.dispose();
    disposeData(this.dataTensors);
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error("TfLikelihood: used after dispose()");
  }
}

function disposeData(d: DataTensors): void {
  d.n.dispose();
  d.nominalMinusData.dispose();
  d.nSafe.dispose();
  d.bbM?.dispose();
}

/**
 * An objective seen with some parameters on a log scale: x_i = exp(y_i) for i in `indices`
 * (x_i > 0), the others unchanged. For the minimiser only — the NLL and its minimum are the same
 * points; only the path there changes.
 *
 * Why: a signal strength enters the yields linearly (ν = μ·s·e^{Σθκ}) while the normalisation
 * nuisances it trades against enter exponentially. Where the data fix the total yield very
 * precisely (10⁸ events: the 20,000-bin × 12,000-nuisance model of issue 12) the valley of
 * constant yield is curved in (μ, θ): along the Newton step the yields stay put to first order, but
 * the second-order mismatch μθ vs. θ²/2 leaves a t⁴ term that broke the quadratic model at steps
 * of 0.1 and held the trust region there for hundreds of iterations. In y = log μ every process's
 * yield is exp(linear in (y, θ)) and the valley is straight.
 *
 * Derivatives (chain rule with dx_i/dy_i = d²x_i/dy_i² = x_i):
 *   ∂f/∂y_i = x_i ∂f/∂x_i,   (H_y v)_i = x_i (H_x (J v))_i + x_i g_i v_i,  J = diag(x_i on indices, 1).
 */
import type { Objective, ValueAndGradient } from "../objective.js";

export class LogParameterObjective implements Objective {
  readonly nparams: number;
  private readonly isLog: Uint8Array;

  constructor(
    private readonly inner: Objective,
    readonly indices: readonly number[],
  ) {
    this.nparams = inner.nparams;
    this.isLog = new Uint8Array(this.nparams);
    for (const i of indices) {
      if (!(Number.isInteger(i) && i >= 0 && i < this.nparams)) throw new RangeError(`LogParameterObjective: no parameter ${i}`);
      this.isLog[i] = 1;
    }
  }

  /** y from x; every log parameter must be positive */
  toLog(x: Float64Array): Float64Array {
    return x.map((v, i) => {
      if (!this.isLog[i]) return v;
      if (!(v > 0)) throw new RangeError(`LogParameterObjective: parameter ${i} is ${v}, not positive`);
      return Math.log(v);
    });
  }

  /** x from y */
  fromLog(y: Float64Array): Float64Array {
    return y.map((v, i) => (this.isLog[i] ? Math.exp(v) : v));
  }

  /** ∂f/∂x at the last point seen: a trust-region iteration asks for many HVPs at one point */
  private cachedY: Float64Array | null = null;
  private cachedGradient: Float64Array | null = null;

  private async innerGradient(y: Float64Array, x: Float64Array): Promise<Float64Array> {
    const c = this.cachedY;
    if (c && this.cachedGradient && c.length === y.length && c.every((v, i) => v === y[i])) return this.cachedGradient;
    const g = Float64Array.from((await this.inner.valueAndGradient(x)).gradient);
    this.cachedY = Float64Array.from(y);
    this.cachedGradient = g;
    return g;
  }

  async valueAndGradient(y: Float64Array): Promise<ValueAndGradient> {
    const x = this.fromLog(y);
    const r = await this.inner.valueAndGradient(x);
    this.cachedY = Float64Array.from(y);
    this.cachedGradient = Float64Array.from(r.gradient);
    const gradient = Float64Array.from(r.gradient, (gi, i) => (this.isLog[i] ? gi * x[i] : gi));
    return { value: r.value, gradient };
  }

  async hessianVectorProduct(y: Float64Array, v: Float64Array): Promise<Float64Array> {
    const x = this.fromLog(y);
    const jv = Float64Array.from(v, (vi, i) => (this.isLog[i] ? vi * x[i] : vi));
    const hv = Float64Array.from(await this.inner.hessianVectorProduct(x, jv));
    // the curvature of exp itself needs ∂f/∂x_i on the log parameters
    let g: Float64Array | null = null;
    for (let i = 0; i < this.nparams; i++) {
      if (!this.isLog[i]) continue;
      if (!g) g = await this.innerGradient(y, x);
      hv[i] = x[i] * hv[i] + x[i] * g[i] * v[i];
    }
    return hv;
  }
}

/**
 * The profile likelihood of one or two parameters on a FitSession: 2ΔNLL at fixed values of the
 * chosen parameters, every other parameter minimised. Every point is a warm-started refit: from
 * the nearest point already computed (in units of the Hessian errors), moved by the first-order
 * conditional shift of the free parameters, x_free += C_fk C_kk⁻¹ δ_k (exact for a quadratic
 * NLL), with C the best fit's covariance. Points are cached, so scans, MINOS and contours reuse
 * each other's refits.
 */
import type { FitSession, SessionFit } from "../session.js";

/** Refits stop at this EDM: the NLL is then good to ~1e-10, far below what a crossing needs. */
export const REFIT_EDM_TOLERANCE = 1e-10;

export interface ProfilePoint {
  /** the fixed values, reported units (μ for POIs) */
  values: number[];
  /** 2·(NLL − NLL at the global minimum) */
  twiceDnll: number;
  fit: SessionFit;
}

export interface ProfileStats {
  refits: number;
  failed: number;
  iterations: number;
  hvps: number;
}

export interface ProfileOptions {
  /** the minimum 2ΔNLL is measured from (default the session's best fit) */
  reference?: SessionFit;
  /** data and constraint centres of every refit (default the session's) */
  data?: Float64Array;
  theta0?: Float64Array;
  /** default REFIT_EDM_TOLERANCE */
  edmTolerance?: number;
}

export class Profile {
  readonly indices: number[];
  readonly points: ProfilePoint[] = [];
  readonly stats: ProfileStats = { refits: 0, failed: 0, iterations: 0, hvps: 0 };
  private readonly best: SessionFit;
  /** Hessian errors of the profiled parameters in minimiser coordinates (distance scale) */
  private readonly scale: number[];
  /** C_fk C_kk⁻¹: the conditional shift of every parameter per unit of the fixed ones (n × k), or null */
  private readonly shift: Float64Array | null;

  private readonly edmTolerance: number;
  private readonly data: Float64Array | undefined;
  private readonly theta0: Float64Array | undefined;

  constructor(
    readonly session: FitSession,
    indices: number[],
    opts: ProfileOptions = {},
  ) {
    const best = opts.reference ?? session.best;
    if (!best) throw new Error("Profile: the session has no best fit");
    this.best = best;
    this.indices = indices;
    this.edmTolerance = opts.edmTolerance ?? REFIT_EDM_TOLERANCE;
    this.data = opts.data;
    this.theta0 = opts.theta0;
    const n = session.n;
    // the global fit's covariance sets distances and warm-start shifts (also for other data)
    const cov = best.covariance ?? session.best?.covariance ?? null;
    this.scale = indices.map((i) => {
      const s = cov ? Math.sqrt(cov[i * (n + 1)]) : Number.NaN;
      return Number.isFinite(s) && s > 0 ? s : 1;
    });
    this.shift = cov ? conditionalShift(cov, n, indices) : null;
  }

  /** NLL at the global minimum */
  get bestNll(): number {
    return this.best.nll;
  }

  /** The best fit's values of the profiled parameters (reported units). */
  bestValues(): number[] {
    return this.indices.map((i) => this.session.toReported(i, this.best.x[i]));
  }

  /** Refits with the parameters fixed at `values` (reported units). */
  async at(values: number[]): Promise<ProfilePoint> {
    const internal = values.map((v, k) => this.session.toInternal(this.indices[k], v));
    const start = this.warmStart(internal);
    const fixed = new Map(this.indices.map((i, k) => [i, values[k]] as [number, number]));
    const fit = await this.session.minimize({ start, fixed, data: this.data, theta0: this.theta0, edmTolerance: this.edmTolerance, label: "profile" });
    this.stats.refits++;
    this.stats.iterations += fit.iterations;
    this.stats.hvps += fit.hvps;
    if (fit.status !== "converged") this.stats.failed++;
    const point: ProfilePoint = { values: [...values], twiceDnll: 2 * (fit.nll - this.best.nll), fit };
    this.points.push(point);
    return point;
  }

  /** Nearest computed point (or the best fit), shifted to the new fixed values. */
  private warmStart(internal: number[]): Float64Array {
    let from = this.best.x;
    let bestDistance = this.distance(from, internal);
    for (const p of this.points) {
      if (p.fit.status !== "converged") continue;
      const d = this.distance(p.fit.x, internal);
      if (d < bestDistance) {
        bestDistance = d;
        from = p.fit.x;
      }
    }
    const start = Float64Array.from(from);
    const k = this.indices.length;
    if (this.shift) {
      const n = this.session.n;
      const delta = this.indices.map((i, a) => internal[a] - from[i]);
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let a = 0; a < k; a++) s += this.shift[j * k + a] * delta[a];
        start[j] += s;
      }
    }
    this.indices.forEach((i, a) => (start[i] = internal[a]));
    // a shift that leaves the region where the NLL is finite is no start: fall back to the point itself
    return start.every((v) => Number.isFinite(v)) ? start : Float64Array.from(from);
  }

  private distance(x: Float64Array, internal: number[]): number {
    let d = 0;
    this.indices.forEach((i, a) => {
      const u = (x[i] - internal[a]) / this.scale[a];
      d += u * u;
    });
    return d;
  }
}

/** C_fk C_kk⁻¹ for the fixed set k (n × k row-major); null when C_kk is singular. */
function conditionalShift(cov: Float64Array, n: number, k: number[]): Float64Array | null {
  const m = k.length;
  // invert the small k × k block by Gauss–Jordan
  const a = new Float64Array(m * m);
  for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) a[r * m + c] = cov[k[r] * n + k[c]];
  const inv = new Float64Array(m * m);
  for (let r = 0; r < m; r++) inv[r * m + r] = 1;
  for (let c = 0; c < m; c++) {
    let piv = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(a[r * m + c]) > Math.abs(a[piv * m + c])) piv = r;
    if (!(Math.abs(a[piv * m + c]) > 0) || !Number.isFinite(a[piv * m + c])) return null;
    for (let j = 0; j < m; j++) {
      [a[c * m + j], a[piv * m + j]] = [a[piv * m + j], a[c * m + j]];
      [inv[c * m + j], inv[piv * m + j]] = [inv[piv * m + j], inv[c * m + j]];
    }
    const d = a[c * m + c];
    for (let j = 0; j < m; j++) {
      a[c * m + j] /= d;
      inv[c * m + j] /= d;
    }
    for (let r = 0; r < m; r++) {
      if (r === c) continue;
      const f = a[r * m + c];
      for (let j = 0; j < m; j++) {
        a[r * m + j] -= f * a[c * m + j];
        inv[r * m + j] -= f * inv[c * m + j];
      }
    }
  }
  const out = new Float64Array(n * m);
  for (let j = 0; j < n; j++) {
    for (let b = 0; b < m; b++) {
      let s = 0;
      for (let a2 = 0; a2 < m; a2++) s += cov[j * n + k[a2]] * inv[a2 * m + b];
      out[j * m + b] = s;
    }
  }
  return out.every((v) => Number.isFinite(v)) ? out : null;
}

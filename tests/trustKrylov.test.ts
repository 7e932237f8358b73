import { describe, expect, it } from "vitest";
import type { Objective, ValueAndGradient } from "../fitter/objective.js";
import { smallestEigenvalue, solveTridiagonalSubproblem, trustKrylov, type Tridiagonal } from "../fitter/trustKrylov.js";

/** f = ½ (x−c)ᵀA(x−c) + f0 with a dense symmetric A; counts calls */
class Quadratic implements Objective {
  hvpCalls = 0;
  constructor(
    readonly a: Float64Array[],
    readonly c: Float64Array,
    readonly f0 = 0,
  ) {}
  get nparams(): number {
    return this.c.length;
  }
  private mul(v: Float64Array): Float64Array {
    return Float64Array.from(this.a, (row) => row.reduce((s, aij, j) => s + aij * v[j], 0));
  }
  valueAndGradient(x: Float64Array): ValueAndGradient {
    const d = x.map((xi, i) => xi - this.c[i]);
    const gradient = this.mul(d);
    return { value: this.f0 + 0.5 * d.reduce((s, di, i) => s + di * gradient[i], 0), gradient };
  }
  hessianVectorProduct(_x: Float64Array, v: Float64Array): Float64Array {
    this.hvpCalls++;
    return this.mul(v);
  }
}

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** random SPD matrix Bᵀ B + diag */
function spd(n: number, rand: () => number, diagScale: (i: number) => number = () => 1): Float64Array[] {
  const b = Array.from({ length: n }, () => Float64Array.from({ length: n }, () => rand() - 0.5));
  return Array.from({ length: n }, (_, i) =>
    Float64Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let k = 0; k < n; k++) s += b[k][i] * b[k][j];
      return Math.sqrt(diagScale(i) * diagScale(j)) * (s + (i === j ? 0.5 : 0));
    }),
  );
}

/** solve A z = g by Gaussian elimination (test-only reference) */
function solve(a: Float64Array[], g: Float64Array): Float64Array {
  const n = g.length;
  const m = a.map((r, i) => [...r, g[i]]);
  for (let i = 0; i < n; i++) {
    let p = i;
    for (let r = i + 1; r < n; r++) if (Math.abs(m[r][i]) > Math.abs(m[p][i])) p = r;
    [m[i], m[p]] = [m[p], m[i]];
    for (let r = i + 1; r < n; r++) {
      const f = m[r][i] / m[i][i];
      for (let c = i; c <= n; c++) m[r][c] -= f * m[i][c];
    }
  }
  const z = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i][n];
    for (let c = i + 1; c < n; c++) s -= m[i][c] * z[c];
    z[i] = s / m[i][i];
  }
  return z;
}

/** n-dimensional Rosenbrock Σ 100(x_{i+1} − x_i²)² + (1 − x_i)², minimum 0 at (1, ..., 1) */
class Rosenbrock implements Objective {
  constructor(readonly nparams: number) {}
  valueAndGradient(x: Float64Array): ValueAndGradient {
    const n = this.nparams;
    let value = 0;
    const gradient = new Float64Array(n);
    for (let i = 0; i + 1 < n; i++) {
      const u = x[i + 1] - x[i] * x[i];
      value += 100 * u * u + (1 - x[i]) ** 2;
      gradient[i] += -400 * x[i] * u - 2 * (1 - x[i]);
      gradient[i + 1] += 200 * u;
    }
    return { value, gradient };
  }
  hessianVectorProduct(x: Float64Array, v: Float64Array): Float64Array {
    const n = this.nparams;
    const hv = new Float64Array(n);
    for (let i = 0; i + 1 < n; i++) {
      // Hessian block of term i in (x_i, x_{i+1})
      const hii = 1200 * x[i] * x[i] - 400 * x[i + 1] + 2;
      const hij = -400 * x[i];
      hv[i] += hii * v[i] + hij * v[i + 1];
      hv[i + 1] += hij * v[i] + 200 * v[i + 1];
    }
    return hv;
  }
}

describe("tridiagonal subproblem", () => {
  it("smallest eigenvalue of a tridiagonal matrix", () => {
    // T = tridiag(-1, 2, -1), eigenvalues 2 − 2cos(kπ/(m+1))
    const m = 7;
    const t: Tridiagonal = { diag: new Float64Array(m).fill(2), off: new Float64Array(m).fill(-1) };
    expect(smallestEigenvalue(t)).toBeCloseTo(2 - 2 * Math.cos(Math.PI / (m + 1)), 12);
  });

  it("interior Newton point, boundary solution and an indefinite matrix satisfy the optimality conditions", () => {
    const t: Tridiagonal = { diag: Float64Array.from([2, 3, -1, 4]), off: Float64Array.from([0, 0.5, 0.7, -0.3]) };
    const tDense = (lam: number): Float64Array[] =>
      Array.from({ length: 4 }, (_, i) =>
        Float64Array.from({ length: 4 }, (_, j) => (i === j ? t.diag[i] + lam : Math.abs(i - j) === 1 ? t.off[Math.max(i, j)] : 0)),
      );
    for (const radius of [0.1, 1, 10]) {
      const sol = solveTridiagonalSubproblem(t, 2, radius);
      // (T + λI)h = −γ₀e₁, λ ≥ 0, ‖h‖ = Δ (indefinite T: always on the boundary), T + λI PSD
      const lhs = tDense(sol.lambda).map((row) => row.reduce((s, v, j) => s + v * sol.h[j], 0));
      expect(lhs[0]).toBeCloseTo(-2, 8);
      for (let i = 1; i < 4; i++) expect(lhs[i]).toBeCloseTo(0, 8);
      expect(Math.hypot(...sol.h)).toBeCloseTo(radius, 8);
      expect(sol.lambda + smallestEigenvalue(t)).toBeGreaterThanOrEqual(-1e-10);
      expect(sol.interior).toBe(false);
    }
    const pd: Tridiagonal = { diag: Float64Array.from([2, 3, 4]), off: Float64Array.from([0, 0.5, 0.7]) };
    const inside = solveTridiagonalSubproblem(pd, 1, 100);
    expect(inside.interior).toBe(true);
    expect(inside.lambda).toBe(0);
  });

  it("hard case: gradient orthogonal to the lowest eigenvector", () => {
    // T = diag(1, −2) decoupled: e₁ has no component along the negative direction e₂
    const t: Tridiagonal = { diag: Float64Array.from([1, -2]), off: Float64Array.from([0, 0]) };
    const sol = solveTridiagonalSubproblem(t, 1, 3);
    expect(sol.lambda).toBeCloseTo(2, 8);
    expect(sol.h[0]).toBeCloseTo(-1 / 3, 8);
    expect(Math.hypot(...sol.h)).toBeCloseTo(3, 8);
  });
});

describe("trustKrylov", () => {
  it("quadratic: finds the minimum, reports the exact EDM at the start and uses few HVPs", async () => {
    const n = 12;
    const rand = rng(7);
    const a = spd(n, rand);
    const c = Float64Array.from({ length: n }, () => rand() * 4 - 2);
    const q = new Quadratic(a, c, 3.5);
    const x0 = new Float64Array(n);
    const g0 = q.valueAndGradient(x0).gradient;
    const edm0 = 0.5 * g0.reduce((s, gi, i) => s + gi * solve(a, g0)[i], 0);
    const infos: number[] = [];
    const res = await trustKrylov(q, x0, { initialRadius: 100, krylovTolerance: 1e-10, onIteration: (it) => infos.push(it.edm) });
    expect(res.status).toBe("converged");
    for (let i = 0; i < n; i++) expect(res.x[i]).toBeCloseTo(c[i], 6);
    expect(res.value).toBeCloseTo(3.5, 10);
    expect(infos[0]).toBeCloseTo(edm0, 8);
    expect(res.edm).toBeLessThan(1e-8);
    // one full Krylov space for the Newton step, then a few HVPs to confirm the EDM
    expect(res.hvps).toBeLessThanOrEqual(2 * n);
    expect(res.hvps).toBe(q.hvpCalls);
  });

  it("a small initial radius grows; the trust region keeps the quadratic converging", async () => {
    const n = 6;
    const rand = rng(11);
    const q = new Quadratic(spd(n, rand), Float64Array.from({ length: n }, () => 10 * (rand() - 0.5)));
    const radii: number[] = [];
    // (an EDM below the default 1e-8 only bounds |x − c| by √(2·1e-8/λmin): ask for 1e-14 to check 5 digits)
    const res = await trustKrylov(q, new Float64Array(n), { initialRadius: 0.01, edmTolerance: 1e-14, onIteration: (it) => radii.push(it.radius) });
    expect(res.status).toBe("converged");
    expect(Math.max(...radii)).toBeGreaterThan(0.5);
    for (let i = 0; i < n; i++) expect(res.x[i]).toBeCloseTo(q.c[i], 5);
  });

  it.each([2, 5, 10, 30])("Rosenbrock in %i dimensions", async (n) => {
    // from the origin every dimension leads to the global minimum (1, ..., 1)
    const res = await trustKrylov(new Rosenbrock(n), new Float64Array(n), { edmTolerance: 1e-14, maxIterations: 300 });
    expect(res.status).toBe("converged");
    for (let i = 0; i < n; i++) expect(res.x[i]).toBeCloseTo(1, 5);
    expect(res.value).toBeLessThan(1e-10);
    expect(res.iterations).toBeLessThan(150);
  });

  it("Rosenbrock from (−1.2, 1, ...) in 5 dimensions stops at a stationary point with zero gradient", async () => {
    // for 4 ≤ n ≤ 7 this start leads to the known local minimum near x₁ ≈ −0.96
    const n = 5;
    const x0 = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
    const res = await trustKrylov(new Rosenbrock(n), x0, { edmTolerance: 1e-16 });
    expect(res.status).toBe("converged");
    expect(Math.hypot(...res.gradient)).toBeLessThan(1e-6);
    expect(res.value).toBeLessThan(new Rosenbrock(n).valueAndGradient(x0).value);
  });

  it("starts in a region of negative curvature (double well) and reaches a minimum", async () => {
    // f = x⁴/4 − x²/2 + y²  (Hessian indefinite for |x| < 1/√3), minima at x = ±1, y = 0
    const obj: Objective = {
      nparams: 2,
      valueAndGradient: (x) => ({ value: x[0] ** 4 / 4 - x[0] ** 2 / 2 + x[1] ** 2, gradient: Float64Array.from([x[0] ** 3 - x[0], 2 * x[1]]) }),
      hessianVectorProduct: (x, v) => Float64Array.from([(3 * x[0] ** 2 - 1) * v[0], 2 * v[1]]),
    };
    const res = await trustKrylov(obj, Float64Array.from([0.05, 0.3]), { edmTolerance: 1e-16 });
    expect(res.status).toBe("converged");
    expect(Math.abs(res.x[0])).toBeCloseTo(1, 7);
    expect(res.x[1]).toBeCloseTo(0, 7);
    expect(res.value).toBeCloseTo(-0.25, 12);
  });

  it("a diagonal preconditioner cuts the HVPs on a badly scaled problem", async () => {
    const n = 40;
    const rand = rng(3);
    const scales = (i: number): number => 10 ** (4 * (i / (n - 1)) - 2); // 1e-2 .. 1e2
    const a = spd(n, rand, scales).map((row, i) => row.map((v, j) => (i === j ? v + 5 * scales(i) : v)));
    const c = Float64Array.from({ length: n }, () => rand() - 0.5);
    const plain = new Quadratic(a, c);
    const pre = new Quadratic(a, c);
    const r1 = await trustKrylov(plain, new Float64Array(n), { edmTolerance: 1e-12 });
    const r2 = await trustKrylov(pre, new Float64Array(n), { edmTolerance: 1e-12, preconditioner: Float64Array.from(a, (row, i) => row[i]) });
    expect(r1.status).toBe("converged");
    expect(r2.status).toBe("converged");
    for (let i = 0; i < n; i++) expect(r2.x[i]).toBeCloseTo(c[i], 5);
    expect(r2.hvps).toBeLessThan(r1.hvps);
  });

  it("float32-rounded objective: stops at the noise level with status converged", async () => {
    const n = 8;
    const rand = rng(5);
    const q = new Quadratic(spd(n, rand), Float64Array.from({ length: n }, () => rand() - 0.5), 1000);
    const noisy: Objective = {
      nparams: n,
      valueAndGradient: (x) => {
        const { value, gradient } = q.valueAndGradient(x);
        // float32 evaluation: the value carries ~1e-4 absolute error at 1000
        return { value: Math.fround(value + (rand() - 0.5) * 2e-4), gradient: gradient.map((v) => Math.fround(v + (rand() - 0.5) * 1e-6)) };
      },
      hessianVectorProduct: (x, v) => q.hessianVectorProduct(x, v).map(Math.fround),
    };
    const res = await trustKrylov(noisy, new Float64Array(n), { edmTolerance: 1e-20, maxIterations: 200 });
    expect(res.status).toBe("converged");
    expect(res.message).toMatch(/noise/);
    // the value noise (1e-4) limits the position to ~√(2·1e-4/λmin) ≈ 0.03
    for (let i = 0; i < n; i++) expect(Math.abs(res.x[i] - q.c[i])).toBeLessThan(0.05);
  });

  it("ill-conditioned quadratic (eigenvalues 1e-2..1e6): a converged EDM is a true EDM", async () => {
    const n = 30;
    const rand = rng(21);
    // Q diag(λ) Qᵀ with a random orthogonal Q (Gram–Schmidt)
    const q: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      const v = Float64Array.from({ length: n }, () => rand() - 0.5);
      for (const u of q) {
        const c = u.reduce((acc, ui, j) => acc + ui * v[j], 0);
        for (let j = 0; j < n; j++) v[j] -= c * u[j];
      }
      const norm = Math.hypot(...v);
      q.push(v.map((vi) => vi / norm));
    }
    const lambdas = Array.from({ length: n }, (_, i) => 10 ** (-2 + (8 * i) / (n - 1)));
    const a = Array.from({ length: n }, (_, i) =>
      Float64Array.from({ length: n }, (_, j) => q.reduce((acc, u, k) => acc + lambdas[k] * u[i] * u[j], 0)),
    );
    for (let trial = 0; trial < 3; trial++) {
      const obj = new Quadratic(a, Float64Array.from({ length: n }, () => rand() - 0.5));
      const res = await trustKrylov(obj, new Float64Array(n), { edmTolerance: 1e-6, maxIterations: 200 });
      expect(res.status).toBe("converged");
      const g = obj.valueAndGradient(res.x).gradient;
      const trueEdm = 0.5 * g.reduce((acc, gi, i) => acc + gi * solve(a, g)[i], 0);
      expect(trueEdm).toBeLessThan(1e-5);
    }
  });

  it("a gradient along a stiff direction does not hide a large EDM in a soft one", async () => {
    // H = diag(1e6, 1e-2, 1, ...): g = (10, 0.01, 0, ...) has CG energy 5e-5 after one Lanczos
    // step, but the soft direction holds EDM 5e-3
    const n = 10;
    const diagA = [1e6, 1e-2, ...Array.from({ length: n - 2 }, () => 1)];
    const a = Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, j) => (i === j ? diagA[i] : 0)));
    const obj = new Quadratic(a, new Float64Array(n));
    const x0 = new Float64Array(n);
    x0[0] = 1e-5;
    x0[1] = 1;
    const res = await trustKrylov(obj, x0, { edmTolerance: 1e-4 });
    expect(res.status).toBe("converged");
    const g = obj.valueAndGradient(res.x).gradient;
    const trueEdm = 0.5 * g.reduce((acc, gi, i) => acc + (gi * gi) / diagA[i], 0);
    expect(trueEdm).toBeLessThan(1e-4);
    expect(Math.abs(res.x[1])).toBeLessThan(0.2);
  });

  it("iteration cap gives max-iterations", async () => {
    const res = await trustKrylov(new Rosenbrock(4), Float64Array.from([-1.2, 1, -1.2, 1]), { maxIterations: 3 });
    expect(res.status).toBe("max-iterations");
    expect(res.iterations).toBe(3);
    expect(res.message).toMatch(/3 iterations/);
  });

  it("failure paths: non-finite start, non-finite HVP, collapsing radius", async () => {
    const nanStart: Objective = {
      nparams: 1,
      valueAndGradient: () => ({ value: Number.NaN, gradient: Float64Array.from([1]) }),
      hessianVectorProduct: (_x, v) => v,
    };
    const r1 = await trustKrylov(nanStart, Float64Array.from([0]));
    expect(r1.status).toBe("failed");
    expect(r1.message).toMatch(/non-finite/);

    const nanHvp: Objective = {
      nparams: 2,
      valueAndGradient: (x) => ({ value: x[0] ** 2 + x[1] ** 2, gradient: Float64Array.from([2 * x[0], 2 * x[1]]) }),
      hessianVectorProduct: () => Float64Array.from([Number.NaN, 0]),
    };
    const r2 = await trustKrylov(nanHvp, Float64Array.from([1, 1]));
    expect(r2.status).toBe("failed");
    expect(r2.message).toMatch(/Hessian-vector/);

    // the gradient points the wrong way: every step goes uphill, the radius must collapse
    const wrongGradient: Objective = {
      nparams: 2,
      valueAndGradient: (x) => ({ value: x[0] ** 2 + x[1] ** 2, gradient: Float64Array.from([-2 * x[0] - 1, -2 * x[1]]) }),
      hessianVectorProduct: (_x, v) => v.map((vi) => 2 * vi),
    };
    const r3 = await trustKrylov(wrongGradient, Float64Array.from([1, 1]), { valueNoise: 0 });
    expect(r3.status).toBe("failed");
    expect(r3.message).toMatch(/radius collapsed/);
    expect(r3.x).toEqual(Float64Array.from([1, 1]));
  });

  it("NLL rounding far above 1e-13·|f|: the gradient-based ratio test still reaches the EDM tolerance", async () => {
    // 1e3 + Σ w_i (e^{x_i − a_i} − x_i) + 50 Σ (x_i − x_{i+1})², its value rounded like a sum over
    // many bins (±1e-9, as the W-mass NLL at 527) while gradients and HVPs stay exact; short Krylov
    // spaces make the last iterations predict gains of 1e-10..1e-14
    const n = 30;
    const noisy = (noise: number): Objective => ({
      nparams: n,
      valueAndGradient: (x) => {
        let value = 1e3;
        let hash = 0;
        const gradient = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const e = Math.exp(x[i] - 0.3 * (i % 3));
          value += (1 + i) * (e - x[i]);
          gradient[i] += (1 + i) * (e - 1);
          hash = (hash * 31 + Math.floor(Math.abs(x[i]) * 1e12)) % 1000003;
        }
        for (let i = 0; i + 1 < n; i++) {
          const d = x[i] - x[i + 1];
          value += 50 * d * d;
          gradient[i] += 100 * d;
          gradient[i + 1] -= 100 * d;
        }
        return { value: value + noise * (hash / 1000003 - 0.5), gradient };
      },
      hessianVectorProduct: (x, v) => {
        const hv = new Float64Array(n);
        for (let i = 0; i < n; i++) hv[i] += (1 + i) * Math.exp(x[i] - 0.3 * (i % 3)) * v[i];
        for (let i = 0; i + 1 < n; i++) {
          const d = v[i] - v[i + 1];
          hv[i] += 100 * d;
          hv[i + 1] -= 100 * d;
        }
        return hv;
      },
    });
    const opts = { edmTolerance: 1e-14, valueNoise: 1e-13, maxKrylov: 4 };
    const withTest = await trustKrylov(noisy(2e-9), new Float64Array(n).fill(2), opts);
    expect(withTest.status).toBe("converged");
    expect(withTest.edm).toBeLessThan(1e-14);
    // judged by the noisy NLL differences the same fit stops short at the "noise level"
    const byValues = await trustKrylov(noisy(2e-9), new Float64Array(n).fill(2), { ...opts, gradientRatioTest: false });
    expect(byValues.message).toMatch(/noise level/);
    expect(byValues.edm).toBeGreaterThan(1e-12);
    // and without noise both agree on the minimum
    const exact = await trustKrylov(noisy(0), new Float64Array(n).fill(2), opts);
    for (let i = 0; i < n; i++) expect(withTest.x[i]).toBeCloseTo(exact.x[i], 6);
  });

  it("expandOnBasis: a small radius regrows on the same Krylov space (fewer iterations)", async () => {
    const n = 6;
    const rand = rng(11);
    const q = new Quadratic(spd(n, rand), Float64Array.from({ length: n }, () => 10 * (rand() - 0.5)));
    const on = await trustKrylov(q, new Float64Array(n), { initialRadius: 0.01, edmTolerance: 1e-14 });
    const off = await trustKrylov(q, new Float64Array(n), { initialRadius: 0.01, edmTolerance: 1e-14, expandOnBasis: false });
    expect(on.status).toBe("converged");
    expect(off.status).toBe("converged");
    expect(on.expansions).toBeGreaterThan(0);
    expect(off.expansions).toBe(0);
    expect(on.iterations).toBeLessThan(off.iterations);
    for (let i = 0; i < n; i++) expect(on.x[i]).toBeCloseTo(q.c[i], 5);
  });

  it("onStep reports the ratio test: on a quadratic actual = predicted = gradient-based reduction", async () => {
    const n = 8;
    const rand = rng(5);
    const q = new Quadratic(spd(n, rand), Float64Array.from({ length: n }, () => rand() - 0.5), 3);
    const steps: { predicted: number; actual: number; fromGradients: number; rho: number; len: number }[] = [];
    const res = await trustKrylov(q, new Float64Array(n), {
      initialRadius: 0.05,
      edmTolerance: 1e-14,
      onStep: (st) => steps.push({ predicted: st.predicted, actual: st.actual, fromGradients: st.actualFromGradients, rho: st.rho, len: st.step.length + st.x.length }),
    });
    expect(res.status).toBe("converged");
    expect(steps.length).toBeGreaterThan(1);
    for (const st of steps) {
      expect(st.len).toBe(2 * n);
      expect(st.actual).toBeCloseTo(st.predicted, 10);
      expect(st.fromGradients).toBeCloseTo(st.predicted, 10);
      expect(st.rho).toBeCloseTo(1, 6);
    }
  });

  it("secondOrderCorrection (off by default) keeps a curved valley converging", async () => {
    // pairs K/2 (y − x²)² + ½(x − 3)²: steps along the valley's tangent overshoot like t⁴
    const n = 8;
    const banana: Objective = {
      nparams: n,
      valueAndGradient: (v) => {
        let value = 0;
        const gradient = new Float64Array(n);
        for (let i = 0; i < n; i += 2) {
          const u = v[i + 1] - v[i] * v[i];
          value += 50 * u * u + 0.5 * (v[i] - 3) ** 2;
          gradient[i] += -200 * u * v[i] + (v[i] - 3);
          gradient[i + 1] += 100 * u;
        }
        return { value, gradient };
      },
      hessianVectorProduct: (v, d) => {
        const hv = new Float64Array(n);
        for (let i = 0; i < n; i += 2) {
          const hxx = 100 * (6 * v[i] * v[i] - 2 * v[i + 1]) + 1;
          const hxy = -200 * v[i];
          hv[i] += hxx * d[i] + hxy * d[i + 1];
          hv[i + 1] += hxy * d[i] + 100 * d[i + 1];
        }
        return hv;
      },
    };
    const x0 = Float64Array.from({ length: n }, (_, i) => (i % 2 ? 0.25 : 0.5));
    const byDefault = await trustKrylov(banana, x0, { edmTolerance: 1e-14 });
    expect(byDefault.corrections).toBe(0);
    const corrected = await trustKrylov(banana, x0, { edmTolerance: 1e-14, secondOrderCorrection: true });
    for (const r of [byDefault, corrected]) {
      expect(r.status).toBe("converged");
      for (let i = 0; i < n; i += 2) {
        expect(r.x[i]).toBeCloseTo(3, 5);
        expect(r.x[i + 1]).toBeCloseTo(9, 4);
      }
    }
  });

  it("rejects a starting point of the wrong length", async () => {
    await expect(trustKrylov(new Rosenbrock(3), new Float64Array(2))).rejects.toThrow(/x0/);
  });
});

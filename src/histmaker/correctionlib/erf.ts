/**
 * The error function in float64 (JavaScript has no Math.erf). For |x| < 1 the Maclaurin series
 * erf(x) = 2/√π · Σ (−1)ⁿ x^(2n+1) / (n! (2n+1)) (terms fall fast, little cancellation); for
 * 1 ≤ |x| < 6, erf = 1 − erfc with erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))
 * (continued fraction, modified Lentz, < 200 terms); beyond 6 erf is ±1 in float64.
 * Within 2 ulps of Python's math.erf on 0.05, 0.10, …, 6.00 (tests/correctionlibFormula.test.ts).
 */
const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax >= 6) r = 1; // erfc(6) ≈ 2e-17, under half an ulp of 1
  else if (ax < 1) {
    const x2 = ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < Math.abs(sum) * 1e-17) break;
    }
    r = TWO_OVER_SQRT_PI * sum;
  } else {
    r = 1 - erfcContinuedFraction(ax);
  }
  return x < 0 ? -r : r;
}

/** erfc(x) for x ≥ 1 from its continued fraction (modified Lentz). */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 1000; k++) {
    const a = k / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    c = x + a / c;
    if (c === 0) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

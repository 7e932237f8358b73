/**
 * A small seeded random generator for reproducible synthetic models: xoshiro128** seeded by
 * splitmix32, with the draws the generators need (uniform, normal, gamma, Dirichlet, Poisson).
 * It does not reproduce numpy's streams; it only has to be deterministic for a given seed.
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const xm = x - 1;
  let a = c[0];
  const t = xm + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (xm + i);
  return 0.5 * Math.log(2 * Math.PI) + (xm + 0.5) * Math.log(t) - t + Math.log(a);
}

export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    const st = { s: (Math.trunc(seed) ^ 0x5bd1e995) | 0 };
    this.s0 = splitmix32(st);
    this.s1 = splitmix32(st);
    this.s2 = splitmix32(st);
    this.s3 = splitmix32(st);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /**
   * An independent stream for item `index` of a run seeded with `seed` (toys): the state is a hash
   * of both, so a toy's draws depend only on (seed, index), never on which worker or in which
   * order it runs. For one seed, distinct indices (< 2^53) give distinct states (splitmix32 is a
   * bijection of its input).
   */
  static stream(seed: number, index: number): SeededRandom {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`stream index must be a non-negative integer, got ${index}`);
    const r = new SeededRandom(seed);
    const st = { s: (Math.trunc(seed) ^ 0x27d4eb2f) | 0 };
    const lo = index % 4294967296 | 0;
    const hi = Math.floor(index / 4294967296) | 0;
    // xor the index into the seeded state through two splitmix rounds per word (xoshiro needs a
    // well-mixed, non-zero state; this keeps distinct (seed, index) pairs apart)
    r.s0 = (r.s0 ^ splitmix32({ s: (splitmix32(st) ^ lo) | 0 })) | 0;
    r.s1 = (r.s1 ^ splitmix32({ s: (splitmix32(st) ^ hi) | 0 })) | 0;
    r.s2 = (r.s2 ^ splitmix32({ s: (splitmix32(st) + lo) | 0 })) | 0;
    r.s3 = (r.s3 ^ splitmix32({ s: (splitmix32(st) - hi) | 0 })) | 0;
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) r.s0 = 1;
    // discard a few outputs so nearby indices decorrelate fully
    for (let i = 0; i < 8; i++) r.nextUint32();
    return r;
  }

  /** 32 random bits (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** uniform in [0, 1) with 53 random bits */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** integer in [lo, hi) */
  integer(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo));
  }

  /** Gaussian (Marsaglia polar method). */
  normal(mean = 0, sigma = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + sigma * z;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.random() - 1;
      v = 2 * this.random() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    return mean + sigma * u * f;
  }

  /** Gamma(shape, 1) (Marsaglia–Tsang; shape < 1 by the boost u^(1/shape)). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.random() || Number.MIN_VALUE, 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.random();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Dirichlet(alpha): gamma draws normalised to sum 1. */
  dirichlet(alpha: ArrayLike<number>): Float64Array {
    const out = new Float64Array(alpha.length);
    let sum = 0;
    for (let i = 0; i < alpha.length; i++) sum += out[i] = this.gamma(alpha[i]);
    for (let i = 0; i < out.length; i++) out[i] /= sum;
    return out;
  }

  /** Poisson(mean): inversion for small means, Hörmann's PTRS transformed rejection for mean ≥ 10. */
  poisson(mean: number): number {
    if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`Poisson mean must be finite and ≥ 0, got ${mean}`);
    if (mean === 0) return 0;
    if (mean < 10) {
      const limit = Math.exp(-mean);
      let k = 0;
      let prod = this.random();
      while (prod > limit) {
        k++;
        prod *= this.random();
      }
      return k;
    }
    const slam = Math.sqrt(mean);
    const loglam = Math.log(mean);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.random() - 0.5;
      const v = this.random();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -mean + k * loglam - logGamma(k + 1)) {
        return k;
      }
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * correctionlib's HashPRNG node: a deterministic "random" number from the event's inputs. The inputs
 * are laid out as little-endian 64-bit words (int64 as two's complement, reals as their IEEE-754
 * bits), hashed with XXH64 (seed 0), and the hash seeds a PCG32 (pcg32_oneseq: XSH-RR 64→32, default
 * increment). The distributions draw from that generator exactly as correctionlib (built with
 * libstdc++) does:
 * - stdflat: std::uniform_real_distribution<double>: (g1 + g2·2³²) / 2⁶⁴ (two 32-bit draws),
 * - normal: Marsaglia's polar method on u = g·2⁻³¹ − 1,
 * - stdnormal: std::normal_distribution's polar method on x, y = 2·canonical − 1, returning x·mult (the
 *   value correctionlib's test expects; correctionlib deprecates stdnormal as platform-dependent).
 * Checked against the values of correctionlib's tests/test_hashprng.py in
 * tests/correctionlibNodes.test.ts.
 */
const M64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & M64;
}

function round(acc: bigint, input: bigint): bigint {
  acc = (acc + input * P2) & M64;
  acc = rotl(acc, 31n);
  return (acc * P1) & M64;
}

function mergeRound(acc: bigint, val: bigint): bigint {
  acc ^= round(0n, val);
  return (acc * P1 + P4) & M64;
}

/** XXH64 of a byte string. */
export function xxh64(bytes: Uint8Array, seed = 0n): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M64;
    let v2 = (seed + P2) & M64;
    let v3 = seed & M64;
    let v4 = (seed - P1) & M64;
    while (p + 32 <= len) {
      v1 = round(v1, view.getBigUint64(p, true));
      v2 = round(v2, view.getBigUint64(p + 8, true));
      v3 = round(v3, view.getBigUint64(p + 16, true));
      v4 = round(v4, view.getBigUint64(p + 24, true));
      p += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  while (p + 8 <= len) {
    h ^= round(0n, view.getBigUint64(p, true));
    h = (rotl(h, 27n) * P1 + P4) & M64;
    p += 8;
  }
  if (p + 4 <= len) {
    h ^= (BigInt(view.getUint32(p, true)) * P1) & M64;
    h = (rotl(h, 23n) * P2 + P3) & M64;
    p += 4;
  }
  while (p < len) {
    h ^= (BigInt(bytes[p]) * P5) & M64;
    h = (rotl(h, 11n) * P1) & M64;
    p++;
  }
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}

const PCG_MULT = 6364136223846793005n;
const PCG_INC = 1442695040888963407n;

/** pcg32_oneseq from pcg_random.hpp: 64-bit LCG state, XSH-RR output of the pre-advance state. */
export class Pcg32 {
  private state: bigint;
  constructor(seed: bigint) {
    // the engine's seeding constructor: state = bump(seed + increment)
    this.state = (((seed + PCG_INC) & M64) * PCG_MULT + PCG_INC) & M64;
  }
  /** The next 32-bit output. */
  next(): number {
    const old = this.state;
    this.state = (old * PCG_MULT + PCG_INC) & M64;
    const xorshifted = Number((((old >> 18n) ^ old) >> 27n) & 0xffffffffn);
    const rot = Number(old >> 59n);
    return ((xorshifted >>> rot) | (xorshifted << ((32 - rot) & 31))) >>> 0;
  }
  /** libstdc++'s generate_canonical<double, 53> for a 32-bit engine: two draws. */
  canonical(): number {
    let sum = this.next();
    sum += this.next() * 4294967296;
    const r = sum / 18446744073709551616;
    return r >= 1 ? 1 - Number.EPSILON / 2 : r;
  }
}

export type HashDistribution = "stdflat" | "stdnormal" | "normal";

/** Draws one number of the distribution from a generator seeded by the hash of the words. */
export function hashDraw(words: Uint8Array, distribution: HashDistribution): number {
  const gen = new Pcg32(xxh64(words));
  switch (distribution) {
    case "stdflat":
      return gen.canonical();
    case "normal": {
      let u: number, v: number, s: number;
      do {
        u = gen.next() * 2 ** -31 - 1;
        v = gen.next() * 2 ** -31 - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      return u * Math.sqrt((-2 * Math.log(s)) / s);
    }
    case "stdnormal": {
      let x: number, y: number, r2: number;
      do {
        x = 2 * gen.canonical() - 1;
        y = 2 * gen.canonical() - 1;
        r2 = x * x + y * y;
      } while (r2 > 1 || r2 === 0);
      return x * Math.sqrt((-2 * Math.log(r2)) / r2);
    }
  }
}

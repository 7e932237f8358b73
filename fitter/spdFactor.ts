/**
 * The factor of a symmetric positive-definite matrix the session needs for Newton steps and the
 * covariance: the native Cholesky (fitter/denseLinalg.ts) on the CPU, or — when the float64 engine
 * inverts on its device (CUDA: cuSOLVER potrf + potri) — the device's inverse, solves then being
 * products with it. Either way float64.
 */
import { CholeskyFactor } from "./denseLinalg.js";
import { loadFitterNative } from "./native/addon.js";

export interface SpdFactor {
  solve(b: Float64Array): Float64Array;
  inverse(): Float64Array;
}

/** an engine that inverts SPD matrices on its device; null when not positive definite */
export interface DeviceSpdInverse {
  spdInverse(a: Float64Array, n: number): { inverse: Float64Array; logDet: number } | null;
}

class InverseFactor implements SpdFactor {
  constructor(
    private readonly inv: Float64Array,
    private readonly n: number,
    private readonly threads: number,
  ) {}

  solve(b: Float64Array): Float64Array {
    const n = this.n;
    if (b.length !== n) throw new RangeError(`SpdFactor.solve: vector of length ${b.length}, expected ${n}`);
    const out = new Float64Array(n);
    // A⁻¹ b by the native GEMM (threads): a plain loop over the W-mass 4860² inverse costs ~30 ms
    if (n > 0) loadFitterNative().gemm(false, false, n, 1, n, 1, this.inv, n, b, n, out, n, this.threads);
    return out;
  }

  inverse(): Float64Array {
    return Float64Array.from(this.inv);
  }
}

/** a (n×n, row-major, symmetric) factored on the engine's device when it can, else by the native Cholesky */
export function factorSpd(a: Float64Array, n: number, threads: number, device: Partial<DeviceSpdInverse> | null): SpdFactor | null {
  if (device?.spdInverse) {
    const r = device.spdInverse(a, n);
    return r ? new InverseFactor(r.inverse, n, threads) : null;
  }
  return CholeskyFactor.factor(a, n, { threads });
}

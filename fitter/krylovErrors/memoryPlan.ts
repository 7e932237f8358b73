/**
 * Dense or Krylov errors: the dense path holds several n×n float64 arrays at once (the Hessian, its
 * Cholesky factor, the inverse C, C in reported units, and with impacts the kept Hessian); when they
 * would not fit in the memory at hand the fit switches to the no-dense-matrix (Krylov) mode.
 */
import { freemem, totalmem } from "node:os";

export type ErrorMethod = "dense" | "krylov";

/** n×n float64 arrays alive together on the dense path (session.ts (c) and fit.ts). */
export const DENSE_ARRAYS = 4;
/** one more with impacts (the Hessian kept for the stat impact) */
export const DENSE_ARRAYS_IMPACTS = 5;
/** share of the free memory the dense matrices may take */
export const MEMORY_MARGIN = 0.7;

export interface MemoryPlanInput {
  nparams: number;
  impacts: boolean;
  /** bytes the dense matrices may use; default MEMORY_MARGIN × min(free, total) memory */
  limitBytes?: number;
}

export interface MemoryPlan {
  method: ErrorMethod;
  /** bytes the dense path would hold in n×n arrays */
  denseBytes: number;
  limitBytes: number;
  /** the one-line notice to print when the switch is automatic; "" for dense */
  notice: string;
}

function gb(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 3 : 1)} GiB`;
}

export function defaultMemoryLimit(): number {
  return MEMORY_MARGIN * Math.min(freemem(), totalmem());
}

/** Dense when the dense path's n×n arrays fit under the limit, Krylov otherwise. */
export function planErrorMethod(input: MemoryPlanInput): MemoryPlan {
  const n = input.nparams;
  const arrays = input.impacts ? DENSE_ARRAYS_IMPACTS : DENSE_ARRAYS;
  const denseBytes = 8 * n * n * arrays;
  const limitBytes = input.limitBytes ?? defaultMemoryLimit();
  if (denseBytes <= limitBytes) return { method: "dense", denseBytes, limitBytes, notice: "" };
  return {
    method: "krylov",
    denseBytes,
    limitBytes,
    notice:
      `errors: the dense covariance path needs ${arrays} × ${n}² float64 = ${gb(denseBytes)}, more than the ${gb(limitBytes)} available: ` +
      "using Krylov errors (as --no-hessian; no dense covariance written)",
  };
}

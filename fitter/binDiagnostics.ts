/**
 * Names the bins where the likelihood is zero (likelihood.md: ν_b ≤ 0 with n_b > 0 is a failed fit
 * whose message names the channel and bin), so that a failed fit says where rather than "non-finite
 * NLL". Bins are named by src/tensor/binLabels.ts (channel, index within it, axis values).
 */
import { describeBin, shortNumber as short } from "../src/tensor/binLabels.js";
import type { ChannelInfo } from "../src/tensor/types.js";
import type { LikelihoodSpec } from "./likelihoodSpec.js";

export interface ZeroLikelihoodBin {
  /** index in the full bin list */
  bin: number;
  /** ν_b at the point */
  expected: number;
  observed: number;
  why: string;
}

/**
 * Real bins whose term is infinite at the yields `perProcess` ([nbinsFull, nproc] or [nbins, nproc]):
 * ν_b ≤ 0 with n_b > 0, or (Barlow–Beeston, every process scaled) ν_b + k_b ≤ 0 where β̂ is undefined.
 */
export function zeroLikelihoodBins(spec: LikelihoodSpec, perProcess: Float64Array): ZeroLikelihoodBin[] {
  const out: ZeroLikelihoodBin[] = [];
  for (let b = 0; b < spec.nbins; b++) {
    let nu = 0;
    for (let p = 0; p < spec.nproc; p++) nu += perProcess[b * spec.nproc + p];
    const n = spec.data[b];
    const k = spec.bbK ? spec.bbK[b] : Number.POSITIVE_INFINITY;
    if (n > 0 && !(nu > 0)) out.push({ bin: b, expected: nu, observed: n, why: "expected yield ≤ 0 with observed events" });
    else if (Number.isFinite(k) && k > 0 && !(nu + k > 0)) out.push({ bin: b, expected: nu, observed: n, why: `expected yield ≤ −k_b = ${-k} (Barlow–Beeston β undefined)` });
  }
  return out;
}

/** One line naming the zero-likelihood bins (the first few, and how many), or null when there are none. */
export function zeroLikelihoodMessage(channels: readonly ChannelInfo[], bad: readonly ZeroLikelihoodBin[], maxListed = 5): string | null {
  if (bad.length === 0) return null;
  const listed = bad
    .slice(0, maxListed)
    .map((z) => `${describeBin(channels, z.bin)}: ν = ${short(z.expected)}, n = ${z.observed} (${z.why})`)
    .join("; ");
  const more = bad.length > maxListed ? `; and ${bad.length - maxListed} more bins` : "";
  return `zero likelihood in ${bad.length} bin${bad.length === 1 ? "" : "s"}: ${listed}${more}`;
}

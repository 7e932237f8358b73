/**
 * Names the bins where the likelihood is zero (likelihood.md: ν_b ≤ 0 with n_b > 0 is a failed fit
 * whose message names the channel and bin), so that a failed fit says where rather than "non-finite
 * NLL". Bins are named by channel, index within the channel and, when the channel's axes describe
 * its bins, the axis values.
 */
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
    else if (Number.isFinite(k) && !(nu + k > 0)) out.push({ bin: b, expected: nu, observed: n, why: `expected yield ≤ −k_b = ${-k} (Barlow–Beeston β undefined)` });
  }
  return out;
}

/** 6 significant digits without trailing zeros (edges from linspace: 0.07500000000000001 → 0.075) */
function short(v: number): string {
  return String(Number(v.toPrecision(6)));
}

function axisValue(axis: ChannelInfo["axes"][number], i: number, flow: boolean): string {
  const nb = axis.categories ? axis.categories.length : axis.edges ? axis.edges.length - 1 : -1;
  let j = i;
  if (flow && axis.edges) {
    if (i === 0) return `${axis.name} underflow`;
    if (i === nb + 1) return `${axis.name} overflow`;
    j = i - 1;
  }
  if (axis.categories) return `${axis.name}=${String(axis.categories[j])}`;
  if (axis.edges) return `${axis.name} in [${short(axis.edges[j])}, ${short(axis.edges[j + 1])})`;
  return `${axis.name} bin ${j}`;
}

/** "channel NAME bin I (axis values)" for a bin of the full list; axis values when the axes fit the channel. */
export function describeBin(channels: readonly ChannelInfo[], bin: number): string {
  const ch = channels.find((c) => bin >= c.start && bin < c.start + c.size);
  if (!ch) return `bin ${bin}`;
  const local = bin - ch.start;
  let text = `channel ${ch.name} bin ${local}`;
  // rabbit flattens a channel's histogram in C order (last axis fastest)
  const sizes = ch.axes.map((a) => {
    const nb = a.categories ? a.categories.length : a.edges ? a.edges.length - 1 : Number.NaN;
    return ch.flow && a.edges ? nb + 2 : nb;
  });
  if (sizes.length > 0 && sizes.every((s) => Number.isInteger(s) && s > 0) && sizes.reduce((p, s) => p * s, 1) === ch.size) {
    const idx: number[] = [];
    let rest = local;
    for (let i = sizes.length - 1; i >= 0; i--) {
      idx[i] = rest % sizes[i];
      rest = Math.floor(rest / sizes[i]);
    }
    text += ` (${ch.axes.map((a, i) => axisValue(a, idx[i], ch.flow)).join(", ")})`;
  }
  return text;
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

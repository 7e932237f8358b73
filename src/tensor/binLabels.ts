/**
 * Human-readable names of bins of a fit tensor: "channel NAME bin I (axis values)", for error
 * messages of the histmaker and the fitter (which bin has data but no prediction, where the
 * likelihood is zero).
 */
import type { AxisInfo, ChannelInfo } from "./types.js";

/** 6 significant digits without trailing zeros (edges from linspace: 0.07500000000000001 → 0.075) */
export function shortNumber(v: number): string {
  return String(Number(v.toPrecision(6)));
}

function axisSize(axis: AxisInfo, flow: boolean): number {
  const nb = axis.categories ? axis.categories.length : axis.edges ? axis.edges.length - 1 : Number.NaN;
  return flow && axis.edges ? nb + 2 : nb;
}

function axisValue(axis: AxisInfo, i: number, flow: boolean): string {
  let j = i;
  if (flow && axis.edges) {
    if (i === 0) return `${axis.name} underflow`;
    if (i === axis.edges.length) return `${axis.name} overflow`;
    j = i - 1;
  }
  if (axis.categories) return `${axis.name}=${String(axis.categories[j])}`;
  if (axis.edges) return `${axis.name} in [${shortNumber(axis.edges[j])}, ${shortNumber(axis.edges[j + 1])})`;
  return `${axis.name} bin ${j}`;
}

/**
 * "channel NAME bin I (axis values)" for bin `bin` of the full bin list; the axis values only when the
 * channel's axes describe exactly its bins (rabbit flattens a channel's histogram in C order: last
 * axis fastest; with flow, continuous axes have an underflow and an overflow bin).
 */
export function describeBin(channels: readonly ChannelInfo[], bin: number): string {
  const ch = channels.find((c) => bin >= c.start && bin < c.start + c.size);
  if (!ch) return `bin ${bin}`;
  const local = bin - ch.start;
  let text = `channel ${ch.name} bin ${local}`;
  const sizes = ch.axes.map((a) => axisSize(a, ch.flow));
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

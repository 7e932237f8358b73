/**
 * Orderings for the envelope (profile) Cholesky: reverse Cuthill–McKee on the sparse part of a
 * symmetric pattern, from a pseudo-peripheral start in each connected component (George & Liu),
 * with the dense rows (POIs, normalisations, global systematics) appended last, where their
 * envelope is the full row anyway and they do not widen the band of everything after them.
 */
import type { SymmetricPattern } from "../sparseHessian/symmetricCsr.js";

export interface EnvelopeOrder {
  /** perm[r] = original index of the r-th row of the ordered matrix */
  readonly perm: Int32Array;
  /** rows perm[denseStart..n) are the dense rows */
  readonly denseStart: number;
}

/** bytes of the bookkeeping per row besides the envelope's doubles (perm, inverse perm, first: int32; start: int64) */
const PER_ROW_BYTES = 20;

/** The RCM + dense-rows-last order of `pattern`. */
export function envelopeOrder(pattern: SymmetricPattern, denseRows: ArrayLike<number>): EnvelopeOrder {
  const n = pattern.n;
  const { rowPtr, cols } = pattern;
  const isDense = new Uint8Array(n);
  for (let q = 0; q < denseRows.length; q++) {
    const d = denseRows[q];
    if (!Number.isInteger(d) || d < 0 || d >= n) throw new RangeError(`envelopeOrder: dense row ${d} outside [0, ${n})`);
    isDense[d] = 1;
  }
  // degrees in the sparse graph (no self loops, no dense rows)
  const degree = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (isDense[i]) continue;
    let d = 0;
    for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) {
      const j = cols[k];
      if (j !== i && !isDense[j]) d++;
    }
    degree[i] = d;
  }
  const level = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  const stamp = new Int32Array(n);
  let generation = 0;
  /** BFS levels from s within the sparse graph; returns the nodes in BFS order and the last level's start */
  const bfs = (s: number): { count: number; lastStart: number; depth: number } => {
    generation++;
    let head = 0;
    let tail = 0;
    queue[tail++] = s;
    stamp[s] = generation;
    level[s] = 0;
    let lastStart = 0;
    let depth = 0;
    while (head < tail) {
      const v = queue[head++];
      if (level[v] > depth) {
        depth = level[v];
        lastStart = head - 1;
      }
      for (let k = rowPtr[v]; k < rowPtr[v + 1]; k++) {
        const j = cols[k];
        if (isDense[j] || stamp[j] === generation) continue;
        stamp[j] = generation;
        level[j] = level[v] + 1;
        queue[tail++] = j;
      }
    }
    return { count: tail, lastStart, depth };
  };
  const visited = new Uint8Array(n);
  const cm = new Int32Array(n);
  let ncm = 0;
  // components in order of their smallest-degree... simplest deterministic: lowest index not yet visited
  const byDegree = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => degree[a] - degree[b] || a - b);
  const neighbours: number[] = [];
  for (const s0 of byDegree) {
    if (isDense[s0] || visited[s0]) continue;
    // pseudo-peripheral node: repeat BFS from a minimum-degree node of the last level while depth grows
    let start = s0;
    let info = bfs(start);
    for (let iter = 0; iter < 16; iter++) {
      let best = -1;
      for (let q = info.lastStart; q < info.count; q++) {
        const v = queue[q];
        if (best < 0 || degree[v] < degree[best] || (degree[v] === degree[best] && v < best)) best = v;
      }
      const next = bfs(best);
      if (next.depth <= info.depth) break;
      start = best;
      info = next;
    }
    // Cuthill–McKee from start: neighbours by increasing degree
    let head = ncm;
    cm[ncm++] = start;
    visited[start] = 1;
    while (head < ncm) {
      const v = cm[head++];
      neighbours.length = 0;
      for (let k = rowPtr[v]; k < rowPtr[v + 1]; k++) {
        const j = cols[k];
        if (isDense[j] || visited[j]) continue;
        visited[j] = 1;
        neighbours.push(j);
      }
      neighbours.sort((a, b) => degree[a] - degree[b] || a - b);
      for (const j of neighbours) cm[ncm++] = j;
    }
  }
  const perm = new Int32Array(n);
  for (let r = 0; r < ncm; r++) perm[r] = cm[ncm - 1 - r];
  let r = ncm;
  for (let i = 0; i < n; i++) if (isDense[i]) perm[r++] = i;
  return { perm, denseStart: ncm };
}

/** inverse permutation: position of each original index */
export function inversePermutation(perm: Int32Array): Int32Array {
  const inv = new Int32Array(perm.length).fill(-1);
  for (let r = 0; r < perm.length; r++) {
    const i = perm[r];
    if (i < 0 || i >= perm.length || inv[i] >= 0) throw new RangeError("envelope order: perm is not a permutation");
    inv[i] = r;
  }
  return inv;
}

/**
 * Stored doubles of the envelope of the ordered pattern (Σ over rows of row index − first column + 1);
 * with `keep`, rows/columns not kept count as identity rows (as factorEnvelope stores them).
 */
export function envelopeEntries(pattern: SymmetricPattern, order: EnvelopeOrder, keep?: Uint8Array): number {
  const n = pattern.n;
  if (order.perm.length !== n) throw new RangeError(`envelope order has ${order.perm.length} rows, pattern ${n}`);
  const inv = inversePermutation(order.perm);
  const first = Int32Array.from({ length: n }, (_, r) => r);
  for (let i = 0; i < n; i++) {
    if (keep && !keep[i]) continue;
    const r = inv[i];
    for (let k = pattern.rowPtr[i]; k < pattern.rowPtr[i + 1]; k++) {
      const j = pattern.cols[k];
      if (keep && !keep[j]) continue;
      const c = inv[j];
      if (c < first[r]) first[r] = c;
    }
  }
  let total = 0;
  for (let r = 0; r < n; r++) total += r - first[r] + 1;
  return total;
}

/** Bytes factorEnvelope will hold for this pattern and order (the factor's `bytes`), computed before factoring. */
export function envelopeBytes(pattern: SymmetricPattern, order: EnvelopeOrder, keep?: Uint8Array): number {
  return 8 * envelopeEntries(pattern, order, keep) + PER_ROW_BYTES * pattern.n + 8;
}

/**
 * A map i ↦ idx[i] from N entries into M slots as a pair of TensorFlow.js ops, each the other's
 * adjoint (gather and scatter-add), differentiable to any order. TfLikelihood applies the sparse
 * log κ matrix with it.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Kernels per backend, chosen for speed (5M entries on the W-mass model):
 *  - "nd": GatherNd / ScatterNd (wasm, tensorflow); tfjs' GatherV2 checks every index in a JS
 *    closure and is 10× slower;
 *  - "segment": SparseSegmentSum with sorted segment ids (cpu, where GatherNd and ScatterNd are
 *    plain-JS and slow): gather = segment-sum with ids 0..N−1, scatter-add = segment-sum over the
 *    entries sorted by slot;
 *  - "ell": scatter-add as padded gathers + sums over per-slot tables (planSlotReduction), no
 *    atomics (webgpu, whose ScatterNd adds floats with compare-and-swap loops that serialise on
 *    crowded slots). W-mass on an H100: 0.13–0.2 ms of kernel time per scatter-add instead of
 *    40–79 ms. On Mesa lavapipe (CPU) atomics are cheap and ell is ~1.3× slower; it is kept there
 *    anyway so that the CI adapter runs the GPU code path.
 */
export type IndexKernels = "nd" | "segment" | "ell";

/**
 * One level of a padded reduction: output g is the sum of source[table[k·groups + g]] over
 * k < width, where the index source.length stands for an appended zero. The first level's source
 * is the entries, every later level's the outputs of all earlier levels, concatenated in order.
 * Tables are column-wise ([width × groups]) so that a [1 × width] matMul with ones sums them:
 * tfjs-webgpu runs that far faster than tf.sum over a short last axis (a 64-thread workgroup
 * per output).
 */
export interface ReductionLevel {
  width: number;
  groups: number;
  table: Int32Array;
}

/**
 * A scatter-add as a chain of padded gather-and-sum levels; the last one has one group per slot
 * (empty slots are all padding). Long slots are split into groups of `width` entries and summed
 * again in later levels that only see the slots still too long, so skewed slot sizes cost a few
 * more small levels instead of padding every slot to the longest one.
 */
export interface SlotReductionPlan {
  levels: ReductionLevel[];
  /** table cells of all levels together (≥ the number of entries) */
  cells: number;
}

/**
 * Plans the padded reduction of `idx` (entries into `slots` slots), each level's width at most
 * `maxWidth` (≥ 2). Each level pads with at most B = max(N/8, slots) zeros (N = entries), taking
 * the widest power of two within that; the last level is [F × slots] with F ≤ B/slots, and the
 * levels before it only split slots that are longer than F. So the tables hold ≲ 1.5·N cells
 * unless slots outnumber the entries (typically 2 or 3 levels).
 */
export function planSlotReduction(idx: Int32Array, slots: number, maxWidth = Number.POSITIVE_INFINITY): SlotReductionPlan {
  const total = idx.length;
  const cap = Math.max(2, Math.floor(maxWidth));
  const counts = new Int32Array(slots);
  for (let i = 0; i < total; i++) {
    const j = idx[i];
    if (!(j >= 0 && j < slots)) throw new Error(`planSlotReduction: index ${j} at entry ${i} is outside 0..${slots - 1}`);
    counts[j]++;
  }
  // each slot's pending inputs as CSR (typed arrays: N is millions): first its entries in order,
  // later indices into the concatenated level outputs
  let start = new Int32Array(slots + 1);
  for (let j = 0; j < slots; j++) start[j + 1] = start[j] + counts[j];
  let items = new Int32Array(total);
  const fill = start.slice(0, slots);
  for (let i = 0; i < total; i++) items[fill[idx[i]]++] = i;
  const countOf = (j: number): number => start[j + 1] - start[j];

  const budget = Math.max(total / 8, slots);
  const finalWidth = Math.max(1, Math.min(cap, Math.floor(budget / slots)));
  const levels: ReductionLevel[] = [];
  let cells = 0;
  let produced = 0; // outputs of the levels so far (the later levels' source)
  for (let first = true; ; first = false) {
    let maxCount = 0;
    for (let j = 0; j < slots; j++) maxCount = Math.max(maxCount, countOf(j));
    // the first level always reads all entries (only it sees them): it is the last one too if every
    // slot fits within the padding budget; after it, stop once every slot fits in finalWidth
    if (first ? maxCount <= cap && slots * maxCount - total <= budget : maxCount <= finalWidth) {
      const width = Math.max(maxCount, 1);
      const table = new Int32Array(width * slots).fill(first ? total : produced);
      for (let j = 0; j < slots; j++) for (let e = start[j]; e < start[j + 1]; e++) table[(e - start[j]) * slots + j] = items[e];
      levels.push({ width, groups: slots, table });
      return { levels, cells: cells + table.length };
    }
    // slots this level splits: all (first level) or those still longer than the last level's width
    const isActive = (j: number): boolean => (first ? countOf(j) > 0 : countOf(j) > finalWidth);
    const groupsFor = (w: number): number => {
      let g = 0;
      for (let j = 0; j < slots; j++) if (isActive(j)) g += Math.ceil(countOf(j) / w);
      return g;
    };
    let n = 0;
    for (let j = 0; j < slots; j++) if (isActive(j)) n += countOf(j);
    let width = 2;
    for (let w = 4; w <= Math.min(cap, maxCount) && groupsFor(w) * w - n <= budget; w *= 2) width = w;
    const groups = groupsFor(width);
    const table = new Int32Array(width * groups).fill(first ? total : produced);
    const nextStart = new Int32Array(slots + 1);
    for (let j = 0; j < slots; j++) nextStart[j + 1] = nextStart[j] + (isActive(j) ? Math.ceil(countOf(j) / width) : countOf(j));
    const nextItems = new Int32Array(nextStart[slots]);
    let g = 0;
    for (let j = 0; j < slots; j++) {
      if (!isActive(j)) {
        nextItems.set(items.subarray(start[j], start[j + 1]), nextStart[j]);
        continue;
      }
      for (let e = start[j]; e < start[j + 1]; e += width, g++) {
        for (let k = 0; k < width && e + k < start[j + 1]; k++) table[k * groups + g] = items[e + k];
        nextItems[nextStart[j] + (e - start[j]) / width] = produced + g;
      }
    }
    levels.push({ width, groups, table });
    cells += table.length;
    produced += groups;
    start = nextStart;
    items = nextItems;
  }
}

export class IndexMap {
  private readonly nd: tf.Tensor2D | null = null;
  /** segment kernels: idx itself, 0..N−1, the permutation sorting idx, and idx in that order */
  private readonly flat: tf.Tensor1D | null = null;
  private readonly iota: tf.Tensor1D | null = null;
  private readonly perm: tf.Tensor1D | null = null;
  private readonly sortedIdx: tf.Tensor1D | null = null;
  /** segment kernels: the output of a segment sum stops at the last used slot */
  private readonly lastSlot: number = -1;
  /** ell kernels: per level of the plan, its table as GatherNd indices [width, groups, 1] and a row of ones [1, width] */
  private readonly levels: { table: tf.Tensor3D; ones: tf.Tensor2D }[] = [];
  private readonly zero: tf.Tensor1D | null = null;

  constructor(
    idx: Int32Array,
    readonly slots: number,
    readonly kernels: IndexKernels,
    /** ell kernels: the widest padded group (see planSlotReduction) */
    ellMaxWidth?: number,
  ) {
    const n = idx.length;
    if (kernels === "nd" || kernels === "ell") {
      this.nd = tf.tensor2d(idx, [n, 1], "int32");
      if (kernels === "ell") {
        const plan = planSlotReduction(idx, slots, ellMaxWidth);
        this.levels = plan.levels.map((l) => ({
          table: tf.tensor3d(l.table, [l.width, l.groups, 1], "int32"),
          ones: tf.ones([1, l.width]) as tf.Tensor2D,
        }));
        this.zero = tf.zeros([1]);
      }
      return;
    }
    this.flat = tf.tensor1d(idx, "int32");
    this.iota = tf.range(0, n, 1, "int32") as tf.Tensor1D;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) sorted = idx[i - 1] <= idx[i];
    if (sorted) {
      this.perm = this.iota;
      this.sortedIdx = this.flat;
      this.lastSlot = n > 0 ? idx[n - 1] : -1;
    } else {
      // counting sort by slot (stable)
      const counts = new Int32Array(slots + 1);
      for (let i = 0; i < n; i++) counts[idx[i] + 1]++;
      for (let j = 0; j < slots; j++) counts[j + 1] += counts[j];
      const perm = new Int32Array(n);
      const sortedIdx = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const at = counts[idx[i]]++;
        perm[at] = i;
        sortedIdx[at] = idx[i];
      }
      this.perm = tf.tensor1d(perm, "int32");
      this.sortedIdx = tf.tensor1d(sortedIdx, "int32");
      this.lastSlot = n > 0 ? sortedIdx[n - 1] : -1;
    }
  }

  /** out[i] = src[idx[i]]; differentiable to any order (its adjoint is scatterAdd). */
  gather(src: tf.Tensor1D): tf.Tensor1D {
    const op = tf.customGrad((s: tf.Tensor | tf.GradSaveFunc) => ({
      value: this.rawGather(s as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor) => this.scatterAdd(dy as tf.Tensor1D),
    }));
    return op(src) as tf.Tensor1D;
  }

  /** out[j] = Σ_{i: idx[i] = j} u[i]; differentiable to any order (its adjoint is gather). */
  scatterAdd(u: tf.Tensor1D): tf.Tensor1D {
    const op = tf.customGrad((s: tf.Tensor | tf.GradSaveFunc) => ({
      value: this.rawScatterAdd(s as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor) => this.gather(dy as tf.Tensor1D),
    }));
    return op(u) as tf.Tensor1D;
  }

  private rawGather(src: tf.Tensor1D): tf.Tensor1D {
    if (this.nd) return tf.gatherND(src, this.nd) as tf.Tensor1D;
    return tf.sparse.sparseSegmentSum(src, this.flat as tf.Tensor1D, this.iota as tf.Tensor1D) as tf.Tensor1D;
  }

  private rawScatterAdd(u: tf.Tensor1D): tf.Tensor1D {
    if (this.zero) {
      const zero = this.zero;
      // tidy: the padded intermediates are large and only the slot sums are kept
      return tf.tidy(() => {
        const outputs: tf.Tensor1D[] = [];
        let sums = u;
        this.levels.forEach(({ table, ones }, l) => {
          const source = l === 0 ? tf.concat([u, zero]) : tf.concat([...outputs, zero]);
          const padded = tf.gatherND(source, table) as tf.Tensor2D;
          sums = tf.reshape(tf.matMul(ones, padded), [-1]) as tf.Tensor1D;
          outputs.push(sums);
        });
        return sums;
      });
    }
    if (this.nd) return tf.scatterND(this.nd, u, [this.slots]) as tf.Tensor1D;
    const summed = tf.sparse.sparseSegmentSum(u, this.perm as tf.Tensor1D, this.sortedIdx as tf.Tensor1D) as tf.Tensor1D;
    const missing = this.slots - (this.lastSlot + 1);
    return missing > 0 ? tf.pad(summed, [[0, missing]]) : summed;
  }

  dispose(): void {
    for (const t of new Set([this.nd, this.flat, this.iota, this.perm, this.sortedIdx, this.zero])) t?.dispose();
    for (const { table, ones } of this.levels) tf.dispose([table, ones]);
  }
}

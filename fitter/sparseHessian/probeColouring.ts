/**
 * Curtis–Powell–Reid probing of a symmetric pattern: the dense rows get one probe each (e_d), the
 * other ("sparse") columns are coloured so that within every sparse row the sparse columns present
 * have distinct colours. Then for a colour c with probe v_c = Σ_{j: colour j = c} e_j, (H v_c)_i of a
 * sparse row i is exactly H_ij for the one sparse j of colour c in row i — dense columns are never
 * in a colour probe, and entries of dense rows/columns come from the dense probes.
 *
 * Greedy distance-2 colouring with per-row bitsets of the colours already used in each sparse row:
 * colouring column j ORs the bitsets of the sparse rows j appears in, takes the first free colour and
 * marks it in those rows. Cost Σ_j |rows of j| × (colours / 32) word operations — seconds for 50k
 * parameters with ~2000 entries per row, where the textbook "look at the neighbours' neighbours"
 * costs Σ_i |row i|².
 */
import type { SymmetricPattern } from "./symmetricCsr.js";

export interface ProbeColouring {
  /** colour of each column, −1 for dense ones */
  readonly colour: Int32Array;
  readonly ncolours: number;
  /** the sparse columns of each colour: columns[start[c] .. start[c+1]), ascending */
  readonly start: Int32Array;
  readonly columns: Int32Array;
  /** the dense rows, ascending (one probe each) */
  readonly denseRows: Int32Array;
}

export interface ColouringOptions {
  /**
   * order in which columns are coloured: "natural" (default), "largest-first", or a permutation of
   * 0..n-1 (e.g. hessianPattern's binOrder)
   */
  order?: "natural" | "largest-first" | Int32Array;
}

function denseMask(n: number, denseRows: Int32Array): Uint8Array {
  const dense = new Uint8Array(n);
  for (let q = 0; q < denseRows.length; q++) {
    const d = denseRows[q];
    if (!(d >= 0 && d < n)) throw new RangeError(`probe colouring: dense row ${d} outside [0, ${n})`);
    if (q > 0 && denseRows[q - 1] >= d) throw new RangeError("probe colouring: dense rows must be strictly ascending");
    dense[d] = 1;
  }
  return dense;
}

export function colourProbes(pattern: SymmetricPattern, denseRows: Int32Array, opts: ColouringOptions = {}): ProbeColouring {
  const { n, rowPtr, cols } = pattern;
  const dense = denseMask(n, denseRows);
  let order: Int32Array = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (opts.order instanceof Int32Array) {
    if (opts.order.length !== n) throw new RangeError(`probe colouring: order has length ${opts.order.length}, expected ${n}`);
    const seen = new Uint8Array(n);
    for (const j of opts.order) {
      if (!(j >= 0 && j < n) || seen[j]) throw new RangeError("probe colouring: order is not a permutation");
      seen[j] = 1;
    }
    order = opts.order;
  } else if (opts.order === "largest-first") {
    const len = (i: number): number => rowPtr[i + 1] - rowPtr[i];
    order.sort((a, b) => len(b) - len(a) || a - b);
  } else if (opts.order !== undefined && opts.order !== "natural") {
    throw new RangeError(`probe colouring: unknown order ${String(opts.order)}`);
  }
  const colour = new Int32Array(n).fill(-1);
  // Rows are addressed by their position in the colouring order and the bitsets stored word-major
  // (used[w * n + position]): the rows of a column coloured now are mostly near it in that order
  // (first-bin order), so one word of all their bitsets lies in a few cache lines.
  const position = new Int32Array(n);
  for (let q = 0; q < n; q++) position[order[q]] = q;
  let words = 4;
  let used = new Int32Array(n * words);
  let rows = new Int32Array(64);
  let ncolours = 0;
  for (let q = 0; q < n; q++) {
    const j = order[q];
    if (dense[j]) continue;
    // the rows containing column j are the columns of row j (symmetric pattern); sparse ones only
    const k0 = rowPtr[j];
    const k1 = rowPtr[j + 1];
    if (k1 - k0 > rows.length) rows = new Int32Array(2 * (k1 - k0));
    let m = 0;
    for (let k = k0; k < k1; k++) {
      const r = cols[k];
      if (!dense[r]) rows[m++] = position[r];
    }
    let c = -1;
    for (let w = 0; c < 0; w++) {
      if (w === words) {
        const grown = new Int32Array(n * words * 2);
        grown.set(used);
        used = grown;
        words *= 2;
      }
      const plane = w * n;
      let acc = 0;
      for (let a = 0; a < m; a++) acc |= used[plane + rows[a]];
      if (acc !== -1) {
        const free = ~acc & (acc + 1); // lowest zero bit
        c = 32 * w + (31 - Math.clz32(free));
      }
    }
    colour[j] = c;
    if (c + 1 > ncolours) ncolours = c + 1;
    const plane = (c >> 5) * n;
    const bit = 1 << (c & 31);
    for (let a = 0; a < m; a++) used[plane + rows[a]] |= bit;
  }
  const start = new Int32Array(ncolours + 1);
  for (let j = 0; j < n; j++) if (colour[j] >= 0) start[colour[j] + 1]++;
  for (let c = 0; c < ncolours; c++) start[c + 1] += start[c];
  const fill = start.slice(0, ncolours);
  const columns = new Int32Array(start[ncolours]);
  for (let j = 0; j < n; j++) if (colour[j] >= 0) columns[fill[colour[j]]++] = j;
  return { colour, ncolours, start, columns, denseRows: Int32Array.from(denseRows) };
}

/**
 * Checks that a colouring lets every sparse–sparse entry be read off: each sparse column has a
 * colour in [0, ncolours), dense ones −1, and within every sparse row the sparse columns' colours
 * are distinct. Throws RangeError naming the first violation.
 */
export function checkColouring(pattern: SymmetricPattern, colouring: ProbeColouring): void {
  const { n, rowPtr, cols } = pattern;
  const dense = denseMask(n, colouring.denseRows);
  for (let j = 0; j < n; j++) {
    const c = colouring.colour[j];
    if (dense[j] ? c !== -1 : !(c >= 0 && c < colouring.ncolours)) throw new RangeError(`probe colouring: column ${j} has colour ${c}`);
  }
  const seen = new Int32Array(Math.max(1, colouring.ncolours)).fill(-1);
  for (let i = 0; i < n; i++) {
    if (dense[i]) continue;
    for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) {
      const j = cols[k];
      if (dense[j]) continue;
      const c = colouring.colour[j];
      if (seen[c] === i) throw new RangeError(`probe colouring: row ${i} has two columns of colour ${c}`);
      seen[c] = i;
    }
  }
}

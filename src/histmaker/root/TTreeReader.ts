/**
 * Columnar reading of one TTree: lists its branches with their value types, and yields chunks of
 * consecutive entries holding only the selected branches. Each branch is read basket by basket
 * (positioned reads, decompressed one at a time), so memory stays at about one basket per branch
 * plus the chunk being built.
 */
import { UserError } from "../../errors.js";
import type { Column, EventChunk, NumericArray } from "../events.js";
import type { RootFile } from "./RootFile.js";
import type { BranchMeta, LeafMeta, TreeMeta } from "./streamers.js";
import { allocateValues, decodeInto, leafType, type LeafType } from "./leafTypes.js";
import { compressionBlocks, type RootCompression } from "./decompress.js";

export interface BranchInfo {
  name: string;
  /** value type: "float", "double", "int32", "uint8", "bool", "string", ...; "float[]" jagged, "float[3]" fixed arrays */
  type: string;
  jagged: boolean;
  /** for jagged branches with a counter, the branch that holds the per-entry count */
  countBranch?: string;
  title?: string;
}

export interface IterateOptions {
  /** branches to read (default: every branch that can be read as a column) */
  branches?: string[];
  /** entries per chunk (default 100000) */
  chunkEntries?: number;
  start?: number;
  stop?: number;
}

/** One basket of a branch: a free one (own key in the file) or one embedded in the branch record. */
interface BasketRef {
  number: number;
  entryStart: number;
  entryStop: number;
  seek: number;
  bytes: number;
  embedded: { data: Uint8Array; byteOffsets: Int32Array | null } | null;
}

interface DecodedBasket {
  entryStart: number;
  entryStop: number;
  data: Uint8Array;
  /** entry start offsets into data (n+1), or null when every entry has the same size */
  byteOffsets: Int32Array | null;
  /** set once byteOffsets were checked to be in order and inside data */
  offsetsChecked?: boolean;
}

/** What a branch's leaf needs for reading. */
interface BranchPlan {
  branch: BranchMeta;
  leaf: LeafMeta;
  type: LeafType;
  /** values per entry for fixed-size entries (leaf fLen), irrelevant for jagged */
  fixedLen: number;
  variable: boolean;
  baskets: BasketRef[];
}

const DEFAULT_CHUNK = 100_000;

function flattenBranches(list: BranchMeta[], out: BranchMeta[] = []): BranchMeta[] {
  for (const b of list) {
    out.push(b);
    flattenBranches(b.branches, out);
  }
  return out;
}

export class TTreeReader {
  readonly entries: number;
  readonly name: string;
  private readonly file: RootFile;
  private readonly meta: TreeMeta;
  private readonly byName: Map<string, BranchMeta>;
  private readonly leafOwner: Map<LeafMeta, BranchMeta>;

  constructor(file: RootFile, name: string, meta: TreeMeta) {
    this.file = file;
    this.name = name;
    this.meta = meta;
    this.entries = meta.entries;
    this.byName = new Map();
    this.leafOwner = new Map();
    for (const b of flattenBranches(meta.branches)) {
      if (!this.byName.has(b.name)) this.byName.set(b.name, b);
      for (const l of b.leaves) this.leafOwner.set(l, b);
    }
  }

  private label(branch?: string): string {
    return `${this.file.path}: tree '${this.name}'${branch !== undefined ? ` branch '${branch}'` : ""}`;
  }

  private countBranchOf(leaf: LeafMeta): BranchMeta | undefined {
    const c = leaf.leafCount?.value as LeafMeta | undefined;
    return c ? this.leafOwner.get(c) : undefined;
  }

  /** All branches (sub-branches included), with types as the reader delivers them. */
  branches(): BranchInfo[] {
    return [...this.byName.values()].map((b) => this.describe(b));
  }

  /** Names of all branches (sub-branches included). */
  branchNames(): string[] {
    return [...this.byName.keys()];
  }

  /** Names of the branches iterate() can deliver as columns. */
  readableBranchNames(): string[] {
    return this.branches()
      .filter((b) => !b.type.endsWith("(unsupported)"))
      .map((b) => b.name);
  }

  private describe(b: BranchMeta): BranchInfo {
    const info: BranchInfo = { name: b.name, type: "", jagged: false };
    if (b.title) info.title = b.title;
    if (b.className !== "TBranch") {
      info.type = `${b.className} (unsupported)`;
      return info;
    }
    if (b.leaves.length !== 1) {
      info.type = b.leaves.length === 0 ? "no leaves (unsupported)" : `leaf list of ${b.leaves.length} (unsupported)`;
      return info;
    }
    const leaf = b.leaves[0];
    const t = leafType(leaf);
    if ("unsupported" in t) {
      info.type = `${leaf.className} (unsupported)`;
      return info;
    }
    const count = this.countBranchOf(leaf);
    if (t.kind === "string") {
      info.type = "string";
      info.jagged = true;
    } else if (count || leaf.leafCount) {
      info.type = leaf.len > 1 ? `${t.kind}[][${leaf.len}]` : `${t.kind}[]`;
      info.jagged = true;
      if (count) info.countBranch = count.name;
    } else if (leaf.len > 1) {
      info.type = `${t.kind}[${leaf.len}]`;
      info.jagged = true;
    } else {
      info.type = t.kind;
    }
    return info;
  }

  private plan(name: string): BranchPlan {
    const branch = this.byName.get(name);
    if (!branch) {
      throw new UserError(`${this.label()}: no branch named '${name}'`);
    }
    const info = this.describe(branch);
    if (info.type.endsWith("(unsupported)")) {
      throw new UserError(`${this.label(name)}: cannot be read as a column: ${info.type}`);
    }
    if (branch.fileName) {
      throw new UserError(`${this.label(name)}: baskets are stored in another file (${branch.fileName}), which is not supported`);
    }
    const leaf = branch.leaves[0];
    const type = leafType(leaf) as LeafType;
    const variable = info.jagged && (type.kind === "string" || leaf.leafCount !== null);
    return { branch, leaf, type, fixedLen: Math.max(1, leaf.len), variable, baskets: this.basketList(branch) };
  }

  /** The branch's baskets in entry order, checked to cover entries [0, branch entries) exactly. */
  private basketList(b: BranchMeta): BasketRef[] {
    const out: BasketRef[] = [];
    const nFree = Math.max(0, Math.min(b.writeBasket, b.basketSeek.length));
    for (let i = 0; i < nFree; i++) {
      const entryStart = b.basketEntry[i];
      const entryStop = i + 1 < b.basketEntry.length && (i + 1 < nFree || b.basketEntry[i + 1] > 0) ? b.basketEntry[i + 1] : b.entries;
      out.push({ number: i, entryStart, entryStop, seek: b.basketSeek[i], bytes: b.basketBytes[i], embedded: null });
    }
    b.embedded.forEach((e, i) => {
      if (!e || e.nevBuf === 0 || i < nFree) return;
      const entryStart = b.basketEntry[i] ?? (out.length ? out[out.length - 1].entryStop : 0);
      out.push({ number: i, entryStart, entryStop: entryStart + e.nevBuf, seek: 0, bytes: 0, embedded: e });
    });
    let at = 0;
    for (const r of out) {
      if (r.entryStart !== at || r.entryStop < r.entryStart) {
        throw new UserError(`${this.label(b.name)}: basket ${r.number} covers entries ${r.entryStart}..${r.entryStop}, expected to start at ${at}; the file is corrupt or unsupported`);
      }
      at = r.entryStop;
    }
    if (at < Math.min(b.entries, this.entries)) {
      throw new UserError(`${this.label(b.name)}: baskets hold ${at} entries, the tree has ${this.entries}; the file is corrupt or unsupported`);
    }
    return out;
  }

  private async decodeBasket(p: BranchPlan, r: BasketRef): Promise<DecodedBasket> {
    if (r.embedded) {
      return { entryStart: r.entryStart, entryStop: r.entryStop, data: r.embedded.data, byteOffsets: r.embedded.byteOffsets };
    }
    const what = `basket ${r.number} of branch '${p.branch.name}'`;
    const { key, payload, keyBytes } = await this.file.readRecord(r.seek, r.bytes, what);
    // the TBasket header is the last 19 bytes of the key: version, fBufferSize, fNevBufSize, fNevBuf, fLast, flag
    const kv = new DataView(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength);
    const h = key.keylen - 19;
    if (h < 0) throw new UserError(`${this.label(p.branch.name)}: ${what} has a corrupt header`);
    const nevBuf = kv.getInt32(h + 10);
    const last = kv.getInt32(h + 14);
    const border = last - key.keylen;
    if (nevBuf !== r.entryStop - r.entryStart || border < 0 || border > payload.length) {
      throw new UserError(`${this.label(p.branch.name)}: ${what} holds ${nevBuf} entries in ${border} bytes, expected ${r.entryStop - r.entryStart} entries; the file is corrupt`);
    }
    let byteOffsets: Int32Array | null = null;
    if (border !== payload.length) {
      // entry offset table after the data: a count, then one offset per entry (from the key start)
      const tv = new DataView(payload.buffer, payload.byteOffset + border, payload.length - border);
      if (tv.byteLength < 4 * (nevBuf + 1)) throw new UserError(`${this.label(p.branch.name)}: ${what} has a short entry offset table`);
      byteOffsets = new Int32Array(nevBuf + 1);
      for (let i = 0; i < nevBuf; i++) byteOffsets[i] = tv.getInt32(4 + 4 * i) - key.keylen;
      byteOffsets[nevBuf] = border;
    }
    return { entryStart: r.entryStart, entryStop: r.entryStop, data: payload.subarray(0, border), byteOffsets };
  }

  /**
   * The compression of a branch's first basket stored with its own key: the algorithm of each
   * block, "none" when stored uncompressed, or "embedded" when all its data sit in the tree record.
   */
  async compression(name: string): Promise<RootCompression[] | "none" | "embedded"> {
    const branch = this.byName.get(name);
    if (!branch) throw new UserError(`${this.label()}: no branch named '${name}'`);
    const first = this.basketList(branch).find((r) => !r.embedded);
    if (!first) return "embedded";
    const raw = await this.file.readBytes(first.seek, first.bytes, `basket ${first.number} of branch '${name}'`);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const objlen = v.getInt32(6);
    const keylen = v.getInt16(14);
    const stored = raw.subarray(keylen);
    return stored.length === objlen ? "none" : compressionBlocks(stored);
  }

  /**
   * Yields chunks of at most `chunkEntries` entries from [start, stop), holding the selected
   * branches: flat branches as typed arrays, jagged (and fixed-array) ones as {offsets, values}.
   */
  async *iterate(opts: IterateOptions): AsyncGenerator<EventChunk> {
    const start = opts.start ?? 0;
    const stop = Math.min(opts.stop ?? this.entries, this.entries);
    const chunkEntries = opts.chunkEntries ?? DEFAULT_CHUNK;
    if (!Number.isInteger(chunkEntries) || chunkEntries <= 0) throw new UserError(`${this.label()}: chunkEntries must be a positive integer, got ${chunkEntries}`);
    if (!Number.isInteger(start) || start < 0 || start > stop) throw new UserError(`${this.label()}: bad entry range ${start}..${stop}`);
    const names = [...new Set(opts.branches ?? this.readableBranchNames())];
    const plans = names.map((n) => this.plan(n));
    const cursors = plans.map((p) => new BranchCursor(p, (r) => this.decodeBasket(p, r), this.label(p.branch.name)));
    for (let cs = start; cs < stop; cs += chunkEntries) {
      const ce = Math.min(stop, cs + chunkEntries);
      const columns: Record<string, Column> = {};
      const built = await Promise.all(cursors.map((c) => c.column(cs, ce)));
      names.forEach((n, i) => (columns[n] = built[i]));
      yield { file: this.file.path, start: cs, length: ce - cs, columns };
    }
  }
}

/** Walks one branch's baskets forward, keeping only the basket(s) the current chunk needs. */
class BranchCursor {
  private next = 0;
  private held: DecodedBasket[] = [];

  constructor(
    private readonly plan: BranchPlan,
    private readonly decode: (r: BasketRef) => Promise<DecodedBasket>,
    private readonly label: string,
  ) {}

  /** Decoded baskets overlapping [cs, ce), in order (earlier ones are dropped). */
  private async basketsFor(cs: number, ce: number): Promise<DecodedBasket[]> {
    this.held = this.held.filter((b) => b.entryStop > cs);
    const refs = this.plan.baskets;
    if (this.held.length === 0) {
      // skip baskets entirely before the range without reading them (start > 0)
      while (this.next < refs.length && refs[this.next].entryStop <= cs) this.next++;
    }
    while (this.next < refs.length && refs[this.next].entryStart < ce) {
      this.held.push(await this.decode(refs[this.next]));
      this.next++;
    }
    return this.held.filter((b) => b.entryStart < ce && b.entryStop > cs);
  }

  async column(cs: number, ce: number): Promise<Column> {
    const baskets = await this.basketsFor(cs, ce);
    const { type, fixedLen, variable } = this.plan;
    const size = type.size;
    const n = ce - cs;
    if (!variable) {
      const entryBytes = size * fixedLen;
      // check every piece fits its basket before allocating (a corrupt fLen must not allocate gigabytes)
      for (const b of baskets) {
        if ((b.entryStop - b.entryStart) * entryBytes > b.data.length) throw new UserError(`${this.label}: basket data shorter than its entries; the file is corrupt`);
      }
      const values = allocateValues(type.kind, n * fixedLen);
      let filled = 0;
      for (const b of baskets) {
        const from = Math.max(cs, b.entryStart);
        const to = Math.min(ce, b.entryStop);
        const byteFrom = (from - b.entryStart) * entryBytes;
        const count = (to - from) * fixedLen;
        decodeInto(values, filled, b.data, byteFrom, count, size);
        filled += count;
      }
      if (filled !== n * fixedLen) throw new UserError(`${this.label}: entries ${cs}..${ce} are missing from the baskets`);
      if (fixedLen === 1) return values;
      const offsets = new Int32Array(n + 1);
      for (let i = 0; i <= n; i++) offsets[i] = i * fixedLen;
      return { offsets, values };
    }
    return type.kind === "string" ? this.stringColumn(baskets, cs, ce) : this.jaggedColumn(baskets, cs, ce, size);
  }

  private jaggedColumn(baskets: DecodedBasket[], cs: number, ce: number, size: number): Column {
    const n = ce - cs;
    const offsets = new Int32Array(n + 1);
    let total = 0;
    let e = 0;
    for (const b of baskets) {
      const bo = this.offsetsOf(b);
      const from = Math.max(cs, b.entryStart) - b.entryStart;
      const to = Math.min(ce, b.entryStop) - b.entryStart;
      for (let i = from; i < to; i++) {
        const bytes = bo[i + 1] - bo[i];
        if (bytes < 0 || bytes % size !== 0) throw new UserError(`${this.label}: entry ${b.entryStart + i} has ${bytes} bytes, not a multiple of ${size}; the file is corrupt`);
        total += bytes / size;
        offsets[++e] = total;
      }
    }
    const values = allocateValues(this.plan.type.kind, total);
    let at = 0;
    for (const b of baskets) {
      const bo = this.offsetsOf(b);
      const from = Math.max(cs, b.entryStart) - b.entryStart;
      const to = Math.min(ce, b.entryStop) - b.entryStart;
      const count = (bo[to] - bo[from]) / size;
      decodeInto(values, at, b.data, bo[from], count, size);
      at += count;
    }
    return { offsets, values };
  }

  /** TLeafC entries: a length byte (255 then a 32-bit length for long strings) and the characters. */
  private stringColumn(baskets: DecodedBasket[], cs: number, ce: number): Column {
    const n = ce - cs;
    const offsets = new Int32Array(n + 1);
    const parts: Uint8Array[] = [];
    let total = 0;
    let e = 0;
    for (const b of baskets) {
      const bo = this.offsetsOf(b);
      const from = Math.max(cs, b.entryStart) - b.entryStart;
      const to = Math.min(ce, b.entryStop) - b.entryStart;
      for (let i = from; i < to; i++) {
        let p = bo[i];
        if (p >= bo[i + 1]) throw new UserError(`${this.label}: string entry ${b.entryStart + i} has no length byte; the file is corrupt`);
        let len = b.data[p++];
        if (len === 255) {
          if (p + 4 > bo[i + 1]) throw new UserError(`${this.label}: string entry ${b.entryStart + i} is cut short; the file is corrupt`);
          len = new DataView(b.data.buffer, b.data.byteOffset + p, 4).getInt32(0);
          p += 4;
        }
        if (len < 0 || p + len > bo[i + 1]) throw new UserError(`${this.label}: string entry ${b.entryStart + i} overruns its bytes; the file is corrupt`);
        parts.push(b.data.subarray(p, p + len));
        total += len;
        offsets[++e] = total;
      }
    }
    const values = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      values.set(p, at);
      at += p.length;
    }
    return { offsets, values: values as NumericArray };
  }

  private offsetsOf(b: DecodedBasket): Int32Array {
    if (b.byteOffsets) {
      if (!b.offsetsChecked) {
        const o = b.byteOffsets;
        for (let i = 0; i + 1 < o.length; i++) {
          if (o[i] < 0 || o[i + 1] < o[i] || o[i + 1] > b.data.length) {
            throw new UserError(`${this.label}: basket entry offsets are out of order or out of range near entry ${b.entryStart + i}; the file is corrupt`);
          }
        }
        b.offsetsChecked = true;
      }
      return b.byteOffsets;
    }
    // a variable-size branch whose basket happens to have equal-size entries
    const n = b.entryStop - b.entryStart;
    const per = n > 0 ? b.data.length / n : 0;
    if (!Number.isInteger(per)) throw new UserError(`${this.label}: basket without entry offsets has ${b.data.length} bytes for ${n} entries; the file is corrupt`);
    const o = new Int32Array(n + 1);
    for (let i = 0; i <= n; i++) o[i] = i * per;
    b.byteOffsets = o;
    b.offsetsChecked = true;
    return o;
  }
}

/**
 * Reading TH1D/TH2D/TH3D (and TH1F/TH2F/TH3F, TH1I/TH2I/TH3I) objects: the axes (binning, edges,
 * labels, titles), every cell with its flow bins in ROOT's order (x fastest), fSumw2 and the
 * statistics. Hand-written for ROOT 6's class versions (TH1 v5-8, TH2 v3-5, TH3 v5-6, TAxis v6-10);
 * members we do not need are skipped by their byte counts.
 */
import { UserError } from "../../errors.js";
import { RBuffer } from "./RBuffer.js";
import type { RootFile } from "./RootFile.js";
import { RObject, readObjectAny, registerClassReader } from "./streamers.js";

export interface THAxisRead {
  name: string;
  title: string;
  nbins: number;
  xmin: number;
  xmax: number;
  /** fXbins: nbins+1 edges for variable binning, empty for regular */
  edges: number[];
  /** bin number (1-based) → label, or null without labels */
  labels: Map<number, string> | null;
}

export interface THRead {
  className: string;
  dim: 1 | 2 | 3;
  name: string;
  title: string;
  axes: THAxisRead[];
  /** all cells incl. flow, x fastest */
  contents: Float64Array;
  /** empty when the histogram has no Sumw2 */
  sumw2: Float64Array;
  entries: number;
  tsumw: number;
  tsumw2: number;
  tsumwx: number;
  tsumwx2: number;
  /** TH2/TH3: fTsumwy, fTsumwy2, fTsumwxy (and fTsumwz, fTsumwz2, fTsumwxz, fTsumwyz for TH3) */
  more: Record<string, number>;
}

const HIST_CLASS = /^TH([123])([DFIS])$/;

function readTObjectID(buf: RBuffer): number {
  buf.version();
  const id = buf.u32();
  const bits = buf.u32();
  if ((bits & (1 << 4)) !== 0) buf.skip(2);
  return id;
}

function readNamed(buf: RBuffer): { name: string; title: string } {
  const { end } = buf.version();
  readTObjectID(buf);
  const name = buf.tstring();
  const title = buf.tstring();
  if (end !== null) buf.seek(end);
  return { name, title };
}

/** TList / THashList body: the items (via ReadObjectAny) and their option strings. */
function readList(buf: RBuffer): unknown[] {
  const { version, end } = buf.version();
  if (version > 3) {
    readTObjectID(buf);
    buf.tstring();
  }
  const n = buf.i32();
  if (n < 0 || n > buf.length) buf.fail(`list claims ${n} items`);
  const items: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const o = readObjectAny(buf);
    items.push(o?.value);
    const nch = buf.u8();
    buf.skip(nch === 255 ? buf.i32() : nch);
  }
  if (end !== null) buf.seek(end);
  return items;
}

let registered = false;
function registerReaders(): void {
  if (registered) return;
  registered = true;
  registerClassReader("TList", readList);
  registerClassReader("THashList", readList);
  registerClassReader("TObjString", (buf) => {
    const { end } = buf.version();
    const id = readTObjectID(buf);
    const text = buf.tstring();
    if (end !== null) buf.seek(end);
    return { id, text };
  });
}

function readArrayD(buf: RBuffer): Float64Array {
  const n = buf.i32();
  if (n < 0 || 8 * n > buf.length) buf.fail(`array claims ${n} doubles`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.f64();
  return out;
}

function readAxis(buf: RBuffer): THAxisRead {
  const { version, end } = buf.version();
  if (version < 6) buf.fail(`TAxis version ${version} is not supported`);
  const { name, title } = readNamed(buf);
  buf.skipObject("TAttAxis");
  const nbins = buf.i32();
  const xmin = buf.f64();
  const xmax = buf.f64();
  const edges = [...readArrayD(buf)];
  buf.i32(); // fFirst
  buf.i32(); // fLast
  if (version >= 9) buf.u16(); // fBits2
  buf.u8(); // fTimeDisplay
  buf.tstring(); // fTimeFormat
  let labels: Map<number, string> | null = null;
  const list = readObjectAny(buf);
  if (list instanceof RObject && Array.isArray(list.value)) {
    labels = new Map();
    for (const item of list.value as { id: number; text: string }[]) if (item && typeof item.text === "string") labels.set(item.id, item.text);
  }
  if (end !== null) buf.seek(end);
  return { name, title, nbins, xmin, xmax, edges, labels };
}

function readCells(buf: RBuffer, kind: string): Float64Array {
  const n = buf.i32();
  if (n < 0 || n > buf.length) buf.fail(`array claims ${n} cells`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = kind === "D" ? buf.f64() : kind === "F" ? buf.f32() : kind === "I" ? buf.i32() : buf.i16();
  return out;
}

/** Parses the object bytes of a TH1x/TH2x/TH3x key. `origin` is the key length (for object references). */
export function readTH(payload: Uint8Array, className: string, label: string, origin: number): THRead {
  registerReaders();
  const m = HIST_CLASS.exec(className);
  if (!m) throw new UserError(`${label}: class ${className} is not a TH1/TH2/TH3 of doubles, floats or ints`);
  const dim = Number(m[1]) as 1 | 2 | 3;
  const buf = new RBuffer(payload, label, origin);
  const outer = buf.version();
  let dimEnd: number | null = null;
  if (dim > 1) dimEnd = buf.version().end;
  const th1 = buf.version();
  if (th1.version < 5) buf.fail(`TH1 version ${th1.version} is not supported`);
  const { name, title } = readNamed(buf);
  buf.skipObject("TAttLine");
  buf.skipObject("TAttFill");
  buf.skipObject("TAttMarker");
  buf.i32(); // fNcells
  const axes = [readAxis(buf), readAxis(buf), readAxis(buf)].slice(0, dim);
  buf.i16(); // fBarOffset
  buf.i16(); // fBarWidth
  const entries = buf.f64();
  const tsumw = buf.f64();
  const tsumw2 = buf.f64();
  const tsumwx = buf.f64();
  const tsumwx2 = buf.f64();
  buf.f64(); // fMaximum
  buf.f64(); // fMinimum
  buf.f64(); // fNormFactor
  readArrayD(buf); // fContour
  const sumw2 = readArrayD(buf);
  // fOption, fFunctions (a TList in place), fBuffer... are not needed: jump to the end of TH1
  buf.seek(th1.end ?? buf.fail("TH1 without a byte count"));
  const more: Record<string, number> = {};
  if (dim === 2) {
    buf.f64(); // fScalefactor
    for (const k of ["tsumwy", "tsumwy2", "tsumwxy"]) more[k] = buf.f64();
  } else if (dim === 3) {
    buf.skipObject("TAtt3D");
    for (const k of ["tsumwy", "tsumwy2", "tsumwxy", "tsumwz", "tsumwz2", "tsumwxz", "tsumwyz"]) more[k] = buf.f64();
  }
  if (dimEnd !== null) buf.seek(dimEnd);
  const contents = readCells(buf, m[2]);
  if (outer.end !== null) buf.seek(outer.end);
  const cells = axes.reduce((p, a) => p * (a.nbins + 2), 1);
  if (contents.length !== cells) buf.fail(`${contents.length} cells, the axes need ${cells}`);
  if (sumw2.length !== 0 && sumw2.length !== cells) buf.fail(`fSumw2 has ${sumw2.length} entries, the axes need ${cells}`);
  return { className, dim, name, title, axes, contents, sumw2, entries, tsumw, tsumw2, tsumwx, tsumwx2, more };
}

/** Reads the histogram `name` ("dir/name") of an open ROOT file. */
export async function readHistogram(file: RootFile, name: string): Promise<THRead> {
  const obj = file.objects().find((o) => o.name === name);
  if (!obj) throw new UserError(`${file.path}: no object named '${name}'`);
  const { key, payload } = await file.readObject(name);
  return readTH(payload, obj.className, `${file.path}: ${obj.className} '${name}'`, key.keylen);
}

/** The histograms (TH1/2/3 of D, F, I, S) of a file, as "dir/name" with their class. */
export function listHistograms(file: RootFile): { name: string; className: string; title: string }[] {
  return file.objects().filter((o) => HIST_CLASS.test(o.className));
}

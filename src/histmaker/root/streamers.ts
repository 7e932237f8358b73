/**
 * Hand-written streamers for the ROOT classes a TTree's metadata is made of (TTree v16-20,
 * TBranch v10-13, TLeaf*, TObjArray, embedded TBasket), following ROOT's own byte layout.
 * Only what reading columns needs is kept; every other member is skipped by its byte count,
 * which also keeps us in step when a class has grown members we do not know.
 */
import { RBuffer, BYTE_COUNT_MASK } from "./RBuffer.js";

const CLASS_MASK = 0x80000000;
const NEW_CLASS_TAG = 0xffffffff;
const MAP_OFFSET = 2;
/** TObject bit saying a process id follows (kIsReferenced) */
const IS_REFERENCED = 1 << 4;

/** A slot in ReadObjectAny's reference table: registered before its members are read. */
export class RObject {
  value: unknown = undefined;
  constructor(readonly className: string) {}
}

interface ClassRef {
  classRef: string;
}

export interface LeafMeta {
  className: string;
  name: string;
  title: string;
  /** fixed number of values per count unit (x[3] -> 3) */
  len: number;
  /** bytes per value as written by ROOT */
  lenType: number;
  isUnsigned: boolean;
  /** the leaf holding this leaf's per-entry count (NanoAOD Muon_pt -> nMuon) */
  leafCount: RObject | null;
}

/** A basket kept inside its TBranch record (written on close without its own key). */
export interface EmbeddedBasket {
  nevBuf: number;
  /** data bytes, without the key header and entry-offset table */
  data: Uint8Array;
  /** nevBuf+1 byte offsets into `data`, or null for fixed-size entries */
  byteOffsets: Int32Array | null;
}

export interface BranchMeta {
  className: string;
  name: string;
  title: string;
  entryOffsetLen: number;
  writeBasket: number;
  entries: number;
  basketBytes: number[];
  basketEntry: number[];
  basketSeek: number[];
  /** embedded baskets by basket number (most are null) */
  embedded: (EmbeddedBasket | null)[];
  branches: BranchMeta[];
  leaves: LeafMeta[];
  /** baskets stored in another file (unsupported when non-empty) */
  fileName: string;
}

export interface TreeMeta {
  name: string;
  title: string;
  version: number;
  entries: number;
  branches: BranchMeta[];
}

type ClassReader = (buf: RBuffer) => unknown;

export function readTObject(buf: RBuffer): void {
  buf.version();
  buf.u32(); // fUniqueID
  const bits = buf.u32();
  if ((bits & IS_REFERENCED) !== 0) buf.skip(2);
}

function readTNamed(buf: RBuffer): { name: string; title: string } {
  const { end } = buf.version();
  readTObject(buf);
  const name = buf.tstring();
  const title = buf.tstring();
  if (end !== null) buf.seek(end);
  return { name, title };
}

/** TObjArray members: the items themselves are ReadObjectAny records. */
export function readTObjArray(buf: RBuffer): (RObject | null)[] {
  const { version, end } = buf.version();
  if (version > 2) readTObject(buf);
  if (version > 1) buf.tstring(); // fName
  const n = buf.i32();
  buf.i32(); // fLowerBound
  if (n < 0 || n > buf.length) buf.fail(`TObjArray claims ${n} items`);
  const items: (RObject | null)[] = [];
  for (let i = 0; i < n; i++) items.push(readObjectAny(buf));
  if (end !== null) buf.seek(end);
  return items;
}

function readTLeafBase(buf: RBuffer, className: string): LeafMeta {
  const { end } = buf.version();
  const named = readTNamed(buf);
  const len = buf.i32();
  const lenType = buf.i32();
  buf.i32(); // fOffset
  buf.u8(); // fIsRange
  const isUnsigned = buf.u8() !== 0;
  const leafCount = readObjectAny(buf);
  if (end !== null) buf.seek(end);
  return { className, name: named.name, title: named.title, len, lenType, isUnsigned, leafCount };
}

function leafReader(className: string): ClassReader {
  return (buf) => {
    const { end } = buf.version();
    const leaf = readTLeafBase(buf, className);
    if (end !== null) buf.seek(end); // fMinimum/fMaximum and subclass members
    return leaf;
  };
}

function readTBranch(buf: RBuffer, className = "TBranch"): BranchMeta {
  const { version, end } = buf.version();
  if (version < 10 || version > 13) buf.fail(`TBranch version ${version} is not supported (10-13 are)`);
  const named = readTNamed(buf);
  buf.skipObject("TAttFill");
  buf.i32(); // fCompress
  buf.i32(); // fBasketSize
  const entryOffsetLen = buf.i32();
  const writeBasket = buf.i32();
  buf.i64(); // fEntryNumber
  if (version >= 13) buf.skipObject("TIOFeatures");
  buf.i32(); // fOffset
  const maxBaskets = buf.i32();
  buf.i32(); // fSplitLevel
  const entries = buf.i64();
  if (version >= 11) buf.i64(); // fFirstEntry
  buf.i64(); // fTotBytes
  buf.i64(); // fZipBytes
  const branches = readTObjArray(buf);
  const leaves = readTObjArray(buf);
  const baskets = readTObjArray(buf);
  if (maxBaskets < 0 || maxBaskets * 20 > buf.length) buf.fail(`TBranch ${named.name} claims ${maxBaskets} baskets`);
  buf.skip(1); // array marker byte before each basic-pointer array
  const basketBytes = buf.i32Array(maxBaskets);
  buf.skip(1);
  const basketEntry = buf.i64Array(maxBaskets);
  buf.skip(1);
  const basketSeek = buf.i64Array(maxBaskets);
  const fileName = buf.tstring();
  if (end !== null) buf.seek(end);
  return {
    className,
    name: named.name,
    title: named.title,
    entryOffsetLen,
    writeBasket,
    entries,
    basketBytes,
    basketEntry,
    basketSeek,
    embedded: baskets.map((b) => (b && b.value && (b.value as EmbeddedBasket).data ? (b.value as EmbeddedBasket) : null)),
    branches: branches.map((b) => b?.value).filter((b): b is BranchMeta => isBranch(b)),
    leaves: leaves.map((l) => l?.value).filter((l): l is LeafMeta => isLeaf(l)),
    fileName,
  };
}

function isBranch(x: unknown): x is BranchMeta {
  return typeof x === "object" && x !== null && Array.isArray((x as BranchMeta).basketSeek);
}

function isLeaf(x: unknown): x is LeafMeta {
  return typeof x === "object" && x !== null && typeof (x as LeafMeta).lenType === "number";
}

/** A TBranchElement: its TBranch part is enough to list it; reading it is refused later. */
function readTBranchElement(buf: RBuffer): BranchMeta {
  const { end } = buf.version();
  const branch = readTBranch(buf, "TBranchElement");
  const streamedClass = buf.tstring(); // fClassName
  if (end !== null) buf.seek(end);
  return { ...branch, title: branch.title || streamedClass };
}

/**
 * A TBasket kept inside its branch: the TKey header, the TBasket header, the entry-offset table
 * (when entries vary in size), then the whole buffer again with its key header in front.
 */
function readEmbeddedBasket(buf: RBuffer): EmbeddedBasket | null {
  const start = buf.pos;
  const nbytes = buf.i32();
  buf.i16(); // key version
  buf.i32(); // fObjlen
  buf.u32(); // fDatime
  const keylen = buf.i16();
  buf.seek(start + keylen - 19);
  buf.u16(); // TBasket version
  buf.i32(); // fBufferSize
  const nevBufSize = buf.i32();
  const nevBuf = buf.i32();
  const last = buf.i32();
  const flag = buf.u8();
  // a header-only copy of a basket that has its own key: the data are read from the file instead
  if (nbytes > keylen || flag === 0) return null;
  const border = last - keylen;
  if (border < 0 || nevBuf < 0) buf.fail("embedded basket has a negative size");
  let byteOffsets: Int32Array | null = null;
  // same test as ROOT's reader: fixed-size entries fill exactly nevBuf * nevBufSize bytes
  if (nevBufSize * nevBuf + keylen !== last && nevBuf > 0) {
    buf.i32(); // number of offsets that follow
    byteOffsets = new Int32Array(nevBuf + 1);
    for (let i = 0; i < nevBuf; i++) byteOffsets[i] = buf.i32() - keylen;
    byteOffsets[nevBuf] = border;
  }
  buf.skip(keylen); // the buffer repeats the key header
  buf.need(border);
  // a view, not a copy: the tree record stays alive with the reader anyway
  const data = buf.bytes.subarray(buf.pos, buf.pos + border);
  buf.skip(border);
  return { nevBuf, data, byteOffsets };
}

const LEAF_CLASSES = ["TLeafB", "TLeafS", "TLeafI", "TLeafL", "TLeafF", "TLeafD", "TLeafO", "TLeafC", "TLeafG", "TLeafF16", "TLeafD32", "TLeafElement", "TLeafObject"];

const READERS: Record<string, ClassReader> = {
  TObjArray: readTObjArray,
  TBranch: (buf) => readTBranch(buf),
  TBranchElement: readTBranchElement,
  TBasket: readEmbeddedBasket,
};
for (const c of LEAF_CLASSES) READERS[c] = leafReader(c);

/**
 * ROOT's ReadObjectAny: a (byte count +) tag that is null, a reference to an object already read,
 * a new object of a class already seen, or a new class name followed by a new object. Objects of
 * classes we have no reader for are skipped by their byte count.
 */
/** Adds a reader for one more class to ReadObjectAny (histograms.ts: THashList, TObjString). */
export function registerClassReader(className: string, reader: (buf: RBuffer) => unknown): void {
  READERS[className] = reader;
}

export function readObjectAny(buf: RBuffer): RObject | null {
  const beg = buf.pos;
  const first = buf.u32();
  let tag: number;
  let end: number | null = null;
  let tagPos = beg;
  if ((first & BYTE_COUNT_MASK) === 0 || first === NEW_CLASS_TAG) {
    tag = first;
  } else {
    end = beg + 4 + (first & ~BYTE_COUNT_MASK);
    if (end > buf.length) buf.fail("object byte count runs past the record");
    tagPos = buf.pos;
    tag = buf.u32();
  }
  if ((tag & CLASS_MASK) === 0) {
    if (tag === 0) return null;
    const ref = buf.refs.get(tag);
    if (ref instanceof RObject) return ref;
    if (end !== null) {
      buf.seek(end);
      return null;
    }
    buf.fail(`reference to unknown object ${tag}`);
  }
  let className: string;
  if (tag === NEW_CLASS_TAG) {
    className = buf.cstring();
    const classKey = end !== null ? tagPos + buf.origin + MAP_OFFSET : buf.refs.size + 1;
    buf.refs.set(classKey, { classRef: className } satisfies ClassRef);
  } else {
    const cls = buf.refs.get((tag & ~CLASS_MASK) >>> 0);
    if (!cls || typeof (cls as ClassRef).classRef !== "string") buf.fail(`reference to unknown class ${tag & ~CLASS_MASK}`);
    className = (cls as ClassRef).classRef;
  }
  const obj = new RObject(className);
  buf.refs.set(end !== null ? beg + buf.origin + MAP_OFFSET : buf.refs.size + 1, obj);
  const reader = READERS[className];
  if (reader) {
    obj.value = reader(buf);
  } else if (end === null) {
    buf.fail(`object of class ${className} without a byte count cannot be skipped`);
  }
  if (end !== null) buf.seek(end);
  return obj;
}

/** Reads a TTree (or TNtuple) record: the start of a key's object. */
export function readTTree(buf: RBuffer, className: string): TreeMeta {
  let ntupleEnd: number | null = null;
  if (className === "TNtuple" || className === "TNtupleD") ntupleEnd = buf.version().end;
  const { version, end } = buf.version();
  if (version < 16) buf.fail(`TTree version ${version} (ROOT older than 5.x) is not supported`);
  const named = readTNamed(buf);
  buf.skipObject("TAttLine");
  buf.skipObject("TAttFill");
  buf.skipObject("TAttMarker");
  const entries = buf.i64();
  buf.i64(); // fTotBytes
  buf.i64(); // fZipBytes
  buf.i64(); // fSavedBytes
  if (version >= 18) buf.i64(); // fFlushedBytes
  buf.f64(); // fWeight
  buf.i32(); // fTimerInterval
  buf.i32(); // fScanField
  buf.i32(); // fUpdate
  if (version >= 17) buf.i32(); // fDefaultEntryOffsetLen
  const nClusterRange = version >= 19 ? buf.i32() : 0;
  buf.i64(); // fMaxEntries
  buf.i64(); // fMaxEntryLoop
  buf.i64(); // fMaxVirtualSize
  buf.i64(); // fAutoSave
  if (version >= 18) buf.i64(); // fAutoFlush
  buf.i64(); // fEstimate
  if (version >= 19) {
    if (nClusterRange < 0 || nClusterRange * 16 > buf.length) buf.fail(`TTree claims ${nClusterRange} cluster ranges`);
    buf.skip(1);
    buf.i64Array(nClusterRange); // fClusterRangeEnd
    buf.skip(1);
    buf.i64Array(nClusterRange); // fClusterSize
  }
  if (version >= 20) buf.skipObject("TIOFeatures");
  const branches = readTObjArray(buf);
  // fLeaves, fAliases, indices, friends, user info follow; nothing there is needed
  if (end !== null) buf.seek(end);
  if (ntupleEnd !== null) buf.seek(ntupleEnd);
  return {
    name: named.name,
    title: named.title,
    version,
    entries,
    branches: branches.map((b) => b?.value).filter((b): b is BranchMeta => isBranch(b)),
  };
}

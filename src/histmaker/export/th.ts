/**
 * TH1D / TH2D / TH3D streamed the way ROOT 6 writes them (TH1 v8, TH2 v5, TH3 v6, TH1D v3,
 * TH2D/TH3D v4, TAxis v10, TAttAxis v4), and the TStreamerInfo records describing those classes.
 * Class versions and checksums are ROOT 6's (the same values ROOT and uproot put in their files);
 * TArray/TArrayD, like in uproot's files, get no streamer record: every reader streams them natively.
 */
import { WBuffer } from "./WBuffer.js";

export interface RootAxis {
  /** axis title (shown by ROOT under the axis) */
  title: string;
  nbins: number;
  xmin: number;
  xmax: number;
  /** nbins+1 edges for a variable binning, else null (regular: fXbins stays empty) */
  edges: number[] | null;
  /** bin labels (bins 1..nbins) for category axes, else null */
  labels: string[] | null;
}

export interface THStats {
  entries: number;
  tsumw: number;
  tsumw2: number;
  /** Σw·x, Σw·x², then y, y², xy, z, z², xz, yz as the dimension needs */
  moments: Record<"tsumwx" | "tsumwx2" | "tsumwy" | "tsumwy2" | "tsumwxy" | "tsumwz" | "tsumwz2" | "tsumwxz" | "tsumwyz", number>;
}

export interface THObject {
  dim: 1 | 2 | 3;
  name: string;
  title: string;
  /** 1 to 3 axes */
  axes: RootAxis[];
  /** (nx+2)(ny+2)(nz+2) cells in ROOT's order: x fastest, flow bins at 0 and n+1 */
  contents: Float64Array;
  /** same length as contents, or null (no Sumw2) */
  sumw2: Float64Array | null;
  stats: THStats;
}

export function thClassName(dim: 1 | 2 | 3): string {
  return `TH${dim}D`;
}

const AXIS_NAMES = ["xaxis", "yaxis", "zaxis"];

function writeAttAxis(b: WBuffer): void {
  const done = b.versioned(4);
  b.i32(510); // fNdivisions
  b.i16(1); // fAxisColor
  b.i16(1); // fLabelColor
  b.i16(42); // fLabelFont
  b.f32(0.005); // fLabelOffset
  b.f32(0.035); // fLabelSize
  b.f32(0.03); // fTickLength
  b.f32(1); // fTitleOffset
  b.f32(0.035); // fTitleSize
  b.i16(1); // fTitleColor
  b.i16(42); // fTitleFont
  done();
}

/** TList / THashList (TList::Streamer, version 5): TObject, name, count, then object + option per entry. */
function writeList(b: WBuffer, items: { className: string; stream: (b: WBuffer) => void }[]): void {
  const done = b.versioned(5);
  b.tobject();
  b.tstring("");
  b.i32(items.length);
  for (const it of items) {
    b.objectAny(it.className, it.stream);
    b.u8(0); // no option string
  }
  done();
}

function writeAxis(b: WBuffer, name: string, ax: RootAxis): void {
  const done = b.versioned(10);
  b.tnamed(name, ax.title);
  writeAttAxis(b);
  b.i32(ax.nbins);
  b.f64(ax.xmin);
  b.f64(ax.xmax);
  b.tarrayD(ax.edges ?? []);
  b.i32(0); // fFirst
  b.i32(0); // fLast
  b.u16(0); // fBits2
  b.u8(0); // fTimeDisplay
  b.tstring(""); // fTimeFormat
  if (ax.labels) {
    // TAxis::SetBinLabel: a THashList of TObjString whose fUniqueID is the bin number
    const labels = ax.labels;
    b.objectAny("THashList", (lb) =>
      writeList(
        lb,
        labels.map((text, i) => ({
          className: "TObjString",
          stream: (ob: WBuffer) => {
            const d = ob.versioned(1);
            ob.tobject(i + 1);
            ob.tstring(text);
            d();
          },
        })),
      ),
    );
  } else b.nullObject();
  b.nullObject(); // fModLabs
  done();
}

const UNUSED_AXIS: RootAxis = { title: "", nbins: 1, xmin: 0, xmax: 1, edges: null, labels: null };

function writeTH1(b: WBuffer, h: THObject): void {
  const done = b.versioned(8);
  b.tnamed(h.name, h.title);
  let d = b.versioned(2); // TAttLine
  b.i16(602);
  b.i16(1);
  b.i16(1);
  d();
  d = b.versioned(2); // TAttFill
  b.i16(0);
  b.i16(1001);
  d();
  d = b.versioned(2); // TAttMarker
  b.i16(1);
  b.i16(1);
  b.f32(1);
  d();
  b.i32(h.contents.length); // fNcells
  for (let i = 0; i < 3; i++) writeAxis(b, AXIS_NAMES[i], h.axes[i] ?? UNUSED_AXIS);
  b.i16(0); // fBarOffset
  b.i16(1000); // fBarWidth
  b.f64(h.stats.entries);
  b.f64(h.stats.tsumw);
  b.f64(h.stats.tsumw2);
  b.f64(h.stats.moments.tsumwx);
  b.f64(h.stats.moments.tsumwx2);
  b.f64(-1111); // fMaximum
  b.f64(-1111); // fMinimum
  b.f64(0); // fNormFactor
  b.tarrayD([]); // fContour
  b.tarrayD(h.sumw2 ?? []); // fSumw2
  b.tstring(""); // fOption
  writeList(b, []); // fFunctions: a "->" pointer (kObjectp), streamed in place without a class tag
  b.i32(0); // fBufferSize
  b.u8(0); // fBuffer: no array
  b.i32(0); // fBinStatErrOpt: kNormal
  b.i32(2); // fStatOverflows: kNeutral
  done();
}

/** The object part of a TH1D/TH2D/TH3D key. */
export function streamTH(h: THObject): Uint8Array {
  const b = new WBuffer();
  const m = h.stats.moments;
  const done = b.versioned(h.dim === 1 ? 3 : 4);
  if (h.dim === 1) writeTH1(b, h);
  else if (h.dim === 2) {
    const d = b.versioned(5);
    writeTH1(b, h);
    b.f64(1); // fScalefactor
    b.f64(m.tsumwy);
    b.f64(m.tsumwy2);
    b.f64(m.tsumwxy);
    d();
  } else {
    const d = b.versioned(6);
    writeTH1(b, h);
    b.versioned(1)(); // TAtt3D: no members
    for (const v of [m.tsumwy, m.tsumwy2, m.tsumwxy, m.tsumwz, m.tsumwz2, m.tsumwxz, m.tsumwyz]) b.f64(v);
    d();
  }
  b.tarrayD(h.contents); // the TArrayD base: fN then the cells
  done();
  return b.finish();
}

// ---- streamer records --------------------------------------------------------------------------

type Element =
  | { kind: "base"; name: string; title: string; type: number; version: number; checksum: number }
  | { kind: "basic"; name: string; title: string; type: number; size: number; typeName: string }
  | { kind: "string"; name: string; title: string }
  | { kind: "object" | "any"; name: string; title: string; size: number; typeName: string }
  | { kind: "pointer"; name: string; title: string; type: number; typeName: string }
  | { kind: "basicPointer"; name: string; title: string; typeName: string; countName: string; countClass: string; countVersion: number };

interface ClassInfo {
  name: string;
  version: number;
  checksum: number;
  elements: Element[];
}

const base = (name: string, version: number, checksum: number, title: string, type = 0): Element => ({ kind: "base", name, title, type, version, checksum });
const int = (name: string, title: string, typeName = "int"): Element => ({ kind: "basic", name, title, type: 3, size: 4, typeName });
const short = (name: string, title: string): Element => ({ kind: "basic", name, title, type: 2, size: 2, typeName: "short" });
const float = (name: string, title: string): Element => ({ kind: "basic", name, title, type: 5, size: 4, typeName: "float" });
const double = (name: string, title: string): Element => ({ kind: "basic", name, title, type: 8, size: 8, typeName: "double" });
const tstr = (name: string, title: string): Element => ({ kind: "string", name, title });

const TOBJECT = 0x901bc02d;
const TNAMED = 0xdfb74a3c;
const TATTLINE = 0x94074549;
const TATTFILL = 0xffd92a92;
const TATTMARKER = 0x291d8bec;
const TATTAXIS = 0x5c6fff3e;
const TH1_SUM = 0x1c3740c4;
const TH2_SUM = 0x0182347f;
const TH3_SUM = 0x42d2445f;
const TARRAYD = 0x7139ef34;
const TATT3D = 0x0000757a;
const TCOLLECTION = 0x57e3cb9c;
const TSEQCOLLECTION = 0xfc6c3bc6;
const TLIST = 0x69c5c3bb;

const CLASSES: Record<string, ClassInfo> = {
  TObject: {
    name: "TObject",
    version: 1,
    checksum: TOBJECT,
    elements: [
      { kind: "basic", name: "fUniqueID", title: "object unique identifier", type: 13, size: 4, typeName: "unsigned int" },
      { kind: "basic", name: "fBits", title: "bit field status word", type: 15, size: 4, typeName: "unsigned int" },
    ],
  },
  TNamed: {
    name: "TNamed",
    version: 1,
    checksum: TNAMED,
    elements: [base("TObject", 1, TOBJECT, "Basic ROOT object", 66), tstr("fName", "object identifier"), tstr("fTitle", "object title")],
  },
  TCollection: {
    name: "TCollection",
    version: 3,
    checksum: TCOLLECTION,
    elements: [base("TObject", 1, TOBJECT, "Basic ROOT object", 66), tstr("fName", "name of the collection"), int("fSize", "number of elements in collection")],
  },
  TSeqCollection: { name: "TSeqCollection", version: 0, checksum: TSEQCOLLECTION, elements: [base("TCollection", 3, TCOLLECTION, "Collection abstract base class")] },
  TList: { name: "TList", version: 5, checksum: TLIST, elements: [base("TSeqCollection", 0, TSEQCOLLECTION, "Sequenceable collection ABC")] },
  THashList: { name: "THashList", version: 0, checksum: 0xcc7e49c1, elements: [base("TList", 5, TLIST, "Doubly linked list")] },
  TAttLine: {
    name: "TAttLine",
    version: 2,
    checksum: TATTLINE,
    elements: [short("fLineColor", "Line color"), short("fLineStyle", "Line style"), short("fLineWidth", "Line width")],
  },
  TAttFill: { name: "TAttFill", version: 2, checksum: TATTFILL, elements: [short("fFillColor", "Fill area color"), short("fFillStyle", "Fill area style")] },
  TAttMarker: {
    name: "TAttMarker",
    version: 2,
    checksum: TATTMARKER,
    elements: [short("fMarkerColor", "Marker color"), short("fMarkerStyle", "Marker style"), float("fMarkerSize", "Marker size")],
  },
  TAttAxis: {
    name: "TAttAxis",
    version: 4,
    checksum: TATTAXIS,
    elements: [
      int("fNdivisions", "Number of divisions(10000*n3 + 100*n2 + n1)"),
      short("fAxisColor", "Color of the line axis"),
      short("fLabelColor", "Color of labels"),
      short("fLabelFont", "Font for labels"),
      float("fLabelOffset", "Offset of labels"),
      float("fLabelSize", "Size of labels"),
      float("fTickLength", "Length of tick marks"),
      float("fTitleOffset", "Offset of axis title"),
      float("fTitleSize", "Size of axis title"),
      short("fTitleColor", "Color of axis title"),
      short("fTitleFont", "Font for axis title"),
    ],
  },
  TAxis: {
    name: "TAxis",
    version: 10,
    checksum: 0x5a496e70,
    elements: [
      base("TNamed", 1, TNAMED, "The basis for a named object (name, title)", 67),
      base("TAttAxis", 4, TATTAXIS, "Axis attributes"),
      int("fNbins", "Number of bins"),
      double("fXmin", "low edge of first bin"),
      double("fXmax", "upper edge of last bin"),
      { kind: "any", name: "fXbins", title: "Bin edges array in X", size: 24, typeName: "TArrayD" },
      int("fFirst", "first bin to display"),
      int("fLast", "last bin to display"),
      { kind: "basic", name: "fBits2", title: "second bit status word", type: 12, size: 2, typeName: "unsigned short" },
      { kind: "basic", name: "fTimeDisplay", title: "on/off displaying time values instead of numerics", type: 18, size: 1, typeName: "bool" },
      tstr("fTimeFormat", "Date&time format, ex: 09/12/99 12:34:00"),
      { kind: "pointer", name: "fLabels", title: "List of labels", type: 64, typeName: "THashList*" },
      { kind: "pointer", name: "fModLabs", title: "List of modified labels", type: 64, typeName: "TList*" },
    ],
  },
  TH1: {
    name: "TH1",
    version: 8,
    checksum: TH1_SUM,
    elements: [
      base("TNamed", 1, TNAMED, "The basis for a named object (name, title)", 67),
      base("TAttLine", 2, TATTLINE, "Line attributes"),
      base("TAttFill", 2, TATTFILL, "Fill area attributes"),
      base("TAttMarker", 2, TATTMARKER, "Marker attributes"),
      int("fNcells", "Number of bins(1D), cells (2D) +U/Overflows"),
      { kind: "object", name: "fXaxis", title: "X axis descriptor", size: 216, typeName: "TAxis" },
      { kind: "object", name: "fYaxis", title: "Y axis descriptor", size: 216, typeName: "TAxis" },
      { kind: "object", name: "fZaxis", title: "Z axis descriptor", size: 216, typeName: "TAxis" },
      short("fBarOffset", "(1000*offset) for bar charts or legos"),
      short("fBarWidth", "(1000*width) for bar charts or legos"),
      double("fEntries", "Number of entries"),
      double("fTsumw", "Total Sum of weights"),
      double("fTsumw2", "Total Sum of squares of weights"),
      double("fTsumwx", "Total Sum of weight*X"),
      double("fTsumwx2", "Total Sum of weight*X*X"),
      double("fMaximum", "Maximum value for plotting"),
      double("fMinimum", "Minimum value for plotting"),
      double("fNormFactor", "Normalization factor"),
      { kind: "any", name: "fContour", title: "Array to display contour levels", size: 24, typeName: "TArrayD" },
      { kind: "any", name: "fSumw2", title: "Array of sum of squares of weights", size: 24, typeName: "TArrayD" },
      tstr("fOption", "Histogram options"),
      { kind: "pointer", name: "fFunctions", title: "->Pointer to list of functions (fits and user)", type: 63, typeName: "TList*" },
      int("fBufferSize", "fBuffer size"),
      { kind: "basicPointer", name: "fBuffer", title: "[fBufferSize] entry buffer", typeName: "double*", countName: "fBufferSize", countClass: "TH1", countVersion: 8 },
      int("fBinStatErrOpt", "Option for bin statistical errors", "TH1::EBinErrorOpt"),
      int("fStatOverflows", "Per object flag to use under/overflows in statistics", "TH1::EStatOverflows"),
    ],
  },
  TH1D: {
    name: "TH1D",
    version: 3,
    checksum: 0xf9b1569f,
    elements: [base("TH1", 8, TH1_SUM, "1-Dim histogram base class"), base("TArrayD", 1, TARRAYD, "Array of doubles")],
  },
  TH2: {
    name: "TH2",
    version: 5,
    checksum: TH2_SUM,
    elements: [
      base("TH1", 8, TH1_SUM, "1-Dim histogram base class"),
      double("fScalefactor", "Scale factor"),
      double("fTsumwy", "Total Sum of weight*Y"),
      double("fTsumwy2", "Total Sum of weight*Y*Y"),
      double("fTsumwxy", "Total Sum of weight*X*Y"),
    ],
  },
  TH2D: {
    name: "TH2D",
    version: 4,
    checksum: 0x7fba82f0,
    elements: [base("TH2", 5, TH2_SUM, "2-Dim histogram base class"), base("TArrayD", 1, TARRAYD, "Array of doubles")],
  },
  TAtt3D: { name: "TAtt3D", version: 1, checksum: TATT3D, elements: [] },
  TH3: {
    name: "TH3",
    version: 6,
    checksum: TH3_SUM,
    elements: [
      base("TH1", 8, TH1_SUM, "1-Dim histogram base class"),
      base("TAtt3D", 1, TATT3D, "3D attributes"),
      double("fTsumwy", "Total Sum of weight*Y"),
      double("fTsumwy2", "Total Sum of weight*Y*Y"),
      double("fTsumwxy", "Total Sum of weight*X*Y"),
      double("fTsumwz", "Total Sum of weight*Z"),
      double("fTsumwz2", "Total Sum of weight*Z*Z"),
      double("fTsumwxz", "Total Sum of weight*X*Z"),
      double("fTsumwyz", "Total Sum of weight*Y*Z"),
    ],
  },
  TH3D: {
    name: "TH3D",
    version: 4,
    checksum: 0x64b9ff86,
    elements: [base("TH3", 6, TH3_SUM, "3-Dim histogram base class"), base("TArrayD", 1, TARRAYD, "Array of doubles")],
  },
};

const ELEMENT_CLASS: Record<Element["kind"], string> = {
  base: "TStreamerBase",
  basic: "TStreamerBasicType",
  string: "TStreamerString",
  object: "TStreamerObject",
  any: "TStreamerObjectAny",
  pointer: "TStreamerObjectPointer",
  basicPointer: "TStreamerBasicPointer",
};

function writeElement(b: WBuffer, e: Element): void {
  const done = b.versioned(e.kind === "base" ? 3 : 2);
  const d = b.versioned(4); // TStreamerElement
  b.tnamed(e.name, e.title);
  const [type, size, typeName] =
    e.kind === "base"
      ? [e.type, 0, "BASE"]
      : e.kind === "basic"
        ? [e.type, e.size, e.typeName]
        : e.kind === "string"
          ? [65, 24, "TString"]
          : e.kind === "object"
            ? [61, e.size, e.typeName]
            : e.kind === "any"
              ? [62, e.size, e.typeName]
              : e.kind === "pointer"
                ? [e.type, 8, e.typeName]
                : [48, 8, e.typeName];
  b.i32(type);
  b.i32(size);
  b.i32(0); // fArrayLength
  b.i32(0); // fArrayDim
  b.u32(e.kind === "base" ? e.checksum : 0); // fMaxIndex[0]: a base's checksum, as ROOT writes it
  for (let i = 1; i < 5; i++) b.i32(0);
  b.tstring(typeName);
  d();
  if (e.kind === "base") b.i32(e.version);
  if (e.kind === "basicPointer") {
    b.i32(e.countVersion);
    b.tstring(e.countName);
    b.tstring(e.countClass);
  }
  done();
}

function writeStreamerInfo(b: WBuffer, c: ClassInfo): void {
  b.objectAny("TStreamerInfo", (sb) => {
    const done = sb.versioned(9);
    sb.tnamed(c.name, "");
    sb.u32(c.checksum);
    sb.i32(c.version);
    sb.objectAny("TObjArray", (ab) => {
      const d = ab.versioned(3);
      ab.tobject();
      ab.tstring("");
      ab.i32(c.elements.length);
      ab.i32(0); // fLowerBound
      for (const e of c.elements) ab.objectAny(ELEMENT_CLASS[e.kind], (eb) => writeElement(eb, e));
      d();
    });
    done();
  });
}

/** Classes needing a streamer record when histograms of these dimensions are written. */
export function streamerClasses(dims: Iterable<1 | 2 | 3>): string[] {
  const out = ["TObject", "TNamed", "TCollection", "TSeqCollection", "TList", "THashList", "TAttLine", "TAttFill", "TAttMarker", "TAttAxis", "TAxis", "TH1"];
  const set = new Set(dims);
  if (set.has(1)) out.push("TH1D");
  if (set.has(2)) out.push("TH2", "TH2D");
  if (set.has(3)) out.push("TAtt3D", "TH3", "TH3D");
  return out;
}

/** The object part of the "StreamerInfo" key: a TList of TStreamerInfo. */
export function streamStreamerInfoList(classNames: string[]): Uint8Array {
  const b = new WBuffer();
  const done = b.versioned(5);
  b.tobject();
  b.tstring("");
  b.i32(classNames.length);
  for (const n of classNames) {
    writeStreamerInfo(b, CLASSES[n]);
    b.u8(0);
  }
  done();
  return b.finish();
}

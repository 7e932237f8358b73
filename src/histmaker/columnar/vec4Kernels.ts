/**
 * Per-event four-vector expressions evaluated in one loop: `vec4(mu.leading(0)).add(vec4(mu.leading(1))).mass`
 * picks both muons, converts them and takes the pair's mass event by event, without the sixteen
 * intermediate arrays (and the trigonometry for events that have only one muon) of the step-by-step
 * evaluation. The loop is generated once per expression shape and value types; every formula is the
 * one the step-by-step path uses, in the same order, so both give identical numbers.
 */
import type { NumericArray } from "../events.js";

/** Four-vector components, one per event or per object. */
export interface Components {
  px: Float64Array;
  py: Float64Array;
  pz: Float64Array;
  e: Float64Array;
}

/** Where the vectors of a Vec4 come from, before anything reads them. */
export type Vec4Source =
  | { readonly kind: "components"; readonly c: Components }
  /** object `i` of each event of a collection (NaN vector where the event has fewer) */
  | {
      readonly kind: "pick";
      readonly offsets: Int32Array;
      readonly pt: NumericArray;
      readonly eta: NumericArray;
      readonly phi: NumericArray;
      readonly mass: NumericArray | number;
      readonly i: number;
    }
  | { readonly kind: "sum"; readonly a: Vec4Source; readonly b: Vec4Source; readonly sign: 1 | -1 };

/** What a loop writes: the components, or one derived quantity. */
export type Vec4Output = "components" | "mass" | "mass2" | "pt" | "eta" | "phi";

/** The quantities, written as the step-by-step methods of lorentz.ts compute them from (x, y, z, t). */
const DERIVED: Record<Exclude<Vec4Output, "components">, string> = {
  mass: "(m2 < 0 ? -Math.sqrt(-m2) : Math.sqrt(m2))",
  mass2: "m2",
  pt: "Math.hypot(x, y)",
  eta: "Math.asinh(z / Math.hypot(x, y))",
  phi: "Math.atan2(y, x)",
};

/** Number of leaves of a source (the generated loops stay small: deeper sums are evaluated first). */
export function leafCount(s: Vec4Source): number {
  return s.kind === "sum" ? leafCount(s.a) + leafCount(s.b) : 1;
}

type Leaf = Exclude<Vec4Source, { kind: "sum" }>;

interface Generated {
  key: string;
  leaves: Leaf[];
  checks: string[];
  compute: string[];
}

const typeName = (a: NumericArray | number) => (typeof a === "number" ? "number" : (a as object).constructor.name);

/** Writes the statements of node `s`; returns the name prefix of its x, y, z, t variables. */
function emit(s: Vec4Source, g: Generated): string {
  if (s.kind === "sum") {
    const a = emit(s.a, g);
    const b = emit(s.b, g);
    const v = `v${g.compute.length}_`;
    const op = s.sign === 1 ? "+" : "-";
    g.compute.push(
      `const ${v}x = ${a}x ${op} ${b}x, ${v}y = ${a}y ${op} ${b}y, ${v}z = ${a}z ${op} ${b}z, ${v}t = ${a}t ${op} ${b}t;`,
    );
    g.key += `(${op})`;
    return v;
  }
  const k = g.leaves.length;
  g.leaves.push(s);
  const v = `l${k}_`;
  if (s.kind === "components") {
    g.key += `[c]`;
    g.compute.push(`const ${v}x = L${k}.px[e], ${v}y = L${k}.py[e], ${v}z = L${k}.pz[e], ${v}t = L${k}.e[e];`);
    return v;
  }
  g.key += `[p${s.i}:${typeName(s.pt)}:${typeName(s.eta)}:${typeName(s.phi)}:${typeName(s.mass)}]`;
  // absent object or NaN pT: the whole result is NaN (as NaN components would make it), no trigonometry
  g.checks.push(`const at${k} = o${k}[e] + ${s.i}; if (at${k} >= o${k}[e + 1]) { NAN_OUT; continue; }`);
  g.checks.push(`const p${k} = pt${k}[at${k}]; if (p${k} !== p${k}) { NAN_OUT; continue; }`);
  const m = typeof s.mass === "number" ? `ms${k}` : `ms${k}[at${k}]`;
  g.compute.push(
    `const ${v}x = p${k} * Math.cos(ph${k}[at${k}]), ${v}y = p${k} * Math.sin(ph${k}[at${k}]), ${v}z = p${k} * Math.sinh(et${k}[at${k}]), mm${k} = ${m};`,
    `const ${v}t = Math.sqrt(${v}x * ${v}x + ${v}y * ${v}y + ${v}z * ${v}z + mm${k} * mm${k});`,
  );
  return v;
}

type Kernel = (leaves: Leaf[], n: number, outs: Float64Array[]) => void;
const kernels = new Map<string, Kernel>();

/** Evaluates `s` for n events into outs (four arrays for "components", one otherwise). */
export function evaluateVec4(s: Vec4Source, output: Vec4Output, n: number): Float64Array[] {
  const g: Generated = { key: `${output}:`, leaves: [], checks: [], compute: [] };
  const root = emit(s, g);
  let f = kernels.get(g.key);
  if (f === undefined) {
    const hoist = g.leaves
      .map((l, k) =>
        l.kind === "components"
          ? `const L${k} = leaves[${k}].c;`
          : `const o${k} = leaves[${k}].offsets, pt${k} = leaves[${k}].pt, et${k} = leaves[${k}].eta, ph${k} = leaves[${k}].phi, ms${k} = leaves[${k}].mass;`,
      )
      .join(" ");
    const comps = output === "components";
    const nanOut = comps ? "o0_[e] = o1_[e] = o2_[e] = o3_[e] = NaN" : "out[e] = NaN";
    const store = comps
      ? `o0_[e] = ${root}x; o1_[e] = ${root}y; o2_[e] = ${root}z; o3_[e] = ${root}t;`
      : `const x = ${root}x, y = ${root}y, z = ${root}z, t = ${root}t; const m2 = t * t - x * x - y * y - z * z; out[e] = ${DERIVED[output]};`;
    const outs = comps ? "const o0_ = outs[0], o1_ = outs[1], o2_ = outs[2], o3_ = outs[3];" : "const out = outs[0];";
    const body = `${hoist} ${outs} for (let e = 0; e < n; e++) { ${g.checks.join(" ").replaceAll("NAN_OUT", nanOut)} ${g.compute.join(" ")} ${store} }`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    f = new Function("leaves", "n", "outs", body) as Kernel;
    kernels.set(g.key, f);
  }
  const outs = Array.from({ length: output === "components" ? 4 : 1 }, () => new Float64Array(n));
  f(g.leaves, n, outs);
  return outs;
}

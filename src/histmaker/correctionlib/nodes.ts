/**
 * Compiles a validated correction's node tree once into closures of one "row" (the current element's
 * input values), so vectorised evaluation is a plain loop calling the root closure — no per-element
 * parsing or dispatch on node types. Semantics follow correctionlib's C++ evaluator (correction.cc):
 * bins are [low, high); a value on the last edge, or NaN, is overflow; "clamp" takes the edge bin,
 * "wrap" folds the value into the range, "error" throws, a content flow is evaluated instead; a
 * Transform rounds a new int value half away from zero.
 */
import { CorrectionError } from "./errors.js";
import { compileFormula, formulaUsage, FormulaSyntaxError, parseFormula } from "./formula.js";
import type { FormulaAst } from "./formula.js";
import { hashDraw } from "./hashprng.js";
import type { Content, CorrectionSchema, Edges, Flow, FormulaNode, Variable } from "./schema.js";

/** One element's input values: numbers (real and int inputs) and strings, by input position. */
export interface Row {
  num: Float64Array;
  str: string[];
}

export type NodeEvaluator = (row: Row) => number;

interface Scope {
  inputs: Variable[];
  index: Map<string, number>;
  /** `correction "name" (file)`, for evaluation errors */
  label: string;
  /** `file: correction "name":`, for compile errors */
  where: string;
  generic: FormulaAst[];
  genericVariables: string[][];
}

function formatValue(v: number): string {
  return Number.isNaN(v) ? "NaN" : String(v);
}

/** The bin-finding rule of one axis: a bin index, or -1 for "evaluate the flow content". */
function binFinder(edges: Edges, flow: Flow, inputName: string, scope: Scope, node: string): (v: number) => number {
  const mode = flow === "clamp" || flow === "error" || flow === "wrap" ? flow : "value";
  const outOfRange = (v: number, low: number, high: number): never => {
    const side = Number.isNaN(v) ? "is NaN, outside" : v < low ? "is below" : "is above";
    throw new CorrectionError(
      `${scope.label}: input "${inputName}" value ${formatValue(v)} ${side} the ${node} range [${low}, ${high}) (flow "error")`,
    );
  };
  if (!Array.isArray(edges)) {
    const { n, low, high } = edges;
    const width = high - low;
    return (v) => {
      if (!(v >= low && v < high)) {
        // NaN goes to the overflow side, as in correctionlib
        if (mode === "value") return -1;
        if (mode === "error") return outOfRange(v, low, high);
        if (mode === "clamp") return v < low ? 0 : n - 1;
        if (Number.isNaN(v)) return n - 1;
        let t = (v - low) / width;
        t -= Math.floor(t);
        return Math.min(Math.floor(n * t), n - 1);
      }
      // rounding can give n for values just below high
      // same arithmetic as correctionlib, so values at bin edges land in the same bin
      return Math.min(Math.floor(n * ((v - low) / width)), n - 1);
    };
  }
  const e = Float64Array.from(edges);
  const last = e.length - 1;
  const low = e[0];
  const high = e[last];
  return (value) => {
    let v = value;
    if (mode === "wrap" && !(v >= low && v < high) && !Number.isNaN(v)) {
      let t = (v - low) / (high - low);
      t -= Math.floor(t);
      v = low + t * (high - low);
    }
    // upper_bound: first edge > v
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid] > v) hi = mid;
      else lo = mid + 1;
    }
    if (lo === 0) {
      if (mode === "value") return -1;
      if (mode === "error") return outOfRange(value, low, high);
      return 0;
    }
    if (lo === e.length) {
      // above the last edge, on it, or NaN
      if (mode === "value") return -1;
      if (mode === "error") return outOfRange(value, low, high);
      return last - 1;
    }
    return lo - 1;
  };
}

function compileFormulaNode(ast: FormulaAst, variables: string[], parameters: readonly number[], path: string, scope: Scope): NodeEvaluator {
  const usage = formulaUsage(ast);
  if (usage.maxVariable >= variables.length)
    throw new CorrectionError(
      `${scope.where} ${path}: the formula uses ${"xyzt"[usage.maxVariable]} but only ${variables.length} variables are bound (${variables.join(", ") || "none"})`,
    );
  if (usage.maxParameter >= parameters.length)
    throw new CorrectionError(`${scope.where} ${path}: the formula uses parameter [${usage.maxParameter}] but ${parameters.length} parameters are given`);
  const idx = variables.map((name) => scope.index.get(name)!);
  return compileFormula<Row>(ast, (i) => {
    const k = idx[i];
    return (row) => row.num[k];
  }, parameters);
}

function parseOrFail(f: FormulaNode, path: string, scope: Scope): FormulaAst {
  try {
    return parseFormula(f.expression);
  } catch (err) {
    if (err instanceof FormulaSyntaxError) throw new CorrectionError(`${scope.where} ${path}.expression: ${err.message}`);
    throw err;
  }
}

/** Rounds half away from zero (std::round), as correctionlib does for a Transform of an int input. */
function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

function compileContent(c: Content, path: string, scope: Scope): NodeEvaluator {
  if (typeof c === "number") return () => c;
  const sub = (x: Content, p: string) => compileContent(x, p, scope);
  switch (c.nodetype) {
    case "binning": {
      const k = scope.index.get(c.input)!;
      const find = binFinder(c.edges, c.flow, c.input, scope, "binning");
      const children = c.content.map((x, i) => sub(x, `${path}.content[${i}]`));
      const dflt = typeof c.flow === "string" ? null : sub(c.flow, `${path}.flow`);
      return (row) => {
        const b = find(row.num[k]);
        return b < 0 ? dflt!(row) : children[b](row);
      };
    }
    case "multibinning": {
      const ks = c.inputs.map((name) => scope.index.get(name)!);
      const finders = c.edges.map((e, d) => binFinder(e, c.flow, c.inputs[d], scope, "multibinning"));
      const counts = c.edges.map((e) => (Array.isArray(e) ? e.length - 1 : e.n));
      const strides = new Array<number>(counts.length);
      let s = 1;
      for (let d = counts.length - 1; d >= 0; d--) {
        strides[d] = s;
        s *= counts[d];
      }
      const children = c.content.map((x, i) => sub(x, `${path}.content[${i}]`));
      const dflt = typeof c.flow === "string" ? null : sub(c.flow, `${path}.flow`);
      const nd = ks.length;
      return (row) => {
        let at = 0;
        for (let d = 0; d < nd; d++) {
          const b = finders[d](row.num[ks[d]]);
          if (b < 0) return dflt!(row);
          at += b * strides[d];
        }
        return children[at](row);
      };
    }
    case "category": {
      const k = scope.index.get(c.input)!;
      const isString = scope.inputs[k].type === "string";
      const dflt = c.default !== undefined && c.default !== null ? sub(c.default, `${path}.default`) : null;
      const missing = (shown: string): never => {
        throw new CorrectionError(`${scope.label}: input "${c.input}" value ${shown} is not a category (node ${path}, which has no default)`);
      };
      if (isString) {
        const map = new Map<string, NodeEvaluator>();
        c.content.forEach((it, i) => map.set(it.key as string, sub(it.value, `${path}.content[${i}].value`)));
        return (row) => {
          const f = map.get(row.str[k]) ?? dflt;
          return f === null ? missing(JSON.stringify(row.str[k])) : f(row);
        };
      }
      const map = new Map<number, NodeEvaluator>();
      c.content.forEach((it, i) => map.set(it.key as number, sub(it.value, `${path}.content[${i}].value`)));
      return (row) => {
        const f = map.get(row.num[k]) ?? dflt;
        return f === null ? missing(String(row.num[k])) : f(row);
      };
    }
    case "formula":
      return compileFormulaNode(parseOrFail(c, path, scope), c.variables, c.parameters ?? [], path, scope);
    case "formularef": {
      const ast = scope.generic[c.index];
      // the generic formula's variables are checked against its own list, the parameters against the ref
      return compileFormulaNode(ast, scope.genericVariables[c.index], c.parameters, path, scope);
    }
    case "transform": {
      const k = scope.index.get(c.input)!;
      const isInt = scope.inputs[k].type === "int";
      const rule = sub(c.rule, `${path}.rule`);
      const content = sub(c.content, `${path}.content`);
      return (row) => {
        const nv = rule(row);
        const old = row.num[k];
        row.num[k] = isInt ? roundHalfAway(nv) : nv;
        const out = content(row);
        row.num[k] = old;
        return out;
      };
    }
    case "hashprng": {
      const ks = c.inputs.map((name) => scope.index.get(name)!);
      const ints = ks.map((k) => scope.inputs[k].type === "int");
      const bytes = new Uint8Array(8 * ks.length);
      const view = new DataView(bytes.buffer);
      const dist = c.distribution;
      return (row) => {
        for (let j = 0; j < ks.length; j++) {
          const v = row.num[ks[j]];
          if (ints[j]) view.setBigInt64(8 * j, BigInt(v), true);
          else view.setFloat64(8 * j, v, true);
        }
        return hashDraw(bytes, dist);
      };
    }
  }
}

/** Compiles a validated correction into the evaluator of one row. */
export function compileCorrection(c: CorrectionSchema, file: string): NodeEvaluator {
  const scope: Scope = {
    inputs: c.inputs,
    index: new Map(c.inputs.map((v, i) => [v.name, i])),
    label: `correction "${c.name}" (${file})`,
    where: `${file}: correction "${c.name}":`,
    generic: [],
    genericVariables: (c.generic_formulas ?? []).map((f) => f.variables),
  };
  scope.generic = (c.generic_formulas ?? []).map((f, i) => parseOrFail(f, `generic_formulas[${i}]`, scope));
  return compileContent(c.data, "data", scope);
}

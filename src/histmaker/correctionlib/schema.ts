/**
 * correctionlib schema v2 (https://cms-nanoaod.github.io/correctionlib/schemav2.html): the types of a
 * CorrectionSet document and their validation. `validateCorrectionSet` turns parsed JSON into these
 * types or throws one CorrectionError naming the file, the correction and the node path
 * (e.g. `data.content[2].value.flow`). Input references (names, types) are checked here too, so
 * compiling a validated correction cannot fail.
 */
import { CorrectionError } from "./errors.js";

export type VariableType = "real" | "int" | "string";

export interface Variable {
  name: string;
  type: VariableType;
  description?: string;
}

export interface UniformEdges {
  n: number;
  low: number;
  high: number;
}

/** Bin edges: an increasing list (may hold ±Infinity) or n uniform bins on [low, high). */
export type Edges = number[] | UniformEdges;

/** What to do outside the edges: clamp to the edge bin, throw, wrap around, or evaluate a default. */
export type Flow = "clamp" | "error" | "wrap" | Content;

export interface BinningNode {
  nodetype: "binning";
  input: string;
  edges: Edges;
  content: Content[];
  flow: Flow;
}

export interface MultiBinningNode {
  nodetype: "multibinning";
  inputs: string[];
  edges: Edges[];
  /** row-major (C order): the last input varies fastest */
  content: Content[];
  flow: Flow;
}

export interface CategoryItem {
  key: number | string;
  value: Content;
}

export interface CategoryNode {
  nodetype: "category";
  input: string;
  content: CategoryItem[];
  default?: Content | null;
}

export interface FormulaNode {
  nodetype: "formula";
  expression: string;
  parser: "TFormula";
  /** inputs bound to x, y, z, t in this order */
  variables: string[];
  parameters?: number[];
}

export interface FormulaRefNode {
  nodetype: "formularef";
  /** index into the correction's generic_formulas */
  index: number;
  parameters: number[];
}

export interface TransformNode {
  nodetype: "transform";
  input: string;
  rule: Content;
  content: Content;
}

export interface HashPRNGNode {
  nodetype: "hashprng";
  inputs: string[];
  distribution: "stdflat" | "stdnormal" | "normal";
}

export type ContentNode =
  | BinningNode
  | MultiBinningNode
  | CategoryNode
  | FormulaNode
  | FormulaRefNode
  | TransformNode
  | HashPRNGNode;

/** A node or a constant. */
export type Content = number | ContentNode;

export interface CorrectionSchema {
  name: string;
  description?: string;
  version: number;
  inputs: Variable[];
  output: Variable;
  generic_formulas?: FormulaNode[];
  data: Content;
}

export type UpdateOp = "+" | "*" | "/";

export interface CompoundCorrectionSchema {
  name: string;
  description?: string;
  inputs: Variable[];
  output: Variable;
  /** real inputs updated after each stacked correction with input_op */
  inputs_update: string[];
  input_op: UpdateOp;
  output_op: UpdateOp | "last";
  /** names of corrections of the same set, evaluated in order */
  stack: string[];
}

export interface CorrectionSetSchema {
  schema_version: 2;
  description?: string;
  corrections: CorrectionSchema[];
  compound_corrections?: CompoundCorrectionSchema[] | null;
}

// ---- validation ----------------------------------------------------------------------------

type Json = unknown;

/** Where validation is: the file and correction, for error messages. */
class Where {
  constructor(
    readonly file: string,
    readonly correction: string | null,
    readonly kind = "correction",
  ) {}
  fail(path: string, what: string): never {
    const corr = this.correction === null ? "" : ` ${this.kind} "${this.correction}":`;
    throw new CorrectionError(`${this.file}:${corr} ${path === "" ? "" : `${path}: `}${what}`);
  }
}

function isObject(v: Json): v is Record<string, Json> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describe(v: Json): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function str(o: Record<string, Json>, key: string, path: string, w: Where): string {
  const v = o[key];
  if (typeof v !== "string") w.fail(join(path, key), `expected a string, got ${describe(v)}`);
  return v;
}

function num(v: Json, path: string, w: Where): number {
  if (typeof v !== "number") w.fail(path, `expected a number, got ${describe(v)}`);
  return v;
}

function list(o: Record<string, Json>, key: string, path: string, w: Where): Json[] {
  const v = o[key];
  if (!Array.isArray(v)) w.fail(join(path, key), `expected a list, got ${describe(v)}`);
  return v;
}

function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

function optionalDescription(o: Record<string, Json>, path: string, w: Where): string | undefined {
  const d = o.description;
  if (d === undefined || d === null) return undefined;
  if (typeof d !== "string") w.fail(join(path, "description"), `expected a string, got ${describe(d)}`);
  return d;
}

function variable(v: Json, path: string, w: Where): Variable {
  if (!isObject(v)) w.fail(path, `expected a variable object, got ${describe(v)}`);
  const name = str(v, "name", path, w);
  const type = str(v, "type", path, w);
  if (type !== "real" && type !== "int" && type !== "string")
    w.fail(join(path, "type"), `variable type must be "real", "int" or "string", got "${type}"`);
  const description = optionalDescription(v, path, w);
  return { name, type, ...(description !== undefined ? { description } : {}) };
}

function variables(o: Record<string, Json>, key: string, path: string, w: Where): Variable[] {
  const vars = list(o, key, path, w).map((v, i) => variable(v, join(join(path, key), i), w));
  const seen = new Set<string>();
  for (const v of vars) {
    if (seen.has(v.name)) w.fail(join(path, key), `input "${v.name}" is declared twice`);
    seen.add(v.name);
  }
  return vars;
}

/** Checks node references against the correction's inputs as it goes. */
interface NodeScope {
  inputs: Variable[];
  genericFormulas: number;
  w: Where;
}

function inputRef(scope: NodeScope, name: Json, path: string, node: string, allowed: VariableType[]): string {
  if (typeof name !== "string") scope.w.fail(path, `expected an input name, got ${describe(name)}`);
  const v = scope.inputs.find((x) => x.name === name);
  if (v === undefined)
    scope.w.fail(path, `${node} refers to input "${name}", which is not an input of the correction (${scope.inputs.map((x) => x.name).join(", ")})`);
  if (!allowed.includes(v.type)) scope.w.fail(path, `${node} cannot use ${v.type} input "${name}" (needs ${allowed.join(" or ")})`);
  return name;
}

/** Parses an edge: a number, or "inf" / "+inf" / "-inf" as correctionlib writes infinite edges. */
function edgeValue(v: Json, path: string, w: Where): number {
  if (typeof v === "number") return v;
  if (v === "inf" || v === "+inf" || v === "Infinity") return Infinity;
  if (v === "-inf" || v === "-Infinity") return -Infinity;
  return w.fail(path, `expected a bin edge (number or "inf"/"-inf"), got ${describe(v)}`);
}

function edges(v: Json, path: string, w: Where): Edges {
  if (Array.isArray(v)) {
    const e = v.map((x, i) => edgeValue(x, join(path, i), w));
    if (e.length < 2) w.fail(path, `a binning needs at least 2 edges, got ${e.length}`);
    for (let i = 1; i < e.length; i++)
      if (!(e[i] > e[i - 1])) w.fail(path, `edges must increase strictly, but edge ${i} (${e[i]}) follows ${e[i - 1]}`);
    return e;
  }
  if (isObject(v)) {
    const n = num(v.n, join(path, "n"), w);
    const low = num(v.low, join(path, "low"), w);
    const high = num(v.high, join(path, "high"), w);
    if (!(Number.isInteger(n) && n > 0)) w.fail(join(path, "n"), `the number of uniform bins must be a positive integer, got ${n}`);
    if (!(high > low) || !Number.isFinite(low) || !Number.isFinite(high))
      w.fail(path, `uniform binning needs finite low < high, got low ${low}, high ${high}`);
    return { n, low, high };
  }
  return w.fail(path, `edges must be a list or a {n, low, high} object, got ${describe(v)}`);
}

export function edgeCount(e: Edges): number {
  return Array.isArray(e) ? e.length - 1 : e.n;
}

function flow(v: Json, path: string, scope: NodeScope): Flow {
  if (v === "clamp" || v === "error" || v === "wrap") return v;
  if (typeof v === "string") scope.w.fail(path, `flow must be "clamp", "error", "wrap" or a content node, got "${v}"`);
  return content(v, path, scope);
}

function formulaNode(o: Record<string, Json>, path: string, scope: NodeScope): FormulaNode {
  const expression = str(o, "expression", path, scope.w);
  const parser = str(o, "parser", path, scope.w);
  if (parser !== "TFormula") scope.w.fail(join(path, "parser"), `only the "TFormula" parser is supported, got "${parser}"`);
  const vars = list(o, "variables", path, scope.w).map((x, i) => inputRef(scope, x, join(join(path, "variables"), i), "a formula", ["real"]));
  if (vars.length > 4) scope.w.fail(join(path, "variables"), `a formula has at most 4 variables (x, y, z, t), got ${vars.length}`);
  let parameters: number[] | undefined;
  if (o.parameters !== undefined && o.parameters !== null)
    parameters = list(o, "parameters", path, scope.w).map((x, i) => num(x, join(join(path, "parameters"), i), scope.w));
  return { nodetype: "formula", expression, parser: "TFormula", variables: vars, ...(parameters ? { parameters } : {}) };
}

function content(v: Json, path: string, scope: NodeScope): Content {
  const w: Where = scope.w;
  if (typeof v === "number") return v;
  if (!isObject(v)) return w.fail(path, `expected a number or a node, got ${describe(v)}`);
  const type = v.nodetype;
  switch (type) {
    case "binning": {
      const input = inputRef(scope, v.input, join(path, "input"), "a binning", ["real", "int"]);
      const e = edges(v.edges, join(path, "edges"), w);
      const c = list(v, "content", path, w).map((x, i) => content(x, join(join(path, "content"), i), scope));
      if (c.length !== edgeCount(e)) w.fail(join(path, "content"), `${c.length} content entries for ${edgeCount(e)} bins`);
      return { nodetype: "binning", input, edges: e, content: c, flow: flow(v.flow, join(path, "flow"), scope) };
    }
    case "multibinning": {
      const inputs = list(v, "inputs", path, w).map((x, i) => inputRef(scope, x, join(join(path, "inputs"), i), "a multibinning", ["real", "int"]));
      const es = list(v, "edges", path, w).map((x, i) => edges(x, join(join(path, "edges"), i), w));
      if (es.length !== inputs.length) w.fail(join(path, "edges"), `${es.length} edge lists for ${inputs.length} inputs`);
      if (inputs.length === 0) w.fail(join(path, "inputs"), "a multibinning needs at least one input");
      const c = list(v, "content", path, w).map((x, i) => content(x, join(join(path, "content"), i), scope));
      const want = es.reduce((p, e) => p * edgeCount(e), 1);
      if (c.length !== want) w.fail(join(path, "content"), `${c.length} content entries for ${want} bins (${es.map(edgeCount).join(" × ")})`);
      return { nodetype: "multibinning", inputs, edges: es, content: c, flow: flow(v.flow, join(path, "flow"), scope) };
    }
    case "category": {
      const input = inputRef(scope, v.input, join(path, "input"), "a category", ["int", "string"]);
      const itype = scope.inputs.find((x) => x.name === input)!.type;
      const seen = new Set<number | string>();
      const items = list(v, "content", path, w).map((x, i): CategoryItem => {
        const p = join(join(path, "content"), i);
        if (!isObject(x) || !("key" in x) || !("value" in x)) return w.fail(p, `expected a {key, value} item, got ${describe(x)}`);
        const key = x.key;
        if (itype === "string" && typeof key !== "string") w.fail(join(p, "key"), `input "${input}" is a string, but the key is ${describe(key)}`);
        if (itype === "int" && !(typeof key === "number" && Number.isInteger(key)))
          w.fail(join(p, "key"), `input "${input}" is an int, but the key is ${describe(key)}`);
        const k = key as number | string;
        if (seen.has(k)) w.fail(join(p, "key"), `key ${JSON.stringify(k)} appears twice`);
        seen.add(k);
        return { key: k, value: content(x.value, join(p, "value"), scope) };
      });
      const d = v.default;
      return {
        nodetype: "category",
        input,
        content: items,
        ...(d !== undefined && d !== null ? { default: content(d, join(path, "default"), scope) } : {}),
      };
    }
    case "formula":
      return formulaNode(v, path, scope);
    case "formularef": {
      const index = num(v.index, join(path, "index"), w);
      if (!(Number.isInteger(index) && index >= 0 && index < scope.genericFormulas))
        w.fail(join(path, "index"), `formula index ${index} is not one of the correction's ${scope.genericFormulas} generic_formulas`);
      const parameters = list(v, "parameters", path, w).map((x, i) => num(x, join(join(path, "parameters"), i), w));
      return { nodetype: "formularef", index, parameters };
    }
    case "transform": {
      const input = inputRef(scope, v.input, join(path, "input"), "a transform", ["real", "int"]);
      return {
        nodetype: "transform",
        input,
        rule: content(v.rule, join(path, "rule"), scope),
        content: content(v.content, join(path, "content"), scope),
      };
    }
    case "hashprng": {
      const inputs = list(v, "inputs", path, w).map((x, i) => inputRef(scope, x, join(join(path, "inputs"), i), "a hashprng", ["real", "int"]));
      const distribution = str(v, "distribution", path, w);
      if (distribution !== "stdflat" && distribution !== "stdnormal" && distribution !== "normal")
        w.fail(join(path, "distribution"), `distribution must be "stdflat", "stdnormal" or "normal", got "${distribution}"`);
      return { nodetype: "hashprng", inputs, distribution };
    }
    default:
      return w.fail(join(path, "nodetype"), `unknown or unsupported node type ${describe(type)}`);
  }
}

function correction(v: Json, path: string, file: string): CorrectionSchema {
  const w0: Where = new Where(file, null);
  if (!isObject(v)) w0.fail(path, `expected a correction object, got ${describe(v)}`);
  const name = str(v, "name", path, w0);
  const w: Where = new Where(file, name);
  const version = num(v.version, "version", w);
  const inputs = variables(v, "inputs", "", w);
  const output = variable(v.output, "output", w);
  if (output.type !== "real") w.fail("output", `the output must be real, got ${output.type}`);
  const scope: NodeScope = { inputs, genericFormulas: 0, w };
  let generic: FormulaNode[] | undefined;
  if (v.generic_formulas !== undefined && v.generic_formulas !== null) {
    generic = list(v, "generic_formulas", "", w).map((x, i) => {
      const p = join("generic_formulas", i);
      if (!isObject(x) || x.nodetype !== "formula") return w.fail(p, `expected a formula node, got ${describe(x)}`);
      return formulaNode(x, p, scope);
    });
    scope.genericFormulas = generic.length;
  }
  const description = optionalDescription(v, "", w);
  return {
    name,
    ...(description !== undefined ? { description } : {}),
    version,
    inputs,
    output,
    ...(generic ? { generic_formulas: generic } : {}),
    data: content(v.data, "data", scope),
  };
}

function compound(v: Json, path: string, file: string, corrections: Map<string, CorrectionSchema>): CompoundCorrectionSchema {
  const w0: Where = new Where(file, null);
  if (!isObject(v)) w0.fail(path, `expected a compound correction object, got ${describe(v)}`);
  const name = str(v, "name", path, w0);
  const w: Where = new Where(file, name, "compound correction");
  const inputs = variables(v, "inputs", "", w);
  const output = variable(v.output, "output", w);
  if (output.type !== "real") w.fail("output", `the output must be real, got ${output.type}`);
  const scope: NodeScope = { inputs, genericFormulas: 0, w };
  const inputsUpdate = list(v, "inputs_update", "", w).map((x, i) => inputRef(scope, x, join("inputs_update", i), "inputs_update", ["real"]));
  const inputOp = v.input_op;
  if (inputOp !== "+" && inputOp !== "*" && inputOp !== "/") return w.fail("input_op", `must be "+", "*" or "/", got ${describe(inputOp)}`);
  const outputOp = v.output_op;
  if (outputOp !== "+" && outputOp !== "*" && outputOp !== "/" && outputOp !== "last")
    return w.fail("output_op", `must be "+", "*", "/" or "last", got ${describe(outputOp)}`);
  const stack = list(v, "stack", "", w).map((x, i) => {
    const p = join("stack", i);
    if (typeof x !== "string") return w.fail(p, `expected a correction name, got ${describe(x)}`);
    const c = corrections.get(x);
    if (c === undefined) return w.fail(p, `correction "${x}" is not in the set`);
    for (const ci of c.inputs) {
      const mine = inputs.find((y) => y.name === ci.name);
      if (mine === undefined) w.fail(p, `correction "${x}" needs input "${ci.name}", which is not an input of the compound correction`);
      if (mine.type !== ci.type) w.fail(p, `correction "${x}" takes input "${ci.name}" as ${ci.type}, the compound correction declares it ${mine.type}`);
    }
    return x;
  });
  const description = optionalDescription(v, "", w);
  return {
    name,
    ...(description !== undefined ? { description } : {}),
    inputs,
    output,
    inputs_update: inputsUpdate,
    input_op: inputOp,
    output_op: outputOp,
    stack,
  };
}

/** Validates a parsed CorrectionSet document (schema v2); `file` names it in errors. */
export function validateCorrectionSet(doc: Json, file: string): CorrectionSetSchema {
  const w: Where = new Where(file, null);
  if (!isObject(doc)) return w.fail("", `expected a CorrectionSet object, got ${describe(doc)}`);
  const version = doc.schema_version;
  if (version !== 2)
    w.fail("schema_version", `only correctionlib schema version 2 is supported, got ${describe(version)}`);
  const corrections = list(doc, "corrections", "", w).map((c, i) => correction(c, join("corrections", i), file));
  const byName = new Map<string, CorrectionSchema>();
  for (const c of corrections) {
    if (byName.has(c.name)) w.fail("corrections", `correction "${c.name}" is declared twice`);
    byName.set(c.name, c);
  }
  let compounds: CompoundCorrectionSchema[] | undefined;
  if (doc.compound_corrections !== undefined && doc.compound_corrections !== null) {
    compounds = list(doc, "compound_corrections", "", w).map((c, i) => compound(c, join("compound_corrections", i), file, byName));
    for (const c of compounds) {
      if (byName.has(c.name)) w.fail("compound_corrections", `name "${c.name}" is used by a correction and a compound correction`);
    }
    const seen = new Set<string>();
    for (const c of compounds) {
      if (seen.has(c.name)) w.fail("compound_corrections", `compound correction "${c.name}" is declared twice`);
      seen.add(c.name);
    }
  }
  const description = optionalDescription(doc, "", w);
  return {
    schema_version: 2,
    ...(description !== undefined ? { description } : {}),
    corrections,
    ...(compounds ? { compound_corrections: compounds } : {}),
  };
}

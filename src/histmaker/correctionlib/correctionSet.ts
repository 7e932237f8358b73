/**
 * Loading a correctionlib CorrectionSet (schema v2, .json or .json.gz) and evaluating its corrections
 * on whole columns: `set["name"].evaluate(eta, pt, "nominal")` takes, per input, a typed array, a
 * number or string broadcast to every element, or a string array, and returns a Float64Array.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { CorrectionError } from "./errors.js";
import { compileCorrection } from "./nodes.js";
import type { NodeEvaluator, Row } from "./nodes.js";
import type { CompoundCorrectionSchema, CorrectionSchema, UpdateOp, Variable } from "./schema.js";
import { validateCorrectionSet } from "./schema.js";
import type { NumericArray } from "../events.js";
import { isNumericArray } from "../../numericArray.js";

/** One input's values: a column, or a scalar / string broadcast to every element. */
export type CorrectionArgument = NumericArray | number | string | readonly string[];

/** Reads element j of an input into the row. */
type Loader = (row: Row, j: number) => void;

/** A column's loader, or a broadcast scalar's (set once before the loop). */
interface InputLoader {
  load: Loader;
  scalar: boolean;
}

/**
 * Checks the arguments against the inputs and returns the common length and one loader per input.
 * `label` names the correction in errors.
 */
function prepareArguments(label: string, inputs: Variable[], args: CorrectionArgument[]): { n: number; loaders: InputLoader[] } {
  if (args.length !== inputs.length)
    throw new CorrectionError(
      `${label}: takes ${inputs.length} inputs (${inputs.map((v) => `${v.name}: ${v.type}`).join(", ")}), got ${args.length}`,
    );
  let n = -1;
  const setLength = (len: number, name: string) => {
    if (n === -1) n = len;
    else if (len !== n) throw new CorrectionError(`${label}: input "${name}" has ${len} values, an earlier input has ${n}`);
  };
  const loaders = inputs.map((v, k): InputLoader => {
    const a = args[k];
    const bad = (got: string): never => {
      throw new CorrectionError(`${label}: input "${v.name}" is ${v.type === "int" ? "an int" : v.type}, got ${got}`);
    };
    if (v.type === "string") {
      if (typeof a === "string") return { scalar: true, load: (row) => void (row.str[k] = a) };
      if (Array.isArray(a)) {
        setLength(a.length, v.name);
        const arr = a as readonly unknown[];
        for (let j = 0; j < arr.length; j++)
          if (typeof arr[j] !== "string") bad(`${describeValue(arr[j])} at element ${j}`);
        return { scalar: false, load: (row, j) => void (row.str[k] = arr[j] as string) };
      }
      return bad(describeArgument(a));
    }
    const checkInt = (x: number, j: number | null): void => {
      if (!Number.isInteger(x))
        throw new CorrectionError(`${label}: input "${v.name}" is an int, got value ${formatNumber(x)}${j === null ? "" : ` at element ${j}`}`);
    };
    if (typeof a === "number") {
      if (v.type === "int") checkInt(a, null);
      return { scalar: true, load: (row) => void (row.num[k] = a) };
    }
    if (isNumericArray(a)) {
      setLength(a.length, v.name);
      if (a instanceof BigInt64Array || a instanceof BigUint64Array) {
        const big = a;
        return { scalar: false, load: (row, j) => void (row.num[k] = Number(big[j])) };
      }
      const arr = a as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
      if (v.type === "int" && (arr instanceof Float64Array || arr instanceof Float32Array))
        for (let j = 0; j < arr.length; j++) checkInt(arr[j], j);
      return { scalar: false, load: (row, j) => void (row.num[k] = arr[j]) };
    }
    return bad(describeArgument(a));
  });
  return { n: n === -1 ? 1 : n, loaders };
}

function formatNumber(x: number): string {
  return Number.isNaN(x) ? "NaN" : String(x);
}

function describeValue(x: unknown): string {
  if (typeof x === "string") return `the string ${JSON.stringify(x)}`;
  if (typeof x === "number") return `the number ${formatNumber(x)}`;
  return x === null ? "null" : typeof x;
}

function describeArgument(a: unknown): string {
  if (typeof a === "string") return `the string ${JSON.stringify(a)}`;
  if (typeof a === "number") return `the number ${formatNumber(a)}`;
  if (Array.isArray(a)) return "a list (strings only go in string inputs; pass numbers as a typed array)";
  if (isNumericArray(a)) return `a ${a.constructor.name}`;
  return a === null ? "null" : a === undefined ? "nothing" : typeof a;
}

function newRow(inputs: Variable[]): Row {
  return { num: new Float64Array(inputs.length), str: new Array<string>(inputs.length).fill("") };
}

/** The element loop. Broadcast scalars go into the row once (a Transform restores what it changes). */
function runLoop(n: number, loaders: InputLoader[], row: Row, evalRow: NodeEvaluator): Float64Array {
  const out = new Float64Array(n);
  for (const l of loaders) if (l.scalar) l.load(row, 0);
  const each = loaders.filter((l) => !l.scalar).map((l) => l.load);
  const m = each.length;
  if (m === 1) {
    const load = each[0];
    for (let j = 0; j < n; j++) {
      load(row, j);
      out[j] = evalRow(row);
    }
    return out;
  }
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < m; k++) each[k](row, j);
    out[j] = evalRow(row);
  }
  return out;
}

/** A correction of the set: named inputs, one real output, a compiled node tree. */
export class Correction {
  readonly name: string;
  readonly description: string;
  readonly version: number;
  readonly inputs: readonly Variable[];
  readonly output: Variable;
  /** the compiled tree (used by compound corrections) */
  readonly evaluateRow: NodeEvaluator;
  private readonly label: string;

  constructor(schema: CorrectionSchema, file: string) {
    this.name = schema.name;
    this.description = schema.description ?? "";
    this.version = schema.version;
    this.inputs = schema.inputs;
    this.output = schema.output;
    this.label = `correction "${schema.name}" (${file})`;
    this.evaluateRow = compileCorrection(schema, file);
  }

  /**
   * Evaluates the correction element by element: one argument per input, in the declared order.
   * Typed arrays (all of one length) are columns, numbers and strings are broadcast; the result has
   * the columns' length (1 when every argument is a scalar).
   */
  evaluate(...args: CorrectionArgument[]): Float64Array {
    const inputs = this.inputs as Variable[];
    const { n, loaders } = prepareArguments(this.label, inputs, args);
    return runLoop(n, loaders, newRow(inputs), this.evaluateRow);
  }
}

const OPS: Record<UpdateOp, (a: number, b: number) => number> = {
  "+": (a, b) => a + b,
  "*": (a, b) => a * b,
  "/": (a, b) => a / b,
};

/**
 * A compound correction: its stack of corrections evaluated in order; after each one the
 * `inputs_update` inputs are combined with its output by `input_op`, and the outputs are combined by
 * `output_op` ("last" keeps the last one).
 */
export class CompoundCorrection {
  readonly name: string;
  readonly description: string;
  readonly inputs: readonly Variable[];
  readonly output: Variable;
  readonly stack: readonly Correction[];
  readonly evaluateRow: NodeEvaluator;
  private readonly label: string;

  constructor(schema: CompoundCorrectionSchema, corrections: Map<string, Correction>, file: string) {
    this.name = schema.name;
    this.description = schema.description ?? "";
    this.inputs = schema.inputs;
    this.output = schema.output;
    this.label = `compound correction "${schema.name}" (${file})`;
    const position = new Map(schema.inputs.map((v, i) => [v.name, i]));
    this.stack = schema.stack.map((name) => corrections.get(name)!);
    const parts = this.stack.map((c) => ({ evaluate: c.evaluateRow, map: c.inputs.map((v) => position.get(v.name)!), row: newRow(c.inputs as Variable[]) }));
    const update = schema.inputs_update.map((name) => position.get(name)!);
    const inputOp = OPS[schema.input_op];
    const outputOp = schema.output_op === "last" ? (_a: number, b: number) => b : OPS[schema.output_op];
    const nIn = schema.inputs.length;
    const values = new Float64Array(nIn);
    this.evaluateRow = (row) => {
      values.set(row.num.subarray(0, nIn));
      let out = 0;
      for (let s = 0; s < parts.length; s++) {
        const p = parts[s];
        for (let k = 0; k < p.map.length; k++) {
          p.row.num[k] = values[p.map[k]];
          p.row.str[k] = row.str[p.map[k]];
        }
        const sf = p.evaluate(p.row);
        for (const u of update) values[u] = inputOp(values[u], sf);
        out = s === 0 ? sf : outputOp(out, sf);
      }
      return out;
    };
  }

  /** As Correction.evaluate. */
  evaluate(...args: CorrectionArgument[]): Float64Array {
    const inputs = this.inputs as Variable[];
    const { n, loaders } = prepareArguments(this.label, inputs, args);
    return runLoop(n, loaders, newRow(inputs), this.evaluateRow);
  }
}

/**
 * A loaded CorrectionSet: corrections and compound corrections by name, as a read-only object
 * (`set["NUM_TightID_DEN_TrackerMuons"]`, `Object.keys(set)`). Asking for a name the set lacks throws
 * an error that lists the names it has.
 */
export type CorrectionSet = Readonly<Record<string, Correction | CompoundCorrection>>;

/** Property names that libraries probe on any object (promises, JSON, test matchers): never an error. */
const PROBES = new Set(["then", "toJSON", "constructor", "asymmetricMatch", "nodeType", "toString", "valueOf", "inspect", "$$typeof"]);

function namedSet(entries: [string, Correction | CompoundCorrection][], file: string): CorrectionSet {
  const target: Record<string, Correction | CompoundCorrection> = Object.create(null) as Record<string, Correction | CompoundCorrection>;
  for (const [k, v] of entries) target[k] = v;
  Object.freeze(target);
  return new Proxy(target, {
    get(t, prop) {
      if (typeof prop !== "string") return undefined;
      if (Object.prototype.hasOwnProperty.call(t, prop)) return t[prop];
      if (PROBES.has(prop) || prop.startsWith("@@") || prop.startsWith("__")) return undefined;
      throw new CorrectionError(`${file}: no correction "${prop}" in the set (it has: ${Object.keys(t).join(", ") || "nothing"})`);
    },
  });
}

/** Parses JSON text; NaN / Infinity / -Infinity literals (Python's json writes them) become numbers. */
function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const marked = replaceNonFiniteLiterals(text);
    if (marked !== null) {
      try {
        return JSON.parse(marked, (_k, v: unknown) =>
          v === NAN_MARK ? NaN : v === INF_MARK ? Infinity : v === NEG_INF_MARK ? -Infinity : v,
        );
      } catch {
        // fall through to the original error
      }
    }
    throw new CorrectionError(`${file}: not valid JSON (${(first as Error).message})`);
  }
}

const NAN_MARK = "\u0000NaN\u0000";
const INF_MARK = "\u0000Infinity\u0000";
const NEG_INF_MARK = "\u0000-Infinity\u0000";

/** Replaces bare NaN / Infinity / -Infinity outside strings by marker strings; null when there are none. */
function replaceNonFiniteLiterals(text: string): string | null {
  let out = "";
  let last = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      continue;
    }
    for (const [lit, mark] of [["-Infinity", NEG_INF_MARK], ["Infinity", INF_MARK], ["NaN", NAN_MARK]] as const) {
      if (text.startsWith(lit, i)) {
        out += text.slice(last, i) + JSON.stringify(mark);
        i += lit.length - 1;
        last = i + 1;
        found = true;
        break;
      }
    }
  }
  return found ? out + text.slice(last) : null;
}

/** Builds a CorrectionSet from a parsed document; `file` names it in errors. */
export function correctionSetFromJson(doc: unknown, file = "<CorrectionSet>"): CorrectionSet {
  const schema = validateCorrectionSet(doc, file);
  const corrections = new Map<string, Correction>();
  for (const c of schema.corrections) corrections.set(c.name, new Correction(c, file));
  const entries: [string, Correction | CompoundCorrection][] = [...corrections];
  for (const cc of schema.compound_corrections ?? []) entries.push([cc.name, new CompoundCorrection(cc, corrections, file)]);
  return namedSet(entries, file);
}

/** Builds a CorrectionSet from JSON text. */
export function correctionSetFromString(text: string, file = "<CorrectionSet>"): CorrectionSet {
  return correctionSetFromJson(parseJson(text, file), file);
}

/** Loads a CorrectionSet file: JSON, gzip-compressed or not (recognised by its magic bytes). */
export function loadCorrectionSet(file: string): CorrectionSet {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CorrectionError(`${file}: cannot read the correction file (${code === "ENOENT" ? "no such file" : (err as Error).message})`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new CorrectionError(`${file}: corrupt gzip data (${(err as Error).message})`);
    }
  }
  return correctionSetFromString(bytes.toString("utf8"), file);
}

/**
 * correctionlib's TFormula expressions: a small recursive-descent parser (no eval / Function) into an
 * AST, and a compiler from AST to a closure. The grammar follows correctionlib's own (formula_ast.cc):
 *
 *   expression  := atom (binop atom)*      precedence, lowest first: == != | > < >= <= | + - | * / | ^
 *                                          (all left-associative except ^, which is right-associative)
 *   atom        := literal | ['-'] (call | 'x'|'y'|'z'|'t' | '[' digits ']' | '(' expression ')')
 *   literal     := ['-'] digits ['.' digits*] [('e'|'E') ['+'|'-'] digits]
 *   call        := unary-function '(' expression ')' | binary-function '(' expression ',' expression ')'
 *
 * As in correctionlib a leading minus belongs to the atom, so `-x^2` is (-x)², and `-2^2` is 4.
 * Comparisons give 1 or 0. Whitespace is spaces and tabs.
 */
import { erf } from "./erf.js";

export type UnaryFunction =
  | "log" | "log10" | "exp" | "erf" | "sqrt" | "abs" | "cos" | "sin" | "tan" | "acos" | "asin" | "atan"
  | "cosh" | "sinh" | "tanh" | "acosh" | "asinh" | "atanh";
export type BinaryFunction = "atan2" | "pow" | "max" | "min";
export type BinaryOperator = "==" | "!=" | ">" | "<" | ">=" | "<=" | "+" | "-" | "*" | "/" | "^";

export type FormulaAst =
  | { kind: "literal"; value: number }
  | { kind: "variable"; index: number } // 0..3 for x, y, z, t
  | { kind: "parameter"; index: number }
  | { kind: "negate"; arg: FormulaAst }
  | { kind: "unary"; fn: UnaryFunction; arg: FormulaAst }
  | { kind: "binary"; op: BinaryOperator | BinaryFunction; left: FormulaAst; right: FormulaAst };

const UNARY: Record<UnaryFunction, (a: number) => number> = {
  log: Math.log,
  log10: Math.log10,
  exp: Math.exp,
  erf,
  sqrt: Math.sqrt,
  abs: Math.abs,
  cos: Math.cos,
  sin: Math.sin,
  tan: Math.tan,
  acos: Math.acos,
  asin: Math.asin,
  atan: Math.atan,
  cosh: Math.cosh,
  sinh: Math.sinh,
  tanh: Math.tanh,
  acosh: Math.acosh,
  asinh: Math.asinh,
  atanh: Math.atanh,
};
const BINARY_FUNCTIONS = new Set<string>(["atan2", "pow", "max", "min"]);

/** Binary operators by precedence level (index 0 binds loosest). */
const LEVELS: BinaryOperator[][] = [["==", "!="], [">", "<", ">=", "<="], ["+", "-"], ["*", "/"], ["^"]];

/** A formula that does not parse, with the position (0-based) where parsing stopped. */
export class FormulaSyntaxError extends Error {
  constructor(
    readonly expression: string,
    readonly position: number,
    what: string,
  ) {
    super(`cannot parse formula "${expression}" at position ${position}: ${what}`);
    this.name = "FormulaSyntaxError";
  }
}

class Parser {
  pos = 0;
  constructor(readonly src: string) {}

  fail(what: string, at = this.pos): never {
    throw new FormulaSyntaxError(this.src, at, what);
  }
  skip(): void {
    while (this.pos < this.src.length && (this.src[this.pos] === " " || this.src[this.pos] === "\t")) this.pos++;
  }
  peek(): string {
    this.skip();
    return this.src[this.pos] ?? "";
  }
  expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected "${ch}", found ${this.found()}`);
    this.pos++;
  }
  found(): string {
    return this.pos >= this.src.length ? "the end" : `"${this.src[this.pos]}"`;
  }

  parseAll(): FormulaAst {
    const ast = this.expression(0);
    this.skip();
    if (this.pos < this.src.length) this.fail(`unexpected ${this.found()}`);
    return ast;
  }

  /** Precedence climbing over LEVELS; `^` recurses to the right. */
  expression(level: number): FormulaAst {
    if (level === LEVELS.length) return this.atom();
    let left = this.expression(level + 1);
    for (;;) {
      const op = this.binaryOperator();
      if (op === null || !LEVELS[level].includes(op)) return left;
      this.pos += op.length;
      if (op === "^") {
        // right-associative: the right side is another power chain
        const right = this.expression(level);
        return { kind: "binary", op, left, right };
      }
      const right = this.expression(level + 1);
      left = { kind: "binary", op, left, right };
    }
  }

  /** The binary operator at the cursor (longest match), without consuming it. */
  binaryOperator(): BinaryOperator | null {
    this.skip();
    const two = this.src.slice(this.pos, this.pos + 2);
    if (two === "==" || two === "!=" || two === ">=" || two === "<=") return two;
    const one = this.src[this.pos];
    if (one === ">" || one === "<" || one === "+" || one === "-" || one === "*" || one === "/" || one === "^") return one;
    return null;
  }

  atom(): FormulaAst {
    this.skip();
    const start = this.pos;
    if (this.src[this.pos] === "-" && isDigit(this.src[this.pos + 1])) return this.literal();
    if (isDigit(this.src[this.pos])) return this.literal();
    let negate = false;
    if (this.src[this.pos] === "-") {
      negate = true;
      this.pos++;
    }
    const inner = this.primary(start);
    return negate ? { kind: "negate", arg: inner } : inner;
  }

  primary(start: number): FormulaAst {
    const ch = this.src[this.pos] ?? "";
    if (ch === "(") {
      this.pos++;
      const e = this.expression(0);
      this.expect(")");
      return e;
    }
    if (ch === "[") {
      this.pos++;
      const m = /^[0-9]+/.exec(this.src.slice(this.pos));
      if (m === null) this.fail(`expected a parameter index after "["`);
      this.pos += m[0].length;
      this.expect("]");
      return { kind: "parameter", index: Number(m[0]) };
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos));
    if (m === null) return this.fail(this.pos >= this.src.length ? "expression ends early" : `unexpected ${this.found()}`, start);
    const name = m[0];
    const at = this.pos;
    this.pos += name.length;
    if (name.length === 1 && "xyzt".includes(name)) return { kind: "variable", index: "xyzt".indexOf(name) };
    if (this.peek() !== "(") return this.fail(`unknown name "${name}" (variables are x, y, z, t; parameters are [0], [1], ...)`, at);
    this.pos++;
    if (Object.prototype.hasOwnProperty.call(UNARY, name)) {
      const arg = this.expression(0);
      this.expect(")");
      return { kind: "unary", fn: name as UnaryFunction, arg };
    }
    if (BINARY_FUNCTIONS.has(name)) {
      const left = this.expression(0);
      this.expect(",");
      const right = this.expression(0);
      this.expect(")");
      return { kind: "binary", op: name as BinaryFunction, left, right };
    }
    return this.fail(`unknown function "${name}"`, at);
  }

  literal(): FormulaAst {
    const m = /^-?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?/.exec(this.src.slice(this.pos));
    if (m === null) return this.fail("expected a number");
    this.pos += m[0].length;
    return { kind: "literal", value: Number(m[0]) };
  }
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}

/** Parses a TFormula expression as correctionlib accepts it. */
export function parseFormula(expression: string): FormulaAst {
  return new Parser(expression).parseAll();
}

/** Highest variable (0 = x … 3 = t) and parameter index the formula uses, -1 when none. */
export function formulaUsage(ast: FormulaAst): { maxVariable: number; maxParameter: number } {
  let maxVariable = -1;
  let maxParameter = -1;
  const walk = (a: FormulaAst): void => {
    switch (a.kind) {
      case "variable":
        maxVariable = Math.max(maxVariable, a.index);
        break;
      case "parameter":
        maxParameter = Math.max(maxParameter, a.index);
        break;
      case "negate":
      case "unary":
        walk(a.arg);
        break;
      case "binary":
        walk(a.left);
        walk(a.right);
        break;
      case "literal":
        break;
    }
  };
  walk(ast);
  return { maxVariable, maxParameter };
}

/** C's pow: pow(1, y) = 1 and pow(-1, ±inf) = 1 even for NaN/inf exponents, where Math.pow gives NaN. */
export function cpow(a: number, b: number): number {
  if (a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return Math.pow(a, b);
}

/** std::max / std::min as correctionlib calls them: (a < b) ? b : a, (b < a) ? b : a. */
function cmax(a: number, b: number): number {
  return a < b ? b : a;
}
function cmin(a: number, b: number): number {
  return b < a ? b : a;
}

/**
 * Compiles an AST into a closure of the variables' current values. `variable(i)` gives, for x/y/z/t
 * index i, a function reading that variable; parameters are bound now (literals), so a generic
 * formula is compiled once per FormulaRef.
 */
export function compileFormula<R>(
  ast: FormulaAst,
  variable: (index: number) => (row: R) => number,
  parameters: readonly number[],
): (row: R) => number {
  const go = (a: FormulaAst): ((row: R) => number) => {
    switch (a.kind) {
      case "literal": {
        const v = a.value;
        return () => v;
      }
      case "parameter": {
        const v = parameters[a.index];
        return () => v;
      }
      case "variable":
        return variable(a.index);
      case "negate": {
        const f = go(a.arg);
        return (r) => -f(r);
      }
      case "unary": {
        const f = go(a.arg);
        const fn = UNARY[a.fn];
        return (r) => fn(f(r));
      }
      case "binary": {
        const l = go(a.left);
        const rt = go(a.right);
        switch (a.op) {
          case "+": return (r) => l(r) + rt(r);
          case "-": return (r) => l(r) - rt(r);
          case "*": return (r) => l(r) * rt(r);
          case "/": return (r) => l(r) / rt(r);
          case "^":
          case "pow": return (r) => cpow(l(r), rt(r));
          case "==": return (r) => (l(r) === rt(r) ? 1 : 0);
          case "!=": return (r) => (l(r) !== rt(r) ? 1 : 0);
          case ">": return (r) => (l(r) > rt(r) ? 1 : 0);
          case "<": return (r) => (l(r) < rt(r) ? 1 : 0);
          case ">=": return (r) => (l(r) >= rt(r) ? 1 : 0);
          case "<=": return (r) => (l(r) <= rt(r) ? 1 : 0);
          case "atan2": return (r) => Math.atan2(l(r), rt(r));
          case "max": return (r) => cmax(l(r), rt(r));
          case "min": return (r) => cmin(l(r), rt(r));
        }
      }
    }
  };
  return go(ast);
}

/**
 * The TFormula parser and evaluator: operator precedence and associativity (as correctionlib's
 * grammar defines them), every function, comparisons, literals, syntax errors, and erf against
 * Python's math.erf (values printed by /usr/bin/python3 -c "import math; print(repr(math.erf(x)))").
 */
import { describe, expect, it } from "vitest";
import { compileFormula, cpow, parseFormula, FormulaSyntaxError } from "../src/histmaker/correctionlib/formula.js";
import { erf } from "../src/histmaker/correctionlib/erf.js";

/** Evaluates an expression with x, y, z, t and parameters. */
function f(expr: string, vars: number[] = [], params: number[] = []): number {
  const fn = compileFormula<number[]>(parseFormula(expr), (i) => (row) => row[i], params);
  return fn(vars);
}

describe("precedence and associativity", () => {
  it("arithmetic", () => {
    expect(f("1 + 2 * 3")).toBe(7);
    expect(f("(1 + 2) * 3")).toBe(9);
    expect(f("10 - 4 - 3")).toBe(3); // left-associative
    expect(f("64 / 4 / 2")).toBe(8);
    expect(f("2 * 3 / 4")).toBe(1.5);
    expect(f("2 ^ 3 ^ 2")).toBe(512); // right-associative: 2^(3^2)
    expect(f("2 * 3 ^ 2")).toBe(18);
    expect(f("3 ^ 2 * 2")).toBe(18);
    expect(f("1 + 2 ^ 2 * 3")).toBe(13);
  });

  it("unary minus belongs to the atom, as in correctionlib", () => {
    expect(f("-x^2", [3])).toBe(9); // (-x)^2
    expect(f("-2^2")).toBe(4); // literal -2
    expect(f("0 - x^2", [3])).toBe(-9);
    expect(f("x-2", [5])).toBe(3);
    expect(f("x - -2", [5])).toBe(7);
    expect(f("x*-2", [5])).toBe(-10);
    expect(f("-(x + 1)", [5])).toBe(-6);
    expect(f("-abs(x)", [-5])).toBe(-5);
    expect(f("x^-1", [4])).toBe(0.25);
  });

  it("comparisons bind looser than arithmetic, equality loosest", () => {
    expect(f("x > 2", [3])).toBe(1);
    expect(f("x > 2", [2])).toBe(0);
    expect(f("x >= 2", [2])).toBe(1);
    expect(f("x < 2", [2])).toBe(0);
    expect(f("x <= 2", [2])).toBe(1);
    expect(f("x == 2", [2])).toBe(1);
    expect(f("x != 2", [2])).toBe(0);
    expect(f("1 + 1 == 2")).toBe(1);
    expect(f("x + 1 > 2 * 2", [3.5])).toBe(1); // (x+1) > 4
    expect(f("3 > 2 == 1")).toBe(1); // (3 > 2) == 1
    expect(f("1 == 2 > 1")).toBe(1); // 1 == (2 > 1)
    expect(f("0 == 2 > 1")).toBe(0); // 0 == 1
    // a piecewise function as POG formulas write them
    expect(f("(x<10)*1.5 + (x>=10)*(1 + 0.05*x)", [4])).toBe(1.5);
    expect(f("(x<10)*1.5 + (x>=10)*(1 + 0.05*x)", [20])).toBe(2);
  });
});

describe("variables, parameters, literals", () => {
  it("x, y, z, t and [n]", () => {
    expect(f("x + 10*y + 100*z + 1000*t", [1, 2, 3, 4])).toBe(4321);
    expect(f("[0] + [1]*x + [2]*x^2", [2], [1, 3, 0.5])).toBe(1 + 6 + 2);
  });
  it("number forms", () => {
    expect(f("2.2e3")).toBe(2200);
    expect(f("-2e-3")).toBe(-0.002);
    expect(f("1.")).toBe(1);
    expect(f("1.5E+2")).toBe(150);
    expect(f("23.*x", [2])).toBe(46);
    expect(f("\t1 +\t2 ")).toBe(3);
  });
});

describe("functions", () => {
  const x = 0.7;
  it("unary", () => {
    const cases: [string, (v: number) => number][] = [
      ["log", Math.log], ["log10", Math.log10], ["exp", Math.exp], ["sqrt", Math.sqrt], ["abs", Math.abs],
      ["cos", Math.cos], ["sin", Math.sin], ["tan", Math.tan], ["acos", Math.acos], ["asin", Math.asin],
      ["atan", Math.atan], ["cosh", Math.cosh], ["sinh", Math.sinh], ["tanh", Math.tanh], ["asinh", Math.asinh],
      ["atanh", Math.atanh],
    ];
    for (const [name, fn] of cases) expect(f(`${name}(x)`, [x])).toBe(fn(x));
    expect(f("acosh(x)", [1.7])).toBe(Math.acosh(1.7));
    expect(f("abs(-3)")).toBe(3);
    expect(f("erf(x)", [0.5])).toBe(erf(0.5));
    expect(f("erf(x)", [-0.5])).toBe(-erf(0.5));
  });
  it("binary", () => {
    expect(f("atan2(y, x)", [-1, 1])).toBe(Math.atan2(1, -1));
    expect(f("pow(x, 3)", [2])).toBe(8);
    expect(f("max(x, y)", [2, 5])).toBe(5);
    expect(f("min(x, y)", [2, 5])).toBe(2);
    expect(f("max(min(x, 3), 1)", [7])).toBe(3);
    expect(f("23.*log(max(x, 0.1))", [0.01])).toBe(23 * Math.log(0.1));
  });
  it("C semantics of pow", () => {
    expect(cpow(1, NaN)).toBe(1);
    expect(cpow(-1, Infinity)).toBe(1);
    expect(cpow(2, 0.5)).toBe(Math.SQRT2);
    expect(Number.isNaN(cpow(-8, 1 / 3))).toBe(true);
  });
});

describe("erf", () => {
  // Python's math.erf
  const ref: [number, number][] = [
    [0, 0.0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [-0.3, -0.3286267594591274], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [2.5, 0.999593047982555],
    [3, 0.9999779095030014], [3.5, 0.9999992569016276], [4.5, 0.9999999998033839], [6, 1.0],
    [-2.2, -0.9981371537020182], [1e-10, 1.1283791670955126e-10], [0.84, 0.7651427114549946],
  ];
  // math.erf(x) for x = 0.05, 0.10, …, 6.00
  const sweep: [number, number][] = [[0.05, 0.05637197779701663], [0.1, 0.1124629160182849], [0.15, 0.1679959714273635], [0.2, 0.22270258921047847], [0.25, 0.2763263901682369], [0.3, 0.3286267594591274], [0.35, 0.3793820535623103], [0.4, 0.42839235504666845], [0.45, 0.47548171978692366], [0.5, 0.5204998778130465], [0.55, 0.563323366325109], [0.6, 0.6038560908479259], [0.65, 0.6420293273556719], [0.7, 0.6778011938374184], [0.75, 0.7111556336535151], [0.8, 0.7421009647076605], [0.85, 0.7706680576083526], [0.9, 0.7969082124228322], [0.95, 0.8208908072732779], [1.0, 0.8427007929497149], [1.05, 0.8624361060900967], [1.1, 0.8802050695740817], [1.15, 0.8961238429369149], [1.2, 0.9103139782296353], [1.25, 0.9229001282564582], [1.3, 0.9340079449406524], [1.35, 0.943762196122724], [1.4, 0.9522851197626487], [1.45, 0.9596950256374592], [1.5, 0.9661051464753108], [1.55, 0.9716227332620125], [1.6, 0.976348383344644], [1.65, 0.9803755850233603], [1.7, 0.9837904585907745], [1.75, 0.9866716712191824], [1.8, 0.9890905016357308], [1.85, 0.9911110300560857], [1.9, 0.9927904292352575], [1.95, 0.9941793335921891], [2.0, 0.9953222650189527], [2.05, 0.9962580960444569], [2.1, 0.997020533343667], [2.15, 0.9976386070373253], [2.2, 0.9981371537020182], [2.25, 0.9985372834133188], [2.3, 0.9988568234026434], [2.35, 0.9991107329678676], [2.4, 0.999311486103355], [2.45, 0.999469419887749], [2.5, 0.999593047982555], [2.55, 0.9996893396573608], [2.6, 0.9997639655834707], [2.65, 0.999821512247976], [2.7, 0.9998656672600594], [2.75, 0.9998993780778803], [2.8, 0.9999249868053346], [2.85, 0.9999443437200386], [2.9, 0.9999589021219005], [2.95, 0.9999697969579359], [3.0, 0.9999779095030014], [3.05, 0.9999839201742399], [3.1, 0.9999883513426328], [3.15, 0.9999916017886847], [3.2, 0.9999939742388483], [3.25, 0.9999956972205363], [3.3, 0.9999969422902035], [3.35, 0.9999978375231799], [3.4, 0.9999984780066371], [3.45, 0.9999989339482065], [3.5, 0.9999992569016276], [3.55, 0.9999994845161754], [3.6, 0.999999644137007], [3.65, 0.9999997555173494], [3.7, 0.9999998328489421], [3.75, 0.9999998862727434], [3.8, 0.9999999229960725], [3.85, 0.9999999481137066], [3.9, 0.9999999652077514], [3.95, 0.9999999767832678], [4.0, 0.9999999845827421], [4.05, 0.9999999898117551], [4.1, 0.9999999932999724], [4.15, 0.9999999956153229], [4.2, 0.9999999971445058], [4.25, 0.9999999981494259], [4.3, 0.9999999988065282], [4.35, 0.9999999992340556], [4.4, 0.999999999510829], [4.45, 0.9999999996891137], [4.5, 0.9999999998033839], [4.55, 0.9999999998762595], [4.6, 0.999999999922504], [4.65, 0.999999999951703], [4.7, 0.9999999999700474], [4.75, 0.9999999999815149], [4.8, 0.9999999999886479], [4.85, 0.9999999999930624], [4.9, 0.999999999995781], [4.95, 0.9999999999974469], [5.0, 0.9999999999984626], [5.05, 0.9999999999990787], [5.1, 0.9999999999994507], [5.15, 0.999999999999674], [5.2, 0.9999999999998075], [5.25, 0.9999999999998869], [5.3, 0.9999999999999338], [5.35, 0.9999999999999615], [5.4, 0.9999999999999777], [5.45, 0.9999999999999871], [5.5, 0.9999999999999927], [5.55, 0.9999999999999958], [5.6, 0.9999999999999977], [5.65, 0.9999999999999987], [5.7, 0.9999999999999992], [5.75, 0.9999999999999996], [5.8, 0.9999999999999998], [5.85, 0.9999999999999999], [5.9, 0.9999999999999999], [5.95, 1.0], [6.0, 1.0]];
  it("matches math.erf to 2 ulps", () => {
    for (const [x, want] of [...ref, ...sweep]) {
      const got = erf(x);
      const tol = 2 * Number.EPSILON * Math.max(Math.abs(want), Number.MIN_VALUE);
      expect(Math.abs(got - want), `erf(${x}) = ${got}, want ${want}`).toBeLessThanOrEqual(tol);
    }
    expect(Number.isNaN(erf(NaN))).toBe(true);
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
  });
});

describe("syntax errors", () => {
  const bad: [string, RegExp][] = [
    ["1 +", /position 3: expression ends early/],
    ["(1 + 2", /expected "\)"/],
    ["foo(x)", /unknown function "foo"/],
    ["w + 1", /unknown name "w"/],
    ["max(x)", /expected ","/],
    ["1 2", /unexpected "2"/],
    ["- 2", /position 0/],
    ["--x", /position 0/],
    ["[a]", /parameter index/],
    ["x ** 2", /unexpected|ends early|position/],
  ];
  for (const [expr, re] of bad)
    it(JSON.stringify(expr), () => {
      expect(() => parseFormula(expr)).toThrow(FormulaSyntaxError);
      expect(() => parseFormula(expr)).toThrow(re);
    });
});

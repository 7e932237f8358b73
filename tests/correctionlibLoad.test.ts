/**
 * Loading CorrectionSets (.json, .json.gz, in-memory), validation errors that name the file, the
 * correction and the node path, and vectorised evaluation with broadcasting.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  CorrectionError,
  correctionSetFromJson,
  correctionSetFromString,
  loadAnalysisCorrections,
  loadCorrectionSet,
} from "../src/histmaker/correctionlib/index.js";

const dir = path.join(import.meta.dirname, "fixtures", "correctionlib");
const muonFile = path.join(dir, "muon_Z.json.gz");
const expected = JSON.parse(readFileSync(path.join(dir, "muon_Z.expected.json"), "utf8")) as {
  nom: number[];
  err: number[];
  abseta: number[];
  pt: number[];
};

/** The bin of v in edges, clamped (the muon fixture uses flow "clamp"). */
function clampBin(edges: number[], v: number): number {
  let b = 0;
  while (b < edges.length - 2 && v >= edges[b + 1]) b++;
  return b;
}

function muonExpected(abseta: number, pt: number, syst: string): number {
  const i = clampBin(expected.abseta, abseta) * (expected.pt.length - 1) + clampBin(expected.pt, pt);
  const sign = syst === "systup" ? 1 : syst === "systdown" ? -1 : 0;
  return Math.round((expected.nom[i] + sign * expected.err[i]) * 1e6) / 1e6;
}

describe("loading", () => {
  it("reads a gzip-compressed set and evaluates columns with a broadcast string", () => {
    const cset = loadCorrectionSet(muonFile);
    expect(Object.keys(cset)).toEqual(["NUM_TightID_DEN_TrackerMuons"]);
    const sf = cset["NUM_TightID_DEN_TrackerMuons"];
    expect(sf.inputs.map((v) => `${v.name}:${v.type}`)).toEqual(["abseta:real", "pt:real", "scale_factors:string"]);
    const eta = new Float32Array([0.1, 0.95, 1.5, 2.3, 2.4, 0.0]);
    const pt = new Float64Array([16, 22, 35, 70, 500, 10]);
    for (const syst of ["nominal", "systup", "systdown"]) {
      const out = sf.evaluate(eta, pt, syst);
      expect(out).toBeInstanceOf(Float64Array);
      expect(out.length).toBe(6);
      for (let i = 0; i < 6; i++) expect(out[i]).toBe(muonExpected(eta[i], pt[i], syst));
    }
    // a string column per element, a scalar number broadcast
    const mixed = sf.evaluate(0.5, pt.subarray(0, 3), ["nominal", "systup", "systdown"]);
    expect(Array.from(mixed)).toEqual([muonExpected(0.5, 16, "nominal"), muonExpected(0.5, 22, "systup"), muonExpected(0.5, 35, "systdown")]);
  });

  it("reads plain JSON and the same set gzipped identically", () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "corrlib-"));
    const text = readFileSync(path.join(dir, "compound.json"));
    writeFileSync(path.join(tmp, "c.json.gz"), gzipSync(text));
    const a = loadCorrectionSet(path.join(dir, "compound.json"))["l1l2"].evaluate(10, 1.2);
    const b = loadCorrectionSet(path.join(tmp, "c.json.gz"))["l1l2"].evaluate(10, 1.2);
    expect(b[0]).toBe(a[0]);
    expect(a[0]).toBe(1 + 0.1 * Math.log10(10 * 1.1) + 0.1 * 1.2);
  });

  it("accepts NaN / Infinity literals as Python's json writes them", () => {
    const text = `{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [{"name": "x", "type": "real"}],
      "output": {"name": "w", "type": "real"}, "data": {"nodetype": "binning", "input": "x", "edges": [-Infinity, 0, Infinity],
      "content": [NaN, 2.5], "flow": "error", "description": "NaN in a string stays"}}]}`;
    const c = correctionSetFromString(text, "nan.json")["c"];
    expect(Number.isNaN(c.evaluate(-3)[0])).toBe(true);
    expect(c.evaluate(3)[0]).toBe(2.5);
  });

  it("file errors name the file", () => {
    expect(() => loadCorrectionSet(path.join(dir, "nope.json"))).toThrow(/nope\.json: cannot read the correction file \(no such file\)/);
    const tmp = mkdtempSync(path.join(tmpdir(), "corrlib-"));
    writeFileSync(path.join(tmp, "bad.json"), "{ not json");
    expect(() => loadCorrectionSet(path.join(tmp, "bad.json"))).toThrow(/bad\.json: not valid JSON/);
    writeFileSync(path.join(tmp, "bad.json.gz"), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    expect(() => loadCorrectionSet(path.join(tmp, "bad.json.gz"))).toThrow(/bad\.json\.gz: corrupt gzip data/);
  });

  it("an unknown correction name lists the set's names", () => {
    const cset = loadCorrectionSet(muonFile);
    expect(() => cset["NUM_TightID"]).toThrow(/muon_Z\.json\.gz: no correction "NUM_TightID" in the set \(it has: NUM_TightID_DEN_TrackerMuons\)/);
    expect("NUM_TightID" in cset).toBe(false);
  });
});

/** A one-correction set around `data`, with inputs x: real, n: int, s: string. */
function setWith(data: unknown, extra: Record<string, unknown> = {}) {
  return {
    schema_version: 2,
    corrections: [
      {
        name: "sf",
        version: 1,
        inputs: [
          { name: "x", type: "real" },
          { name: "n", type: "int" },
          { name: "s", type: "string" },
        ],
        output: { name: "w", type: "real" },
        data,
        ...extra,
      },
    ],
  };
}

describe("validation errors name file, correction and node path", () => {
  const cases: [string, unknown, RegExp][] = [
    ["schema version", { schema_version: 1, corrections: [] }, /^f\.json: schema_version: only correctionlib schema version 2 is supported, got number 1$/],
    ["missing corrections", { schema_version: 2 }, /^f\.json: corrections: expected a list, got nothing$/],
    [
      "content count",
      setWith({ nodetype: "binning", input: "x", edges: [0, 1, 2], content: [1], flow: "clamp" }),
      /^f\.json: correction "sf": data\.content: 1 content entries for 2 bins$/,
    ],
    [
      "edges not increasing",
      setWith({ nodetype: "binning", input: "x", edges: [0, 2, 1], content: [1, 2], flow: "clamp" }),
      /^f\.json: correction "sf": data\.edges: edges must increase strictly, but edge 2 \(1\) follows 2$/,
    ],
    [
      "bad flow deep in the tree",
      setWith({
        nodetype: "category",
        input: "s",
        content: [{ key: "a", value: { nodetype: "binning", input: "x", edges: [0, 1], content: [1], flow: "overflow" } }],
      }),
      /^f\.json: correction "sf": data\.content\[0\]\.value\.flow: flow must be "clamp", "error", "wrap" or a content node, got "overflow"$/,
    ],
    [
      "unknown input",
      setWith({ nodetype: "binning", input: "pt", edges: [0, 1], content: [1], flow: "clamp" }),
      /^f\.json: correction "sf": data\.input: a binning refers to input "pt", which is not an input of the correction \(x, n, s\)$/,
    ],
    [
      "string input binned",
      setWith({ nodetype: "binning", input: "s", edges: [0, 1], content: [1], flow: "clamp" }),
      /data\.input: a binning cannot use string input "s"/,
    ],
    [
      "category key type",
      setWith({ nodetype: "category", input: "n", content: [{ key: "a", value: 1 }] }),
      /data\.content\[0\]\.key: input "n" is an int, but the key is string "a"/,
    ],
    [
      "multibinning content",
      setWith({ nodetype: "multibinning", inputs: ["x", "n"], edges: [[0, 1, 2], { n: 3, low: 0, high: 3 }], content: [1, 2, 3], flow: "error" }),
      /data\.content: 3 content entries for 6 bins \(2 × 3\)/,
    ],
    ["unknown node type", setWith({ nodetype: "lwtnn" }), /data\.nodetype: unknown or unsupported node type string "lwtnn"/],
    [
      "formula syntax",
      setWith({ nodetype: "formula", expression: "x +* 2", parser: "TFormula", variables: ["x"] }),
      /^f\.json: correction "sf": data\.expression: cannot parse formula "x \+\* 2" at position 3/,
    ],
    [
      "formula variable count",
      setWith({ nodetype: "formula", expression: "x + y", parser: "TFormula", variables: ["x"] }),
      /data: the formula uses y but only 1 variables are bound \(x\)/,
    ],
    [
      "formula on an int input",
      setWith({ nodetype: "formula", expression: "x", parser: "TFormula", variables: ["n"] }),
      /data\.variables\[0\]: a formula cannot use int input "n"/,
    ],
    [
      "numexpr parser",
      setWith({ nodetype: "formula", expression: "x", parser: "numexpr", variables: ["x"] }),
      /data\.parser: only the "TFormula" parser is supported/,
    ],
    [
      "formula parameters",
      setWith({ nodetype: "formula", expression: "[0] + [1]*x", parser: "TFormula", variables: ["x"], parameters: [1] }),
      /data: the formula uses parameter \[1\] but 1 parameters are given/,
    ],
    [
      "formularef index",
      setWith({ nodetype: "formularef", index: 1, parameters: [] }, { generic_formulas: [{ nodetype: "formula", expression: "x", parser: "TFormula", variables: ["x"] }] }),
      /data\.index: formula index 1 is not one of the correction's 1 generic_formulas/,
    ],
    [
      "output type",
      { schema_version: 2, corrections: [{ name: "sf", version: 1, inputs: [], output: { name: "w", type: "int" }, data: 1 }] },
      /^f\.json: correction "sf": output: the output must be real, got int$/,
    ],
    [
      "compound stack",
      {
        schema_version: 2,
        corrections: [{ name: "a", version: 1, inputs: [{ name: "pt", type: "real" }], output: { name: "w", type: "real" }, data: 1 }],
        compound_corrections: [
          { name: "c", inputs: [{ name: "pt", type: "real" }], output: { name: "w", type: "real" }, inputs_update: [], input_op: "*", output_op: "*", stack: ["a", "b"] },
        ],
      },
      /^f\.json: compound correction "c": stack\[1\]: correction "b" is not in the set$/,
    ],
    [
      "compound update of a non-real input",
      {
        schema_version: 2,
        corrections: [],
        compound_corrections: [
          { name: "c", inputs: [{ name: "k", type: "int" }], output: { name: "w", type: "real" }, inputs_update: ["k"], input_op: "*", output_op: "*", stack: [] },
        ],
      },
      /inputs_update\[0\]: inputs_update cannot use int input "k"/,
    ],
  ];
  for (const [what, doc, re] of cases)
    it(what, () => {
      let err: unknown;
      try {
        correctionSetFromJson(doc, "f.json");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CorrectionError);
      expect((err as Error).message).toMatch(re);
    });
});

describe("vectorised evaluation", () => {
  const cset = correctionSetFromJson(
    setWith({
      nodetype: "category",
      input: "s",
      content: [
        { key: "lin", value: { nodetype: "formula", expression: "2*x + 1", parser: "TFormula", variables: ["x"] } },
        { key: "int", value: { nodetype: "binning", input: "n", edges: [0, 1, 2, 3], content: [10, 20, 30], flow: "clamp" } },
      ],
    }),
    "v.json",
  );
  const sf = cset["sf"];

  it("columns of every numeric type, scalars broadcast", () => {
    const x = new Float32Array([0.5, 1.5, -2]);
    expect(Array.from(sf.evaluate(x, 0, "lin"))).toEqual([2, 4, -3]);
    expect(Array.from(sf.evaluate(0, new Int32Array([0, 1, 2, 5]), "int"))).toEqual([10, 20, 30, 30]);
    expect(Array.from(sf.evaluate(0, new Uint8Array([2, 0]), "int"))).toEqual([30, 10]);
    expect(Array.from(sf.evaluate(0, new BigInt64Array([1n, 2n]), "int"))).toEqual([20, 30]);
    expect(Array.from(sf.evaluate(new Float64Array([1, 2]), new Int16Array([0, 2]), ["lin", "int"]))).toEqual([3, 30]);
    // int input from a float column with integral values is accepted
    expect(Array.from(sf.evaluate(0, new Float64Array([1, 2]), "int"))).toEqual([20, 30]);
    // all scalars: one value
    expect(Array.from(sf.evaluate(3, 0, "lin"))).toEqual([7]);
    // empty columns
    expect(sf.evaluate(new Float64Array(0), 0, "lin").length).toBe(0);
  });

  it("errors name the correction, the input and the value", () => {
    expect(() => sf.evaluate(new Float64Array(3), new Int32Array(2), "lin")).toThrow(/correction "sf" \(v\.json\): input "n" has 2 values, an earlier input has 3/);
    expect(() => sf.evaluate(0, new Float64Array([1, 2.5]), "int")).toThrow(/input "n" is an int, got value 2\.5 at element 1/);
    expect(() => sf.evaluate(0, 0, ["lin", 3 as unknown as string])).toThrow(/input "s" is string, got the number 3 at element 1/);
    expect(() => sf.evaluate([1, 2] as unknown as Float64Array, 0, "lin")).toThrow(/input "x" is real, got a list \(strings only go in string inputs/);
    expect(() => sf.evaluate(0, 0, new Float64Array([1]) as unknown as string)).toThrow(/input "s" is string, got a Float64Array/);
    expect(() => sf.evaluate(0, 0, ["lin", "oops"])).toThrow(/input "s" value "oops" is not a category \(node data, which has no default\)/);
  });
});

describe("analysis corrections", () => {
  it("loads each file relative to the module directory, naming the key on error", () => {
    const sets = loadAnalysisCorrections({ muonSF: "muon_Z.json.gz", comp: "compound.json" }, dir);
    expect(Object.keys(sets)).toEqual(["muonSF", "comp"]);
    expect(sets.comp["level1"].evaluate()[0]).toBe(1.1);
    expect(() => loadAnalysisCorrections({ muonSF: "missing.json" }, dir)).toThrow(/^analysis corrections\.muonSF: .*missing\.json: cannot read the correction file/);
    expect(loadAnalysisCorrections(undefined)).toEqual({});
  });
});

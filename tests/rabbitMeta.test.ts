/**
 * The inert pickle decoder (src/tensor/pickle/unpickle.ts) and the mapping of rabbit's pickled meta
 * to meta_json's shape (src/tensor/pickle/rabbitMeta.ts), on pickles written by CPython's pickle
 * (tests/fixtures/pickles/make_pickles.py; expected.json holds what each must decode to), and the
 * reader's use of it: systematic type, symmetric_tensor cross-check, fallbacks and refusals.
 */
import { afterAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { decodeRabbitMeta, toJson } from "../src/tensor/pickle/rabbitMeta.js";
import { NdArray, PickleError, PyObject, unpickle } from "../src/tensor/pickle/unpickle.js";
import { readTensor } from "../src/tensor/TensorReader.js";
import { writeTensor } from "../src/tensor/TensorWriter.js";
import { UserError } from "../src/errors.js";
import { H5, h5Ready } from "../src/tensor/h5.js";
import { main as fitMain } from "../src/cli/fit.js";
import { runCommand } from "./helpers/cli.js";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "pickles");
const rabbitDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "shared", "data", "rabbit");
const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")) as Record<string, unknown>;
const bytes = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(dir, `${name}.pkl`)));

describe("unpickle: CPython pickles of plain data and numpy arrays", () => {
  it.each([0, 1, 2, 3, 4, 5])("protocol %i: dict, str, big int, float, tuple, list, None/bool, bytes, int keys", (p) => {
    expect(toJson(unpickle(bytes(`plain_p${p}`)))).toEqual(expected[`plain_p${p}`]);
  });

  it("OrderedDict keeps its order; set, frozenset; memoised objects", () => {
    const v = toJson(unpickle(bytes("ordered_set"))) as Record<string, Record<string, number>>;
    expect(v).toEqual(expected["ordered_set"]);
    expect(Object.keys(v["od"])).toEqual(["b", "a"]);
    const m = unpickle(bytes("memo")) as Map<string, unknown>;
    expect(m.get("a")).toBe(m.get("b")); // one object, as pickled
  });

  it.each(["numpy_p2", "numpy_p5"])("%s: f8, i8, big-endian i4, u1, bool, f4, unicode, object, Fortran and C 2-D arrays, scalars", (name) => {
    const v = unpickle(bytes(name)) as Map<string, unknown>;
    expect(toJson(v as never)).toEqual(expected[name]);
    const f2d = v.get("F2d") as NdArray;
    expect(f2d).toBeInstanceOf(NdArray);
    expect(f2d.shape).toEqual([2, 3]);
    expect((v.get("C2d") as NdArray).shape).toEqual([3, 2]);
    expect((v.get("i4be") as NdArray).dtype).toBe(">i4");
  });

  it("protocol-5 out-of-band buffers (NEXT_BUFFER) come from the caller, and are required", () => {
    const buf = new Uint8Array(fs.readFileSync(path.join(dir, "numpy_oob.buf0")));
    expect(toJson(unpickle(bytes("numpy_oob"), { buffers: [buf] }))).toEqual(expected["numpy_oob"]);
    expect(() => unpickle(bytes("numpy_oob"))).toThrow(/out-of-band buffer/);
  });

  it("never executes anything: calls to unknown globals are inert records", () => {
    // cos.system('echo hi') as protocol 0: c os\nsystem\n (S'echo hi'\n tR.
    const evil = new TextEncoder().encode("cos\nsystem\n(S'echo hi'\ntR.");
    const v = unpickle(evil);
    expect(v).toBeInstanceOf(PyObject);
    expect(v).toMatchObject({ module: "os", name: "system", args: ["echo hi"] });
  });

  it("malformed pickles are PickleErrors saying where", () => {
    const ok = bytes("plain_p5");
    expect(() => unpickle(ok.subarray(0, ok.length - 5))).toThrow(PickleError);
    expect(() => unpickle(Uint8Array.of(0x80, 5, 0xff))).toThrow(/unsupported pickle opcode 0xff \(opcode 0xff at byte 2\)/);
    expect(() => unpickle(Uint8Array.of(0x80, 5, 0x68, 3, 0x2e))).toThrow(/memo key 3 not found/);
    expect(() => unpickle(Uint8Array.of(0x80, 9, 0x4e, 0x2e))).toThrow(/protocol above 5/);
    expect(() => unpickle(Uint8Array.of(0x61, 0x2e))).toThrow(/stack underflow/);
  });
});

describe("decodeRabbitMeta: hist / boost-histogram axes", () => {
  it("Regular (with and without leading class versions), Variable, Integer, Int/StrCategory, Boolean with their flow options", () => {
    const r = decodeRabbitMeta(bytes("boost_axes_meta"));
    expect(r.channelWarning).toBeNull();
    expect(r.meta).toEqual(expected["boost_axes_meta"]);
  });

  it("the default __slots__ state (__dict__, {_ax}), integer_circular (no flow bins), regular_numpy (stop last)", () => {
    const r = decodeRabbitMeta(bytes("boost_axes_more"));
    expect(r.channelWarning).toBeNull();
    expect(r.meta).toEqual(expected["boost_axes_more"]);
  });

  it("an axis that cannot be mapped (transformed Regular) drops channel_info with a reason; the rest is kept", () => {
    const r = decodeRabbitMeta(bytes("unsupported_axis_meta"));
    expect(r.channelWarning).toMatch(/channel 'c' axis 0: boost_histogram._core.axis.regular_trans .* is not supported/);
    expect(r.meta).toEqual(expected["unsupported_axis_meta"]);
  });

  it("a pickle that is not a dict is an error", () => {
    expect(() => decodeRabbitMeta(Uint8Array.of(0x80, 5, 0x4e, 0x2e))).toThrow(/not a dict/);
  });
});

// ---- the reader with a rabbit-style meta group (pickle_data written by us, uncompressed) ----

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rabbit-meta-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** g16 (rabbit, normal systematics) written again with `pickle` as its meta/pickle_data (null: no metadata). */
async function withPickle(label: string, pickle: Uint8Array | null): Promise<string> {
  const model = await readTensor(path.join(rabbitDir, "g16_normal_type.hdf5"));
  const file = path.join(tmp, `${label}.hdf5`);
  await writeTensor(file, model, { rabbitMetaPickle: pickle });
  return file;
}

const rabbitAvailable = fs.existsSync(path.join(rabbitDir, "g16_normal_type.hdf5"));

describe.skipIf(!rabbitAvailable)("TensorReader with rabbit's meta group", () => {
  it("a meta pickle without systematic_type is refused (exit 2), naming file and meta/pickle_data", async () => {
    const file = await withPickle("no_type", Uint8Array.of(0x80, 5, 0x7d, 0x2e)); // {}
    await expect(readTensor(file)).rejects.toThrow(UserError);
    await expect(readTensor(file)).rejects.toThrow(/no_type\.hdf5: dataset 'meta\/pickle_data': has no systematic_type/);
  });

  it("an undecodable pickle is refused: the systematic type is unknown", async () => {
    const file = await withPickle("garbage", Uint8Array.of(0x80, 5, 0xff, 0x2e));
    await expect(readTensor(file)).rejects.toThrow(/dataset 'meta\/pickle_data': the pickled metadata cannot be decoded .*systematic type is unknown/);
  });

  it("channel_info that cannot be mapped: fallback ch0 with one warning line and model.metaWarning; the type is still read", async () => {
    const file = await withPickle("unsupported_axis", bytes("unsupported_axis_meta"));
    const warnings: string[] = [];
    const m = await readTensor(file, { onWarning: (l) => warnings.push(l) });
    expect(warnings).toHaveLength(1);
    expect(m.metaWarning).toBe(warnings[0]);
    expect(m.metaWarning).toMatch(/unsupported_axis\.hdf5: dataset 'meta\/pickle_data': channel_info cannot be mapped .*fall back to ch0\/ch1_masked/);
    expect(m.channels.map((c) => c.name)).toEqual(["ch0"]);
    expect(m.systematicType).toBe("log_normal");
  });

  it("fit carries the fallback warning and the meta source into fitresults.json and says it on stderr", async () => {
    const file = await withPickle("unsupported_axis_cli", bytes("unsupported_axis_meta"));
    const out = path.join(path.dirname(file), "fit_unsupported_axis");
    const run = await runCommand(fitMain, "fit", [file, "-o", out, "--no-html"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/channel_info cannot be mapped/);
    const json = JSON.parse(fs.readFileSync(path.join(out, "fitresults.json"), "utf8")) as { meta: Record<string, unknown> };
    expect(json.meta.input_meta_source).toBe("meta/pickle_data");
    expect(String(json.meta.input_meta_warning)).toMatch(/channel_info cannot be mapped .*fall back to ch0\/ch1_masked/);
  });

  it("channels whose bins do not tile the tensor fall back with a warning", async () => {
    // boost_axes_meta's real channel has (4+2)·3 = 18 bins; g16 has 30
    const file = await withPickle("mismatch", bytes("boost_axes_meta"));
    const warnings: string[] = [];
    const m = await readTensor(file, { onWarning: (l) => warnings.push(l) });
    expect(warnings).toHaveLength(1);
    expect(m.metaWarning).toMatch(/non-masked channels have 18 bins, hdata_obs has 30; channels fall back/);
    expect(m.channels.map((c) => c.name)).toEqual(["ch0"]);
    expect(m.systematicType).toBe("normal");
  });

  it("symmetric_tensor disagreeing with hlogk's shape is a user error naming file and dataset", async () => {
    const asym = decodeableMeta({ symmetric: false });
    const file = await withPickle("sym_mismatch", asym);
    await expect(readTensor(file)).rejects.toThrow(/sym_mismatch\.hdf5: dataset 'hlogk': holds a symmetric log κ tensor, but meta\/pickle_data says symmetric_tensor = False/);
  });

  it("a file with neither meta_json nor meta is log-normal with the ch0 fallback and no warning", async () => {
    const file = await withPickle("no_meta", null);
    const warnings: string[] = [];
    const m = await readTensor(file, { onWarning: (l) => warnings.push(l) });
    expect(warnings).toEqual([]);
    expect(m.metaSource).toBeNull();
    expect(m.systematicType).toBe("log_normal");
    expect(m.channels.map((c) => c.name)).toEqual(["ch0"]);
  });

  it("out-of-band pickle buffers of older narf/wums writers: meta/pickle_buffers/pickle_buffer_<i>, or appended with buf_offsets", async () => {
    await h5Ready();
    const pkl = bytes("meta_oob");
    const buf = new Uint8Array(fs.readFileSync(path.join(dir, "meta_oob.buf0")));
    const check = async (file: string): Promise<void> => {
      const m = await readTensor(file, { onWarning: (l) => { throw new Error(l); } });
      expect(m.systematicType).toBe("normal");
      expect(m.channels[0].axes[0].edges).toHaveLength(31);
      expect(m.channels[0].axes[0].edges?.[30]).toBe(1);
    };
    const separate = await withPickle("oob_group", pkl);
    let f = new H5.File(separate, "a");
    const g = f.create_group("meta/pickle_buffers");
    g.create_dataset({ name: "pickle_buffer_0", data: buf, shape: [buf.length], dtype: "<B" });
    f.close();
    await check(separate);
    // without its buffer the pickle cannot be decoded, so the type is unknown: refused
    await expect(readTensor(await withPickle("oob_missing", pkl))).rejects.toThrow(/out-of-band buffer/);
    const joined = new Uint8Array(pkl.length + buf.length);
    joined.set(pkl);
    joined.set(buf, pkl.length);
    const appended = await withPickle("oob_appended", joined);
    f = new H5.File(appended, "a");
    (f.get("meta/pickle_data") as InstanceType<typeof H5.Dataset>).create_attribute("buf_offsets", BigInt64Array.of(BigInt(pkl.length)), [1], "<q");
    f.close();
    await check(appended);
  });

  it("meta_json wins over the pickle; written back, a rabbit model keeps its type and channels", async () => {
    const m = await readTensor(path.join(rabbitDir, "g05_masked_2ch.hdf5"));
    const out = path.join(tmp, "rewritten.hdf5");
    await writeTensor(out, m);
    const back = await readTensor(out);
    expect(back.metaSource).toBe("meta_json");
    expect(back.channels).toEqual(m.channels);
    expect(back.systematicType).toBe("log_normal");
  });
});

/** A minimal protocol-2 pickle {'systematic_type': 'normal', 'symmetric_tensor': flag}. */
function decodeableMeta(opts: { symmetric: boolean }): Uint8Array {
  const str = (s: string): number[] => [0x8c, s.length, ...new TextEncoder().encode(s)];
  return Uint8Array.from([0x80, 2, 0x7d, 0x28, ...str("systematic_type"), ...str("normal"), ...str("symmetric_tensor"), opts.symmetric ? 0x88 : 0x89, 0x75, 0x2e]);
}

describe("unpickle: numpy data it cannot decode stays local", () => {
  it("an array of an unsupported dtype (float16) becomes an inert record; the rest of the pickle decodes", () => {
    // {'a': numpy.core.numeric._frombuffer(b'\x00<', dtype('f2'), (1,), 'C'), 't': 'normal'}, protocol 5 by hand
    const s = (x: string): number[] => [0x8c, x.length, ...new TextEncoder().encode(x)];
    const stream = [
      0x80, 5, 0x7d, 0x28, ...s("a"),
      ...s("numpy.core.numeric"), ...s("_frombuffer"), 0x93, 0x28, 0x43, 2, 0x00, 0x3c,
      ...s("numpy"), ...s("dtype"), 0x93, ...s("f2"), 0x89, 0x88, 0x87, 0x52,
      0x28, 0x4b, 3, ...s("<"), 0x4e, 0x4e, 0x4e, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x4b, 0, 0x74, 0x62,
      0x4b, 1, 0x85, ...s("C"), 0x74, 0x52,
      ...s("t"), ...s("normal"), 0x75, 0x2e,
    ];
    const v = unpickle(Uint8Array.from(stream)) as Map<string, unknown>;
    expect(v.get("t")).toBe("normal");
    expect(v.get("a")).toBeInstanceOf(PyObject);
    expect((v.get("a") as PyObject).state).toMatch(/undecodable: numpy dtype <f2 is not supported/);
  });
});

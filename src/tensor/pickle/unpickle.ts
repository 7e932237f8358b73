/**
 * An inert Python pickle decoder (protocols 0–5, the binary opcodes Python writes plus the common
 * text ones). It never imports or calls anything: a global is a name, and calling one (REDUCE,
 * NEWOBJ, BUILD) yields a PyObject record {module, name, args, state}. Only plain-data constructors
 * are interpreted: numpy arrays, dtypes and scalars, OrderedDict, set/frozenset, bytearray and
 * `_codecs.encode` (how protocol 2 stores bytes).
 *
 * Written here rather than taken from npm: the one maintained-looking parser (pickleparser 0.2.1)
 * has no numpy support and builds its own class instances; this keeps the output typed and inert.
 */

/** A decoded value. Python dicts are Maps (keys by value for str/int/float/bool/None). */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | Map<PyValue, PyValue>
  | PySet
  | PyGlobal
  | PyObject
  | NdArray
  | PyDtype
  | PyPersistent;

/** A tuple (kept apart from lists, which are plain arrays). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

export class PySet {
  constructor(
    readonly items: PyValue[],
    readonly frozen: boolean,
  ) {}
}

/** A module-level name (class or function), never resolved. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** The record of an object construction: cls(*args, **kwargs), then BUILD(state), APPEND, SETITEM. */
export class PyObject {
  state: PyValue | undefined = undefined;
  readonly listItems: PyValue[] = [];
  readonly dictItems = new Map<PyValue, PyValue>();
  constructor(
    readonly module: string,
    readonly name: string,
    readonly args: PyValue[],
    readonly kwargs: Map<PyValue, PyValue> | null = null,
  ) {}
}

/** A persistent id (PERSID/BINPERSID): a reference the pickler stored outside the stream. */
export class PyPersistent {
  constructor(readonly id: PyValue) {}
}

/** numpy.dtype, as far as decoding array data needs it. */
export class PyDtype {
  /** '<', '>', '|' or '=' */
  byteorder = "=";
  /** bytes per element, or 0 when given by `str` */
  elsize = 0;
  constructor(readonly str: string) {}

  /** kind letter and item size in bytes */
  layout(): { kind: string; size: number } {
    const m = /^([a-zA-Z?])(\d*)$/.exec(this.str.replace(/^[<>|=]/, ""));
    if (!m) throw new PickleError(`numpy dtype '${this.str}' is not supported`);
    let kind = m[1];
    const digits = m[2] === "" ? 0 : Number(m[2]);
    if (kind === "?") kind = "b";
    let size = this.elsize > 0 ? this.elsize : kind === "U" ? digits * 4 : digits;
    if (kind === "b" && size === 0) size = 1;
    if (kind === "O") size = 0;
    return { kind, size };
  }
}

/** A numpy array decoded to numbers (or strings / objects), in C (row-major) order. */
export class NdArray {
  constructor(
    readonly dtype: string,
    readonly shape: number[],
    readonly values: Float64Array | string[] | PyValue[],
  ) {}
}

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PickleError";
  }
}

const MARK = Symbol("mark");
type StackItem = PyValue | typeof MARK | PendingArray;

/** ndarray from numpy's _reconstruct, waiting for BUILD to give it shape, dtype and data. */
class PendingArray {
  result: NdArray | PyObject | null = null;
}

/**
 * Array data we cannot decode (an exotic dtype) becomes an inert record naming the reason, so only
 * what uses the array fails (e.g. one axis), not the whole pickle (whose systematic type we need).
 */
function leniently(decode: () => NdArray): NdArray | PyObject {
  try {
    return decode();
  } catch (err) {
    if (!(err instanceof PickleError)) throw err;
    const rec = new PyObject("numpy", "ndarray", []);
    rec.state = `undecodable: ${err.message}`;
    return rec;
  }
}

const NUMPY_MODULES = new Set(["numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric", "numpy"]);

export interface UnpickleOptions {
  /** out-of-band buffers (protocol 5 NEXT_BUFFER), in order */
  buffers?: Uint8Array[];
}

/** Decodes one pickle. Throws PickleError on anything malformed or unsupported. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions = {}): PyValue {
  return new Unpickler(data, opts.buffers ?? []).run();
}

class Unpickler {
  private pos = 0;
  private stack: StackItem[] = [];
  private marks: number[] = [];
  private memo = new Map<number, StackItem>();
  private readonly view: DataView;
  private nextBuffer = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly buffers: Uint8Array[],
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  run(): PyValue {
    for (;;) {
      if (this.pos >= this.data.length) throw new PickleError("truncated pickle (no STOP opcode)");
      const at = this.pos;
      const op = this.data[this.pos++];
      if (op === 0x2e /* . STOP */) {
        const v = this.pop();
        return this.value(v, "STOP");
      }
      try {
        this.step(op);
      } catch (err) {
        if (err instanceof PickleError) throw new PickleError(`${err.message} (opcode 0x${op.toString(16)} at byte ${at})`);
        throw err;
      }
    }
  }

  // ---- reading the stream ----

  private need(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.data.length) throw new PickleError("truncated pickle");
  }

  private bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(): number {
    this.need(1);
    return this.data[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError("length too large");
    return Number(v);
  }

  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw new PickleError("truncated pickle (unterminated line)");
    const s = latin1(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private utf8(n: number): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes(n));
  }

  // ---- the stack ----

  private push(v: StackItem): void {
    this.stack.push(v);
  }

  private pop(): StackItem {
    if (this.stack.length === 0 || this.stack.length <= (this.marks[this.marks.length - 1] ?? -1)) {
      throw new PickleError("stack underflow");
    }
    return this.stack.pop() as StackItem;
  }

  private top(): StackItem {
    if (this.stack.length === 0) throw new PickleError("stack underflow");
    return this.stack[this.stack.length - 1];
  }

  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) throw new PickleError("no MARK on the stack");
    const items = this.stack.splice(m);
    return items.map((v) => this.value(v, "MARK"));
  }

  /** A stack item as a value (a finished numpy array stands for its pending record). */
  private value(v: StackItem, where: string): PyValue {
    if (v === MARK) throw new PickleError(`unexpected MARK (${where})`);
    if (v instanceof PendingArray) {
      if (v.result === null) throw new PickleError("numpy array used before its BUILD");
      return v.result;
    }
    return v;
  }

  private memoPut(key: number): void {
    this.memo.set(key, this.top());
  }

  private memoGet(key: number): void {
    const v = this.memo.get(key);
    if (v === undefined) throw new PickleError(`memo key ${key} not found`);
    this.push(v);
  }

  private int(v: bigint): number | bigint {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private step(op: number): void {
    switch (op) {
      case 0x80: // PROTO
        if (this.u8() > 5) throw new PickleError("pickle protocol above 5");
        return;
      case 0x95: // FRAME
        this.u64();
        return;
      case 0x28: // ( MARK
        this.marks.push(this.stack.length);
        return;
      case 0x30: // 0 POP
        if (this.stack.length === (this.marks[this.marks.length - 1] ?? -1)) this.marks.pop();
        else this.pop();
        return;
      case 0x31: // 1 POP_MARK
        this.popMark();
        return;
      case 0x32: // 2 DUP
        this.push(this.top());
        return;
      case 0x4e: // N NONE
        return this.push(null);
      case 0x88: // NEWTRUE
        return this.push(true);
      case 0x89: // NEWFALSE
        return this.push(false);
      case 0x4a: // J BININT
        return this.push(this.i32());
      case 0x4b: // K BININT1
        return this.push(this.u8());
      case 0x4d: // M BININT2
        return this.push(this.u16());
      case 0x8a: // LONG1
        return this.push(this.int(longFromBytes(this.bytes(this.u8()))));
      case 0x8b: // LONG4
        return this.push(this.int(longFromBytes(this.bytes(this.i32()))));
      case 0x49: { // I INT (text); protocol 0 bools are I01 / I00
        const s = this.line();
        if (s === "01") return this.push(true);
        if (s === "00") return this.push(false);
        if (!/^[-+]?\d+$/.test(s)) throw new PickleError(`bad INT '${s}'`);
        return this.push(this.int(BigInt(s)));
      }
      case 0x4c: { // L LONG (text)
        const s = this.line().replace(/L$/, "");
        if (!/^[-+]?\d+$/.test(s)) throw new PickleError(`bad LONG '${s}'`);
        return this.push(this.int(BigInt(s)));
      }
      case 0x47: { // G BINFLOAT (big-endian)
        this.need(8);
        const v = this.view.getFloat64(this.pos, false);
        this.pos += 8;
        return this.push(v);
      }
      case 0x46: { // F FLOAT (text)
        const s = this.line();
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) throw new PickleError(`bad FLOAT '${s}'`);
        return this.push(v);
      }
      case 0x8c: // SHORT_BINUNICODE
        return this.push(this.utf8(this.u8()));
      case 0x58: // X BINUNICODE
        return this.push(this.utf8(this.u32()));
      case 0x8d: // BINUNICODE8
        return this.push(this.utf8(this.u64()));
      case 0x56: // V UNICODE (raw-unicode-escape)
        return this.push(this.line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string, b: string) => String.fromCodePoint(parseInt(a ?? b, 16))));
      case 0x55: // U SHORT_BINSTRING (Python 2 str: kept as latin-1 text)
        return this.push(latin1(this.bytes(this.u8())));
      case 0x54: // T BINSTRING
        return this.push(latin1(this.bytes(this.i32())));
      case 0x53: { // S STRING (quoted repr)
        const s = this.line();
        const m = /^(['"])(.*)\1$/.exec(s);
        if (!m) throw new PickleError("bad STRING");
        return this.push(m[2].replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_, hex: string, c: string) => (hex ? String.fromCharCode(parseInt(hex, 16)) : ({ n: "\n", t: "\t", r: "\r" } as Record<string, string>)[c] ?? c)));
      }
      case 0x43: // C SHORT_BINBYTES
        return this.push(this.bytes(this.u8()));
      case 0x42: // B BINBYTES
        return this.push(this.bytes(this.u32()));
      case 0x8e: // BINBYTES8
        return this.push(this.bytes(this.u64()));
      case 0x96: // BYTEARRAY8
        return this.push(this.bytes(this.u64()));
      case 0x97: { // NEXT_BUFFER
        const b = this.buffers[this.nextBuffer++];
        if (b === undefined) throw new PickleError("out-of-band buffer requested but none was given");
        return this.push(b);
      }
      case 0x98: // READONLY_BUFFER
        return;
      case 0x29: // ) EMPTY_TUPLE
        return this.push(new PyTuple([]));
      case 0x74: // t TUPLE
        return this.push(new PyTuple(this.popMark()));
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.value(this.pop(), "TUPLE"));
        return this.push(new PyTuple(items));
      }
      case 0x5d: // ] EMPTY_LIST
        return this.push([]);
      case 0x6c: // l LIST
        return this.push(this.popMark());
      case 0x61: { // a APPEND
        const v = this.value(this.pop(), "APPEND");
        this.appendTo(this.top(), [v]);
        return;
      }
      case 0x65: { // e APPENDS
        const items = this.popMark();
        this.appendTo(this.top(), items);
        return;
      }
      case 0x7d: // } EMPTY_DICT
        return this.push(new Map());
      case 0x64: { // d DICT
        const items = this.popMark();
        const m = new Map<PyValue, PyValue>();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
        return this.push(m);
      }
      case 0x73: { // s SETITEM
        const v = this.value(this.pop(), "SETITEM");
        const k = this.value(this.pop(), "SETITEM");
        this.setItems(this.top(), [k, v]);
        return;
      }
      case 0x75: { // u SETITEMS
        const items = this.popMark();
        this.setItems(this.top(), items);
        return;
      }
      case 0x8f: // EMPTY_SET
        return this.push(new PySet([], false));
      case 0x90: { // ADDITEMS
        const items = this.popMark();
        const s = this.top();
        if (!(s instanceof PySet)) throw new PickleError("ADDITEMS on a non-set");
        s.items.push(...items);
        return;
      }
      case 0x91: // FROZENSET
        return this.push(new PySet(this.popMark(), true));
      case 0x63: { // c GLOBAL
        const module = this.line();
        const name = this.line();
        return this.push(new PyGlobal(module, name));
      }
      case 0x93: { // STACK_GLOBAL
        const name = this.value(this.pop(), "STACK_GLOBAL");
        const module = this.value(this.pop(), "STACK_GLOBAL");
        if (typeof module !== "string" || typeof name !== "string") throw new PickleError("STACK_GLOBAL needs two strings");
        return this.push(new PyGlobal(module, name));
      }
      case 0x52: { // R REDUCE
        const args = this.value(this.pop(), "REDUCE");
        const fn = this.value(this.pop(), "REDUCE");
        if (!(args instanceof PyTuple)) throw new PickleError("REDUCE arguments are not a tuple");
        return this.push(this.call(fn, args.items, null));
      }
      case 0x81: { // NEWOBJ
        const args = this.value(this.pop(), "NEWOBJ");
        const cls = this.value(this.pop(), "NEWOBJ");
        if (!(args instanceof PyTuple)) throw new PickleError("NEWOBJ arguments are not a tuple");
        return this.push(this.construct(cls, args.items, null));
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = this.value(this.pop(), "NEWOBJ_EX");
        const args = this.value(this.pop(), "NEWOBJ_EX");
        const cls = this.value(this.pop(), "NEWOBJ_EX");
        if (!(args instanceof PyTuple) || !(kwargs instanceof Map)) throw new PickleError("NEWOBJ_EX needs a tuple and a dict");
        return this.push(this.construct(cls, args.items, kwargs));
      }
      case 0x69: { // i INST
        const module = this.line();
        const name = this.line();
        return this.push(new PyObject(module, name, this.popMark()));
      }
      case 0x6f: { // o OBJ
        const items = this.popMark();
        const cls = items.shift();
        return this.push(this.construct(cls ?? null, items, null));
      }
      case 0x62: { // b BUILD
        const state = this.value(this.pop(), "BUILD");
        this.build(this.top(), state);
        return;
      }
      case 0x50: // P PERSID
        return this.push(new PyPersistent(this.line()));
      case 0x51: // Q BINPERSID
        return this.push(new PyPersistent(this.value(this.pop(), "BINPERSID")));
      case 0x70: { // p PUT
        const s = this.line();
        return this.memoPut(Number(s));
      }
      case 0x71: // q BINPUT
        return this.memoPut(this.u8());
      case 0x72: // r LONG_BINPUT
        return this.memoPut(this.u32());
      case 0x94: // MEMOIZE
        return this.memoPut(this.memo.size);
      case 0x67: // g GET
        return this.memoGet(Number(this.line()));
      case 0x68: // h BINGET
        return this.memoGet(this.u8());
      case 0x6a: // j LONG_BINGET
        return this.memoGet(this.u32());
      default:
        throw new PickleError(`unsupported pickle opcode 0x${op.toString(16)}`);
    }
  }

  private appendTo(target: StackItem, items: PyValue[]): void {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof PyObject) target.listItems.push(...items);
    else throw new PickleError("APPEND to something that is not a list");
  }

  private setItems(target: StackItem, items: PyValue[]): void {
    if (items.length % 2 !== 0) throw new PickleError("SETITEMS with an odd number of items");
    const m = target instanceof Map ? target : target instanceof PyObject ? target.dictItems : null;
    if (m === null) throw new PickleError("SETITEM on something that is not a dict");
    for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
  }

  /** cls.__new__(cls, *args): a record (numpy dtypes excepted). */
  private construct(cls: PyValue, args: PyValue[], kwargs: Map<PyValue, PyValue> | null): StackItem {
    if (!(cls instanceof PyGlobal)) throw new PickleError("NEWOBJ on something that is not a class");
    return new PyObject(cls.module, cls.name, args, kwargs);
  }

  /** fn(*args), interpreted only for plain-data constructors; anything else becomes a record. */
  private call(fn: PyValue, args: PyValue[], kwargs: Map<PyValue, PyValue> | null): StackItem {
    if (!(fn instanceof PyGlobal)) throw new PickleError("REDUCE on something that is not a global");
    const { module, name } = fn;
    const numpy = NUMPY_MODULES.has(module);
    if (numpy && name === "_reconstruct") return new PendingArray();
    if (numpy && name === "_frombuffer") return leniently(() => frombuffer(args));
    if (numpy && name === "dtype") {
      if (typeof args[0] !== "string") throw new PickleError("numpy.dtype without a type string");
      return new PyDtype(args[0]);
    }
    if (numpy && name === "scalar") {
      const [dtype, raw] = args;
      if (!(dtype instanceof PyDtype)) throw new PickleError("numpy scalar without a dtype");
      const arr = leniently(() => decodeArrayData(dtype, [], raw ?? null, false));
      return arr instanceof NdArray ? (arr.values[0] ?? null) : arr;
    }
    if ((module === "collections" && name === "OrderedDict") || (module === "builtins" && name === "dict")) {
      const m = new Map<PyValue, PyValue>();
      const init = args[0];
      if (Array.isArray(init)) {
        for (const kv of init) {
          const pair = kv instanceof PyTuple ? kv.items : Array.isArray(kv) ? kv : null;
          if (pair === null || pair.length !== 2) throw new PickleError("OrderedDict items are not pairs");
          m.set(pair[0], pair[1]);
        }
      }
      return m;
    }
    if (module === "builtins" && (name === "set" || name === "frozenset")) {
      const init = args[0];
      const items = Array.isArray(init) ? init : init instanceof PyTuple ? init.items : [];
      return new PySet([...items], name === "frozenset");
    }
    if (module === "builtins" && name === "bytearray") {
      const init = args[0];
      if (init === undefined) return new Uint8Array(0);
      if (init instanceof Uint8Array) return init;
      if (typeof init === "string") return fromLatin1(init);
      throw new PickleError("bytearray from something that is not bytes");
    }
    if (module === "_codecs" && name === "encode" && typeof args[0] === "string") return fromLatin1(args[0]);
    if (module === "copyreg" && name === "_reconstructor") {
      const cls = args[0];
      if (!(cls instanceof PyGlobal)) throw new PickleError("copyreg._reconstructor without a class");
      return new PyObject(cls.module, cls.name, args.slice(2));
    }
    return new PyObject(module, name, args, kwargs);
  }

  private build(target: StackItem, state: PyValue): void {
    if (target instanceof PendingArray) {
      target.result = leniently(() => arrayFromState(state));
      return;
    }
    if (target instanceof PyDtype) {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      const items = state instanceof PyTuple ? state.items : [];
      if (typeof items[1] === "string") target.byteorder = items[1];
      if (typeof items[5] === "number" && items[5] > 0) target.elsize = items[5];
      if (items[3] !== null && items[3] !== undefined) throw new PickleError("structured numpy dtypes are not supported");
      return;
    }
    if (target instanceof PyObject) {
      target.state = state;
      return;
    }
    if (target instanceof Map) return; // OrderedDict's (empty) instance dict
    throw new PickleError("BUILD on something that is not an object");
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new PickleError("byte string with a character above U+00FF");
    out[i] = c;
  }
  return out;
}

/** Two's-complement little-endian integer (LONG1/LONG4). */
function longFromBytes(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

function shapeOf(v: PyValue, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : typeof v === "number" ? [v] : null;
  if (items === null || !items.every((d): d is number => typeof d === "number" && Number.isInteger(d) && d >= 0)) {
    throw new PickleError(`${what}: shape is not a tuple of non-negative integers`);
  }
  return items;
}

/** numpy's protocol-5 form: _frombuffer(buffer, dtype, shape, order). */
function frombuffer(args: PyValue[]): NdArray {
  const [buf, dtype, shape, order] = args;
  if (!(dtype instanceof PyDtype)) throw new PickleError("_frombuffer without a dtype");
  return decodeArrayData(dtype, shapeOf(shape ?? null, "_frombuffer"), buf ?? null, order === "F");
}

/** ndarray.__setstate__: (version, shape, dtype, is_fortran, rawdata) or the older 4-tuple. */
function arrayFromState(state: PyValue): NdArray {
  if (!(state instanceof PyTuple)) throw new PickleError("numpy array state is not a tuple");
  const items = state.items.length === 5 ? state.items.slice(1) : state.items;
  if (items.length !== 4) throw new PickleError("numpy array state has the wrong length");
  const [shape, dtype, fortran, raw] = items;
  if (!(dtype instanceof PyDtype)) throw new PickleError("numpy array state without a dtype");
  return decodeArrayData(dtype, shapeOf(shape, "ndarray"), raw, fortran === true);
}

function decodeArrayData(dtype: PyDtype, shape: number[], raw: PyValue, fortran: boolean): NdArray {
  const count = shape.reduce((a, b) => a * b, 1);
  const { kind, size } = dtype.layout();
  const name = `${dtype.byteorder}${kind}${size}`;
  let values: Float64Array | string[] | PyValue[];
  if (kind === "O") {
    if (!Array.isArray(raw)) throw new PickleError("numpy object array without a list of items");
    values = raw;
  } else {
    const bytes = raw instanceof Uint8Array ? raw : typeof raw === "string" ? fromLatin1(raw) : null;
    if (bytes === null) throw new PickleError(`numpy array data is not bytes (dtype ${name})`);
    if (bytes.length !== count * size) throw new PickleError(`numpy array has ${bytes.length} bytes for ${count} × ${size}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const little = dtype.byteorder !== ">";
    if (kind === "U" || kind === "S") {
      const strs: string[] = [];
      for (let i = 0; i < count; i++) {
        let s = "";
        if (kind === "U") {
          for (let j = 0; j < size; j += 4) {
            const c = view.getUint32(i * size + j, little);
            if (c === 0) break;
            s += String.fromCodePoint(c);
          }
        } else {
          const end = bytes.subarray(i * size, (i + 1) * size);
          const z = end.indexOf(0);
          s = latin1(z < 0 ? end : end.subarray(0, z));
        }
        strs.push(s);
      }
      values = strs;
    } else {
      const read = elementReader(kind, size, view, little, name);
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = read(i * size);
      values = out;
    }
  }
  if (fortran && shape.length > 1) values = toRowMajor(values, shape);
  return new NdArray(name, shape, values);
}

function elementReader(kind: string, size: number, v: DataView, le: boolean, name: string): (off: number) => number {
  const key = `${kind}${size}`;
  switch (key) {
    case "f8":
      return (o) => v.getFloat64(o, le);
    case "f4":
      return (o) => v.getFloat32(o, le);
    case "i1":
      return (o) => v.getInt8(o);
    case "u1":
    case "b1":
      return (o) => v.getUint8(o);
    case "i2":
      return (o) => v.getInt16(o, le);
    case "u2":
      return (o) => v.getUint16(o, le);
    case "i4":
      return (o) => v.getInt32(o, le);
    case "u4":
      return (o) => v.getUint32(o, le);
    case "i8":
      return (o) => Number(v.getBigInt64(o, le));
    case "u8":
      return (o) => Number(v.getBigUint64(o, le));
    default:
      throw new PickleError(`numpy dtype ${name} is not supported`);
  }
}

function toRowMajor<T>(values: ArrayLike<T> & { length: number }, shape: number[]): T[] | Float64Array {
  const n = values.length;
  const out: T[] = new Array<T>(n);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  for (let c = 0; c < n; c++) {
    // c is the row-major position of idx; find its column-major position
    let f = 0;
    for (let d = nd - 1; d >= 0; d--) f = f * shape[d] + idx[d];
    out[c] = values[f];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return values instanceof Float64Array ? Float64Array.from(out as number[]) : out;
}

/**
 * A big-endian read cursor over one ROOT record (a key's object or a basket), with the object
 * reference table that ROOT's ReadObjectAny needs. Every read is bounds-checked: a truncated or
 * corrupt record becomes a UserError naming `label` (file and object), never a silent garbage value.
 */
import { UserError } from "../../errors.js";

/** Flag in a 32-bit count word saying it is a byte count (ROOT kByteCountMask). */
export const BYTE_COUNT_MASK = 0x40000000;

export class RBuffer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  /**
   * ROOT's object map keys are positions counted from the start of the *key* (the key header is
   * part of ROOT's buffer), so a record read without its key header is shifted by `origin`.
   */
  readonly origin: number;
  /** object/class reference table for ReadObjectAny, keyed by ROOT's map positions */
  readonly refs = new Map<number, unknown>();
  readonly label: string;

  constructor(bytes: Uint8Array, label: string, origin = 0, pos = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.origin = origin;
    this.label = label;
  }

  get length(): number {
    return this.bytes.length;
  }

  /** `pos` in ROOT's own coordinates (for the reference map) */
  get mapPos(): number {
    return this.pos + this.origin;
  }

  fail(what: string): never {
    throw new UserError(`${this.label}: ${what} (at byte ${this.pos} of ${this.bytes.length}); the file is corrupt or of an unsupported kind`);
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length) this.fail(`record ends early (needed ${n} more bytes)`);
  }

  seek(pos: number): void {
    if (pos < 0 || pos > this.bytes.length) this.fail(`jump to byte ${pos} is outside the record`);
    this.pos = pos;
  }

  skip(n: number): void {
    this.seek(this.pos + n);
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }

  i8(): number {
    this.need(1);
    return this.view.getInt8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  i16(): number {
    this.need(2);
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  /** 64-bit integer as a JS number: exact below 2^53, which file offsets and entry counts always are */
  i64(): number {
    this.need(8);
    const hi = this.view.getInt32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * 4294967296 + lo;
  }

  f32(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  /** TString: one length byte, or 255 followed by a 32-bit length */
  tstring(): string {
    let n = this.u8();
    if (n === 255) n = this.i32();
    this.need(n);
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, n).toString("latin1");
    this.pos += n;
    return s;
  }

  /** NUL-terminated C string (class names in ReadObjectAny) */
  cstring(): string {
    const end = this.bytes.indexOf(0, this.pos);
    if (end < 0) this.fail("unterminated class name");
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, end - this.pos).toString("latin1");
    this.pos = end + 1;
    return s;
  }

  /** `n` big-endian int32 / int64 values (TBranch basket tables) */
  i32Array(n: number): number[] {
    this.need(4 * n);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.i32();
    return out;
  }

  i64Array(n: number): number[] {
    this.need(8 * n);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.i64();
    return out;
  }

  /**
   * A class version header: an optional byte count (with BYTE_COUNT_MASK set) then a 16-bit
   * version. Returns where the object ends when a byte count was written (else null).
   */
  version(): { version: number; end: number | null } {
    this.need(2);
    const first = this.pos + 4 <= this.bytes.length ? this.view.getUint32(this.pos) : 0;
    if ((first & BYTE_COUNT_MASK) !== 0) {
      const start = this.pos;
      const count = first & ~BYTE_COUNT_MASK;
      this.pos += 4;
      const version = this.u16();
      const end = start + 4 + count;
      if (end > this.bytes.length) this.fail(`object byte count ${count} runs past the record`);
      return { version, end };
    }
    return { version: this.u16(), end: null };
  }

  /** Skips a whole versioned object (which must carry a byte count). */
  skipObject(what: string): void {
    const { end } = this.version();
    if (end === null) this.fail(`${what} has no byte count, cannot skip it`);
    this.pos = end;
  }
}

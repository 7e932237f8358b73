/**
 * A growing big-endian write buffer in ROOT's TBufferFile conventions: byte counts (kByteCountMask),
 * class tags (kNewClassTag + the class name), TStrings, TArrayD.
 */
export const BYTE_COUNT_MASK = 0x40000000;
const NEW_CLASS_TAG = 0xffffffff;

export class WBuffer {
  private bytes = new Uint8Array(1024);
  private view = new DataView(this.bytes.buffer);
  pos = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }

  i16(v: number): void {
    this.reserve(2);
    this.view.setInt16(this.pos, v);
    this.pos += 2;
  }

  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v >>> 0);
    this.pos += 4;
  }

  i64(v: number): void {
    this.reserve(8);
    this.view.setBigInt64(this.pos, BigInt(v));
    this.pos += 8;
  }

  f32(v: number): void {
    this.reserve(4);
    this.view.setFloat32(this.pos, v);
    this.pos += 4;
  }

  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  f64Array(v: ArrayLike<number>): void {
    this.reserve(8 * v.length);
    for (let i = 0; i < v.length; i++) {
      this.view.setFloat64(this.pos, v[i]);
      this.pos += 8;
    }
  }

  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }

  /** TString: a length byte (255 then an int32 for long strings), then the bytes (latin1). */
  tstring(s: string): void {
    const b = Buffer.from(s, "latin1");
    if (b.length < 255) this.u8(b.length);
    else {
      this.u8(255);
      this.i32(b.length);
    }
    this.raw(b);
  }

  cstring(s: string): void {
    this.raw(Buffer.from(s, "latin1"));
    this.u8(0);
  }

  /** TArrayD / TArrayI-style array: int32 length then the values. */
  tarrayD(v: ArrayLike<number>): void {
    this.i32(v.length);
    this.f64Array(v);
  }

  /** Writes a class version header with a byte count; call the returned function after the members. */
  versioned(version: number): () => void {
    const start = this.pos;
    this.u32(0);
    this.i16(version);
    return () => this.patchCount(start);
  }

  private patchCount(start: number): void {
    const count = this.pos - start - 4;
    this.view.setUint32(start, (count | BYTE_COUNT_MASK) >>> 0);
  }

  /** TObject: version 1 (no byte count), fUniqueID, fBits (kNotDeleted | kIsOnHeap as ROOT writes them). */
  tobject(uniqueID = 0): void {
    this.i16(1);
    this.u32(uniqueID);
    this.u32(0x03000000);
  }

  tnamed(name: string, title: string): void {
    const done = this.versioned(1);
    this.tobject();
    this.tstring(name);
    this.tstring(title);
    done();
  }

  /**
   * WriteObjectAny: byte count, class tag, then the object's own streamer. Every object carries a
   * full new-class tag (never a back reference): valid for every reader, and it keeps each record
   * independent of where it sits in the key (uproot writes its streamer records the same way).
   */
  objectAny(className: string, stream: (b: WBuffer) => void): void {
    const start = this.pos;
    this.u32(0);
    this.u32(NEW_CLASS_TAG);
    this.cstring(className);
    stream(this);
    this.patchCount(start);
  }

  /** A null object pointer (kNullTag). */
  nullObject(): void {
    this.u32(0);
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, this.pos);
  }
}

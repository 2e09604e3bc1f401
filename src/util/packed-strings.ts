/** `String.prototype.isWellFormed` (Node 20; not in the ES2023 library types). */
type WellFormed = string & { isWellFormed(): boolean };

/** The flag, in a string's length, of a string kept as UTF-16. */
const UTF16 = 0x80000000;

/** The longest string {@link PackedStrings.addAsciiHashed} takes (an id is at most 128). */
const ASCII_KEY_MAX = 256;

/** FNV-1a, 32 bits: {@link PackedStrings.hashAt} over bytes, {@link PackedStrings.addAsciiHashed} over the same as code units. */
export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, from `h` (a hash so far, or {@link FNV_OFFSET}), on over `bytes[start, end)`. */
export function fnv1a(bytes: Uint8Array, start: number, end: number, h: number): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h;
}

/** A handle's chunk is its quotient by this, its offset in the chunk the remainder. */
const SPAN = 2 ** 32;

/**
 * Strings and small numbers packed into buffers outside the JavaScript heap: for the registry's
 * scan, which keeps something of each of a million lines. Strings kept in the heap would each be
 * an object for the garbage collector to copy and promote, and the engine grows its young
 * generation (and the process's memory) with what survives; bytes in a buffer cost their length
 * and nothing to the collector.
 *
 * Values are appended in blocks ({@link begin} ... {@link end}) and read back in the same
 * sequence from the block's handle: a string is its length in bytes (4 bytes) and its UTF-8
 * bytes; a count is 4 bytes. A string that UTF-8 cannot hold (a lone surrogate, which a JSON
 * escape such as `\ud800` can make) is kept as UTF-16 instead, flagged in its length, so every
 * string reads back exactly as it was added. The buffers are chunks of `chunkBytes` that are
 * never copied to grow: a block that does not fit in what is left of one moves to a new one.
 */
export class PackedStrings {
  private readonly chunks: Buffer[] = [];
  private bytes: Buffer;
  private pos = 0;
  /** Where the block being appended starts in `bytes`. */
  private blockStart = 0;

  constructor(private readonly chunkBytes = 1 << 20) {
    this.bytes = Buffer.allocUnsafe(Math.max(64, chunkBytes));
    this.chunks.push(this.bytes);
  }

  /** Starts a block: the values appended until {@link end} are read back from its handle. */
  begin(): void {
    this.blockStart = this.pos;
  }

  /** Ends the block begun; returns its handle. */
  end(): number {
    return (this.chunks.length - 1) * SPAN + this.blockStart;
  }

  /** Forgets the block begun (appended only to be looked up). */
  drop(): void {
    this.pos = this.blockStart;
  }

  /** Appends a string to the block. */
  addString(s: string): void {
    // At most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units).
    this.reserve(4 + 3 * s.length);
    const at = this.pos;
    const n = s.length === 0 ? 0 : this.bytes.write(s, at + 4, "utf8");
    // As many bytes as code units: ASCII, well formed; else it is checked.
    if (n === s.length || (s as WellFormed).isWellFormed()) {
      this.bytes.writeUInt32LE(n, at);
      this.pos = at + 4 + n;
    } else {
      const n = this.bytes.write(s, at + 4, "utf16le");
      this.bytes.writeUInt32LE((n | UTF16) >>> 0, at);
      this.pos = at + 4 + n;
    }
  }

  /**
   * Appends `s` as {@link addString} does and returns {@link hashAt} of it, when `s` is at most
   * {@link ASCII_KEY_MAX} code units, each below 0x80 (its UTF-8 bytes are then its code units);
   * else appends nothing and returns -1. One pass over the string, with no call into the
   * engine's encoder: for the short keys of {@link PackedStringMap}, one per registry line.
   */
  addAsciiHashed(s: string): number {
    const n = s.length;
    if (n > ASCII_KEY_MAX) return -1;
    this.reserve(4 + n);
    const bytes = this.bytes;
    const from = this.pos + 4;
    let h = FNV_OFFSET;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return -1;
      bytes[from + i] = c;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    bytes.writeUInt32LE(n, this.pos);
    this.pos = from + n;
    return h >>> 1;
  }

  /**
   * Appends the bytes `src[start, end)` as a string: read back, it is their decoding (invalid
   * UTF-8 read as U+FFFD), and when they are the UTF-8 of a string, packed as {@link addString}
   * packs that string.
   */
  addBytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.reserve(4 + n);
    const bytes = this.bytes;
    const from = this.pos + 4;
    if (n > 64) bytes.set(src.subarray(start, end), from);
    else for (let i = 0; i < n; i++) bytes[from + i] = src[start + i]!;
    bytes.writeUInt32LE(n, this.pos);
    this.pos = from + n;
  }

  /** {@link addBytes}, and returns {@link hashAt} of the string. */
  addBytesHashed(src: Uint8Array, start: number, end: number): number {
    this.addBytes(src, start, end);
    return fnv1a(src, start, end, FNV_OFFSET) >>> 1;
  }

  /** Appends a whole number from 0 to 2^32 - 1 to the block. */
  addCount(n: number): void {
    this.reserve(4);
    this.bytes.writeUInt32LE(n, this.pos);
    this.pos += 4;
  }

  /** Replaces the count at `at` (a handle, or a position {@link next} gave). */
  setCount(at: number, n: number): void {
    const c = Math.floor(at / SPAN);
    this.chunks[c]!.writeUInt32LE(n, at - c * SPAN);
  }

  /** The count at `at`. */
  countAt(at: number): number {
    const c = Math.floor(at / SPAN);
    return this.chunks[c]!.readUInt32LE(at - c * SPAN);
  }

  /** The string at `at`. */
  stringAt(at: number): string {
    const c = Math.floor(at / SPAN);
    const bytes = this.chunks[c]!;
    const off = at - c * SPAN;
    const n = bytes.readUInt32LE(off);
    if (n === 0) return "";
    return n < UTF16 ? bytes.toString("utf8", off + 4, off + 4 + n) : bytes.toString("utf16le", off + 4, off + 4 + (n - UTF16));
  }

  /** Where the value after the string at `at` is. */
  afterString(at: number): number {
    return at + 4 + (this.countAt(at) & ~UTF16);
  }

  /** Where the value after the count at `at` is. */
  afterCount(at: number): number {
    return at + 4;
  }

  /** Where the value after the `n` strings from `at` is. */
  afterStrings(at: number, n: number): number {
    let next = at;
    for (let i = 0; i < n; i++) next = this.afterString(next);
    return next;
  }

  /** FNV-1a of the bytes of the string at `at`, as a non-negative 31-bit number. */
  hashAt(at: number): number {
    const c = Math.floor(at / SPAN);
    const bytes = this.chunks[c]!;
    const off = at - c * SPAN;
    const end = off + 4 + (bytes.readUInt32LE(off) & ~UTF16);
    return fnv1a(bytes, off + 4, end, FNV_OFFSET) >>> 1;
  }

  /** Whether the strings at `a` and `b` are the same. */
  sameString(a: number, b: number): boolean {
    const ca = Math.floor(a / SPAN);
    const cb = Math.floor(b / SPAN);
    const x = this.chunks[ca]!;
    const y = this.chunks[cb]!;
    const oa = a - ca * SPAN;
    const ob = b - cb * SPAN;
    const n = x.readUInt32LE(oa);
    if (n !== y.readUInt32LE(ob)) return false;
    const len = (n & ~UTF16) + 4;
    for (let i = 4; i < len; i++) if (x[oa + i] !== y[ob + i]) return false;
    return true;
  }

  /** Room for `n` more bytes in the block's chunk: else the block so far moves to a new chunk. */
  private reserve(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    const sofar = this.pos - this.blockStart;
    const chunk = Buffer.allocUnsafe(Math.max(this.chunkBytes, sofar + n));
    this.bytes.copy(chunk, 0, this.blockStart, this.pos);
    this.chunks.push(chunk);
    this.bytes = chunk;
    this.blockStart = 0;
    this.pos = sofar;
  }
}

/**
 * Numbers (doubles) in runs, outside the JavaScript heap, in chunks that are never copied to
 * grow: each run is in one chunk, at a handle ({@link reserve}); {@link chunkOf} and
 * {@link offsetOf} say where its numbers are.
 */
export class PackedNumbers {
  private readonly chunks: Float64Array[] = [];
  private current: Float64Array | undefined;
  private pos = 0;

  constructor(private readonly chunkNumbers = 1 << 16) {}

  /** Room for a run of `n` numbers; returns its handle. */
  reserve(n: number): number {
    if (this.current === undefined || this.pos + n > this.current.length) {
      this.current = new Float64Array(Math.max(this.chunkNumbers, n));
      this.chunks.push(this.current);
      this.pos = 0;
    }
    const at = (this.chunks.length - 1) * SPAN + this.pos;
    this.pos += n;
    return at;
  }

  /** The chunk of the run at `at`. */
  chunkOf(at: number): Float64Array {
    return this.chunks[Math.floor(at / SPAN)]!;
  }

  /** Where the run at `at` starts in its chunk. */
  offsetOf(at: number): number {
    return at - Math.floor(at / SPAN) * SPAN;
  }
}

/** Rows of a {@link NumberColumn} chunk: a power of 2. */
const COLUMN_CHUNK_BITS = 14;
const COLUMN_CHUNK = 1 << COLUMN_CHUNK_BITS;

/**
 * A column of numbers, `width` per row, by row number, in typed-array chunks of 16,384 rows made
 * as rows are set and never copied to grow: a column of a million rows costs its size, not twice
 * it while it grows, and leaves no outgrown arrays for the collector to free.
 */
export class NumberColumn {
  private readonly chunks: (Float64Array | Int32Array | Uint8Array)[] = [];

  /**
   * @param kind the numbers: doubles, 32-bit integers, or bytes.
   * @param width numbers per row.
   */
  constructor(
    private readonly kind: "f64" | "i32" | "u8",
    private readonly width = 1,
  ) {}

  /** Number `k` of row `row` (0 when never set). */
  get(row: number, k = 0): number {
    const c = row >>> COLUMN_CHUNK_BITS;
    // Never read past the chunks: such a read would make the engine drop the compiled callers.
    return c < this.chunks.length ? this.chunks[c]![(row & (COLUMN_CHUNK - 1)) * this.width + k]! : 0;
  }

  set(row: number, value: number, k = 0): void {
    const c = row >>> COLUMN_CHUNK_BITS;
    const chunk = c < this.chunks.length ? this.chunks[c]! : this.grow(c);
    chunk[(row & (COLUMN_CHUNK - 1)) * this.width + k] = value;
  }

  /**
   * Chunks up to chunk `c` made (zeros); returns chunk `c`. Apart from `set`, which runs for
   * every row while this runs once in 16,384, so that `set` stays small to inline.
   */
  private grow(c: number): Float64Array | Int32Array | Uint8Array {
    const n = COLUMN_CHUNK * this.width;
    while (this.chunks.length <= c) this.chunks.push(this.kind === "f64" ? new Float64Array(n) : this.kind === "i32" ? new Int32Array(n) : new Uint8Array(n));
    return this.chunks[c]!;
  }
}

/**
 * A map from strings to whole numbers (32-bit), in insertion order, behaving as
 * `Map<string, number>` does for `get`, `set` (a key set again keeps its place), `delete` (a key
 * set after its deletion goes last) and the order of {@link entries}: the keys are packed in a
 * {@link PackedStrings}, the rest is typed arrays, so a million keys cost the collector nothing.
 * Each key set has an entry number, by which its key can be read back ({@link keyOf}) even after
 * it was deleted.
 */
export class PackedStringMap {
  readonly keys = new PackedStrings();
  /** Per entry: where its key is in `keys`. */
  private readonly keyHandles = new NumberColumn("f64");
  private readonly hashes = new NumberColumn("i32");
  private readonly vals = new NumberColumn("i32");
  /** Entries present: 1, deleted: 0. */
  private readonly live = new NumberColumn("u8");
  private count = 0;
  /** Entry numbers + 1 (0: an empty slot, -1: a deleted entry's slot, searched past). */
  private table = new Int32Array(1024);
  private used = 0;
  private present = 0;

  get size(): number {
    return this.present;
  }

  /** The entry of `key` when present, else -1. */
  find(key: string): number {
    const at = this.pack(key);
    const entry = this.lookup(at, this.packedHash);
    this.keys.drop();
    return entry;
  }

  /** The hash of the key {@link pack} appended last. */
  private packedHash = 0;

  /** `key` appended to the keys as a block of its own; its handle (its hash in `packedHash`). */
  private pack(key: string): number {
    const keys = this.keys;
    keys.begin();
    const h = keys.addAsciiHashed(key);
    if (h >= 0) {
      this.packedHash = h;
      return keys.end();
    }
    keys.addString(key);
    const at = keys.end();
    this.packedHash = keys.hashAt(at);
    return at;
  }

  get(key: string): number | undefined {
    const entry = this.find(key);
    return entry < 0 ? undefined : this.vals.get(entry);
  }

  /** `key` given as its UTF-8 bytes `src[start, end)` appended as {@link pack} appends a string. */
  private packBytes(src: Uint8Array, start: number, end: number): number {
    const keys = this.keys;
    keys.begin();
    this.packedHash = keys.addBytesHashed(src, start, end);
    return keys.end();
  }

  /** Sets `key` to `value`; returns the key's entry (a new one unless the key was present). */
  set(key: string, value: number): number {
    return this.setPacked(this.pack(key), value);
  }

  /** {@link set} of the key whose UTF-8 bytes (well formed) are `src[start, end)`. */
  setBytes(src: Uint8Array, start: number, end: number, value: number): number {
    return this.setPacked(this.packBytes(src, start, end), value);
  }

  /** {@link set} of the key just packed at `at` (its hash in `packedHash`). */
  private setPacked(at: number, value: number): number {
    const h = this.packedHash;
    const mask = this.table.length - 1;
    let free = -1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const t = this.table[slot]!;
      if (t === 0) {
        if (free < 0) free = slot;
        break;
      }
      if (t < 0) {
        if (free < 0) free = slot;
        continue;
      }
      const entry = t - 1;
      if (this.hashes.get(entry) === h && this.keys.sameString(this.keyHandles.get(entry), at)) {
        this.keys.drop();
        this.vals.set(entry, value);
        return entry;
      }
    }
    const entry = this.count++;
    this.keyHandles.set(entry, at);
    this.hashes.set(entry, h);
    this.vals.set(entry, value);
    this.live.set(entry, 1);
    if (this.table[free] === 0) this.used++;
    this.table[free] = entry + 1;
    this.present++;
    if (this.used * 2 > this.table.length) this.rehash();
    return entry;
  }

  delete(key: string): boolean {
    return this.deletePacked(this.pack(key));
  }

  /** {@link delete} of the key whose UTF-8 bytes (well formed) are `src[start, end)`. */
  deleteBytes(src: Uint8Array, start: number, end: number): boolean {
    return this.deletePacked(this.packBytes(src, start, end));
  }

  /** {@link delete} of the key just packed at `at` (its hash in `packedHash`). */
  private deletePacked(at: number): boolean {
    const h = this.packedHash;
    const mask = this.table.length - 1;
    try {
      for (let slot = h & mask; ; slot = (slot + 1) & mask) {
        const t = this.table[slot]!;
        if (t === 0) return false;
        if (t < 0) continue;
        const entry = t - 1;
        if (this.hashes.get(entry) === h && this.keys.sameString(this.keyHandles.get(entry), at)) {
          this.table[slot] = -1;
          this.live.set(entry, 0);
          this.present--;
          return true;
        }
      }
    } finally {
      this.keys.drop();
    }
  }

  /** Where entry `entry`'s key is in {@link keys}. */
  keyAt(entry: number): number {
    return this.keyHandles.get(entry);
  }

  /** Sets the value of entry `entry` (present or not). */
  setValueOf(entry: number, value: number): void {
    this.vals.set(entry, value);
  }

  /** The value of entry `entry` (present or not). */
  valueOf(entry: number): number {
    return this.vals.get(entry);
  }

  /** The key of entry `entry` (present or not). */
  keyOf(entry: number): string {
    return this.keys.stringAt(this.keyHandles.get(entry));
  }

  /** The entries present, in the order their keys were (last) inserted. */
  *entries(): IterableIterator<number> {
    for (let entry = 0; entry < this.count; entry++) if (this.live.get(entry) === 1) yield entry;
  }

  private lookup(at: number, h: number): number {
    const mask = this.table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const t = this.table[slot]!;
      if (t === 0) return -1;
      if (t < 0) continue;
      const entry = t - 1;
      if (this.hashes.get(entry) === h && this.keys.sameString(this.keyHandles.get(entry), at)) return entry;
    }
  }

  /** A table at least twice the entries present, without the deleted ones' slots. */
  private rehash(): void {
    let size = this.table.length;
    while (this.present * 2 > size) size *= 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let entry = 0; entry < this.count; entry++) {
      if (this.live.get(entry) !== 1) continue;
      let slot = this.hashes.get(entry) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = entry + 1;
    }
    this.table = table;
    this.used = this.present;
  }
}

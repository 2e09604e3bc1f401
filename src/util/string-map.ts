/**
 * A map from strings to values, in insertion order, as `Map<string, V>` behaves for `get`,
 * `set` (a key set again keeps its place), `delete` (a key set after its deletion goes last) and
 * `values()`: made for the registry's scan, which sets one key per line of a file of a million
 * lines, most of them new. `Map` hashes each new string in the engine (about 0.4 µs a key here);
 * this hashes it in JavaScript (FNV-1a over the UTF-16 code units) into an open-addressing table
 * of row numbers, several times faster for short keys such as ids.
 */
export class StringMap<V> {
  private keys: (string | undefined)[] = [];
  private vals: (V | undefined)[] = [];
  private hashes: number[] = [];
  /** Row numbers + 1 (0: empty slot, -1: a deleted row's slot, searched past). */
  private table = new Int32Array(1024);
  private live = 0;
  /** Used slots, deleted ones included: the table grows before they pass half of it. */
  private used = 0;

  get size(): number {
    return this.live;
  }

  get(key: string): V | undefined {
    const row = this.find(key, hash(key));
    return row < 0 ? undefined : this.vals[row];
  }

  has(key: string): boolean {
    return this.find(key, hash(key)) >= 0;
  }

  set(key: string, value: V): this {
    const h = hash(key);
    const mask = this.table.length - 1;
    let free = -1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const entry = this.table[slot]!;
      if (entry === 0) {
        if (free < 0) free = slot;
        break;
      }
      if (entry < 0) {
        if (free < 0) free = slot;
        continue;
      }
      const row = entry - 1;
      if (this.hashes[row] === h && this.keys[row] === key) {
        this.vals[row] = value;
        return this;
      }
    }
    if (this.table[free] === 0) this.used++;
    const row = this.keys.length;
    this.keys.push(key);
    this.vals.push(value);
    this.hashes.push(h);
    this.table[free] = row + 1;
    this.live++;
    if (this.used * 2 > this.table.length) this.rehash();
    return this;
  }

  delete(key: string): boolean {
    const h = hash(key);
    const mask = this.table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const entry = this.table[slot]!;
      if (entry === 0) return false;
      if (entry < 0) continue;
      const row = entry - 1;
      if (this.hashes[row] === h && this.keys[row] === key) {
        this.table[slot] = -1;
        this.keys[row] = undefined;
        this.vals[row] = undefined;
        this.live--;
        return true;
      }
    }
  }

  /** The values of the keys present, in the order their keys were (last) inserted. */
  *values(): IterableIterator<V> {
    for (let row = 0; row < this.keys.length; row++) if (this.keys[row] !== undefined) yield this.vals[row]!;
  }

  private find(key: string, h: number): number {
    const mask = this.table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const entry = this.table[slot]!;
      if (entry === 0) return -1;
      if (entry < 0) continue;
      const row = entry - 1;
      if (this.hashes[row] === h && this.keys[row] === key) return row;
    }
  }

  /** A table at least three times the live rows, without the deleted rows' slots. */
  private rehash(): void {
    let size = this.table.length;
    while (this.live * 3 > size) size *= 2;
    const table = new Int32Array(size);
    const mask = size - 1;
    for (let row = 0; row < this.keys.length; row++) {
      if (this.keys[row] === undefined) continue;
      let slot = this.hashes[row]! & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = row + 1;
    }
    this.table = table;
    this.used = this.live;
  }
}

/** FNV-1a of the string's UTF-16 code units, as a non-negative 31-bit number. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 1;
}

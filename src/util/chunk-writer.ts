/**
 * Where {@link ChunkWriter} sends its chunks: a stream's `write`, or anything taking bytes. A
 * promise returned asks the writer to wait (the stream's buffer is full) before it goes on.
 */
export type ChunkSink = (chunk: Buffer) => unknown;

/**
 * Text written in chunks of about `chunkBytes` bytes of UTF-8, each made of whole pieces (a
 * piece is never cut, so each chunk decodes on its own): for an output of many rows, which is
 * neither held whole nor built as one long string. The pieces go into a buffer outside the
 * JavaScript heap, so a chunk in progress costs the garbage collector nothing to copy; each full
 * chunk is a new buffer, as the sink may keep it until it is written.
 */
export class ChunkWriter {
  private buf: Buffer;
  private pos = 0;
  private pending: Promise<unknown> | undefined;

  constructor(
    private readonly sink: ChunkSink,
    private readonly chunkBytes = 64 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(chunkBytes);
  }

  /** Appends `text`. When the sink asked to wait, {@link waiting} is set: await it before more. */
  put(text: string): void {
    // At most 3 bytes per UTF-16 code unit.
    if (this.pos + 3 * text.length > this.buf.length) {
      this.flush();
      if (3 * text.length > this.buf.length) {
        this.send(Buffer.from(text, "utf8"));
        return;
      }
    }
    this.pos += this.buf.write(text, this.pos, "utf8");
  }

  /** A promise to await before the next {@link put} when the sink is full, else `undefined`. */
  get waiting(): Promise<unknown> | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p;
  }

  /** Sends what is held, and waits for the sink when it asks to. */
  async end(): Promise<void> {
    this.flush();
    await this.waiting;
  }

  private flush(): void {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.chunkBytes);
    this.pos = 0;
    this.send(chunk);
  }

  private send(chunk: Buffer): void {
    const answer = this.sink(chunk);
    if (answer instanceof Promise) this.pending = this.pending === undefined ? answer : this.pending.then(() => answer);
  }
}

/** As much of a writable stream as {@link streamSink} needs. */
export interface SinkStream {
  write(chunk: Buffer): unknown;
  once?(event: "drain" | "close", listener: () => void): unknown;
  off?(event: "drain" | "close", listener: () => void): unknown;
}

/**
 * A {@link ChunkSink} writing to `stream` and, when the stream's buffer is full (its `write`
 * answered `false`: a pipe that is read slower than it is written), waiting for it to drain (or
 * close), so a large output is not all queued in memory.
 */
export function streamSink(stream: SinkStream): ChunkSink {
  return (chunk) => {
    if (stream.write(chunk) !== false || stream.once === undefined) return undefined;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off?.("drain", done);
        stream.off?.("close", done);
        resolve();
      };
      stream.once!("drain", done);
      stream.once!("close", done);
    });
  };
}

import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ChunkWriter, streamSink } from "../../src/util/chunk-writer.js";

describe("ChunkWriter", () => {
  it("sends whole pieces in chunks of at most its size, a piece larger than that alone", async () => {
    const chunks: Buffer[] = [];
    const out = new ChunkWriter((c) => chunks.push(c), 64);
    const pieces = ["a".repeat(10), "\u00e9\u4e2d".repeat(5), "b".repeat(200), "c", "\ud83d\ude00".repeat(3), ""];
    for (let i = 0; i < 20; i++) for (const p of pieces) out.put(p);
    await out.end();
    expect(Buffer.concat(chunks).toString("utf8")).toBe(pieces.join("").repeat(20));
    for (const c of chunks) {
      // Each chunk is whole characters, and only a piece larger than the size is sent alone.
      expect(Buffer.from(c.toString("utf8"), "utf8").equals(c)).toBe(true);
      if (c.length > 64) expect(c.toString("utf8")).toBe("b".repeat(200));
    }
  });
});

/** A stream read slowly: it takes a chunk each `delay` ms, holding at most `highWaterMark` bytes before it asks to wait. */
function slowStream(highWaterMark: number, delay: number): { stream: Writable; received: () => string; mostHeld: () => number } {
  let received = "";
  let mostHeld = 0;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, done) {
      received += chunk.toString("utf8");
      setTimeout(done, delay);
    },
  });
  const write = stream.write.bind(stream);
  stream.write = ((chunk: Buffer) => {
    const ok = write(chunk);
    mostHeld = Math.max(mostHeld, stream.writableLength);
    return ok;
  }) as typeof stream.write;
  return { stream, received: () => received, mostHeld: () => mostHeld };
}

describe("streamSink", () => {
  it("waits for a full stream to drain: a large output is never all queued in memory", async () => {
    const slow = slowStream(4096, 1);
    const out = new ChunkWriter(streamSink(slow.stream), 1024);
    const line = `${"x".repeat(99)}\n`;
    for (let i = 0; i < 2000; i++) {
      out.put(line);
      const wait = out.waiting;
      if (wait !== undefined) await wait;
    }
    await out.end();
    await new Promise<void>((resolve) => slow.stream.end(resolve));
    expect(slow.received()).toBe(line.repeat(2000));
    // 200 KB written; the stream never held more than its mark and a chunk.
    expect(slow.mostHeld()).toBeLessThanOrEqual(4096 + 1024);
  });

  it("goes on when the stream closes instead of draining", async () => {
    const slow = slowStream(16, 1000);
    const sink = streamSink(slow.stream);
    const wait = sink(Buffer.from("x".repeat(100)));
    expect(wait).toBeInstanceOf(Promise);
    slow.stream.destroy();
    await wait;
  });

  it("does not wait on a stream that cannot say when it drains", () => {
    expect(streamSink({ write: () => false })(Buffer.from("x"))).toBeUndefined();
  });
});

// The throughput floors: the least any tool must do to use a registry file.
//   node bench/floor.mjs FILE        the parse floor: readFileSync + split("\n") + JSON.parse of
//                                    every non-empty line, nothing else; prints the count of
//                                    lines parsed.
//   node bench/floor.mjs FILE ROWS   the output floor: read the file in 16 MiB chunks (a string
//                                    of the whole file cannot exceed V8's ~512 MiB), JSON.parse
//                                    every non-empty line, keep the first ROWS records, then
//                                    JSON.stringify them to standard output, one a line, in
//                                    chunks of about 1 MiB: what a command printing ROWS rows
//                                    must do at least. The count of lines parsed is the last line.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

const file = process.argv[2];
if (process.argv[3] === undefined) {
  const lines = readFileSync(file, "utf8").split("\n");
  let parsed = 0;
  for (const line of lines) {
    if (line === "") continue;
    JSON.parse(line);
    parsed++;
  }
  process.stdout.write(`${parsed}\n`);
} else {
  const rows = Number(process.argv[3]);
  const kept = [];
  let parsed = 0;
  const parse = (line) => {
    if (line === "") return;
    const value = JSON.parse(line);
    if (parsed < rows) kept.push(value);
    parsed++;
  };
  const fd = openSync(file, "r");
  const buf = Buffer.allocUnsafe(16 * 1024 * 1024);
  const decoder = new StringDecoder("utf8");
  let carry = "";
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    const text = carry + (n === 0 ? decoder.end() : decoder.write(buf.subarray(0, n)));
    const lines = text.split("\n");
    carry = lines.pop();
    for (const line of lines) parse(line);
    if (n === 0) break;
  }
  closeSync(fd);
  parse(carry);
  let chunk = "";
  for (const value of kept) {
    chunk += `${JSON.stringify(value)}\n`;
    if (chunk.length >= 1 << 20) {
      process.stdout.write(chunk);
      chunk = "";
    }
  }
  process.stdout.write(`${chunk}${parsed}\n`);
}

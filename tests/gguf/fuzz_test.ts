/**
 * Property test of the reader: thousands of corrupted variants of a valid
 * file either parse (and then every tensor reads back) or throw
 * GgufFormatError; never any other exception, never a hang.
 */

import assert from "node:assert/strict";
import { bytesSource } from "../../src/gguf/byte_source.ts";
import { type GgufErrorCode, GgufFormatError } from "../../src/gguf/format_error.ts";
import { parseGguf } from "../../src/gguf/reader.ts";
import { buildGguf, richSpec, setU64 } from "./_gguf_bytes.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url);

/** Values written into u64 length, count, dim and offset fields. */
const HUGE = [
  0xFFFF_FFFF_FFFF_FFFFn,
  1n << 63n,
  1n << 53n,
  (1n << 53n) + 1n,
  1n << 40n,
  0xFFFF_FFFFn,
  0n,
  1n,
];

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Tallies outcomes; fails on anything but success or GgufFormatError. */
class Outcomes {
  parsed = 0;
  readonly codes = new Map<GgufErrorCode, number>();
  slowest = 0;

  get total(): number {
    return this.parsed + [...this.codes.values()].reduce((a, b) => a + b, 0);
  }

  async check(bytes: Uint8Array, label: string): Promise<void> {
    const t0 = performance.now();
    try {
      const file = await parseGguf(bytesSource(bytes), { name: "fuzz.gguf" });
      for (const t of file.tensors) {
        assert.ok(
          t.offset + t.byteSize <= bytes.length,
          `${label}: ${t.name} ends inside the file`,
        );
        assert.equal((await file.readTensor(t)).length, t.byteSize, label);
      }
      this.parsed++;
    } catch (error) {
      if (!(error instanceof GgufFormatError)) {
        assert.fail(`${label}: threw ${error instanceof Error ? error.stack : error}`);
      }
      assert.ok(
        error.message.startsWith('Cannot read "fuzz.gguf": '),
        `${label}: ${error.message}`,
      );
      assert.ok(error.offset >= 0 && error.offset <= bytes.length, `${label}: ${error.message}`);
      this.codes.set(error.code, (this.codes.get(error.code) ?? 0) + 1);
    }
    this.slowest = Math.max(this.slowest, performance.now() - t0);
  }

  report(name: string): void {
    const codes = [...this.codes].map(([c, n]) => `${c} ${n}`).join(", ");
    console.log(
      `${name}: ${this.total} variants, ${this.parsed} parsed; ${codes}; slowest ${
        this.slowest.toFixed(1)
      } ms`,
    );
  }
}

/** Flips `n` random bits (or overwrites random bytes) in place, checks, then restores. */
async function mutateInPlace(
  bytes: Uint8Array,
  positions: number[],
  values: number[],
  out: Outcomes,
  label: string,
): Promise<void> {
  const saved = positions.map((p) => bytes[p]!);
  positions.forEach((p, i) => bytes[p] = values[i]!);
  await out.check(bytes, label);
  positions.forEach((p, i) => bytes[p] = saved[i]!);
}

Deno.test("parseGguf() survives 3,000+ corrupted variants of a fixture with every value type", async () => {
  const started = performance.now();
  const { bytes, layout } = buildGguf(richSpec());
  const random = prng(0x5EED);
  const out = new Outcomes();

  await out.check(bytes, "original");
  assert.equal(out.parsed, 1, "the fixture itself parses");

  // Truncation at every section boundary, one byte either side, and at every byte of the header region.
  const cuts = new Set<number>();
  for (const b of layout.boundaries) for (const d of [-1, 0, 1]) cuts.add(b + d);
  for (let i = 0; i < layout.dataOffset; i++) cuts.add(i);
  for (const cut of cuts) {
    if (cut >= 0 && cut < bytes.length) {
      await out.check(bytes.subarray(0, cut), `truncated at ${cut}`);
    }
  }
  for (let i = 0; i < 200; i++) {
    const cut = Math.floor(random() * bytes.length);
    await out.check(bytes.subarray(0, cut), `truncated at ${cut}`);
  }

  // Every u64 field (lengths, counts, dims, offsets, values) set to extreme values.
  const copy = bytes.slice();
  for (const field of layout.fields) {
    for (const v of HUGE) {
      setU64(copy, field.at, v);
      await out.check(copy, `${field.kind} at ${field.at} = ${v}`);
    }
    copy.set(bytes.subarray(field.at, field.at + 8), field.at);
  }

  // Random bit flips and byte overwrites, mostly in the header region.
  for (let i = 0; i < 1500; i++) {
    const n = 1 + Math.floor(random() * 4);
    const span = random() < 0.9 ? layout.dataOffset : bytes.length;
    const positions = Array.from({ length: n }, () => Math.floor(random() * span));
    const values = positions.map((p) => bytes[p]! ^ (1 << Math.floor(random() * 8)));
    await mutateInPlace(copy, positions, values, out, `bit flips ${i}`);
  }
  for (let i = 0; i < 800; i++) {
    const n = 1 + Math.floor(random() * 8);
    const start = Math.floor(random() * (layout.dataOffset - n));
    const positions = Array.from({ length: n }, (_, k) => start + k);
    const fill = random() < 0.3 ? 0xFF : -1;
    const values = positions.map(() => fill >= 0 ? fill : Math.floor(random() * 256));
    await mutateInPlace(copy, positions, values, out, `overwrite ${i}`);
  }

  out.report("fixture");
  assert.ok(out.total >= 3000, `${out.total} variants`);
  assert.ok(out.parsed > 1, "some mutations still parse");
  assert.ok(out.codes.size >= 10, `only ${out.codes.size} distinct error codes were hit`);
  assert.ok(performance.now() - started < 10_000, "the fuzz run takes under 10 s");
});

Deno.test("parseGguf() survives truncations and bit flips of stories260K.gguf's header", async () => {
  const started = performance.now();
  const bytes = await Deno.readFile(STORIES);
  const dataOffset = 14176;
  const random = prng(260);
  const out = new Outcomes();

  // Every length up to the data section (this covers every section and record boundary),
  // then a few cuts inside the tensor data.
  for (let cut = 0; cut <= dataOffset; cut++) {
    await out.check(bytes.subarray(0, cut), `truncated at ${cut}`);
  }
  for (let i = 0; i < 50; i++) {
    const cut = dataOffset + Math.floor(random() * (bytes.length - dataOffset));
    await out.check(bytes.subarray(0, cut), `truncated at ${cut}`);
  }
  assert.equal(out.parsed, 0, "no truncated file parses");
  const expected = new Set<GgufErrorCode>(["truncated", "length_too_large", "tensor_out_of_file"]);
  assert.deepEqual([...out.codes.keys()].filter((c) => !expected.has(c)), []);

  for (let i = 0; i < 500; i++) {
    const positions = [Math.floor(random() * dataOffset)];
    const values = positions.map((p) => bytes[p]! ^ (1 << Math.floor(random() * 8)));
    await mutateInPlace(bytes, positions, values, out, `bit flip ${i}`);
  }

  out.report("stories260K");
  assert.ok(performance.now() - started < 10_000, "the fuzz run takes under 10 s");
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { buildFixtureSpec, STANDARD_FIXTURES } from "../../fixtures/make_fixtures.ts";
import { firstNonFinite } from "../../src/gguf/finite_check.ts";
import { GgmlType, ggmlTypeInfo } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { writeGguf } from "../../src/gguf/writer.ts";
import { runD2o } from "../cli/_run.ts";

const TYPES = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q4_0,
  GgmlType.Q4_1,
  GgmlType.Q5_0,
  GgmlType.Q5_1,
  GgmlType.Q8_0,
  GgmlType.Q4_K,
  GgmlType.Q5_K,
  GgmlType.Q6_K,
];

/** Offsets of the f16 scales of a block, by type (ggml's block layouts). */
const SCALES: Partial<Record<GgmlType, number[]>> = {
  [GgmlType.Q4_0]: [0],
  [GgmlType.Q4_1]: [0, 2],
  [GgmlType.Q5_0]: [0],
  [GgmlType.Q5_1]: [0, 2],
  [GgmlType.Q8_0]: [0],
  [GgmlType.Q4_K]: [0, 2],
  [GgmlType.Q5_K]: [0, 2],
  [GgmlType.Q6_K]: [208],
};

const values = Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * 0.37) * 3);

for (const type of TYPES) {
  const name = ggmlTypeInfo(type).name;
  Deno.test(`firstNonFinite(${name}) finds a NaN or infinity and passes finite data`, () => {
    const clean = quantize(type, values);
    assert.equal(firstNonFinite(type, clean), -1);
    const { blockBytes } = ggmlTypeInfo(type);
    const float = SCALES[type] === undefined;
    for (const [at, bits] of float ? [[5, 0], [700, 1]] : SCALES[type]!.map((o) => [o, 2])) {
      const bad = clean.slice();
      const block = float ? at! : 2;
      const byte = float ? at! * blockBytes : block * blockBytes + at!;
      if (type === GgmlType.F32) {
        new DataView(bad.buffer).setFloat32(byte, bits === 0 ? NaN : -Infinity, true);
      } else {
        // f16 / bf16 infinity or NaN: the exponent bits all set.
        const mask = type === GgmlType.BF16 ? 0x7f80 : 0x7c00;
        new DataView(bad.buffer).setUint16(byte, mask | (bits === 0 ? 1 : 0), true);
      }
      assert.equal(firstNonFinite(type, bad), block, `${name} at byte ${byte}`);
    }
  });
}

Deno.test("a model with a NaN weight exits 3 naming the tensor", async () => {
  const base = STANDARD_FIXTURES.find((f) => f.weightType === GgmlType.Q8_0)!;
  const spec = buildFixtureSpec(base);
  const target = spec.tensors.find((t) => t.name === "blk.1.ffn_up.weight")!;
  new DataView(target.data.buffer, target.data.byteOffset).setUint16(34 * 3, 0x7e00, true);
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "nan.gguf");
    await writeGguf(file, spec);
    const r = await runD2o(["generate", "-m", file, "-n", "2", "Once"]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^d2o: Cannot read ".*nan\.gguf": tensor "blk\.1\.ffn_up\.weight" holds a NaN or infinity \(the scale of block 3\): the file is corrupt$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

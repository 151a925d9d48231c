import assert from "node:assert/strict";
import { bytesSource } from "../../src/gguf/byte_source.ts";
import { GgmlType, ggmlTypeName } from "../../src/gguf/ggml_type.ts";
import { quantize } from "../../src/gguf/quantize.ts";
import { openGguf, parseGguf } from "../../src/gguf/reader.ts";
import { type GgufEntry, GgufValueType as T } from "../../src/gguf/types.ts";
import {
  encodeGguf,
  type GgufSpec,
  type GgufTensorSpec,
  writeGguf,
} from "../../src/gguf/writer.ts";
import { makeRng, randn } from "../../src/reference/prng.ts";

/** One entry of every value type, with the edge cases a writer gets wrong. */
const METADATA: Array<[string, GgufEntry]> = [
  ["general.architecture", { type: T.STRING, value: "llama" }],
  ["test.u8", { type: T.U8, value: 255 }],
  ["test.i8", { type: T.I8, value: -128 }],
  ["test.u16", { type: T.U16, value: 65535 }],
  ["test.i16", { type: T.I16, value: -32768 }],
  ["test.u32", { type: T.U32, value: 4294967295 }],
  ["test.i32", { type: T.I32, value: -2147483648 }],
  ["test.f32", { type: T.F32, value: Math.fround(0.1) }],
  ["test.bool.true", { type: T.BOOL, value: true }],
  ["test.bool.false", { type: T.BOOL, value: false }],
  ["test.string", { type: T.STRING, value: "héllo ▁world 🙂" }],
  ["test.string.empty", { type: T.STRING, value: "" }],
  ["test.u64.small", { type: T.U64, value: 7 }],
  ["test.u64.big", { type: T.U64, value: 2n ** 64n - 1n }], // beyond 2^53: stays a bigint
  ["test.i64.big", { type: T.I64, value: -(2n ** 63n) }],
  ["test.i64.small", { type: T.I64, value: -3 }],
  ["test.f64", { type: T.F64, value: Math.PI }],
  ["test.array.i32", { type: T.ARRAY, value: { elementType: T.I32, values: [1, -2, 3] } }],
  ["test.array.empty", { type: T.ARRAY, value: { elementType: T.STRING, values: [] } }],
  ["test.array.bool", { type: T.ARRAY, value: { elementType: T.BOOL, values: [true, false] } }],
  ["test.array.nested", {
    type: T.ARRAY,
    value: {
      elementType: T.ARRAY,
      values: [
        { elementType: T.U8, values: [1, 2] },
        { elementType: T.STRING, values: ["a", ""] },
        { elementType: T.ARRAY, values: [{ elementType: T.U64, values: [2n ** 60n] }] },
      ],
    },
  }],
];

/** Tensors of every type, with random values quantized to it. */
function tensors(): GgufTensorSpec[] {
  const rng = makeRng(3);
  const make = (name: string, type: GgmlType, dims: number[]): GgufTensorSpec => {
    const values = Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => randn(rng));
    return { name, type, dims, data: quantize(type, values) };
  };
  return [
    make("f32.vector", GgmlType.F32, [5]), // 20 bytes: needs padding after it
    make("f16.matrix", GgmlType.F16, [3, 7]),
    make("bf16.cube", GgmlType.BF16, [2, 3, 4]),
    make("q8_0", GgmlType.Q8_0, [64, 3]),
    make("q4_0", GgmlType.Q4_0, [32, 5]),
    make("q4_1", GgmlType.Q4_1, [32, 1]),
    make("q5_0", GgmlType.Q5_0, [96, 2]),
    make("q5_1", GgmlType.Q5_1, [32, 2, 1, 3]),
    make("q4_k", GgmlType.Q4_K, [256, 2]),
    make("q5_k", GgmlType.Q5_K, [512]),
    make("q6_k", GgmlType.Q6_K, [256, 3]),
  ];
}

for (const alignment of [32, 64]) {
  Deno.test(`encodeGguf() output reads back through parseGguf() with alignment ${alignment}`, async () => {
    const spec: GgufSpec = { alignment, metadata: METADATA, tensors: tensors() };
    const bytes = encodeGguf(spec);
    const file = await parseGguf(bytesSource(bytes));
    assert.equal(file.version, 3);
    assert.equal(file.alignment, alignment);
    assert.equal(file.dataOffset % alignment, 0);
    assert.equal(bytes.length % alignment, 0);
    const expectedMeta = alignment === 32
      ? METADATA
      : [...METADATA, ["general.alignment", { type: T.U32, value: alignment }]];
    assert.deepEqual([...file.metadata.entries], expectedMeta);
    assert.equal(file.tensors.length, spec.tensors.length);
    for (const [i, t] of spec.tensors.entries()) {
      const info = file.tensors[i]!;
      assert.equal(info.name, t.name);
      assert.equal(info.type, t.type, `${t.name} is ${ggmlTypeName(info.type)}`);
      assert.deepEqual(info.dims, t.dims);
      assert.equal(info.offset % alignment, 0, `${t.name} offset ${info.offset}`);
      assert.deepEqual(await file.readTensor(info), t.data);
    }
    file.close();
  });
}

Deno.test("encodeGguf() writes the v3 header: magic, version, tensor and key counts", () => {
  const bytes = encodeGguf({ metadata: METADATA.slice(0, 3), tensors: tensors().slice(0, 2) });
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "GGUF");
  assert.equal(view.getUint32(4, true), 3);
  assert.equal(view.getBigUint64(8, true), 2n);
  assert.equal(view.getBigUint64(16, true), 3n);
  // First key: u64 length 20, "general.architecture", tag 8 (string), u64 5, "llama".
  assert.equal(view.getBigUint64(24, true), 20n);
  assert.equal(new TextDecoder().decode(bytes.subarray(32, 52)), "general.architecture");
  assert.equal(view.getUint32(52, true), 8);
  assert.equal(view.getBigUint64(56, true), 5n);
});

Deno.test("encodeGguf() is deterministic and writes an empty file as header plus padding", () => {
  const empty = encodeGguf({ metadata: [], tensors: [] });
  assert.equal(empty.length, 32); // 24-byte header padded to 32
  const spec = { metadata: METADATA, tensors: tensors() };
  assert.deepEqual(encodeGguf(spec), encodeGguf(spec));
});

Deno.test("encodeGguf() rejects invalid specs with a message naming the culprit", () => {
  const f32 = (name: string, n = 2): GgufTensorSpec => ({
    name,
    type: GgmlType.F32,
    dims: [n],
    data: new Uint8Array(4 * n),
  });
  const reject = (spec: GgufSpec, error: typeof TypeError, message: RegExp) =>
    assert.throws(
      () => encodeGguf(spec),
      (e: unknown) => e instanceof error && message.test(e.message),
    );
  reject({ metadata: [], tensors: [f32("w"), f32("w")] }, RangeError, /tensor "w": duplicate name/);
  reject(
    { metadata: [["k", { type: T.U8, value: 1 }], ["k", { type: T.U8, value: 2 }]], tensors: [] },
    RangeError,
    /metadata "k": duplicate key/,
  );
  reject(
    { metadata: [], tensors: [{ ...f32("w"), data: new Uint8Array(7) }] },
    RangeError,
    /F32 tensor "w" \[2\]: data has 7 bytes, expected 8/,
  );
  reject(
    {
      metadata: [],
      tensors: [{ name: "q", type: GgmlType.Q4_0, dims: [16], data: new Uint8Array(9) }],
    },
    RangeError,
    /Q4_0 tensor "q": dims\[0\] = 16 is not a multiple of 32/,
  );
  reject({ metadata: [], tensors: [f32("x".repeat(64))] }, RangeError, /name must be 1\.\.63/);
  reject({ metadata: [], tensors: [{ ...f32("w"), dims: [0] }] }, RangeError, /dims \[0\]/);
  reject(
    { metadata: [["k", { type: T.U8, value: 300 }]], tensors: [] },
    RangeError,
    /u8 value 300/,
  );
  reject({ metadata: [["k", { type: T.U32, value: "1" }]], tensors: [] }, TypeError, /"k": u32/);
  reject({ metadata: [["k", { type: T.U32, value: 2n }]], tensors: [] }, TypeError, /"k": u32/);
  reject(
    {
      metadata: [["k", { type: T.ARRAY, value: { elementType: T.I8, values: [1, 200] } }]],
      tensors: [],
    },
    RangeError,
    /metadata "k"\[1\]: i8 value 200/,
  );
  reject(
    { metadata: [["k", { type: T.BOOL, value: 1 }]], tensors: [] },
    TypeError,
    /expected a boolean/,
  );
  reject(
    { alignment: 12, metadata: [], tensors: [] },
    RangeError,
    /alignment 12: not a positive multiple of 8/,
  );
  reject(
    { alignment: 64, metadata: [["general.alignment", { type: T.U32, value: 32 }]], tensors: [] },
    RangeError,
    /alignment 64: metadata "general.alignment" says 32/,
  );
});

Deno.test("encodeGguf() takes the alignment from general.alignment when the spec gives none", async () => {
  const bytes = encodeGguf({
    metadata: [["general.alignment", { type: T.U32, value: 128 }]],
    tensors: tensors().slice(0, 3),
  });
  const file = await parseGguf(bytesSource(bytes));
  assert.equal(file.alignment, 128);
  for (const t of file.tensors) assert.equal(t.offset % 128, 0);
});

Deno.test("writeGguf() writes atomically and leaves no temporary file behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/model.gguf`;
    await writeGguf(path, { metadata: METADATA, tensors: tensors() });
    await writeGguf(path, { metadata: METADATA.slice(0, 1), tensors: [] }); // replaces it
    const file = await openGguf(path);
    assert.equal(file.tensors.length, 0);
    assert.equal(file.metadata.string("general.architecture"), "llama");
    file.close();
    await assert.rejects(
      writeGguf(`${dir}/bad.gguf`, { alignment: 7, metadata: [], tensors: [] }),
      RangeError,
    );
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["model.gguf"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

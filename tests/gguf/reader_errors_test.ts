import assert from "node:assert/strict";
import { bytesSource } from "../../src/gguf/byte_source.ts";
import { type GgufErrorCode, GgufFormatError } from "../../src/gguf/format_error.ts";
import { GgmlType } from "../../src/gguf/ggml_type.ts";
import { KV } from "../../src/gguf/keys.ts";
import { parseGguf } from "../../src/gguf/reader.ts";
import { type GgufArray, type GgufValue, GgufValueType } from "../../src/gguf/types.ts";
import { ExitCode } from "../../src/errors.ts";
import {
  buildGguf,
  type RawEntry,
  type RawTensor,
  richSpec,
  setU32,
  setU64,
} from "./_gguf_bytes.ts";

const T = GgufValueType;
const NAME = "model.gguf";

/** Parses `bytes` and returns the GgufFormatError it must throw, checking code and offset. */
async function formatError(
  bytes: Uint8Array,
  code: GgufErrorCode,
  offset: number,
): Promise<GgufFormatError> {
  const error = await parseGguf(bytesSource(bytes), { name: NAME }).then(
    () => assert.fail(`expected a ${code} error, but the file parsed`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof GgufFormatError, `expected GgufFormatError, got ${error}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.offset, offset, error.message);
  assert.ok(error.message.startsWith(`Cannot read "${NAME}": `), error.message);
  assert.ok(error.message.includes(`byte ${offset}`), error.message);
  assert.ok(!error.message.endsWith("."), error.message);
  assert.equal(
    error.exitCode,
    code === "unknown_tensor_type" ? ExitCode.unsupported : ExitCode.input,
  );
  return error;
}

function file(metadata: readonly RawEntry[], tensors: readonly RawTensor[] = []) {
  return buildGguf({ metadata, tensors });
}

const F32_VECTOR: RawTensor = { name: "output_norm.weight", type: GgmlType.F32, dims: [8] };

Deno.test("parseGguf() rejects a file without the GGUF magic (bad_magic)", async () => {
  const { bytes } = file([]);
  bytes.set([0x7F, 0x45, 0x4C, 0x46]);
  const error = await formatError(bytes, "bad_magic", 0);
  assert.match(error.message, /7f 45 4c 46/);
});

Deno.test("parseGguf() rejects versions 1 and 4 (unsupported_version)", async () => {
  for (const version of [1, 4]) {
    const { bytes } = buildGguf({ version, metadata: [], tensors: [] });
    const error = await formatError(bytes, "unsupported_version", 4);
    assert.match(error.message, new RegExp(`version ${version} `));
  }
});

Deno.test("parseGguf() recognises big-endian files by version and by magic (big_endian)", async () => {
  const { bytes } = file([]);
  new DataView(bytes.buffer).setUint32(4, 3, false);
  const error = await formatError(bytes, "big_endian", 4);
  assert.match(error.message, /big-endian/);
  bytes.set([0x46, 0x55, 0x47, 0x47]);
  await formatError(bytes, "big_endian", 0);
});

Deno.test("parseGguf() rejects a truncated tensor table and an empty file (truncated)", async () => {
  const { bytes, layout } = buildGguf(richSpec());
  const at = layout.tensorAt.get("blk.0.attn_q.weight")!;
  const error = await formatError(bytes.subarray(0, at.type + 2), "truncated", at.type);
  assert.match(error.message, new RegExp(`file ends at byte ${at.type + 2}`));
  await formatError(new Uint8Array(0), "truncated", 0);
});

Deno.test("parseGguf() rejects lengths and counts the file cannot hold (length_too_large)", async () => {
  const { bytes, layout } = file([["general.name", T.STRING, "tiny"]]);
  const lengthAt = layout.valueAt.get("general.name")!;
  setU64(bytes, lengthAt, 0xFFFF_FFFF_FFFF_FFFFn);
  const error = await formatError(bytes, "length_too_large", lengthAt);
  assert.match(
    error.message,
    /string length 18446744073709551615 at byte \d+ exceeds the file size/,
  );

  const tokens = file([[KV.tokenizerTokens, T.ARRAY, { elementType: T.STRING, values: ["a"] }]]);
  const countAt = tokens.layout.valueAt.get(KV.tokenizerTokens)! + 4;
  setU64(tokens.bytes, countAt, 2n ** 40n);
  await formatError(tokens.bytes, "length_too_large", countAt);

  // A file cut short inside its header: the plausible tensor count names the truncation.
  const whole = file([["general.name", T.STRING, "tiny"]], [
    { name: "t", type: 0, dims: [8], data: new Uint8Array(32) },
  ]).bytes;
  const cut = await formatError(whole.subarray(0, 30), "length_too_large", 8);
  assert.match(
    cut.message,
    /tensor count 1 at byte 8 needs at least \d+ bytes, but the file ends \d+ bytes later: it is truncated$/,
  );

  // 100 u32 values need 400 bytes; claim 100 with only the file's few bytes left.
  const small = file([["a", T.ARRAY, { elementType: T.U32, values: [1, 2] }]]);
  const smallAt = small.layout.valueAt.get("a")! + 4;
  setU64(small.bytes, smallAt, 100);
  await formatError(small.bytes, "length_too_large", smallAt);

  const counts = file([]);
  setU64(counts.bytes, 8, 1n << 50n);
  await formatError(counts.bytes, "length_too_large", 8);
});

Deno.test("parseGguf() rejects an unknown value type tag (unknown_value_type)", async () => {
  const { bytes, layout } = file([["a", T.U32, 7]]);
  const tagAt = layout.valueAt.get("a")! - 4;
  setU32(bytes, tagAt, 13);
  const error = await formatError(bytes, "unknown_value_type", tagAt);
  assert.match(error.message, / 13 at byte/);
});

Deno.test("parseGguf() rejects a bool that is neither 0 nor 1 (bad_bool)", async () => {
  const { bytes, layout } = file([[KV.tokenizerAddBos, T.BOOL, true]]);
  const at = layout.valueAt.get(KV.tokenizerAddBos)!;
  bytes[at] = 2;
  await formatError(bytes, "bad_bool", at);
});

Deno.test("parseGguf() rejects arrays nested nine deep (nesting_too_deep)", async () => {
  let value: GgufValue = { elementType: T.U8, values: [1] };
  for (let i = 0; i < 8; i++) value = { elementType: T.ARRAY, values: [value] };
  const { bytes, layout } = file([["deep", T.ARRAY, value]]);
  await formatError(bytes, "nesting_too_deep", layout.valueAt.get("deep")! + 8 * 12);
  // Eight levels are fine.
  const ok = file([["deep", T.ARRAY, (value as GgufArray).values[0]!]]);
  await parseGguf(bytesSource(ok.bytes));
});

Deno.test("parseGguf() names the tensor and type it does not support (unknown_tensor_type)", async () => {
  const { bytes, layout } = file([], [
    { name: "blk.0.attn_q.weight", type: 10, dims: [256, 4], data: new Uint8Array(4 * 84) },
  ]);
  const at = layout.tensorAt.get("blk.0.attn_q.weight")!.type;
  const error = await formatError(bytes, "unknown_tensor_type", at);
  assert.match(
    error.message,
    /tensor "blk\.0\.attn_q\.weight" .*has type Q2_K, which d2o does not support/,
  );
  setU32(bytes, at, 77);
  const unknown = (await formatError(bytes, "unknown_tensor_type", at)).message;
  assert.match(unknown, /has an unknown type \(id 77\), which d2o does not support/);
  assert.doesNotMatch(unknown, /type type/);
});

Deno.test("parseGguf() rejects tensors with 0 or 5 dimensions (too_many_dims)", async () => {
  for (const dims of [[], [1, 1, 1, 1, 8]]) {
    const t = { name: "x", type: GgmlType.F32, dims, data: new Uint8Array(32) };
    const { bytes, layout } = file([], [t]);
    const error = await formatError(bytes, "too_many_dims", layout.tensorAt.get("x")!.nDims);
    assert.match(error.message, new RegExp(`has ${dims.length} dimensions`));
  }
});

Deno.test("parseGguf() rejects zero and negative dimensions (bad_dim)", async () => {
  for (const dim of [0n, 0xFFFF_FFFF_FFFF_FFFFn]) {
    const { bytes, layout } = file([], [{ name: "x", type: GgmlType.F32, dims: [8, dim] }]);
    const error = await formatError(bytes, "bad_dim", layout.tensorAt.get("x")!.nDims + 12);
    assert.match(error.message, dim === 0n ? /dimension 1 = 0/ : /dimension 1 = -1 \(as a signed/);
  }
});

Deno.test("parseGguf() rejects element counts beyond 2^53 (element_overflow)", async () => {
  const dims = [1n << 20n, 1n << 20n, 1n << 20n];
  const { bytes, layout } = file([], [{ name: "huge", type: GgmlType.F32, dims }]);
  await formatError(bytes, "element_overflow", layout.tensorAt.get("huge")!.nDims + 4 + 16);
  const single = file([], [{ name: "huge", type: GgmlType.F32, dims: [1n << 60n] }]);
  await formatError(
    single.bytes,
    "element_overflow",
    single.layout.tensorAt.get("huge")!.nDims + 4,
  );
});

Deno.test("parseGguf() rejects tensor data past the end of the file (tensor_out_of_file)", async () => {
  const { bytes, layout } = buildGguf(richSpec());
  const at = layout.tensorAt.get("output_norm.weight")!.offset;
  const error = await formatError(bytes.subarray(0, bytes.length - 1), "tensor_out_of_file", at);
  assert.match(error.message, new RegExp(`past the end of the file at ${bytes.length - 1}`));
  const far = file([], [{ ...F32_VECTOR, offset: 1n << 62n }]);
  await formatError(
    far.bytes,
    "tensor_out_of_file",
    far.layout.tensorAt.get(F32_VECTOR.name)!.offset,
  );
});

Deno.test("parseGguf() rejects a tensor offset off the alignment (misaligned_tensor)", async () => {
  const { bytes, layout } = file([], [{ ...F32_VECTOR, offset: 16 }]);
  const error = await formatError(
    bytes,
    "misaligned_tensor",
    layout.tensorAt.get(F32_VECTOR.name)!.offset,
  );
  assert.match(error.message, /data offset 16 .* alignment 32/);
});

Deno.test("parseGguf() rejects tensors whose data overlaps (overlapping_tensors)", async () => {
  const { bytes, layout } = file([], [
    { name: "a", type: GgmlType.F32, dims: [16], offset: 0 },
    { name: "b", type: GgmlType.F32, dims: [8], offset: 32 },
  ]);
  const error = await formatError(bytes, "overlapping_tensors", layout.tensorAt.get("b")!.offset);
  assert.match(error.message, /tensor "b" .* inside tensor "a"/);
});

Deno.test("parseGguf() rejects a repeated metadata key (duplicate_key)", async () => {
  const { bytes, layout } = file([["k", T.U8, 1], ["k", T.U8, 2]]);
  await formatError(bytes, "duplicate_key", layout.boundaries[4]!);
});

Deno.test("parseGguf() rejects a repeated tensor name (duplicate_tensor)", async () => {
  const { bytes, layout } = file([], [F32_VECTOR, F32_VECTOR]);
  await formatError(bytes, "duplicate_tensor", layout.tensorAt.get(F32_VECTOR.name)!.name);
});

Deno.test("parseGguf() rejects an alignment of 0, 12 or a string (bad_alignment)", async () => {
  const cases: RawEntry[] = [[KV.alignment, T.U32, 0], [KV.alignment, T.U32, 12], [
    KV.alignment,
    T.STRING,
    "32",
  ]];
  for (const entry of cases) {
    const { bytes, layout } = file([entry]);
    await formatError(bytes, "bad_alignment", layout.valueAt.get(KV.alignment)!);
  }
});

Deno.test("parseGguf() rejects rows that are not whole quant blocks (bad_row_size)", async () => {
  const { bytes, layout } = file([], [{
    name: "q",
    type: GgmlType.Q8_0,
    dims: [48, 2],
    data: new Uint8Array(102),
  }]);
  const error = await formatError(bytes, "bad_row_size", layout.tensorAt.get("q")!.nDims);
  assert.match(error.message, /rows of 48 elements .*not a multiple of the Q8_0 block size 32/);
});

Deno.test("parseGguf() and readTensor() report a source that returns short reads (truncated)", async () => {
  const { bytes } = file([], [F32_VECTOR]);
  const source = bytesSource(bytes);
  const short = { ...source, read: (o: number, n: number) => source.read(o, n - 1) };
  await assert.rejects(
    parseGguf(short),
    (e: unknown) => e instanceof GgufFormatError && e.code === "truncated",
  );
  const shrinking = {
    size: bytes.length,
    read: (o: number, n: number, into?: Uint8Array) => source.read(o, o >= 32 ? n - 1 : n, into),
    close() {},
  };
  const parsed = await parseGguf(shrinking, { name: NAME });
  await assert.rejects(parsed.readTensor(parsed.tensors[0]!), (e: unknown) => {
    assert.ok(e instanceof GgufFormatError);
    assert.equal(e.code, "truncated");
    assert.match(e.message, /inside tensor "output_norm\.weight"/);
    return true;
  });
});

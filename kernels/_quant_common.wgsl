// _quant_common.wgsl — byte-level readers over a raw GGUF tensor, shared by
// every quant snippet (_quant_<type>.wgsl) and op body (matvec_blocks,
// matmul_tiled, get_rows_blocks).
//
// Requires the op body to declare the weight binding
//   `var<storage, read> wq: array<vec4<u32>>` — the tensor's bytes exactly as
//   stored in the GGUF file (blocks packed back to back, little-endian),
//   padded with zeros to a multiple of 16 bytes.
// Reads are 16-byte loads (on CPU drivers a load costs about the same at any
// width, so one vec4 load replaces four word loads); blocks are generally not
// aligned (18, 22, 34, 210-byte blocks), so multi-byte fields are cut out of
// the covering 16-byte words with shifts. Every helper takes a byte offset.
// Bytes are unpacked with plain shifts and masks (no WGSL language feature
// such as packed_4x8_integer_dot_product is needed).
// Invariants: f16 fields are 2-byte aligned (true for every ggml block type
// since all block sizes are even); reads past the end land in the padding or
// are clamped by robust buffer access and are never used.
// Rows of float tensors need not start 16-byte aligned (F16/BF16 rows of odd
// length even start at 2-byte offsets), so those snippets read through
// wq_row_u32x4. Only float types may have a partial last 8-element group in a
// row; op bodies cut it with mask8.
//
// Every snippet defines QK, QB, deq8 (all ops) and dot32(base, sub, xs) for
// the mat-vec: the dot product of 32 consecutive elements with xs, decoding
// scales once per 32 elements. The mat-vec goes through dot32 for the
// quantized types (QK >= 32) and 8 elements at a time through deq8 for the
// float types (QK = 8), where holding 32 inputs costs more than it saves;
// their dot32 is dot32_by_deq8, there only so the one body compiles.
//
// Override: ROWS_ALIGNED (true when row_bytes is a multiple of 16, so every
//   row starts 16-byte aligned: compiles wq_row_u32x4's unaligned path out).

override ROWS_ALIGNED: bool = false;

/** Eight consecutive dequantized elements: `lo` = elements 0..3, `hi` = 4..7. */
struct V8 {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

/**
 * Thirty-two consecutive input values for dot32: columns lo[k] = x[4k .. 4k+3],
 * hi[k] = x[16+4k .. 16+4k+3]; `sum` = Σ of all 32 (for block offsets and mins).
 */
struct X32 {
  lo: mat4x4<f32>,
  hi: mat4x4<f32>,
  sum: f32,
}

/** Σ of the products of four vec4 with the columns of `x`. */
fn dot16(w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>, x: mat4x4<f32>) -> f32 {
  return dot(w0, x[0]) + dot(w1, x[1]) + dot(w2, x[2]) + dot(w3, x[3]);
}

/** Σ of the eight products of `w` and `v`. */
fn dot8(w: V8, v: V8) -> f32 {
  return dot(w.lo, v.lo) + dot(w.hi, v.hi);
}

/**
 * dot32 through deq8 (the float types' dot32): elements 32·sub .. 32·sub+31
 * from the block at `base` (for QK = 8, four blocks).
 */
fn dot32_by_deq8(base: u32, sub: u32, xs: X32) -> f32 {
  let e = 32u * sub;
  let v0 = deq8(base + (e / QK) * QB, (e % QK) / 8u);
  let v1 = deq8(base + ((e + 8u) / QK) * QB, ((e + 8u) % QK) / 8u);
  let v2 = deq8(base + ((e + 16u) / QK) * QB, ((e + 16u) % QK) / 8u);
  let v3 = deq8(base + ((e + 24u) / QK) * QB, ((e + 24u) % QK) / 8u);
  return dot16(v0.lo, v0.hi, v1.lo, v1.hi, xs.lo) + dot16(v2.lo, v2.hi, v3.lo, v3.hi, xs.hi);
}

/** Words k .. k+3 of the eight words (a, b), for k in 0..4. */
fn pick4(a: vec4<u32>, b: vec4<u32>, k: u32) -> vec4<u32> {
  let k1 = vec4<u32>(a.yzw, b.x);
  let k2 = vec4<u32>(a.zw, b.xy);
  let k3 = vec4<u32>(a.w, b.xyz);
  return select(select(select(select(a, k1, k == 1u), k2, k == 2u), k3, k == 3u), b, k == 4u);
}

/**
 * Four words starting `byte & 3` bytes into `w`: each word of `w` shifted right
 * by that many bytes, topped up from `next` (the words after each of w's).
 */
fn funnel(w: vec4<u32>, next: vec4<u32>, byte: u32) -> vec4<u32> {
  let s = vec4<u32>((byte & 3u) * 8u);
  // (next << 1) << (31 − s) is next << (32 − s), and 0 when s = 0.
  return (w >> s) | ((next << vec4<u32>(1u)) << (vec4<u32>(31u) - s));
}

/** The word (4 bytes) with index `i`. */
fn wq_word(i: u32) -> u32 {
  return wq[i >> 2u][i & 3u];
}

/** The byte at `byte`, zero-extended. */
fn wq_u8(byte: u32) -> u32 {
  return (wq_word(byte >> 2u) >> ((byte & 3u) * 8u)) & 0xFFu;
}

/** The signed byte at `byte`. */
fn wq_i8(byte: u32) -> i32 {
  return bitcast<i32>(wq_u8(byte) << 24u) >> 24u;
}

/** The little-endian f16 at `byte` (2-byte aligned), widened to f32. */
fn wq_f16(byte: u32) -> f32 {
  return unpack2x16float(wq_word(byte >> 2u))[(byte >> 1u) & 1u];
}

/** The sixteen bytes at any byte offset as four little-endian words (two loads). */
fn wq_u32x4(byte: u32) -> vec4<u32> {
  let i = byte >> 2u;
  let a = wq[i >> 2u];
  let b = wq[(i >> 2u) + 1u];
  return funnel(pick4(a, b, i & 3u), pick4(a, b, (i & 3u) + 1u), byte);
}

/** Thirty-two bytes as eight little-endian words: `lo` = words 0..3, `hi` = 4..7. */
struct W8 {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

/** The thirty-two bytes at any byte offset (three loads). */
fn wq_u32x8(byte: u32) -> W8 {
  let i = byte >> 2u;
  let k = i & 3u;
  let a = wq[i >> 2u];
  let b = wq[(i >> 2u) + 1u];
  let c = wq[(i >> 2u) + 2u];
  return W8(
    funnel(pick4(a, b, k), pick4(a, b, k + 1u), byte),
    funnel(pick4(b, c, k), pick4(b, c, k + 1u), byte),
  );
}

/** The four bytes at any byte offset, little-endian. */
fn wq_u32(byte: u32) -> u32 {
  return wq_u32x4(byte).x;
}

/** The eight bytes at any byte offset as two little-endian words. */
fn wq_u32x2(byte: u32) -> vec2<u32> {
  return wq_u32x4(byte).xy;
}

/**
 * wq_u32x4 for a float-type row group at `byte` (16·k bytes past a row start):
 * one load when ROWS_ALIGNED.
 */
fn wq_row_u32x4(byte: u32) -> vec4<u32> {
  if (ROWS_ALIGNED) {
    return wq[byte >> 4u];
  }
  return wq_u32x4(byte);
}

/**
 * `v` with elements n..7 set to zero (without arithmetic, so whatever lies
 * past a row's end, even a NaN pattern, never reaches a sum).
 */
fn mask8(v: V8, n: u32) -> V8 {
  let k = vec4<u32>(0u, 1u, 2u, 3u);
  let zero = vec4<f32>(0.0);
  return V8(select(zero, v.lo, k < vec4<u32>(n)), select(zero, v.hi, k + 4u < vec4<u32>(n)));
}

/** The four bytes of `q` (lowest first), zero-extended, as floats. */
fn u8x4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xFFu));
}

/** The four bytes of `q` (lowest first), sign-extended, as floats. */
fn i8x4(q: u32) -> vec4<f32> {
  let high = bitcast<vec4<i32>>(vec4<u32>(q) << vec4<u32>(24u, 16u, 8u, 0u));
  return vec4<f32>(high >> vec4<u32>(24u));
}

/** Four nibbles: bits `shift..shift+3` of each byte of `q`, as floats. */
fn nib4(q: u32, shift: u32) -> vec4<f32> {
  return u8x4((q >> shift) & 0x0F0F0F0Fu);
}

/** Bits `bit` of each byte of `q` (0 or 1), as floats. */
fn bit4(q: u32, bit: u32) -> vec4<f32> {
  return u8x4((q >> bit) & 0x01010101u);
}

/** Bits 0..3 of `h` (one bit per element, lowest first) as four 0/1 floats. */
fn lowbits4(h: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(h) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u));
}

/**
 * The 6-bit scale and min of sub-block `j` (0..7) of a Q4_K/Q5_K super-block
 * from its 12 packed scale bytes as three words `sc`: (scale, min).
 */
fn k_scale_min(sc: vec3<u32>, j: u32) -> vec2<f32> {
  let shift = 8u * (j & 3u);
  let lo = (sc.x >> shift) & 0xFFu;  // s[j] or s[j-4]
  let mid = (sc.y >> shift) & 0xFFu; // s[j+4] or s[j]
  let hi = (sc.z >> shift) & 0xFFu;  // s[j+4] for j >= 4
  let first = vec2<u32>(lo & 63u, mid & 63u);
  let second = vec2<u32>((hi & 15u) | ((lo >> 6u) << 4u), (hi >> 4u) | ((mid >> 6u) << 4u));
  return vec2<f32>(select(first, second, j >= 4u));
}

// matmul_tiled.wgsl — prompt mat-mul straight from GGUF blocks:
//   Y[t][first_row + r] (+)= Σ_c W[r, c] · X[t][c]   for t < n_tokens, r < rows
// Concatenated after _quant_common.wgsl, one _quant_<type>.wgsl (QK, QB,
// deq8), one _x_<vec4|f32>.wgsl (the x binding and its readers x4, x1) and
// STEP_WGSL (struct Step, src/gpu/step.ts).
// Each workgroup dequantizes a TR×KC tile of W into workgroup memory
// once and reuses it for TT tokens.
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the
//   weight: `rows` rows of `row_bytes` bytes, as stored in the file
// @group(0) @binding(1) x: read (declared by _x_*.wgsl) — X, [max_tokens][cols] f32
// @group(0) @binding(2) y: array<f32>, read_write — Y, [max_tokens][y_stride]
//   f32; this chunk writes columns first_row .. first_row + rows
// @group(0) @binding(3) step: Step, uniform — n_tokens = tokens of this step
//   (clamped to max_tokens); the other fields are unused here
// @group(0) @binding(4) params: Params, uniform
//   rows, cols (a multiple of QK; any count for the float types: tile
//   entries past cols are zero), row_bytes, first_row as in matvec;
//   y_stride: elements per row of Y (the weight's total rows);
//   max_tokens: rows of X/Y the buffers hold; row_tiles: ceil(rows / TR);
//   acc: 1 for Y += X·Wᵀ (fusing the residual add), 0 for Y = X·Wᵀ (a
//   uniform, not an override, so both uses share one pipeline)
//
// Sections (specializeSource, quant_kernel.ts): WIDE or NARROW (the token
//   tile, below); PARTIAL8 for rows whose length
//   is not a multiple of 8 (float types), PARTIAL4 for rows not a multiple of 4
//   (the host keeps only what the weight takes).
// Overrides: ROWS_ALIGNED (_quant_common.wgsl): the host sets it when row_bytes % 16 = 0.
// Workgroup: 64 threads as 8×8; thread (tx, ty) owns rows ty + 8i (i < 8) and
//   tokens tx + 8j (j < TT/8) of a TR = 64 row × TT token tile, register-blocked.
//   WIDE (section): TT = 64, 8×8 outputs per thread, each vec4 read from
//   workgroup memory feeds 16 multiply-adds (on CPU drivers a workgroup-memory
//   load is a per-lane gather that costs far more than the multiply-adds it
//   feeds, and a spilled accumulator far less), but the kernel takes about
//   three times as long to compile; else TT = 32, 8×4 outputs (10.7 per read).
//   K advances KC = 32 columns per step. Dispatch: row_tiles × ceil(max_tokens / TT) tiles, linear
//   id = wid.y·nwg.x + wid.x (folded into 2-D above 65535), tile id =
//   token_tile · row_tiles + row_tile; tiles past n_tokens return at once.
// Tolerance: f32 accumulation (NMSE ≲ 1e-12 relative to the f64 twin on random data).
// Loop bound per invocation (Mesa lavapipe silently stops every loop of an
//   invocation after 65,535 iterations in total): (13 + TT/8)·⌈cols/KC⌉ + TT
//   (per K step 1 + 4 W-tile + TT/8 X-tile + 8 multiply iterations, then TT/4
//   stores of 4 tokens); independent of rows and tokens. WIDE: 11008 columns
//   take 7288; the host (matmul.ts) checks the bound.

@group(0) @binding(0) var<storage, read> wq: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@group(0) @binding(3) var<uniform> step: Step;

struct Params {
  rows: u32,
  cols: u32,
  row_bytes: u32,
  first_row: u32,
  y_stride: u32,
  max_tokens: u32,
  row_tiles: u32,
  acc: u32,
}
@group(0) @binding(4) var<uniform> params: Params;

const TR: u32 = 64u;
// @if WIDE
const TT: u32 = 64u;
// @end WIDE
// @if NARROW
const TT: u32 = 32u;
// @end NARROW
const KC: u32 = 32u;
const KS: u32 = KC / 4u + 1u; // vec4 stride of one tile row, padded against bank conflicts

var<workgroup> w_tile: array<vec4<f32>, TR * KS>;
var<workgroup> x_tile: array<vec4<f32>, TT * KS>;

/** Y[t][first_row + r] (+)= v[j] for tokens t = t0 + 8j (j < 4) below n_tokens, if r < rows. */
fn store_row(r: u32, t0: u32, n_tokens: u32, v: vec4<f32>) {
  if (r >= params.rows) {
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    let t = t0 + 8u * j;
    if (t < n_tokens) {
      let at = t * params.y_stride + params.first_row + r;
      y[at] = select(v[j], y[at] + v[j], params.acc != 0u);
    }
  }
}

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  let tile = wid.y * nwg.x + wid.x;
  let row0 = (tile % params.row_tiles) * TR;
  let tok0 = (tile / params.row_tiles) * TT;
  let n_tokens = min(step.n_tokens, params.max_tokens);
  if (tok0 >= n_tokens || tile >= params.row_tiles * ((params.max_tokens + TT - 1u) / TT)) {
    return;
  }
  let tx = tid % 8u;
  let ty = tid / 8u;
  let per_block = QK / 8u;
  // acc<i><h>: row ty + 8i, tokens tx + 32h + 8j (j < 4); h = 1 only when WIDE.
  var acc00 = vec4<f32>(0.0);
  var acc10 = vec4<f32>(0.0);
  var acc20 = vec4<f32>(0.0);
  var acc30 = vec4<f32>(0.0);
  var acc40 = vec4<f32>(0.0);
  var acc50 = vec4<f32>(0.0);
  var acc60 = vec4<f32>(0.0);
  var acc70 = vec4<f32>(0.0);
  // @if WIDE
  var acc01 = vec4<f32>(0.0);
  var acc11 = vec4<f32>(0.0);
  var acc21 = vec4<f32>(0.0);
  var acc31 = vec4<f32>(0.0);
  var acc41 = vec4<f32>(0.0);
  var acc51 = vec4<f32>(0.0);
  var acc61 = vec4<f32>(0.0);
  var acc71 = vec4<f32>(0.0);
  // @end WIDE
  for (var k0 = 0u; k0 < params.cols; k0 += KC) {
    // W tile: TR rows × KC/8 groups of 8, four groups per thread.
    for (var p = 0u; p < 4u; p++) {
      let item = tid + 64u * p;
      let r = item / 4u;
      let gi = item % 4u;
      let g = k0 / 8u + gi;
      var v = V8(vec4<f32>(0.0), vec4<f32>(0.0));
      if (8u * g < params.cols) {
        let row = min(row0 + r, params.rows - 1u);
        v = deq8(row * params.row_bytes + (g / per_block) * QB, g % per_block);
        // @if PARTIAL8
        if (8u * g + 8u > params.cols) {
          v = mask8(v, params.cols - 8u * g);
        }
        // @end PARTIAL8
      }
      w_tile[r * KS + 2u * gi] = v.lo;
      w_tile[r * KS + 2u * gi + 1u] = v.hi;
    }
    // X tile: TT tokens × KC/4 vec4, TT/8 per thread.
    for (var p = 0u; p < TT / 8u; p++) {
      let item = tid + 64u * p;
      let t = item / 8u;
      let c = k0 + 4u * (item % 8u);
      let at = min(tok0 + t, n_tokens - 1u) * params.cols + c;
      var v = vec4<f32>(0.0);
      if (c + 4u <= params.cols) {
        v = x4(at);
      }
      // @if PARTIAL4
      else if (c < params.cols) {
        let k = vec4<u32>(0u, 1u, 2u, 3u);
        let i = min(vec4<u32>(at) + k, vec4<u32>(at + params.cols - c - 1u));
        let inside = vec4<u32>(c) + k < vec4<u32>(params.cols);
        v = select(vec4<f32>(0.0), vec4<f32>(x1(i.x), x1(i.y), x1(i.z), x1(i.w)), inside);
      }
      // @end PARTIAL4
      x_tile[t * KS + item % 8u] = v;
    }
    workgroupBarrier();
    for (var c = 0u; c < KC / 4u; c++) {
      // Column j of xs<h>: the four tile values of token tx + 32h + 8j; w · xs = the four dots.
      let xs0 = mat4x4<f32>(
        x_tile[tx * KS + c],
        x_tile[(tx + 8u) * KS + c],
        x_tile[(tx + 16u) * KS + c],
        x_tile[(tx + 24u) * KS + c],
      );
      // @if WIDE
      let xs1 = mat4x4<f32>(
        x_tile[(tx + 32u) * KS + c],
        x_tile[(tx + 40u) * KS + c],
        x_tile[(tx + 48u) * KS + c],
        x_tile[(tx + 56u) * KS + c],
      );
      // @end WIDE
      let w0 = w_tile[ty * KS + c];
      let w1 = w_tile[(ty + 8u) * KS + c];
      let w2 = w_tile[(ty + 16u) * KS + c];
      let w3 = w_tile[(ty + 24u) * KS + c];
      let w4 = w_tile[(ty + 32u) * KS + c];
      let w5 = w_tile[(ty + 40u) * KS + c];
      let w6 = w_tile[(ty + 48u) * KS + c];
      let w7 = w_tile[(ty + 56u) * KS + c];
      acc00 += w0 * xs0;
      acc10 += w1 * xs0;
      acc20 += w2 * xs0;
      acc30 += w3 * xs0;
      acc40 += w4 * xs0;
      acc50 += w5 * xs0;
      acc60 += w6 * xs0;
      acc70 += w7 * xs0;
      // @if WIDE
      acc01 += w0 * xs1;
      acc11 += w1 * xs1;
      acc21 += w2 * xs1;
      acc31 += w3 * xs1;
      acc41 += w4 * xs1;
      acc51 += w5 * xs1;
      acc61 += w6 * xs1;
      acc71 += w7 * xs1;
      // @end WIDE
    }
    workgroupBarrier();
  }
  store_row(row0 + ty, tok0 + tx, n_tokens, acc00);
  store_row(row0 + ty + 8u, tok0 + tx, n_tokens, acc10);
  store_row(row0 + ty + 16u, tok0 + tx, n_tokens, acc20);
  store_row(row0 + ty + 24u, tok0 + tx, n_tokens, acc30);
  store_row(row0 + ty + 32u, tok0 + tx, n_tokens, acc40);
  store_row(row0 + ty + 40u, tok0 + tx, n_tokens, acc50);
  store_row(row0 + ty + 48u, tok0 + tx, n_tokens, acc60);
  store_row(row0 + ty + 56u, tok0 + tx, n_tokens, acc70);
  // @if WIDE
  let t1 = tok0 + 32u + tx;
  store_row(row0 + ty, t1, n_tokens, acc01);
  store_row(row0 + ty + 8u, t1, n_tokens, acc11);
  store_row(row0 + ty + 16u, t1, n_tokens, acc21);
  store_row(row0 + ty + 24u, t1, n_tokens, acc31);
  store_row(row0 + ty + 32u, t1, n_tokens, acc41);
  store_row(row0 + ty + 40u, t1, n_tokens, acc51);
  store_row(row0 + ty + 48u, t1, n_tokens, acc61);
  store_row(row0 + ty + 56u, t1, n_tokens, acc71);
  // @end WIDE
}

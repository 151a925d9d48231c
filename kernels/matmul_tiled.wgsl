// matmul_tiled.wgsl — prompt mat-mul straight from GGUF blocks:
//   Y[t][first_row + r] (+)= Σ_c W[r, c] · X[t][c]   for t < n_tokens, r < rows
// Concatenated after _quant_common.wgsl, one _quant_<type>.wgsl (QK, QB,
// deq8), one _x_<vec4|f32>.wgsl (the x binding and its readers x4, x1) and
// STEP_WGSL (struct Step, src/gpu/step.ts), then _matmul_common.wgsl (the
// bindings below but x, Params and store_row).
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
// Sections (specializeSource, quant_kernel.ts): PARTIAL8 for rows whose length
//   is not a multiple of 8 (float types), PARTIAL4 for rows not a multiple of 4
//   (the host keeps only what the weight takes).
// Register block (repeatLines, matmul.ts): the host writes each line marked
//   `// @each i` / `// @each h` / `// @each i h` out once per row block i < RB,
//   token block h < HB or pair, and replaces {RB}, {HB} (MATMUL_TILES: 8×1
//   narrow, 8×2 wide, 16×4 large). Written out, not looped over arrays: lavapipe
//   keeps a dynamically indexed array in memory.
// Overrides: ROWS_ALIGNED (_quant_common.wgsl): the host sets it when row_bytes % 16 = 0.
// Workgroup: 64 threads as 8×8; thread (tx, ty) owns rows ty + 8i (i < RB) and
//   tokens tx + 32h + 8j (h < HB, j < 4) of a TR = 8·RB row × TT = 32·HB token
//   tile: RB×HB vec4 accumulators. Each vec4 read from workgroup memory feeds
//   16·HB (w) or 4·RB (x) multiply-adds: on CPU drivers a workgroup-memory load
//   is a per-lane loop that costs far more than the multiply-adds it feeds, and
//   a spilled accumulator far less, so the large block (256 accumulators, 8
//   multiply-adds per scalar read, wide 4) runs fastest there; it compiles longer and
//   leaves a GPU few workgroups. K advances KC = 32 columns per step.
//   Dispatch: row_tiles × ceil(max_tokens / TT) tiles, linear
//   id = wid.y·nwg.x + wid.x (folded into 2-D above 65535), tile id =
//   token_tile · row_tiles + row_tile; tiles past n_tokens return at once.
// Tolerance: f32 accumulation (NMSE ≲ 1e-12 relative to the f64 twin on random data).
// Loop bound per invocation (Mesa lavapipe silently stops every loop of an
//   invocation after 65,535 iterations in total): (9 + TR/16 + TT/8)·⌈cols/KC⌉
//   + TR·TT/64 (per K step 1 + TR/16 W-tile + TT/8 X-tile + 8 multiply
//   iterations, then RB·HB stores of 4 tokens); independent of rows and tokens.
//   Large: 11008 columns take 11608; the host (matmul.ts) checks the bound.

// Bindings, Params and store_row: _matmul_common.wgsl.

const RB: u32 = {RB}u; // rows per thread: ty + 8i, i < RB
const HB: u32 = {HB}u; // token quads per thread: tx + 32h + 8j, h < HB, j < 4
const TR: u32 = 8u * RB;
const TT: u32 = 32u * HB;
const KC: u32 = 32u;
const KS: u32 = KC / 4u + 1u; // vec4 stride of one tile row, padded against bank conflicts

var<workgroup> w_tile: array<vec4<f32>, TR * KS>;
var<workgroup> x_tile: array<vec4<f32>, TT * KS>;

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  let at = tile_start(wid.y * nwg.x + wid.x, TR, TT);
  if (!at.live) {
    return;
  }
  let row0 = at.row0;
  let tok0 = at.tok0;
  let n_tokens = at.n_tokens;
  let tx = tid % 8u;
  let ty = tid / 8u;
  let per_block = QK / 8u;
  // acc<i>_<h>: row ty + 8i, tokens tx + 32h + 8j (j < 4).
  var acc{i}_{h} = vec4<f32>(0.0); // @each i h
  for (var k0 = 0u; k0 < params.cols; k0 += KC) {
    // W tile: TR rows × KC/8 groups of 8, TR/16 groups per thread.
    for (var p = 0u; p < TR / 16u; p++) {
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
      let xs{h} = mat4x4<f32>(x_tile[(tx + 32u * {h}u) * KS + c], x_tile[(tx + 32u * {h}u + 8u) * KS + c], x_tile[(tx + 32u * {h}u + 16u) * KS + c], x_tile[(tx + 32u * {h}u + 24u) * KS + c]); // @each h
      let w{i} = w_tile[(ty + 8u * {i}u) * KS + c]; // @each i
      acc{i}_{h} += w{i} * xs{h}; // @each i h
    }
    workgroupBarrier();
  }
  store_row(row0 + ty + 8u * {i}u, tok0 + tx + 32u * {h}u, n_tokens, acc{i}_{h}); // @each i h
}

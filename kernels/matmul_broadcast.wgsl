// matmul_broadcast.wgsl — prompt mat-mul for CPU drivers, straight from GGUF blocks:
//   Y[t][first_row + r] (+)= Σ_c W[r, c] · X[t][c]   for t < n_tokens, r < rows
// Concatenated after _quant_common.wgsl, one _quant_<type>.wgsl (QK, QB,
// deq8), _x_vec4.wgsl (the x binding and its reader x4) and STEP_WGSL
// (struct Step, src/gpu/step.ts), then _matmul_common.wgsl (bindings, Params,
// store_row). Bindings, Params and the dispatch as in matmul_tiled.wgsl (same
// host code, src/gpu/ops/matmul.ts).
//
// Why (Mesa lavapipe): a workgroup-memory or storage load at an offset that is
// not a compile-time constant is a per-lane loop, one at a constant offset is a
// scalar load and a broadcast. Here the workgroup is 8 threads (one SIMD
// vector) that share every W value: each K step of KC = 8 columns they
// dequantize the TR × 8 W tile into workgroup memory once, and the multiply
// reads it at constant offsets (the two vec4 column steps and the TR rows are
// written out), while each thread reads its own tokens' X straight from the
// storage buffer (no X tile). So per K step a thread makes 4·HB vec4 per-lane
// loads (x) for 2·TR·HB·16 multiply-adds (128 per load at TR = 32, HB = 4).
//
// @group(0) @binding(0) wq, (1) x, (2) y, (3) step, (4) params: as in matmul_tiled.wgsl.
// Register block (repeatLines, matmul.ts): lines marked `// @each i`, `// @each h`
//   or `// @each i h` are written out once per row i < RB (= TR), token block
//   h < HB or pair; {RB}, {HB} become the counts (MATMUL_TILES.broadcast).
// Overrides: ROWS_ALIGNED (_quant_common.wgsl).
// Host requirement: cols % 8 = 0 (no partial 8-element group, vec4 X rows).
// Workgroup: 8 threads; thread tx owns tokens tx + 32h + 8j (h < HB, j < 4)
//   and all TR rows of a TR = RB row × TT = 32·HB token tile: RB×HB vec4
//   accumulators (spilled to the stack, which costs far less than the loads).
// Tolerance: f32 accumulation (NMSE ≲ 1e-12 relative to the f64 twin on random data).
// Loop bound per invocation (lavapipe stops every loop of an invocation after
//   65,535 iterations in total): (1 + TR/8)·⌈cols/KC⌉ + TR·TT/8 (per K step 1 +
//   TR/8 W-tile iterations, then RB·HB stores of 4 tokens); independent of
//   rows and tokens. TR = 32, TT = 128: 11008 columns take 7392; the host checks.

// Bindings, Params and store_row: _matmul_common.wgsl.

const RB: u32 = {RB}u; // rows per tile, all of them each thread's
const HB: u32 = {HB}u; // token quads per thread: tx + 32h + 8j, h < HB, j < 4
const TR: u32 = RB;
const TT: u32 = 32u * HB;
const KC: u32 = 8u;

// Row r's 8 columns of this K step: w_tile[2r] = columns 0..3, w_tile[2r + 1] = 4..7.
var<workgroup> w_tile: array<vec4<f32>, 2u * TR>;

@compute @workgroup_size(8)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) tx: u32,
) {
  let at = tile_start(wid.y * nwg.x + wid.x, TR, TT);
  if (!at.live) {
    return;
  }
  let row0 = at.row0;
  let tok0 = at.tok0;
  let n_tokens = at.n_tokens;
  let per_block = QK / 8u;
  // First X element of token tx + 32h + 8j: xt<h>.j (tokens past the step repeat the last one).
  let xt{h} = vec4<u32>(min(vec4<u32>(tok0 + tx + 32u * {h}u) + vec4<u32>(0u, 8u, 16u, 24u), vec4<u32>(n_tokens - 1u)) * params.cols); // @each h
  // acc<i>_<h>: row i, tokens tx + 32h + 8j (j < 4).
  var acc{i}_{h} = vec4<f32>(0.0); // @each i h
  for (var k0 = 0u; k0 < params.cols; k0 += KC) {
    // W tile: TR rows × 8 columns, TR/8 rows per thread.
    for (var p = 0u; p < TR / 8u; p++) {
      let r = tx + 8u * p;
      let row = min(row0 + r, params.rows - 1u);
      let g = k0 / 8u;
      let v = deq8(row * params.row_bytes + (g / per_block) * QB, g % per_block);
      w_tile[2u * r] = v.lo;
      w_tile[2u * r + 1u] = v.hi;
    }
    workgroupBarrier();
    // Column j of xs<h>: four X values of token tx + 32h + 8j; w · xs = the four dots.
    let xs{h} = mat4x4<f32>(x4(xt{h}.x + k0), x4(xt{h}.y + k0), x4(xt{h}.z + k0), x4(xt{h}.w + k0)); // @each h
    acc{i}_{h} += w_tile[2u * {i}u] * xs{h}; // @each i h
    let xu{h} = mat4x4<f32>(x4(xt{h}.x + k0 + 4u), x4(xt{h}.y + k0 + 4u), x4(xt{h}.z + k0 + 4u), x4(xt{h}.w + k0 + 4u)); // @each h
    acc{i}_{h} += w_tile[2u * {i}u + 1u] * xu{h}; // @each i h
    workgroupBarrier();
  }
  store_row(row0 + {i}u, tok0 + tx + 32u * {h}u, n_tokens, acc{i}_{h}); // @each i h
}

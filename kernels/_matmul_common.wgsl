// _matmul_common.wgsl — what the prompt mat-mul kernels (matmul_tiled.wgsl,
// matmul_broadcast.wgsl) share: their bindings, Params, where a tile starts
// (tile_start) and the tile's store (store_row).
// Concatenated before either body (after STEP_WGSL, which declares Step).
//
// @group(0) @binding(0) wq: array<vec4<u32>>, read — one row-range chunk of the
//   weight: `rows` rows of `row_bytes` bytes, as stored in the file
// @group(0) @binding(2) y: array<f32>, read_write — Y, [max_tokens][y_stride]
//   f32; this chunk writes columns first_row .. first_row + rows
// @group(0) @binding(3) step: Step, uniform — n_tokens = tokens of this step
// @group(0) @binding(4) params: Params, uniform (fields in matmul_tiled.wgsl)

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

/** Where a workgroup's tile starts, and whether it has tokens to compute. */
struct TileStart {
  row0: u32,
  tok0: u32,
  n_tokens: u32,
  live: bool,
}

/**
 * The tile with linear id `tile` of TR rows × TT tokens (tile id = token_tile ·
 * row_tiles + row_tile): its first row and token, the step's tokens, and
 * `live` false for a tile past the step's tokens or past the grid (the
 * folded 2-D dispatch may overshoot).
 */
fn tile_start(tile: u32, tr: u32, tt: u32) -> TileStart {
  let tok0 = (tile / params.row_tiles) * tt;
  let n_tokens = min(step.n_tokens, params.max_tokens);
  let live = tok0 < n_tokens && tile < params.row_tiles * ((params.max_tokens + tt - 1u) / tt);
  return TileStart((tile % params.row_tiles) * tr, tok0, n_tokens, live);
}

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

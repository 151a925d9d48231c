// _x_silu_mul.wgsl — the activation input of the decode mat-vec computed from
// the gate and up projections, fusing silu_mul.wgsl into the down projection:
//   x̂[c] = silu(gate[c]) · up[c],  silu(v) = v / (1 + exp(−v))
// (the same expression as silu_mul.wgsl). Only for row lengths that are
// multiples of 4; one row (decode).
//
// @group(0) @binding(1) x: array<vec4<f32>>, read — the gate projection, cols f32
// @group(0) @binding(4) up: array<vec4<f32>>, read — the up projection, cols f32
// Defines x_prepare(tid) (nothing to prepare), x4(c) = x̂[c .. c+4) (c a
// multiple of 4) and x1(c) = x̂[c].

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> up: array<vec4<f32>>;

fn x_prepare(tid: u32) {}

fn x4(c: u32) -> vec4<f32> {
  let g = x[c >> 2u];
  return g / (1.0 + exp(-g)) * up[c >> 2u];
}

fn x1(c: u32) -> f32 {
  let g = x[c >> 2u][c & 3u];
  return g / (1.0 + exp(-g)) * up[c >> 2u][c & 3u];
}

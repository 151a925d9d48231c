// _x_vec4.wgsl — the f32 activation input `x` of the weight kernels, read as
// vec4 (one 16-byte load per four values). Used when every row of x starts
// 16-byte aligned (cols a multiple of 4); _x_f32.wgsl otherwise.
//
// @group(0) @binding(1) x: array<vec4<f32>>, read — the activations, row-major f32
// Defines x4(c) = x[c .. c+4) (c a multiple of 4) and x1(c) = x[c].
// x_prepare(tid) does nothing (the fused readers compute per-workgroup state there).

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;

fn x4(c: u32) -> vec4<f32> {
  return x[c >> 2u];
}

fn x1(c: u32) -> f32 {
  return x[c >> 2u][c & 3u];
}

fn x_prepare(tid: u32) {}

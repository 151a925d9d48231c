// _x_f32.wgsl — the f32 activation input `x` of the weight kernels, read one
// value at a time: for any row length (rows of x need not be 16-byte aligned).
// _x_vec4.wgsl is the fast variant for row lengths that are multiples of 4.
//
// @group(0) @binding(1) x: array<f32>, read — the activations, row-major f32
// Defines x4(c) = x[c .. c+4) (any c) and x1(c) = x[c].
// x_prepare(tid) does nothing (the fused readers compute per-workgroup state there).

@group(0) @binding(1) var<storage, read> x: array<f32>;

fn x4(c: u32) -> vec4<f32> {
  return vec4<f32>(x[c], x[c + 1u], x[c + 2u], x[c + 3u]);
}

fn x1(c: u32) -> f32 {
  return x[c];
}

fn x_prepare(tid: u32) {}

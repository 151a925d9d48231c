// _x_rms_norm.wgsl — the activation input of the decode mat-vec read through
// an RMS norm, fusing rms_norm.wgsl into the mat-vec that consumes its output:
//   x̂[c] = x[c] · inv · norm_w[c],  inv = 1 / sqrt(mean_c(x[c]²) + params.eps)
// (the same products, in the same order, as rms_norm.wgsl). Every workgroup
// computes `inv` itself in x_prepare (a strided sum of squares and a tree
// reduction over the body's `partial` workgroup memory), so the norm costs no
// dispatch. Only for row lengths that are multiples of 4; one row (decode).
//
// @group(0) @binding(1) x: array<vec4<f32>>, read — the un-normed row, cols f32
// @group(0) @binding(4) norm_w: array<vec4<f32>>, read — the norm weight, cols f32
// Needs the body's WG, `partial` (≥ WG f32) and params (cols, eps). Concatenate
//   it after the body: naga mis-compiles the override-sized `partial` used
//   before its declaration.
// Defines x_prepare(tid) (call first, in uniform control flow: it holds
//   barriers), x4(c) = x̂[c .. c+4) (c a multiple of 4) and x1(c) = x̂[c].
// Loop bound per invocation: ⌈cols/(4·WG)⌉ + log2(WG).

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> norm_w: array<vec4<f32>>;

var<private> inv_rms: f32;

fn x_prepare(tid: u32) {
  var ss = 0.0;
  for (var i = tid; i < params.cols / 4u; i += WG) {
    let v = x[i];
    ss += dot(v, v);
  }
  partial[tid] = ss;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (tid < stride) {
      partial[tid] += partial[tid + stride];
    }
    workgroupBarrier();
  }
  inv_rms = 1.0 / sqrt(partial[0] / f32(params.cols) + params.eps);
  workgroupBarrier();
}

fn x4(c: u32) -> vec4<f32> {
  return x[c >> 2u] * inv_rms * norm_w[c >> 2u];
}

fn x1(c: u32) -> f32 {
  return x[c >> 2u][c & 3u] * inv_rms * norm_w[c >> 2u][c & 3u];
}

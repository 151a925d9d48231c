// rms_norm: RMS normalisation of each row, times a weight vector.
//   y[r][i] = x[r][i] / sqrt(mean_i(x[r][i]²) + eps) * w[i]
// Bindings (group 0):
//   0 x: storage, read        array<f32>  rows × n, row-major
//   1 w: storage, read        array<f32>  n
//   2 y: storage, read_write  array<f32>  rows × n (must not alias x)
//   3 params: uniform Params { n: u32, eps: f32 }
// Overrides: WG (workgroup size, a power of two, default 256; the host picks 8
// on CPU adapters, where each extra SIMD group costs a round per barrier).
// Dispatch: one workgroup per row; x = rows (≤ 65535). Each invocation sums a
// strided share of the squares in f32, then a tree reduction in workgroup memory.
// Tolerance vs the f64 CPU twin: relative error of the norm ~1e-7·log2(WG).
// Loop bound per invocation (Mesa lavapipe silently stops every loop of an
// invocation after 65,535 iterations in total): 2·⌈n/WG⌉ + log2(WG); at
// WG = 256, n = 8192 takes 72 (WG = 8: 2051). The host (rms_norm.ts) refuses
// a count over 65,535.

override WG: u32 = 256u;

struct Params { n: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n = params.n;
  let base = wid.x * n;
  var ss = 0.0;
  for (var i = lid; i < n; i += WG) {
    let v = x[base + i];
    ss += v * v;
  }
  partial[lid] = ss;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(partial[0] / f32(n) + params.eps);
  for (var i = lid; i < n; i += WG) {
    y[base + i] = x[base + i] * inv * w[i];
  }
}

// kv_head_variance: the unbiased variance over keys of each query head's
// column sums, two-pass (mean, then the mean squared deviation), the input of
// d2o's layer statistic (twin: columnVariance in src/reference/kv/column_sums.ts):
//   m_h = (Σ_{j<T} c[h][j]) / T;  out[offset + h] = Σ_{j<T} (c[h][j] − m_h)² / (T − 1)  (0 when T = 1)
// Bindings (group 0):
//   0 colsum: storage, read        array<f32>  n_head × stride
//   1 out:    storage, read_write  array<f32>  offset + n_head
//   2 params: uniform Params { tokens, stride, offset }
// Workgroup size WG (override, a power of two); one workgroup per query head: x = n_head.
// Each invocation sums a strided share, then a fixed tree reduction (deterministic).
// Loop bound per invocation: ⌈T / WG⌉. Tolerance vs the f64 twin: relative ~1e-6.

override WG: u32 = 256u;

struct Params { tokens: u32, stride: u32, offset: u32 }

@group(0) @binding(0) var<storage, read> colsum: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> part: array<f32, WG>;

// Sums `part` into part[0] by halving (all invocations call it).
fn reduce(lid: u32) {
  for (var n = WG / 2u; n > 0u; n /= 2u) {
    workgroupBarrier();
    if (lid < n) {
      part[lid] += part[lid + n];
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = wid.x * params.stride;
  let n = params.tokens;
  var s = 0.0;
  for (var j = lid; j < n; j += WG) {
    s += colsum[base + j];
  }
  part[lid] = s;
  reduce(lid);
  let mean = part[0] / f32(n);
  workgroupBarrier();
  var ss = 0.0;
  for (var j = lid; j < n; j += WG) {
    let x = colsum[base + j] - mean;
    ss += x * x;
  }
  part[lid] = ss;
  reduce(lid);
  if (lid == 0u) {
    out[params.offset + wid.x] = select(0.0, part[0] / f32(n - 1u), n > 1u);
  }
}

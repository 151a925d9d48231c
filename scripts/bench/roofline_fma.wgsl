// roofline_fma.wgsl — the adapter's f32 multiply-add limit: a register-bound
// kernel, no memory traffic in its loop. Each invocation runs CH independent
// vec4 chains a ← fma(a, b, c) for `iters` steps and stores their sum:
//   a_k(0) = (t + k + lane/4) / 1024;  out[t] = Σ_k a_k(iters)
// 8 flops per vec4 chain step (4 lanes × multiply + add).
//
// @group(0) @binding(0) out: array<vec4<f32>>, read_write — one vec4 per invocation
// @group(0) @binding(1) params: Params, uniform — iters (a multiple of 4), b, c
//
// Overrides: WG (threads per workgroup).
// Workgroup: independent invocations (no barriers, no shared memory); CH = 4
//   chains: enough to hide the multiply-add latency on CPU SIMD units and GPU
//   lanes alike without spilling. Dispatch: threads / WG workgroups in x.
// Tolerance: f32 fused multiply-adds (the twin runs the same recurrence in f64,
//   rounding to f32 each step; |b| < 1 keeps the chains bounded).
// Loop bound per invocation (Mesa lavapipe silently stops every loop of an
//   invocation after 65,535 iterations in total): iters / 4; the host refuses more.

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;

struct Params {
  iters: u32,
  b: f32,
  c: f32,
}
@group(0) @binding(1) var<uniform> params: Params;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = f32(gid.x);
  let lane = vec4<f32>(0.0, 0.25, 0.5, 0.75);
  let b = vec4<f32>(params.b);
  let c = vec4<f32>(params.c);
  var a0 = (vec4<f32>(t) + lane) / 1024.0;
  var a1 = (vec4<f32>(t + 1.0) + lane) / 1024.0;
  var a2 = (vec4<f32>(t + 2.0) + lane) / 1024.0;
  var a3 = (vec4<f32>(t + 3.0) + lane) / 1024.0;
  // Four steps per loop iteration: a CPU driver's per-iteration bookkeeping
  // (lane masks, lavapipe's loop counter) would otherwise cost as much as the
  // multiply-adds. iters is a multiple of 4.
  for (var i = 0u; i < params.iters; i += 4u) {
    a0 = fma(fma(fma(fma(a0, b, c), b, c), b, c), b, c);
    a1 = fma(fma(fma(fma(a1, b, c), b, c), b, c), b, c);
    a2 = fma(fma(fma(fma(a2, b, c), b, c), b, c), b, c);
    a3 = fma(fma(fma(fma(a3, b, c), b, c), b, c), b, c);
  }
  out[gid.x] = a0 + a1 + a2 + a3;
}

// roofline_read.wgsl — the adapter's streaming-read limit: a trivial reduction
// that does nothing but load and add, so its bytes per second bound every
// kernel that streams a buffer (the decode mat-vec's weights above all):
//   out[w·WG + l] = Σ_k src[span·w + l + k·WG]   (vec4 sums, span·w + l + k·WG < count)
//
// @group(0) @binding(0) src: array<vec4<f32>>, read — `count` vec4
// @group(0) @binding(1) out: array<vec4<f32>>, read_write — workgroups · WG vec4
// @group(0) @binding(2) params: Params, uniform — count (vec4 in src),
//   span (vec4 per workgroup, a multiple of 4·WG; count ≤ span · workgroups)
//
// Override: WG (threads per workgroup; the host picks 8 on CPU drivers, one
//   SIMD group, which streams about 5× faster there than 64, and 256 on GPUs).
// Workgroup: one contiguous span of src (a CPU driver runs a workgroup on one
//   core, so each core streams its own span); thread l sums every WG-th vec4
//   of it from l into four accumulators, k mod 4 (neighbouring threads read
//   neighbouring vec4: one load of a SIMD group or warp covers consecutive
//   bytes). Dispatch: workgroups in x.
// Tolerance: f32 sums (the twin keeps the same four partial sums, in f32).
// Loop bound per invocation (Mesa lavapipe silently stops every loop of an
//   invocation after 65,535 iterations in total): span / (4·WG); the host
//   (roofline_ops.ts) refuses more.

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;

struct Params {
  count: u32,
  span: u32,
}
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 64u;

/** src[i], or zero past the end. */
fn load(i: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), src[min(i, params.count - 1u)], i < params.count);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) l: u32,
) {
  let start = wid.x * params.span;
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var i = start + l; i < start + params.span; i += 4u * WG) {
    a0 += load(i);
    a1 += load(i + WG);
    a2 += load(i + 2u * WG);
    a3 += load(i + 3u * WG);
  }
  out[wid.x * WG + l] = (a0 + a1) + (a2 + a3);
}

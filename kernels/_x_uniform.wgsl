// _x_uniform.wgsl — the f32 activation input `x` of the weight kernels as a
// 64 KiB uniform-buffer window, read as vec4. On a CPU driver (Mesa lavapipe)
// a storage load at a computed offset runs as a per-lane loop of scalar
// loads, while a uniform load is one gather, so a kernel that reads x far
// more often than anything else runs 1.3-1.8x faster through this window. The
// host binds at most 65,536 bytes (4,096 vec4) of x starting at a
// 256-byte-aligned offset, and only on a fallback adapter: on a GPU, uniform
// reads that differ between invocations serialize, so GPUs use _x_vec4.wgsl.
//
// @group(0) @binding(1) x: array<vec4<f32>, 4096>, uniform — the window of the activations
// Defines x4(c) = x[c .. c+4) (c a multiple of 4, counted from the window's start).
// x_prepare(tid) does nothing (the fused readers compute per-workgroup state there).

@group(0) @binding(1) var<uniform> x: array<vec4<f32>, 4096>;

fn x4(c: u32) -> vec4<f32> {
  return x[c >> 2u];
}

fn x_prepare(tid: u32) {}

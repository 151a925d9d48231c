// silu_mul: gated feed-forward activation, out[i] = silu(gate[i]) * up[i],
// silu(v) = v / (1 + exp(-v)).
// Bindings (group 0):
//   0 gate: storage, read        array<f32>  n
//   1 up:   storage, read        array<f32>  n
//   2 out:  storage, read_write  array<f32>  n (must not alias gate or up)
//   3 params: uniform Params { n: u32 }
// Workgroup size 256; one invocation per element over a 2-D grid
// (x·y ≥ ceil(n/256), x ≤ 65535); index = (wid.y·num_workgroups.x + wid.x)·256 + lid.
// Tolerance vs the CPU twin: a few f32 ulps (exp).
// Loop bound per invocation: 0 (no loops), whatever n.

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) {
    return;
  }
  let g = gate[i];
  out[i] = g / (1.0 + exp(-g)) * up[i];
}

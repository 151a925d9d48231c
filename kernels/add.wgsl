// add: in-place add with a repeating addend, a[i] += b[i % b_len].
//   Residual add: b_len = n (same shape). Bias add: a is rows × b_len, b one row.
// Bindings (group 0):
//   0 a: storage, read_write  array<f32>  n
//   1 b: storage, read        array<f32>  b_len (must not alias a)
//   2 params: uniform Params { n: u32, b_len: u32 }
// Workgroup size 256; one invocation per element over a 2-D grid
// (x·y ≥ ceil(n/256), x ≤ 65535); index = (wid.y·num_workgroups.x + wid.x)·256 + lid.
// Exact: one f32 addition per element, as in the CPU twin.
// Loop bound per invocation: 0 (no loops), whatever n.

struct Params { n: u32, b_len: u32 }

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

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
  a[i] += b[i % params.b_len];
}

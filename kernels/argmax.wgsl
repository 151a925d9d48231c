// argmax: greedy token choice, out[out_index] = argmax_i logits[i]; ties go to
// the lowest id, NaN never wins (all NaN gives 0).
// Bindings (group 0):
//   0 logits: storage, read        array<f32>  n_vocab
//   1 out:    storage, read_write  array<u32>  ≥ out_index + 1
//   2 params: uniform Params { n_vocab: u32, out_index: u32 }
// Workgroup size WG (override, a power of two: the host picks 256 on GPUs, 8 on
// CPU adapters); dispatch a single workgroup. Each invocation scans a strided
// share, then a tree reduction on (value, id) in workgroup memory.
// Exact: comparisons only, so it agrees with the CPU twin bit for bit.
// Loop bound per invocation (Mesa lavapipe silently stops every loop of an
// invocation after 65,535 iterations in total): ⌈n_vocab/WG⌉ + log2(WG);
// 151936 logits take 602 at WG = 256, 18995 at WG = 8. The host (argmax.ts)
// refuses a count over 65,535.

override WG: u32 = 256u;
const NO_ID: u32 = 0xffffffffu;

struct Params { n_vocab: u32, out_index: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

// Whether (v, i) beats (bv, bi): larger value, or equal value and lower id.
fn beats(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return v > bv || (v == bv && i < bi);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var bv = bitcast<f32>(0xff800000u); // -inf
  var bi = NO_ID;
  for (var i = lid; i < params.n_vocab; i += WG) {
    let v = logits[i];
    if (beats(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride && beats(best_v[lid + stride], best_i[lid + stride], best_v[lid], best_i[lid])) {
      best_v[lid] = best_v[lid + stride];
      best_i[lid] = best_i[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[params.out_index] = select(best_i[0], 0u, best_i[0] == NO_ID);
  }
}

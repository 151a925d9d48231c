// _kv_state: shared declarations of the KV slot-table kernels (kv_write_slot,
// kv_evict, kv_compress). Concatenated after the cache's element format
// (_kv_elem_f32.wgsl or _kv_elem_f16.wgsl) and STEP_WGSL by the host.
//
// Per-layer state buffer `state: array<u32>` (src/gpu/ops/kv_slot_table.ts):
//   state[0]      τ as f32 bits (a quiet NaN, 0x7fc00000, while unset)
//   state[1]      tokens held per KV head after the last eviction (equal across heads)
//   state[2..3]   reserved (0)
//   state[4 + h]  slot the next token of KV head h is written to
// Slot table: pos `array<i32>` [n_head_kv][n_slots] (−1 = free), score
// `array<f32>` [n_head_kv][n_slots]: what the layer's score snippet gave
// (kernels/_score_*.wgsl, src/gpu/ops/kv_score.ts: e.g. the query group's column
// sums, or minus the key norm), plus the decode attention the query group added.
//
// Policy uniform (the LAST binding of every kv kernel; src/gpu/ops/kv_support.ts
// createPolicyParams):
//   n_head_kv, n_slots   layout of the layer's slot cache
//   slots                C_ℓ (tokens kept after each step)
//   recent, sinks        M_ℓ (newest positions kept) and the sink count
//   compressed           1 when the layer ever evicts
//   merge                1 for d2o (evicted tokens merge into their nearest kept key;
//                        K and V), 2: values only (the kept key stays)
//   parity               1: a merge passes when the head mean of the similarities passes
//   rule                 0 = paper weights (exp(u) / (e^logit + Σ exp(u))), 1 = code weights
//   beta, one_minus_beta f32(β) and f32(1 − β) of the τ EMA
//   self_weight          f32(exp(merge_self_logit))
//   tokens, quota, n_evict, stride   compression only: T', heavy candidates kept per
//                        head, tokens evicted per head, row stride of the column sums

struct Policy {
  n_head_kv: u32, n_slots: u32, slots: u32, recent: u32,
  sinks: u32, compressed: u32, merge: u32, parity: u32,
  rule: u32, beta: f32, one_minus_beta: f32, self_weight: f32,
  tokens: u32, quota: u32, n_evict: u32, stride: u32,
}

const FREE: i32 = -1;
const TAU_UNSET: u32 = 0x7fc00000u;
const STATE_TAU: u32 = 0u;
const STATE_COUNT: u32 = 1u;
const STATE_FREE: u32 = 4u;

// Whether f32 bits encode a NaN (bit test: NaN compares may be optimised away).
fn is_nan_bits(bits: u32) -> bool {
  return (bits & 0x7fffffffu) > 0x7f800000u;
}

// Whether position p is a sink or in the recent window ending at `newest`.
fn is_protected(p: i32, newest: i32, policy: Policy) -> bool {
  return p < i32(policy.sinks) || p > newest - i32(policy.recent);
}

// Whether (score a, pos a, slot a) is evicted before (b): lower score, then newer
// position, then higher slot (src/kv/scoring_policy.ts `ranksBelow`).
fn ranks_below(sa: f32, pa: i32, ia: u32, sb: f32, pb: i32, ib: u32) -> bool {
  if (sa != sb) {
    return sa < sb;
  }
  if (pa != pb) {
    return pa > pb;
  }
  return ia > ib;
}

// Whether similarity sa at (pos pa, slot ia) beats sb at (pb, ib) as a merge
// target: higher similarity, then older position, then lower slot.
fn nearer(sa: f32, pa: i32, ia: u32, sb: f32, pb: i32, ib: u32) -> bool {
  if (sa != sb) {
    return sa > sb;
  }
  if (pa != pb) {
    return pa < pb;
  }
  return ia < ib;
}

// n2 plus the squares of x's 4 elements, in element order: a key's squared norm, summed
// as the twins sum it (src/reference/kv/scores.ts `keyNormF32`).
fn add_squares(n2: f32, x: vec4f) -> f32 {
  var s = n2 + x.x * x.x;
  s = s + x.y * x.y;
  s = s + x.z * x.z;
  return s + x.w * x.w;
}

// The τ EMA in the twin's f32 order (src/kv/d2o.ts `updateTau`); unset τ starts at m.
fn update_tau(tau_bits: u32, m: f32, policy: Policy) -> f32 {
  if (is_nan_bits(tau_bits)) {
    return m;
  }
  let old_part = policy.one_minus_beta * bitcast<f32>(tau_bits);
  let new_part = policy.beta * m;
  return old_part + new_part;
}

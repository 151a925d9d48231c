// sample: llama.cpp's sampler chain on the GPU, in one workgroup:
//   repetition penalty → (greedy when temp ≤ 0) → top-k → top-p → min-p →
//   temperature → softmax → draw, writing one u32 token id.
// Kept sets are thresholds on an order-preserving u32 key of the logit
// (key(v) = v ≥ 0 ? bits | 2^31 : ~bits; NaN → 0, never kept), found without
// sorting: top-k by bisection on the key (count of keys ≥ K ≥ k), top-p by
// bisection on the key (mass of candidates strictly above K < p·total), min-p
// directly (logit ≥ max + ln min_p). Every token tied with the cut-off is kept.
// The draw: u = random_unit(step.seed, count) (count = tokens accepted so far,
// history[0]); walk the kept tokens in id order until the running sum of
// e^((l−max)/temp) passes u·Σ. Then the token is appended to the history.
// Penalty: each distinct token among the last last_n of the history has its
// logit (in place) multiplied by inv_penalty when > 0, else by penalty.
// Needs the Step struct (STEP_WGSL) and _random.wgsl, prepended by the host.
// Bindings (group 0):
//   0 logits:  storage, read_write  array<f32>  n_vocab (penalised in place)
//   1 history: storage, read_write  array<u32>  1 + last_n: [count, ring of the
//              last last_n tokens, token number c at 1 + c % last_n]
//   2 out:     storage, read_write  array<u32>  ≥ out_index + 1
//   3 step:    uniform Step (seed used)
//   4 params:  uniform Params { n_vocab, top_k (0 = off), top_p (≥ 1 = off),
//              log_min_p, min_p_on, inv_temp, greedy, penalty, inv_penalty,
//              last_n, out_index }
// Workgroup size 256; dispatch a single workgroup. Element loops are unrolled by 4
// so that even a 152k vocabulary stays far below lavapipe's 65,535 loop
// iterations per invocation (≤ ~70 passes of ⌈n/1024⌉ iterations).
// Agreement with the CPU twin: the same token except when u·Σ falls within f32
// rounding (~1e-6 relative) of a boundary, or top-p's mass ties p·Σ that closely.

const WG: u32 = 256u;
const NO_ID: u32 = 0xffffffffu;
const KEY_NEG_INF: u32 = 0x007fffffu; // key(-inf)

struct Params {
  n_vocab: u32,
  top_k: u32,
  top_p: f32,
  log_min_p: f32,
  min_p_on: u32,
  inv_temp: f32,
  greedy: u32,
  penalty: f32,
  inv_penalty: f32,
  last_n: u32,
  out_index: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> history: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> step: Step;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> bcast_f: f32;
var<workgroup> bcast_u: u32;

// Order-preserving key of an f32; NaN → 0.
fn key_of(v: f32) -> u32 {
  if (v != v) {
    return 0u;
  }
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// The f32 whose key is k (inverse of key_of for non-NaN values).
fn value_of(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

// Sum of x over the workgroup, the same value in every invocation.
fn reduce_sum(lid: u32, x: f32) -> f32 {
  workgroupBarrier();
  red_f[lid] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      red_f[lid] += red_f[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    bcast_f = red_f[0];
  }
  return workgroupUniformLoad(&bcast_f);
}

// Minimum (want_max = false) or maximum of x over the workgroup.
fn reduce_u32(lid: u32, x: u32, want_max: bool) -> u32 {
  workgroupBarrier();
  red_u[lid] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let o = red_u[lid + stride];
      red_u[lid] = select(min(red_u[lid], o), max(red_u[lid], o), want_max);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    bcast_u = red_u[0];
  }
  return workgroupUniformLoad(&bcast_u);
}

// One element's share of a counting (mode 0) or mass (mode 1) pass:
//   mode 0: 1 if key ≥ k;  mode 1: e^(v − m) if key > k and key ≥ tau.
fn term(i: u32, mode: u32, k: u32, tau: u32, m: f32) -> f32 {
  if (i >= params.n_vocab) {
    return 0.0;
  }
  let v = logits[i];
  let key = key_of(v);
  if (mode == 0u) {
    return select(0.0, 1.0, key >= k);
  }
  return select(0.0, exp(v - m), key > k && key >= tau);
}

// A counting or mass pass over the vocabulary, reduced over the workgroup.
fn pass_sum(lid: u32, mode: u32, k: u32, tau: u32, m: f32) -> f32 {
  var s = 0.0;
  for (var i = lid; i < params.n_vocab; i += 4u * WG) {
    s += (term(i, mode, k, tau, m) + term(i + WG, mode, k, tau, m)) +
      (term(i + 2u * WG, mode, k, tau, m) + term(i + 3u * WG, mode, k, tau, m));
  }
  return reduce_sum(lid, s);
}

// Unnormalised final probability of token i: e^((v − m)/temp) if kept.
fn weight(i: u32, tau: u32, m: f32) -> f32 {
  let v = logits[i];
  return select(0.0, exp((v - m) * params.inv_temp), key_of(v) >= tau);
}

// Writes the chosen token and appends it to the history.
fn emit(tok: u32, count: u32) {
  out[params.out_index] = tok;
  if (params.last_n > 0u) {
    history[1u + count % params.last_n] = tok;
  }
  history[0] = count + 1u;
}

// Applies the repetition penalty to the distinct tokens of the last last_n.
fn penalize(lid: u32, count: u32) {
  let cap = params.last_n;
  let win = min(count, cap);
  let first = count - win;
  for (var j = lid; j < win; j += WG) {
    let tok = history[1u + (first + j) % cap];
    var seen = false;
    for (var p = 0u; p < j; p++) {
      if (history[1u + (first + p) % cap] == tok) {
        seen = true;
        break;
      }
    }
    if (!seen && tok < params.n_vocab) {
      let l = logits[tok];
      logits[tok] = l * select(params.penalty, params.inv_penalty, l > 0.0);
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = params.n_vocab;
  let count = history[0];
  if (params.penalty != 1.0 && params.last_n > 0u) {
    penalize(lid, count);
  }
  storageBarrier();
  // Max (ties → lowest id) and the smallest key.
  var bv = 0.0;
  var bi = NO_ID;
  var kmin = 0xffffffffu;
  for (var i = lid; i < n; i += WG) {
    let v = logits[i];
    let key = key_of(v);
    kmin = min(kmin, key);
    if (key != 0u && (bi == NO_ID || v > bv)) {
      bv = v;
      bi = i;
    }
  }
  let km = reduce_u32(lid, select(0u, key_of(bv), bi != NO_ID), true);
  let arg = reduce_u32(lid, select(NO_ID, bi, bi != NO_ID && key_of(bv) == km), false);
  kmin = reduce_u32(lid, kmin, false);
  if (params.greedy != 0u || arg == NO_ID || km == KEY_NEG_INF) {
    if (lid == 0u) {
      emit(select(arg, 0u, arg == NO_ID), count);
    }
    return;
  }
  let m = value_of(km);
  var tau = kmin;
  // top-k: the largest K with at least k keys ≥ K.
  if (params.top_k > 0u && params.top_k < n) {
    var lo = kmin;
    var hi = km + 1u;
    while (hi - lo > 1u) {
      let mid = lo + (hi - lo) / 2u;
      if (pass_sum(lid, 0u, mid, 0u, m) >= f32(params.top_k)) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    tau = lo;
  }
  tau = max(tau, 1u);
  // top-p: the smallest K whose strictly-greater candidates hold < p of the mass.
  if (params.top_p < 1.0) {
    let goal = params.top_p * pass_sum(lid, 1u, tau - 1u, tau, m);
    if (!(pass_sum(lid, 1u, tau, tau, m) < goal)) {
      var lo = tau;
      var hi = km;
      while (hi - lo > 1u) {
        let mid = lo + (hi - lo) / 2u;
        if (pass_sum(lid, 1u, mid, tau, m) < goal) {
          hi = mid;
        } else {
          lo = mid;
        }
      }
      tau = hi;
    }
  }
  // min-p: logit ≥ max + ln(min_p).
  if (params.min_p_on != 0u) {
    tau = max(tau, key_of(m + params.log_min_p));
  }
  // Draw: each invocation owns a contiguous id range; an inclusive scan of the
  // range sums finds the one whose range holds u·Σ, which walks its range.
  let chunk = (n + WG - 1u) / WG;
  let c0 = min(lid * chunk, n);
  let c1 = min(c0 + chunk, n);
  var s = 0.0;
  for (var i = c0; i < c1; i++) {
    s += weight(i, tau, m);
  }
  workgroupBarrier();
  red_f[lid] = s;
  for (var off = 1u; off < WG; off = off * 2u) {
    workgroupBarrier();
    let add = select(0.0, red_f[max(lid, off) - off], lid >= off);
    workgroupBarrier();
    red_f[lid] += add;
  }
  workgroupBarrier();
  let incl = red_f[lid];
  let excl = select(0.0, red_f[max(lid, 1u) - 1u], lid > 0u);
  if (lid == WG - 1u) {
    bcast_f = incl;
  }
  let total = workgroupUniformLoad(&bcast_f);
  let goal = random_unit(step.seed, count) * total;
  // Fallback owner when rounding leaves u·Σ at or past the last range's end.
  let last = reduce_u32(lid, select(0u, lid + 1u, s > 0.0), true);
  if ((excl <= goal && goal < incl) || (lid + 1u == last && goal >= incl)) {
    var acc = excl;
    var pick = NO_ID;
    var final_kept = NO_ID;
    for (var i = c0; i < c1; i++) {
      let w = weight(i, tau, m);
      if (w > 0.0) {
        final_kept = i;
        acc += w;
        if (goal < acc) {
          pick = i;
          break;
        }
      }
    }
    emit(select(pick, final_kept, pick == NO_ID), count);
  }
}

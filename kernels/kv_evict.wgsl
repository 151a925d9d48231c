// kv_evict: a decode step's eviction in one layer, after the step's token was
// written (kv_write_slot) and its attention added to the scores
// (src/reference/kv/kv_layer.ts `evict` = policy `decide` + `apply`).
// While the layer holds at most C tokens (or is not compressed) it only grows:
//   count += 1;  free[h] = count  (the next prefix slot)
// Otherwise, per KV head h:
//   victim = the lowest-ranked slot outside the sinks (pos < sinks) and the
//            window (pos > step.pos − recent): lower score, then newer position,
//            then higher slot (src/kv/scoring_policy.ts `selectVictims`)
//   d2o:     target = the other occupied slot whose key is most similar by cosine
//            (dot, ‖a‖², ‖b‖² summed in index order in f32; ties → older position,
//            then lower slot; src/kv/similarity.ts), m_h its similarity;
//            m̄ = (Σ_h m_h) / n_head_kv;  τ ← m̄ if unset else f32(1−β)·τ + f32(β)·m̄;
//            head h merges when m_h ≥ τ (parity: when m̄ ≥ τ, all heads at once):
//            k_t ← w_0·k_t + w_1·k_victim, v_t likewise, with the paper weights
//            (e^logit, e^m)/(e^logit + e^m) or the code weights (1/2, m/2)
//   then pos[h][victim] = −1, score[h][victim] = 0, free[h] = victim.
// K/V rows are read as f32 from their element formats (f32 or f16, each) and all
// arithmetic (cosines, merges) is f32; a merged row is rounded once, where it
// is stored (f16: to nearest even).
// Concatenated after the keys' and the values' element formats (_kv_elem_f32.wgsl
// or _kv_elem_f16.wgsl as KVec, k_load, k_store and VVec, v_load, v_store),
// STEP_WGSL and _kv_state.wgsl by the host. Entry points, in order:
//   pick:   one workgroup per KV head (x = n_head_kv): victim and nearest slot,
//           written to `picks` ({−1, −1, NaN} when the layer does not evict).
//   apply:  one workgroup (x = 1): τ, merge decisions (a failed merge sets the
//           pick's target to −1), K/V merge, slot release, free slots and count.
// Bindings (group 0; each entry point's auto layout holds the ones it uses):
//   0 k_cache: storage, read_write  array<KVec>   n_head_kv × n_slots × HEAD_DIM
//   1 v_cache: storage, read_write  array<VVec>   n_head_kv × n_slots × HEAD_DIM
//   2 pos:     storage, read_write  array<i32>  n_head_kv × n_slots
//   3 score:   storage, read_write  array<f32>  n_head_kv × n_slots
//   4 state:   storage, read_write  array<u32>  4 + n_head_kv (_kv_state.wgsl)
//   5 picks:   storage, read_write  array<u32>  n_head_kv × 4: victim (i32), target
//              (i32, −1 = dropped), similarity (f32 bits, NaN when not computed), 0
//   6 step:    uniform Step (pos = the newest position)
//   7 policy:  uniform Policy (decode fields)
// Overrides: WG (workgroup size), HEAD_DIM (a multiple of 4), N_HEAD_KV. Loop bound
// per invocation: ⌈n_slots / WG⌉ · HEAD_DIM / 4 (the host keeps it far below
// lavapipe's 65,535).
// Decisions and similarities are bit-exact with the twin on the same stored keys
// (no contraction on the adapters tested); merged rows differ only through exp()
// (f32: ≤ 1e-6 relative; f16: that, or one f16 ulp where it moves the rounding).

override WG: u32 = 64u;
override HEAD_DIM: u32 = 64u;
override N_HEAD_KV: u32 = 1u;

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read_write> k_cache: array<KVec>;
@group(0) @binding(1) var<storage, read_write> v_cache: array<VVec>;
@group(0) @binding(2) var<storage, read_write> pos: array<i32>;
@group(0) @binding(3) var<storage, read_write> score: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<u32>;
@group(0) @binding(5) var<storage, read_write> picks: array<u32>;
@group(0) @binding(6) var<uniform> step: Step;
@group(0) @binding(7) var<uniform> policy: Policy;

var<workgroup> wg_count: u32;
var<workgroup> wg_victim: u32;
var<workgroup> best_s: array<f32, WG>;
var<workgroup> best_p: array<i32, WG>;
var<workgroup> best_i: array<u32, WG>;
var<workgroup> wg_pass: array<u32, N_HEAD_KV>;

// Whether the layer evicts at this step (it holds C + 1 tokens after the write).
fn evicting(count: u32) -> bool {
  return policy.compressed == 1u && count + 1u > policy.slots;
}

// KVecs / VVecs (4 elements) per cache row.
override D4: u32 = HEAD_DIM / 4u;

// Cosine of the key rows starting at KVecs a and b, in the twin's f32 order.
fn cosine(a: u32, b: u32) -> f32 {
  var dot = 0.0;
  var na = 0.0;
  var nb = 0.0;
  for (var d = 0u; d < D4; d++) {
    let x = k_load(k_cache[a + d]);
    let y = k_load(k_cache[b + d]);
    dot = dot + x.x * y.x;
    dot = dot + x.y * y.y;
    dot = dot + x.z * y.z;
    dot = dot + x.w * y.w;
    na = na + x.x * x.x;
    na = na + x.y * x.y;
    na = na + x.z * x.z;
    na = na + x.w * x.w;
    nb = nb + y.x * y.x;
    nb = nb + y.y * y.y;
    nb = nb + y.z * y.z;
    nb = nb + y.w * y.w;
  }
  if (na == 0.0 || nb == 0.0) {
    return 0.0;
  }
  return dot / (sqrt(na) * sqrt(nb));
}

fn write_pick(h: u32, victim: i32, tgt: i32, sim_bits: u32) {
  picks[4u * h] = bitcast<u32>(victim);
  picks[4u * h + 1u] = bitcast<u32>(tgt);
  picks[4u * h + 2u] = sim_bits;
  picks[4u * h + 3u] = 0u;
}

@compute @workgroup_size(WG)
fn pick(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wid.x;
  if (lid == 0u) {
    wg_count = state[STATE_COUNT];
  }
  let count = workgroupUniformLoad(&wg_count);
  if (!evicting(count)) {
    if (lid == 0u) {
      write_pick(h, -1, -1, TAU_UNSET);
    }
    return;
  }
  let base = h * policy.n_slots;
  let newest = i32(step.pos);
  // Victim: each invocation ranks a strided subset, invocation 0 merges them.
  var bs = 0.0;
  var bp = 0;
  var bi = NONE;
  for (var s = lid; s < policy.n_slots; s += WG) {
    let p = pos[base + s];
    if (p == FREE || is_protected(p, newest, policy)) {
      continue;
    }
    let sc = score[base + s];
    if (bi == NONE || ranks_below(sc, p, s, bs, bp, bi)) {
      bs = sc;
      bp = p;
      bi = s;
    }
  }
  best_s[lid] = bs;
  best_p[lid] = bp;
  best_i[lid] = bi;
  workgroupBarrier();
  if (lid == 0u) {
    for (var t = 1u; t < WG; t++) {
      if (best_i[t] != NONE &&
        (bi == NONE || ranks_below(best_s[t], best_p[t], best_i[t], bs, bp, bi))) {
        bs = best_s[t];
        bp = best_p[t];
        bi = best_i[t];
      }
    }
    wg_victim = bi;
  }
  let victim = workgroupUniformLoad(&wg_victim);
  if (victim == NONE || policy.merge == 0u) {
    if (lid == 0u) {
      write_pick(h, bitcast<i32>(victim), -1, TAU_UNSET);
    }
    return;
  }
  // Nearest other occupied slot by key cosine.
  let vrow = (base + victim) * D4;
  var ms = 0.0;
  var mp = 0;
  var mi = NONE;
  for (var c = lid; c < policy.n_slots; c += WG) {
    let p = pos[base + c];
    if (c == victim || p == FREE) {
      continue;
    }
    let sim = cosine(vrow, (base + c) * D4);
    if (mi == NONE || nearer(sim, p, c, ms, mp, mi)) {
      ms = sim;
      mp = p;
      mi = c;
    }
  }
  best_s[lid] = ms;
  best_p[lid] = mp;
  best_i[lid] = mi;
  workgroupBarrier();
  if (lid == 0u) {
    for (var t = 1u; t < WG; t++) {
      if (best_i[t] != NONE &&
        (mi == NONE || nearer(best_s[t], best_p[t], best_i[t], ms, mp, mi))) {
        ms = best_s[t];
        mp = best_p[t];
        mi = best_i[t];
      }
    }
    write_pick(h, i32(victim), bitcast<i32>(mi), bitcast<u32>(ms));
  }
}

@compute @workgroup_size(WG)
fn apply(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    wg_count = state[STATE_COUNT];
  }
  let count = workgroupUniformLoad(&wg_count);
  if (!evicting(count)) {
    if (lid == 0u) {
      state[STATE_COUNT] = count + 1u;
    }
    for (var h = lid; h < N_HEAD_KV; h += WG) {
      state[STATE_FREE + h] = count + 1u;
    }
    return;
  }
  if (lid == 0u) {
    for (var h = 0u; h < N_HEAD_KV; h++) {
      wg_pass[h] = 0u;
    }
    if (policy.merge != 0u) {
      var sum = 0.0;
      for (var h = 0u; h < N_HEAD_KV; h++) {
        sum = sum + bitcast<f32>(picks[4u * h + 2u]);
      }
      let mean = sum / f32(N_HEAD_KV);
      let tau = update_tau(state[STATE_TAU], mean, policy);
      state[STATE_TAU] = bitcast<u32>(tau);
      for (var h = 0u; h < N_HEAD_KV; h++) {
        let m = bitcast<f32>(picks[4u * h + 2u]);
        let passes = select(m >= tau, mean >= tau, policy.parity == 1u);
        if (passes && bitcast<i32>(picks[4u * h + 1u]) >= 0) {
          wg_pass[h] = 1u;
        } else {
          picks[4u * h + 1u] = NONE;
        }
      }
    }
  }
  workgroupBarrier();
  // Each invocation merges 4 elements (one KVec and VVec) of a passing head's rows.
  for (var i = lid; i < N_HEAD_KV * D4; i += WG) {
    let h = i / D4;
    if (wg_pass[h] == 0u) {
      continue;
    }
    let d = i % D4;
    let m = bitcast<f32>(picks[4u * h + 2u]);
    var w0 = 0.5;
    var w1 = m * 0.5;
    if (policy.rule == 0u) {
      let a1 = exp(m);
      let total = policy.self_weight + a1;
      w0 = policy.self_weight / total;
      w1 = a1 / total;
    }
    let t = (h * policy.n_slots + picks[4u * h + 1u]) * D4 + d;
    let e = (h * policy.n_slots + picks[4u * h]) * D4 + d;
    if (policy.merge == 1u) {
      k_cache[t] = k_store(w0 * k_load(k_cache[t]) + w1 * k_load(k_cache[e]));
    }
    v_cache[t] = v_store(w0 * v_load(v_cache[t]) + w1 * v_load(v_cache[e]));
  }
  for (var h = lid; h < N_HEAD_KV; h += WG) {
    let victim = picks[4u * h];
    if (victim != NONE) {
      pos[h * policy.n_slots + victim] = FREE;
      score[h * policy.n_slots + victim] = 0.0;
      state[STATE_FREE + h] = victim;
    }
  }
}

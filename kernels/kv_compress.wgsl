// kv_compress: the bulk compression of one layer at the end of prefill
// (src/reference/kv/kv_layer.ts `prefill` = policy `compress` + apply). The
// staging cache holds the prompt at slot = position; per KV head g:
//   score[g][j] = prompt_score(g, j): the layer's score snippet (kernels/_score_*.wgsl,
//         src/gpu/ops/kv_score.ts); the attention one sums colsum[h][j] over g's
//         query group (f32, query-head order), others may read the staging keys
//   pool (pool_r > 0): for sinks ≤ j < pool_end (= T' − recent, the candidates), score[g][j]
//         = max of the raw scores over [j − pool_r, j + pool_r] ∩ [sinks, pool_end)
//   keep: everything when the layer is not compressed or T' ≤ C; else the sinks
//         (j < sinks), the window (j ≥ T' − recent) and the `quota` best other
//         positions (higher score, then older position; a counting rank)
//   d2o:  each evicted e's nearest kept c by key cosine (dot in index order,
//         cos = dot / (‖e‖·‖c‖), 0 for a zero key; ties → older position);
//         m̄ = Σ_{g, e by position} m / count;  τ = m̄ (compression starts a sequence);
//         e merges when m_e ≥ τ (parity: when the head mean of the e-th evicted
//         similarities passes); each target c becomes Σ w·x over [c, its group by
//         position] from the pre-merge rows, paper weights (e^logit, e^m…)/D,
//         D = e^logit + Σ e^m, or code weights (1, m…)/(1 + |group|)
//   kept rows in ascending position → dest slots 0 .. kept−1 with their scores;
//   slots ≥ kept free; count = free[g] = kept.
// K/V rows are read as f32 from their element formats (staging and dest share
// the keys' and the values' each: f32 or f16) and norms, cosines and merges are f32; a row is rounded
// once, where it is stored (a copied row is exact, a merged one f16-rounded).
// Concatenated after the keys' and the values' element formats (_kv_elem_f32.wgsl
// or _kv_elem_f16.wgsl as KVec, k_load, k_store and VVec, v_load, v_store),
// STEP_WGSL, _kv_state.wgsl and the score snippet's prompt section by the host.
// Entry points, in order
// (the merge ones only when the layer merges and something is evicted):
//   prep    x = ⌈T'/WG⌉, y = n_head_kv: prompt scores (raw when pooling) and key norms
//   pool    x = ⌈T'/WG⌉, y = n_head_kv: max pool of the candidates' raw scores (when pool_r > 0)
//   rank    x = ⌈T'/WG⌉, y = n_head_kv: keep flags (one invocation per position
//           counts the candidates ranked above it: O(T'²) per head, spread over T' invocations)
//   scan    x = n_head_kv (one workgroup per head): kept list, evicted list, fate
//   nearest x = ⌈n_evict/WG⌉, y = n_head_kv, z = n_chunks: best kept key per chunk of K_CHUNK
//   reduce  x = ⌈n_evict/WG⌉, y = n_head_kv: best over chunks → sim, target
//   tau     x = 1: τ, merge flags, fate of merged rows
//   link    x = n_head_kv: per target, its members in position order and the weight denominator
//   gather  x = ⌈dest_slots·HEAD_DIM/WG⌉, y = n_head_kv: merged or copied rows, table, state
//           (invocation i covers element i of the layer's rows; the one at each
//           4th element moves that element's KVec and VVec, the other three only exit: the
//           grid, and with it the slot limit, is the same in every format)
// Bindings (group 0; each entry point's auto layout holds the ones it uses, ≤ 8 storage):
//   0 staging_k: storage, read        array<KVec>   n_head_kv × staging_slots × HEAD_DIM
//   1 staging_v: storage, read        array<VVec>   n_head_kv × staging_slots × HEAD_DIM
//   2 colsum:    storage, read        array<f32>  n_head × stride (per query head; bound
//                only when the score snippet reads column sums)
//   3 dest_k:    storage, read_write  array<KVec>   n_head_kv × dest_slots × HEAD_DIM
//   4 dest_v:    storage, read_write  array<VVec>   n_head_kv × dest_slots × HEAD_DIM
//   5 pos:       storage, read_write  array<i32>  n_head_kv × dest_slots
//   6 score:     storage, read_write  array<f32>  n_head_kv × dest_slots
//   7 state:     storage, read_write  array<u32>  4 + n_head_kv (_kv_state.wgsl)
//   8 work:      storage, read_write  array<u32>  scratch arrays at the Layout offsets (f32 as bits);
//                fate (i32 [n_head_kv][T']): kept → dest slot, dropped → −1, merged into slot k → −2 − k
//   9 lay:       uniform Layout (sizes and work offsets)
//  10 policy:    uniform Policy (tokens = T', quota, n_evict, stride)
// Overrides: WG, HEAD_DIM (a multiple of 4), G (query heads per KV head), K_CHUNK.
// Loop bounds per invocation: rank T'/4, nearest K_CHUNK·HEAD_DIM/4, tau
// n_head_kv·n_evict/4, link and gather n_evict (the host checks them against
// lavapipe's 65,535).
// Decisions and τ are bit-exact with the twin on the same stored keys; merged rows
// differ through exp() only (f16: by at most one f16 ulp where that moves the rounding).

override WG: u32 = 64u;
override HEAD_DIM: u32 = 64u;
override G: u32 = 1u;
override K_CHUNK: u32 = 512u;

const NONE: u32 = 0xffffffffu;

struct Layout {
  staging_slots: u32, kept: u32, n_chunks: u32, dest_slots: u32,
  o_score: u32, o_raw: u32, o_norm: u32, o_keep: u32,
  o_fate: u32, o_kept: u32, o_ev: u32, o_part: u32,
  o_sim: u32, o_tgt: u32, o_next: u32, o_first: u32,
  o_last: u32, o_den: u32, o_flag: u32, merging: u32,
  pool_r: u32, pool_end: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<storage, read> staging_k: array<KVec>;
@group(0) @binding(1) var<storage, read> staging_v: array<VVec>;
@group(0) @binding(2) var<storage, read> colsum: array<f32>;
@group(0) @binding(3) var<storage, read_write> dest_k: array<KVec>;
@group(0) @binding(4) var<storage, read_write> dest_v: array<VVec>;
@group(0) @binding(5) var<storage, read_write> pos: array<i32>;
@group(0) @binding(6) var<storage, read_write> score: array<f32>;
@group(0) @binding(7) var<storage, read_write> state: array<u32>;
@group(0) @binding(8) var<storage, read_write> work: array<u32>;
@group(0) @binding(9) var<uniform> lay: Layout;
@group(0) @binding(10) var<uniform> policy: Policy;

// KVecs / VVecs (4 elements) per cache row.
override D4: u32 = HEAD_DIM / 4u;

var<workgroup> seg_count: array<u32, WG>;
var<workgroup> wg_tau: f32;

fn wf(i: u32) -> f32 {
  return bitcast<f32>(work[i]);
}

// Group score of (KV head g, position j).
fn group_score(g: u32, j: u32) -> f32 {
  return wf(lay.o_score + g * policy.tokens + j);
}

// For the score snippet: the column sums of (KV head g, position j) summed over g's
// query group, in query-head order (binds colsum only when the snippet calls it).
fn group_column_sum(g: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var i = 0u; i < G; i++) {
    s = s + colsum[(g * G + i) * policy.stride + j];
  }
  return s;
}

// The L2 norm of staging key (g, j) in f32, elements in order (the merges' and the
// score snippet's).
fn staging_key_norm(g: u32, j: u32) -> f32 {
  let row = (g * lay.staging_slots + j) * D4;
  var n2 = 0.0;
  for (var d = 0u; d < D4; d++) {
    n2 = add_squares(n2, k_load(staging_k[row + d]));
  }
  return sqrt(n2);
}

@compute @workgroup_size(WG)
fn prep(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let g = gid.y;
  if (j >= policy.tokens) {
    return;
  }
  let out = select(lay.o_score, lay.o_raw, lay.pool_r > 0u);
  work[out + g * policy.tokens + j] = bitcast<u32>(prompt_score(g, j));
  work[lay.o_norm + g * policy.tokens + j] = bitcast<u32>(staging_key_norm(g, j));
}

@compute @workgroup_size(WG)
fn pool(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let g = gid.y;
  if (j >= policy.tokens) {
    return;
  }
  let raw = lay.o_raw + g * policy.tokens;
  var m = wf(raw + j);
  if (j >= policy.sinks && j < lay.pool_end) {
    let lo = max(i32(j) - i32(lay.pool_r), i32(policy.sinks));
    let hi = min(j + lay.pool_r + 1u, lay.pool_end);
    for (var i = u32(lo); i < hi; i++) {
      m = max(m, wf(raw + i));
    }
  }
  work[lay.o_score + g * policy.tokens + j] = bitcast<u32>(m);
}

// 1 when candidate i ranks above j (higher score, or equal and older).
fn above(g: u32, i: u32, j: u32, sj: f32) -> u32 {
  let si = group_score(g, i);
  return select(0u, 1u, si > sj || (si == sj && i < j));
}

@compute @workgroup_size(WG)
fn rank(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  let g = gid.y;
  let t = policy.tokens;
  if (j >= t) {
    return;
  }
  var keep = 1u;
  let keep_all = policy.compressed == 0u || t <= policy.slots;
  if (!keep_all && !is_protected(i32(j), i32(t) - 1, policy)) {
    let sj = group_score(g, j);
    let hi = u32(max(i32(t) - i32(policy.recent), 0));
    var r = 0u;
    var i = policy.sinks;
    for (; i + 4u <= hi; i += 4u) {
      r += above(g, i, j, sj) + above(g, i + 1u, j, sj) + above(g, i + 2u, j, sj) +
        above(g, i + 3u, j, sj);
    }
    for (; i < hi; i++) {
      r += above(g, i, j, sj);
    }
    keep = select(0u, 1u, r < policy.quota);
  }
  work[lay.o_keep + g * t + j] = keep;
}

@compute @workgroup_size(WG)
fn scan(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  let t = policy.tokens;
  let seg = (t + WG - 1u) / WG;
  let start = min(lid * seg, t);
  let end = min(start + seg, t);
  let keep = lay.o_keep + g * t;
  var c = 0u;
  for (var j = start; j < end; j++) {
    c += work[keep + j];
  }
  seg_count[lid] = c;
  workgroupBarrier();
  if (lid == 0u) {
    var acc = 0u;
    for (var i = 0u; i < WG; i++) {
      let x = seg_count[i];
      seg_count[i] = acc;
      acc += x;
    }
  }
  workgroupBarrier();
  var k = seg_count[lid];
  for (var j = start; j < end; j++) {
    let fate = lay.o_fate + g * t + j;
    if (work[keep + j] == 1u) {
      work[lay.o_kept + g * lay.kept + k] = j;
      work[fate] = k;
      k++;
    } else {
      work[lay.o_ev + g * policy.n_evict + (j - k)] = j;
      work[fate] = NONE;
    }
  }
}

@compute @workgroup_size(WG)
fn nearest(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  let g = gid.y;
  let c = gid.z;
  if (e >= policy.n_evict) {
    return;
  }
  let t = policy.tokens;
  let je = work[lay.o_ev + g * policy.n_evict + e];
  let ne = wf(lay.o_norm + g * t + je);
  let erow = (g * lay.staging_slots + je) * D4;
  let k1 = min((c + 1u) * K_CHUNK, lay.kept);
  var best = 0.0;
  var bk = NONE;
  for (var k = c * K_CHUNK; k < k1; k++) {
    let jc = work[lay.o_kept + g * lay.kept + k];
    let nc = wf(lay.o_norm + g * t + jc);
    var sim = 0.0;
    if (ne != 0.0 && nc != 0.0) {
      let crow = (g * lay.staging_slots + jc) * D4;
      var dot = 0.0;
      for (var d = 0u; d < D4; d++) {
        let x = k_load(staging_k[erow + d]);
        let y = k_load(staging_k[crow + d]);
        dot = dot + x.x * y.x;
        dot = dot + x.y * y.y;
        dot = dot + x.z * y.z;
        dot = dot + x.w * y.w;
      }
      sim = dot / (ne * nc);
    }
    if (bk == NONE || sim > best) {
      best = sim;
      bk = k;
    }
  }
  let p = lay.o_part + 2u * ((g * policy.n_evict + e) * lay.n_chunks + c);
  work[p] = bitcast<u32>(best);
  work[p + 1u] = bk;
}

@compute @workgroup_size(WG)
fn reduce(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  let g = gid.y;
  if (e >= policy.n_evict) {
    return;
  }
  let i = g * policy.n_evict + e;
  var best = 0.0;
  var bk = NONE;
  for (var c = 0u; c < lay.n_chunks; c++) {
    let p = lay.o_part + 2u * (i * lay.n_chunks + c);
    let sim = wf(p);
    if (bk == NONE || sim > best) {
      best = sim;
      bk = work[p + 1u];
    }
  }
  work[lay.o_sim + i] = bitcast<u32>(best);
  work[lay.o_tgt + i] = bk;
}

@compute @workgroup_size(WG)
fn tau(@builtin(local_invocation_index) lid: u32) {
  let total = policy.n_head_kv * policy.n_evict;
  let sims = lay.o_sim;
  if (lid == 0u) {
    var sum = 0.0;
    var i = 0u;
    for (; i + 4u <= total; i += 4u) {
      sum = sum + wf(sims + i);
      sum = sum + wf(sims + i + 1u);
      sum = sum + wf(sims + i + 2u);
      sum = sum + wf(sims + i + 3u);
    }
    for (; i < total; i++) {
      sum = sum + wf(sims + i);
    }
    let first = update_tau(TAU_UNSET, sum / f32(total), policy);
    state[STATE_TAU] = bitcast<u32>(first);
    wg_tau = first;
  }
  let threshold = workgroupUniformLoad(&wg_tau);
  for (var i = lid; i < total; i += WG) {
    let e = i % policy.n_evict;
    var m = wf(sims + i);
    if (policy.parity == 1u) {
      var s = 0.0;
      for (var h = 0u; h < policy.n_head_kv; h++) {
        s = s + wf(sims + h * policy.n_evict + e);
      }
      m = s / f32(policy.n_head_kv);
    }
    let passes = m >= threshold;
    work[lay.o_flag + i] = select(0u, 1u, passes);
    if (passes) {
      let g = i / policy.n_evict;
      let j = work[lay.o_ev + i];
      work[lay.o_fate + g * policy.tokens + j] = bitcast<u32>(-2 - i32(work[lay.o_tgt + i]));
    }
  }
}

@compute @workgroup_size(WG)
fn link(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  let base = g * lay.kept;
  let start = select(1.0, policy.self_weight, policy.rule == 0u);
  for (var k = lid; k < lay.kept; k += WG) {
    work[lay.o_first + base + k] = NONE;
    work[lay.o_den + base + k] = bitcast<u32>(start);
  }
  storageBarrier();
  workgroupBarrier();
  if (lid != 0u) {
    return;
  }
  for (var e = 0u; e < policy.n_evict; e++) {
    let i = g * policy.n_evict + e;
    work[lay.o_next + i] = NONE;
    if (work[lay.o_flag + i] == 0u) {
      continue;
    }
    let k = base + work[lay.o_tgt + i];
    if (work[lay.o_first + k] == NONE) {
      work[lay.o_first + k] = e;
    } else {
      work[lay.o_next + g * policy.n_evict + work[lay.o_last + k]] = e;
    }
    work[lay.o_last + k] = e;
    let add = select(1.0, exp(wf(lay.o_sim + i)), policy.rule == 0u);
    work[lay.o_den + k] = bitcast<u32>(wf(lay.o_den + k) + add);
  }
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let g = gid.y;
  if (i >= lay.dest_slots * HEAD_DIM) {
    return;
  }
  let k = i / HEAD_DIM;
  let d = i % HEAD_DIM;
  let cell = g * lay.dest_slots + k;
  if (i == 0u) {
    if (g == 0u) {
      state[STATE_COUNT] = lay.kept;
      if (lay.merging == 0u) {
        state[STATE_TAU] = TAU_UNSET;
      }
    }
    state[STATE_FREE + g] = lay.kept;
  }
  if (k >= lay.kept) {
    if (d == 0u) {
      pos[cell] = FREE;
      score[cell] = 0.0;
    }
    return;
  }
  if (d % 4u != 0u) {
    return;
  }
  let d4 = d / 4u;
  let j = work[lay.o_kept + g * lay.kept + k];
  let src = (g * lay.staging_slots + j) * D4 + d4;
  var kv = k_load(staging_k[src]);
  var vv = v_load(staging_v[src]);
  if (lay.merging == 1u) {
    var e = work[lay.o_first + g * lay.kept + k];
    if (e != NONE) {
      let den = wf(lay.o_den + g * lay.kept + k);
      let inv = 1.0 / den;
      let w0 = select(inv, policy.self_weight / den, policy.rule == 0u);
      var ak = w0 * kv;
      var av = w0 * vv;
      loop {
        if (e == NONE) {
          break;
        }
        let ii = g * policy.n_evict + e;
        let u = wf(lay.o_sim + ii);
        let w = select(u * inv, exp(u) / den, policy.rule == 0u);
        let s2 = (g * lay.staging_slots + work[lay.o_ev + ii]) * D4 + d4;
        ak = ak + w * k_load(staging_k[s2]);
        av = av + w * v_load(staging_v[s2]);
        e = work[lay.o_next + ii];
      }
      if (policy.merge == 1u) {
        kv = ak;
      }
      vv = av;
    }
  }
  dest_k[cell * D4 + d4] = k_store(kv);
  dest_v[cell * D4 + d4] = v_store(vv);
  if (d == 0u) {
    pos[cell] = i32(j);
    score[cell] = group_score(g, j);
  }
}

// _attention: shared core of attention_prefill.wgsl and attention_decode.wgsl
// (split-K "flash decoding": partial softmax per slot chunk, then a combine).
// One `partial` workgroup serves the G query heads of one KV head, for one query
// token and one chunk of CHUNK slots: it walks the chunk in tiles of WG slots,
// one invocation per slot, with a numerically safe online softmax (running max
// m, running sum l, rescale α), and writes (acc, m, l) per head to the scratch.
// `combine` merges a row's chunks: M = max m_c, L = Σ l_c·e^(m_c−M),
// out = Σ acc_c·e^(m_c−M) / L, lse = M + log L. When one chunk covers the
// cache (n_chunks = 1), `direct_main` does both in one pass: out = acc / l,
// lse = m + log l (bit-identical: the single factor e^(m−M) is exactly 1).
// Chunks keep every invocation's loop count small: Mesa's lavapipe silently
// stops any invocation after 65,535 loop iterations in total.
// Needs module-scope bindings q, k_cache (array<KVec>), v_cache (array<VVec>: the
// keys' and the values' element formats, _kv_elem_*.wgsl, composed first by the
// host), out (array<vec4f>), lse,
// part_acc (array<vec4f>), part_ml, step, params (Params { n_head, n_slots,
// scale, n_chunks, kv_offset }) from the kernel file. Cache rows are read 4
// elements at a time (k_load, v_load) and every sum is f32, whatever the formats.
// Overrides: WG (tile = workgroup size, a multiple of 4; default 64, the host
// picks 8 on CPU adapters), G (query heads per KV head), HEAD_DIM (a multiple
// of 4), CHUNK (slots per partial workgroup, a multiple of WG). Workgroup memory: 4·(2·G·HEAD_DIM + G·WG + 3·G) bytes.
// Scratch: part_acc [T][n_head][n_chunks][HEAD_DIM], part_ml [T][n_head][n_chunks][2].

override WG: u32 = 64u;
override G: u32 = 1u;
override HEAD_DIM: u32 = 64u;
override CHUNK: u32 = 512u;

const NEG_BIG: f32 = -3.0e38;

struct Params { n_head: u32, n_slots: u32, scale: f32, n_chunks: u32, kv_offset: u32 }

// KVecs / VVecs (4 elements) per cache row.
override D4: u32 = HEAD_DIM / 4u;

var<workgroup> q_s: array<f32, G * HEAD_DIM>;
var<workgroup> acc: array<vec4f, G * HEAD_DIM / 4u>;
var<workgroup> s_tile: array<f32, G * WG>;
var<workgroup> m_s: array<f32, G>;
var<workgroup> l_s: array<f32, G>;
var<workgroup> alpha_s: array<f32, G>;

// scale · q_h · k for query head h (of the group) against the key row starting
// at KVec k_row.
fn score(h: u32, k_row: u32) -> f32 {
  var dot = 0.0;
  var qi = h * HEAD_DIM;
  for (var d = 0u; d < D4; d++) {
    let k = k_load(k_cache[k_row + d]);
    dot += q_s[qi] * k.x + q_s[qi + 1u] * k.y + q_s[qi + 2u] * k.z + q_s[qi + 3u] * k.w;
    qi += 4u;
  }
  return dot * params.scale;
}

// Loads the G query heads at q[q_base ..] into workgroup memory.
fn load_q(lid: u32, q_base: u32) {
  for (var i = lid; i < G * HEAD_DIM; i += WG) {
    q_s[i] = q[q_base + i];
  }
}

// Online softmax of the loaded queries over slots [start, end) of the KV head
// whose rows start at KVec / VVec kv_base. Leaves acc, m_s, l_s set.
fn attend(lid: u32, kv_base: u32, start: u32, end: u32) {
  for (var i = lid; i < G * D4; i += WG) {
    acc[i] = vec4f(0.0);
  }
  if (lid < G) {
    m_s[lid] = NEG_BIG;
    l_s[lid] = 0.0;
  }
  workgroupBarrier();
  for (var t0 = start; t0 < end; t0 += WG) {
    let slot = t0 + lid;
    let valid = slot < end;
    for (var h = 0u; h < G; h++) {
      var s = NEG_BIG;
      if (valid) {
        s = score(h, kv_base + slot * D4);
      }
      s_tile[h * WG + lid] = s;
    }
    workgroupBarrier();
    // New running max per head and the factor that rescales the old sums.
    if (lid < G) {
      let b = lid * WG;
      var mx = m_s[lid];
      for (var i = 0u; i < WG; i += 4u) {
        mx = max(max(mx, max(s_tile[b + i], s_tile[b + i + 1u])), max(s_tile[b + i + 2u], s_tile[b + i + 3u]));
      }
      alpha_s[lid] = exp(m_s[lid] - mx);
      m_s[lid] = mx;
    }
    workgroupBarrier();
    for (var h = 0u; h < G; h++) {
      s_tile[h * WG + lid] = select(0.0, exp(s_tile[h * WG + lid] - m_s[h]), valid);
    }
    workgroupBarrier();
    if (lid < G) {
      let b = lid * WG;
      var sum = 0.0;
      for (var i = 0u; i < WG; i += 4u) {
        sum += (s_tile[b + i] + s_tile[b + i + 1u]) + (s_tile[b + i + 2u] + s_tile[b + i + 3u]);
      }
      l_s[lid] = l_s[lid] * alpha_s[lid] + sum;
    }
    // Each invocation owns 4 output elements (one VVec column) of one head.
    let count = min(WG, end - t0);
    for (var o = lid; o < G * D4; o += WG) {
      let h = o / D4;
      let pb = h * WG;
      let vb = kv_base + t0 * D4 + o % D4;
      var a = acc[o] * alpha_s[h];
      var i = 0u;
      for (; i + 4u <= count; i += 4u) {
        a += s_tile[pb + i] * v_load(v_cache[vb + i * D4]) +
          s_tile[pb + i + 1u] * v_load(v_cache[vb + (i + 1u) * D4]) +
          s_tile[pb + i + 2u] * v_load(v_cache[vb + (i + 2u) * D4]) +
          s_tile[pb + i + 3u] * v_load(v_cache[vb + (i + 3u) * D4]);
      }
      for (; i < count; i++) {
        a += s_tile[pb + i] * v_load(v_cache[vb + i * D4]);
      }
      acc[o] = a;
    }
    workgroupBarrier();
  }
}

// Partial attention of (KV head kvh, token row t, chunk c) over valid slots [0, n_valid).
fn partial_main(kvh: u32, t: u32, c: u32, lid: u32, n_valid: u32) {
  let start = c * CHUNK;
  if (start >= n_valid) {
    return;
  }
  let head0 = t * params.n_head + kvh * G;
  load_q(lid, head0 * HEAD_DIM);
  attend(lid, kvh * params.n_slots * D4, start, min(start + CHUNK, n_valid));
  for (var o = lid; o < G * D4; o += WG) {
    let row = (head0 + o / D4) * params.n_chunks + c;
    part_acc[row * D4 + o % D4] = acc[o];
  }
  if (lid < G) {
    let row = (head0 + lid) * params.n_chunks + c;
    part_ml[2u * row] = m_s[lid];
    part_ml[2u * row + 1u] = l_s[lid];
  }
}

// partial_main and combine_main in one pass when one chunk covers every valid
// slot (n_chunks = 1): out = acc / l, lse = m + log l, what combine computes
// from a single chunk (its factor e^(m−M) is exactly 1).
fn direct_main(kvh: u32, t: u32, lid: u32, n_valid: u32) {
  if (n_valid == 0u) {
    return;
  }
  let head0 = t * params.n_head + kvh * G;
  load_q(lid, head0 * HEAD_DIM);
  attend(lid, kvh * params.n_slots * D4, 0u, n_valid);
  for (var o = lid; o < G * D4; o += WG) {
    out[head0 * D4 + o] = acc[o] / l_s[o / D4];
  }
  if (lid < G) {
    lse[head0 + lid] = m_s[lid] + log(l_s[lid]);
  }
}

// Merges the chunks of (query head h, token row t) into out and lse.
fn combine_main(h: u32, t: u32, lid: u32, n_valid: u32) {
  let n_used = (n_valid + CHUNK - 1u) / CHUNK;
  let base = (t * params.n_head + h) * params.n_chunks;
  var mx = NEG_BIG;
  for (var c = 0u; c < n_used; c++) {
    mx = max(mx, part_ml[2u * (base + c)]);
  }
  var sum = 0.0;
  for (var c = 0u; c < n_used; c++) {
    sum += part_ml[2u * (base + c) + 1u] * exp(part_ml[2u * (base + c)] - mx);
  }
  for (var d = lid; d < D4; d += WG) {
    var o = vec4f(0.0);
    for (var c = 0u; c < n_used; c++) {
      o += part_acc[(base + c) * D4 + d] * exp(part_ml[2u * (base + c)] - mx);
    }
    out[(t * params.n_head + h) * D4 + d] = o / sum;
  }
  if (lid == 0u) {
    lse[t * params.n_head + h] = mx + log(sum);
  }
}

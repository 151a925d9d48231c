// attention_prefill_broadcast: the prompt's causal attention for a CPU adapter
// (lavapipe); the same function and outputs as attention_prefill.wgsl:
//   token t (position step.pos + t) attends to slots 0 .. step.pos + t (slot = position);
//   s_j = q·k_j / sqrt(head_dim);  out = Σ_j softmax(s)_j · v_j;  lse = max_j s_j + log Σ_j exp(s_j − max)
//   Query head h reads KV head ⌊h / G⌋.
// Why: llvmpipe runs an invocation as one lane of an 8-wide vector and every
// load inside a loop lane by lane (a value all lanes need costs 8 loads), so
// what counts is multiply-adds per load. Here the workgroup is 8 invocations
// (one SIMD vector) of one query head; each owns RB query rows (rows t0 + lane
// + 8i, i < RB) whose scaled queries and running outputs stay in private
// arrays indexed by constants only. The keys go in blocks of 8: each lane
// stages one key row and one value row in workgroup memory (converted to f32
// once), and every row of every lane reads them back at constant offsets, so
// each key or value vector read serves RB rows. Per block and row: the 8
// scores, one online-softmax step (running max m, sum l, rescale α folded into
// the value pass), then each accumulator vector read and written once for the
// 8 weighted values.
// Split-K over chunks of CHUNK slots with the core's scratch layout
// (_attention.wgsl): `partial` writes (acc, m, l) per (row, head, chunk) and
// the core's `combine` (attention_prefill.wgsl's entry point) merges them;
// `direct` writes out and lse when one chunk covers the cache.
// Concatenated after the keys' and values' element formats (_kv_elem_*.wgsl as
// KVec/k_load and VVec/v_load) and STEP_WGSL by the host; lines marked
// `// @each i` are written out once per row block i < RB ({i}, {RB}: repeatLines
// in src/gpu/ops/matmul.ts; attention.ts takes RB = 4: each row costs registers
// that llvmpipe spills, and compile time grows fast with RB).
// Grid: x = n_head, y = ceil(rows / (8·RB)), z = n_chunks (partial) or 1 (direct).
// Bindings (group 0; the same as attention_prefill.wgsl's):
//   0 q:        storage, read        array<vec4f> T × n_head × HEAD_DIM (rotated)
//   1 k_cache:  storage, read        array<KVec>  n_head_kv × n_slots × HEAD_DIM (rotated)
//   2 v_cache:  storage, read        array<VVec>  n_head_kv × n_slots × HEAD_DIM
//   3 out:      storage, read_write  array<vec4f> T × n_head × HEAD_DIM   (direct)
//   4 lse:      storage, read_write  array<f32>   T × n_head              (direct)
//   5 part_acc: storage, read_write  array<vec4f> T × n_head × n_chunks × HEAD_DIM (partial)
//   6 part_ml:  storage, read_write  array<f32>   T × n_head × n_chunks × 2        (partial)
//   7 step:     uniform Step (pos, n_tokens used)
//   8 params:   uniform Params { n_head, n_slots, scale, n_chunks, kv_offset }
// Overrides: G (query heads per KV head), HEAD_DIM (a multiple of 4, at most
// 4·MAX_D4 = 128), CHUNK (slots per partial workgroup, a multiple of 8).
// Workgroup memory: 2 · 8 · MAX_D4 vec4 = 8 KiB.
// Loop iterations per invocation (lavapipe stops at 65,535) if none of the
// loops over a row were unrolled: 3·RB·HEAD_DIM/4 + CHUNK/8 · (10·HEAD_DIM/4 + 1);
// the host sizes CHUNK to keep that under its budget.
// Tolerance vs the f64 twin: as attention_prefill.wgsl's (f32 sums; NMSE ≲ 1e-12).

override G: u32 = 1u;
override HEAD_DIM: u32 = 64u;
override CHUNK: u32 = 1024u;

const MAX_D4: u32 = 32u;
const NEG_BIG: f32 = -3.0e38;

struct Params { n_head: u32, n_slots: u32, scale: f32, n_chunks: u32, kv_offset: u32 }

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k_cache: array<KVec>;
@group(0) @binding(2) var<storage, read> v_cache: array<VVec>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> part_acc: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> part_ml: array<f32>;
@group(0) @binding(7) var<uniform> step: Step;
@group(0) @binding(8) var<uniform> params: Params;

override D4: u32 = HEAD_DIM / 4u;

const RB: u32 = {RB}u;
// Rows per workgroup: lane l owns rows t0 + l + 8i, i < RB.
const WG_ROWS: u32 = 8u * RB;

// This invocation's query rows (scaled by 1/sqrt(head_dim)), running outputs,
// maxima and sums; indexed by constants only (the row blocks are written out).
var<private> q_r: array<array<vec4f, MAX_D4>, RB>;
var<private> acc: array<array<vec4f, MAX_D4>, RB>;
var<private> m_r: array<f32, RB>;
var<private> l_r: array<f32, RB>;
var<private> end_r: array<u32, RB>;
// This block's probabilities per row, 8 keys in two vec4.
var<private> p_lo: array<vec4f, RB>;
var<private> p_hi: array<vec4f, RB>;
var<private> alpha_r: array<f32, RB>;
// This block's scores per row and key.
var<private> sc: array<array<f32, 8>, RB>;

// The block's 8 key and value rows, staged by the workgroup and read back at
// constant offsets.
var<workgroup> k_s: array<vec4f, 8u * MAX_D4>;
var<workgroup> v_s: array<vec4f, 8u * MAX_D4>;

// Scores of every row of this invocation against staged key `k`, into sc[row][k].
fn qk(k: u32) {
  var s{i} = 0.0; // @each i
  for (var d = 0u; d < D4; d++) {
    let kd = k_s[k * D4 + d];
    s{i} += dot(q_r[{i}][d], kd); // @each i
  }
  sc[{i}][k] = s{i}; // @each i
}

// Row i's block: running max, the factor that rescales its old sums, and the
// probabilities of keys j .. j + 7 (absent past the row's end).
fn softmax_row(i: u32, j: u32) {
  let lo = vec4f(sc[i][0], sc[i][1], sc[i][2], sc[i][3]);
  let hi = vec4f(sc[i][4], sc[i][5], sc[i][6], sc[i][7]);
  let valid_lo = vec4u(j, j + 1u, j + 2u, j + 3u) < vec4u(end_r[i]);
  let valid_hi = vec4u(j + 4u, j + 5u, j + 6u, j + 7u) < vec4u(end_r[i]);
  let s_lo = select(vec4f(NEG_BIG), lo, valid_lo);
  let s_hi = select(vec4f(NEG_BIG), hi, valid_hi);
  let m4 = max(s_lo, s_hi);
  let mx = max(m_r[i], max(max(m4.x, m4.y), max(m4.z, m4.w)));
  alpha_r[i] = exp(m_r[i] - mx);
  p_lo[i] = select(vec4f(0.0), exp(s_lo - mx), valid_lo);
  p_hi[i] = select(vec4f(0.0), exp(s_hi - mx), valid_hi);
  let sum = p_lo[i] + p_hi[i];
  l_r[i] = l_r[i] * alpha_r[i] + ((sum.x + sum.y) + (sum.z + sum.w));
  m_r[i] = mx;
}

// Every row's acc = acc · alpha + Σ_k p_k · v_k over the 8 staged values: each
// value vector is read once for all rows, each accumulator once per block.
fn add_values() {
  for (var d = 0u; d < D4; d++) {
    var a{i} = acc[{i}][d] * alpha_r[{i}]; // @each i
    let v0 = v_s[d];
    a{i} += p_lo[{i}].x * v0; // @each i
    let v1 = v_s[D4 + d];
    a{i} += p_lo[{i}].y * v1; // @each i
    let v2 = v_s[2u * D4 + d];
    a{i} += p_lo[{i}].z * v2; // @each i
    let v3 = v_s[3u * D4 + d];
    a{i} += p_lo[{i}].w * v3; // @each i
    let v4 = v_s[4u * D4 + d];
    a{i} += p_hi[{i}].x * v4; // @each i
    let v5 = v_s[5u * D4 + d];
    a{i} += p_hi[{i}].y * v5; // @each i
    let v6 = v_s[6u * D4 + d];
    a{i} += p_hi[{i}].z * v6; // @each i
    let v7 = v_s[7u * D4 + d];
    a{i} += p_hi[{i}].w * v7; // @each i
    acc[{i}][d] = a{i}; // @each i
  }
}

// Online softmax of this invocation's rows over slots [start, end) of the KV
// head whose rows start at vector kv_base; each row counts slots below its
// end_r only. Lane `lid` stages slot j + lid of each block of 8.
fn attend_rows(lid: u32, kv_base: u32, start: u32, end: u32) {
  for (var d = 0u; d < D4; d++) {
    acc[{i}][d] = vec4f(0.0); // @each i
  }
  m_r[{i}] = NEG_BIG; // @each i
  l_r[{i}] = 0.0; // @each i
  for (var j = start; j < end; j += 8u) {
    // Slots past the chunk stage its last row (in bounds) and weigh nothing.
    let src = kv_base + min(j + lid, end - 1u) * D4;
    for (var d = 0u; d < D4; d++) {
      k_s[lid * D4 + d] = k_load(k_cache[src + d]);
      v_s[lid * D4 + d] = v_load(v_cache[src + d]);
    }
    workgroupBarrier();
    qk(0u);
    qk(1u);
    qk(2u);
    qk(3u);
    qk(4u);
    qk(5u);
    qk(6u);
    qk(7u);
    softmax_row({i}u, j); // @each i
    add_values();
    workgroupBarrier();
  }
}

// Loads row t of head h into q_r[i], scaled.
fn load_row(i: u32, t: u32, h: u32) {
  let base = (t * params.n_head + h) * D4;
  for (var d = 0u; d < D4; d++) {
    q_r[i][d] = q[base + d] * params.scale;
  }
}

// Valid slots of token row t: its own position and everything before it.
fn row_slots(t: u32) -> u32 {
  return min(step.pos + t + 1u, params.n_slots);
}

// The workgroup's rows [t0, t0 + WG_ROWS) ∩ the step: the slots its last row sees.
fn group_slots(t0: u32) -> u32 {
  return row_slots(min(t0 + WG_ROWS, step.n_tokens) - 1u);
}

// Row i of lane lid (rows past the step repeat the step's last row).
fn lane_row(t0: u32, lid: u32, i: u32) -> u32 {
  return min(t0 + lid + 8u * i, step.n_tokens - 1u);
}

// Whether row i of lane lid is a row of the step.
fn lane_live(t0: u32, lid: u32, i: u32) -> bool {
  return t0 + lid + 8u * i < step.n_tokens;
}

@compute @workgroup_size(8)
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t0 = wid.y * WG_ROWS;
  let start = wid.z * CHUNK;
  if (t0 >= step.n_tokens || start >= group_slots(t0)) {
    return;
  }
  let h = wid.x;
  load_row({i}u, lane_row(t0, lid, {i}u), h); // @each i
  end_r[{i}] = row_slots(lane_row(t0, lid, {i}u)); // @each i
  attend_rows(lid, (h / G) * params.n_slots * D4, start, min(start + CHUNK, group_slots(t0)));
  write_partial({i}u, lane_row(t0, lid, {i}u), h, wid.z, lane_live(t0, lid, {i}u) && start < end_r[{i}]); // @each i
}

// Row i's partial (acc, m, l) of chunk c, when `live` (the combine reads only
// the chunks that hold some of the row's slots).
fn write_partial(i: u32, t: u32, h: u32, c: u32, live: bool) {
  if (!live) {
    return;
  }
  let row = (t * params.n_head + h) * params.n_chunks + c;
  for (var d = 0u; d < D4; d++) {
    part_acc[row * D4 + d] = acc[i][d];
  }
  part_ml[2u * row] = m_r[i];
  part_ml[2u * row + 1u] = l_r[i];
}

@compute @workgroup_size(8)
fn direct(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t0 = wid.y * WG_ROWS;
  if (t0 >= step.n_tokens) {
    return;
  }
  let h = wid.x;
  load_row({i}u, lane_row(t0, lid, {i}u), h); // @each i
  end_r[{i}] = row_slots(lane_row(t0, lid, {i}u)); // @each i
  attend_rows(lid, (h / G) * params.n_slots * D4, 0u, group_slots(t0));
  write_out({i}u, lane_row(t0, lid, {i}u), h, lane_live(t0, lid, {i}u)); // @each i
}

// Row i's normalised output and log-sum-exp, when `live`.
fn write_out(i: u32, t: u32, h: u32, live: bool) {
  if (!live) {
    return;
  }
  let row = t * params.n_head + h;
  let inv = 1.0 / l_r[i];
  for (var d = 0u; d < D4; d++) {
    out[row * D4 + d] = acc[i][d] * inv;
  }
  lse[row] = m_r[i] + log(l_r[i]);
}

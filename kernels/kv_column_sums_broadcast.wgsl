// kv_column_sums_broadcast: the column sums of kv_column_sums.wgsl for a CPU
// adapter (lavapipe): adds one prefill chunk's causal attention probabilities
// into per-key column sums,
//   out[h][j] += Σ_{t in [t0, t0 + Q_TILE) of the step, step.pos + t ≥ max(j, q_from)} exp(q_t,h · k_j · scale − lse[t][h])
// for keys j < step.pos + step.n_tokens (slot = position); query head h reads KV head ⌊h / G⌋.
// Why (Mesa lavapipe runs an invocation as one lane of an 8-wide vector and
// every load inside a loop lane by lane): each lane keeps KB keys in
// registers (keys j0 + lane + 8i, i < KB), and the 8 lanes stage 8 query rows
// at a time in workgroup memory (one row each) and read them back at constant
// offsets, so every query value loaded serves KB keys and no key is loaded
// twice. Each invocation owns its keys' sums (no atomics): deterministic.
// Concatenated after the keys' element format (_kv_elem_*.wgsl as KVec, k_load)
// and STEP_WGSL by the host; lines marked `// @each i` are written out once per
// key block i < KB ({i}, {RB} = KB; repeatLines in src/gpu/ops/matmul.ts).
// Bindings (group 0; the same as kv_column_sums.wgsl's):
//   0 q:      storage, read        array<vec4f>  T × n_head × HEAD_DIM (rotated)
//   1 k:      storage, read        array<KVec>   n_head_kv × n_slots × HEAD_DIM (rotated)
//   2 lse:    storage, read        array<f32>    T × n_head (attention_prefill's log-sum-exp)
//   3 out:    storage, read_write  array<f32>    n_head × n_slots (zeroed before the first chunk)
//   4 step:   uniform Step (pos, n_tokens used)
//   5 params: uniform Params { n_head, n_slots, scale, t0, q_from }
// Overrides: HEAD_DIM (a multiple of 4, at most 4·MAX_D4), G (query heads per KV head), Q_TILE.
// Workgroup: 8 invocations, 8·KB keys of one query head: x = ceil(n_slots / (8·KB)), y = n_head.
// Loop iterations per invocation: ⌈Q_TILE / 8⌉ blocks, each 8·(HEAD_DIM/4 + 1) + HEAD_DIM/4 + 2
// when the loops over a row are not unrolled (the host keeps it under lavapipe's 65,535).
// Tolerance vs the f64 twin: as kv_column_sums.wgsl's (f32 sums, NMSE ≲ 1e-12).

override HEAD_DIM: u32 = 64u;
override G: u32 = 1u;
override Q_TILE: u32 = 256u;

const MAX_D4: u32 = 32u;
const KB: u32 = {RB}u;

struct Params { n_head: u32, n_slots: u32, scale: f32, t0: u32, q_from: u32 }

@group(0) @binding(0) var<storage, read> q: array<vec4f>;
@group(0) @binding(1) var<storage, read> k: array<KVec>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> step: Step;
@group(0) @binding(5) var<uniform> params: Params;

override D4: u32 = HEAD_DIM / 4u;

// This invocation's keys (scaled by `scale`), their sums and their first counted row.
var<private> k_r: array<array<vec4f, MAX_D4>, KB>;
var<private> sum_r: array<f32, KB>;
var<private> first_r: array<u32, KB>;

// The block's 8 query rows and their log-sum-exp, staged by the workgroup.
var<workgroup> q_s: array<vec4f, 8u * MAX_D4>;
var<workgroup> lse_s: array<f32, 8u>;

// Adds row r of the staged block (step row t) to every key's sum.
fn add_row(r: u32, t: u32) {
  var s{i} = 0.0; // @each i
  for (var d = 0u; d < D4; d++) {
    let qd = q_s[r * D4 + d];
    s{i} += dot(k_r[{i}][d], qd); // @each i
  }
  let l = lse_s[r];
  sum_r[{i}] += select(0.0, exp(s{i} - l), t >= first_r[{i}]); // @each i
}

// Loads key j (clamped into the cache) of KV head g into k_r[i], scaled, and
// its first counted row: step rows t with step.pos + t ≥ max(j, q_from).
fn load_key(i: u32, g: u32, j: u32) {
  let base = (g * params.n_slots + min(j, params.n_slots - 1u)) * D4;
  for (var d = 0u; d < D4; d++) {
    k_r[i][d] = k_load(k[base + d]) * params.scale;
  }
  first_r[i] = max(max(j, params.q_from), step.pos) - step.pos;
  sum_r[i] = 0.0;
}

// Adds key j's sum to out[h][j] when j is a key of the step.
fn store_key(i: u32, h: u32, j: u32) {
  if (j < params.n_slots && j < step.pos + step.n_tokens) {
    out[h * params.n_slots + j] += sum_r[i];
  }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wid.y;
  let j0 = wid.x * 8u * KB;
  let end_row = min(step.n_tokens, params.t0 + Q_TILE);
  // The rows any key of this workgroup counts: from its first key's first row.
  let first = max(max(j0, params.q_from), step.pos) - step.pos;
  let start = max(params.t0, first);
  if (j0 >= params.n_slots || j0 >= step.pos + end_row || start >= end_row) {
    return;
  }
  load_key({i}u, h / G, j0 + lid + 8u * {i}u); // @each i
  for (var t = start; t < end_row; t += 8u) {
    // Lane lid stages row t + lid (rows past the tile repeat its last row and
    // count for nothing: their lse is +∞, so exp(s − lse) = 0).
    let row = min(t + lid, end_row - 1u);
    let src = (row * params.n_head + h) * D4;
    for (var d = 0u; d < D4; d++) {
      q_s[lid * D4 + d] = q[src + d];
    }
    lse_s[lid] = select(3.0e38, lse[row * params.n_head + h], t + lid < end_row);
    workgroupBarrier();
    add_row(0u, t);
    add_row(1u, t + 1u);
    add_row(2u, t + 2u);
    add_row(3u, t + 3u);
    add_row(4u, t + 4u);
    add_row(5u, t + 5u);
    add_row(6u, t + 6u);
    add_row(7u, t + 7u);
    workgroupBarrier();
  }
  store_key({i}u, h, j0 + lid + 8u * {i}u); // @each i
}

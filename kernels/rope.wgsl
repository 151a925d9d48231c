// rope: rotary position embedding of Q and K in place, llama "norm" style
// (adjacent pairs (x[2i], x[2i+1])) or NeoX/Qwen2 style (halves (x[i], x[i+half])).
//   θ = f32(step.pos + t) · inv_freq[i];  (x0, x1) ← (x0·cosθ − x1·sinθ, x0·sinθ + x1·cosθ)
//   Dimensions ≥ 2·half of each head stay untouched.
// The Step struct (src/gpu/step.ts, STEP_WGSL) is prepended by the host.
// Bindings (group 0):
//   0 q:        storage, read_write  array<f32>  T × n_head_q × head_dim
//   1 k:        storage, read_write  array<f32>  T × n_head_k × head_dim (must not alias q)
//   2 inv_freq: storage, read        array<f32>  half = rope_dim/2; freq_base^(-2i/rope_dim)
//               divided by the rope_freqs factor, rounded once to f32 on the host
//   3 step:     uniform Step (pos, n_tokens used)
//   4 params:   uniform Params { n_head_q, n_head_k, head_dim, half, neox (0/1) }
// Workgroup size 64; one invocation per (head, pair); x = ceil((n_head_q + n_head_k)·half / 64),
// y = the largest token count of a step (tokens t ≥ step.n_tokens return).
// Tolerance: θ is bit-identical to the CPU twin; cos/sin run on θ reduced to
// [-π, π] with a two-part 2π (Cody–Waite). Measured vs the twin: max abs ≤ 6e-7,
// NMSE ≤ 1e-14 up to position 32000.
// Loop bound per invocation: 0 (no loops), whatever the shape.

const TWO_PI_HI: f32 = 6.28125; // 201/32: k·TWO_PI_HI is exact for k < 2^16
const TWO_PI_LO: f32 = 0.0019353071795864769; // 2π − TWO_PI_HI
const INV_TWO_PI: f32 = 0.15915494309189535;

struct Params { n_head_q: u32, n_head_k: u32, head_dim: u32, half: u32, neox: u32 }

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(3) var<uniform> step: Step;
@group(0) @binding(4) var<uniform> params: Params;

// (cos θ, sin θ) after reducing θ to [-π, π].
fn cos_sin(theta: f32) -> vec2f {
  let k = round(theta * INV_TWO_PI);
  let r = (theta - k * TWO_PI_HI) - k * TWO_PI_LO;
  return vec2f(cos(r), sin(r));
}

// Element offsets of the pair rotated by pair index i, relative to the head start.
fn pair(i: u32) -> vec2u {
  if (params.neox != 0u) {
    return vec2u(i, i + params.half);
  }
  return vec2u(2u * i, 2u * i + 1u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.y;
  let heads = params.n_head_q + params.n_head_k;
  if (t >= step.n_tokens || gid.x >= heads * params.half) {
    return;
  }
  let head = gid.x / params.half;
  let i = gid.x % params.half;
  let cs = cos_sin(f32(step.pos + t) * inv_freq[i]);
  let p = pair(i);
  if (head < params.n_head_q) {
    let base = (t * params.n_head_q + head) * params.head_dim;
    let x0 = q[base + p.x];
    let x1 = q[base + p.y];
    q[base + p.x] = x0 * cs.x - x1 * cs.y;
    q[base + p.y] = x0 * cs.y + x1 * cs.x;
  } else {
    let base = (t * params.n_head_k + head - params.n_head_q) * params.head_dim;
    let x0 = k[base + p.x];
    let x1 = k[base + p.y];
    k[base + p.x] = x0 * cs.x - x1 * cs.y;
    k[base + p.y] = x0 * cs.y + x1 * cs.x;
  }
}

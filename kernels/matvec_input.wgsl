// matvec_input.wgsl — stages the input of matvec_rows.wgsl: rows of the
// activation x as the chosen reader sees them (plain, RMS-normed or
// silu(gate)·up), each followed (with sums) by the sums of its 16-element
// groups, into a buffer the mat-vec binds as a uniform. Workgroup w stages
// input row first_input + w, columns first_col .. first_col + cols:
//   out[o + i] = x̂[4i .. 4i+4)                          for i < cols/4
//   out[o + cols/4 + q][k] = Σ x̂[64q + 16k .. 64q + 16k + 16)   for q < cols/64
// with o = w · (cols/4 + sums · cols/64) (the sums serve the block offsets:
// Q4_K mins, Q5_0's −16, Q4_K/Q5_0 per 32; a batch adds them in the mat-vec).
// Concatenated before one reader, _x_<vec4|rms_norm|silu_mul>.wgsl (the x
// binding and x_prepare, x4), which needs this body's WG, `partial` and
// params (cols, eps). The fused readers stage one whole row (first_input 0,
// first_col 0, cols = row_cols).
//
// @group(0) @binding(1) x: read (declared by _x_*.wgsl) — the input rows, row_cols f32 each
// @group(0) @binding(2) out: array<vec4<f32>>, read_write — the staged rows
// @group(0) @binding(3) params: Params, uniform — cols (staged per row, a
//   multiple of 64), eps (the fused RMS norm's epsilon), first_input,
//   row_cols (x's row stride), first_col, sums (1: stage the sums)
// @group(0) @binding(4) — only with the fused readers (see matvec_blocks.wgsl)
//
// Override: WG (threads per workgroup, a power of two).
// Dispatch: one workgroup per staged row (x̂ is a few thousand values; the
//   fused RMS norm needs all of them). The sums add x̂ in the same order as
//   the twin's f64 sums would up to f32 rounding; they only feed the offsets'
//   products.
// Loop bound per invocation: ⌈cols/(4·WG)⌉ + 4·⌈cols/(64·WG)⌉, + ⌈cols/(4·WG)⌉
//   + log2(WG) with the fused RMS norm (matvec.ts checks it).

@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

struct Params {
  cols: u32,
  eps: f32,
  first_input: u32,
  row_cols: u32,
  first_col: u32,
  sums: u32,
}
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 8u;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) tid: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
) {
  x_prepare(tid);
  let n = params.cols / 4u;
  let start = (params.first_input + wid.x) * params.row_cols + params.first_col; // the row's first column
  let o = wid.x * (n + params.sums * params.cols / 64u); // where its staged values start
  for (var i = tid; i < n; i += WG) {
    out[o + i] = x4(start + 4u * i);
  }
  let one = vec4<f32>(1.0);
  for (var q = tid; q < params.sums * params.cols / 64u; q += WG) {
    var s = vec4<f32>(0.0);
    for (var k = 0u; k < 4u; k++) {
      let c = start + 64u * q + 4u * k;
      s += vec4<f32>(dot(x4(c), one), dot(x4(c + 16u), one), dot(x4(c + 32u), one), dot(x4(c + 48u), one));
    }
    out[o + n + q] = s;
  }
}

// matvec_blocks.wgsl — decode mat-vec straight from GGUF blocks:
//   y[first_row + r] (+)= Σ_c W[r, c] · x[c]   for r < rows (rows of this chunk)
// Concatenated after _quant_common.wgsl and one _quant_<type>.wgsl, which
// supply QK, QB and deq8(); the weights are never dequantized into memory.
//
// @group(0) @binding(0) wq: array<u32>, read — one row-range chunk of the
//   weight: `rows` rows of `row_bytes` bytes each, as stored in the file
// @group(0) @binding(1) x: array<f32>, read — the input vector, cols f32
// @group(0) @binding(2) y: array<f32>, read_write — the output vector; this
//   chunk writes y[first_row .. first_row + rows)
// @group(0) @binding(3) params: Params, uniform
//   rows: rows in this chunk; cols: elements per row (a multiple of QK; any
//   count for the float types, whose partial last group of 8 is masked);
//   row_bytes: bytes per row; first_row: index of the chunk's first row in y
//
// Overrides: WG (threads per workgroup, a power of two; the host picks 8 on
//   CPU drivers, where barriers are costly, and 64 on GPUs);
//   ACC (true: y += W·x, fusing the residual add; false: y = W·x).
// Workgroup: WG threads compute NR = 8 consecutive rows; thread t handles the
//   8-element groups t, t+WG, ... of those rows (one x load serves NR rows;
//   a partial last group, float types only, is done after the loop),
//   then a shared-memory tree reduction. Dispatch: ceil(rows / NR) workgroups,
//   folded into x·y when above 65535 (linear id = wid.y·nwg.x + wid.x).
// Tolerance: f32 accumulation in a different order than the CPU twin
//   (NMSE ≲ 1e-12 relative to the f64 reference on random data).

@group(0) @binding(0) var<storage, read> wq: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

struct Params {
  rows: u32,
  cols: u32,
  row_bytes: u32,
  first_row: u32,
}
@group(0) @binding(3) var<uniform> params: Params;

override WG: u32 = 64u;
override ACC: bool = false;
const NR: u32 = 8u;

var<workgroup> partial: array<f32, NR * WG>;

/** x[c .. c+4) (c + 4 <= cols). */
fn x4(c: u32) -> vec4<f32> {
  return vec4<f32>(x[c], x[c + 1u], x[c + 2u], x[c + 3u]);
}

/** Σ of the eight products of `w` and `v`. */
fn dot8(w: V8, v: V8) -> f32 {
  return dot(w.lo, v.lo) + dot(w.hi, v.hi);
}

/** x[c .. c+8) with elements at or past `cols` zeroed. */
fn x8_masked(c: u32) -> V8 {
  let k = vec4<u32>(0u, 1u, 2u, 3u);
  let last = vec4<u32>(params.cols - 1u);
  let i = min(vec4<u32>(c) + k, last);
  let j = min(vec4<u32>(c + 4u) + k, last);
  return mask8(
    V8(vec4<f32>(x[i.x], x[i.y], x[i.z], x[i.w]), vec4<f32>(x[j.x], x[j.y], x[j.z], x[j.w])),
    params.cols - c,
  );
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  let row0 = (wid.y * nwg.x + wid.x) * NR;
  let groups = params.cols / 8u;
  let per_block = QK / 8u;
  // Rows past the end re-read the last row; their sums are never stored.
  // Unrolled over the NR = 8 rows: dynamically indexed arrays spill on CPU drivers.
  let last = params.rows - 1u;
  let b0 = min(row0, last) * params.row_bytes;
  let b1 = min(row0 + 1u, last) * params.row_bytes;
  let b2 = min(row0 + 2u, last) * params.row_bytes;
  let b3 = min(row0 + 3u, last) * params.row_bytes;
  let b4 = min(row0 + 4u, last) * params.row_bytes;
  let b5 = min(row0 + 5u, last) * params.row_bytes;
  let b6 = min(row0 + 6u, last) * params.row_bytes;
  let b7 = min(row0 + 7u, last) * params.row_bytes;
  var acc_a = vec4<f32>(0.0);
  var acc_b = vec4<f32>(0.0);
  for (var g = tid; g < groups; g += WG) {
    let xs = V8(x4(8u * g), x4(8u * g + 4u));
    let offset = (g / per_block) * QB;
    let sub = g % per_block;
    acc_a += vec4<f32>(
      dot8(deq8(b0 + offset, sub), xs),
      dot8(deq8(b1 + offset, sub), xs),
      dot8(deq8(b2 + offset, sub), xs),
      dot8(deq8(b3 + offset, sub), xs),
    );
    acc_b += vec4<f32>(
      dot8(deq8(b4 + offset, sub), xs),
      dot8(deq8(b5 + offset, sub), xs),
      dot8(deq8(b6 + offset, sub), xs),
      dot8(deq8(b7 + offset, sub), xs),
    );
  }
  // The partial last group of a float-type row (cols % 8 = n ≠ 0), on the
  // thread next in turn; x and W past cols are cut to zero.
  let n = params.cols % 8u;
  if (n != 0u && tid == groups % WG) {
    let xs = x8_masked(8u * groups);
    let offset = (groups / per_block) * QB;
    let sub = groups % per_block;
    acc_a += vec4<f32>(
      dot8(mask8(deq8(b0 + offset, sub), n), xs),
      dot8(mask8(deq8(b1 + offset, sub), n), xs),
      dot8(mask8(deq8(b2 + offset, sub), n), xs),
      dot8(mask8(deq8(b3 + offset, sub), n), xs),
    );
    acc_b += vec4<f32>(
      dot8(mask8(deq8(b4 + offset, sub), n), xs),
      dot8(mask8(deq8(b5 + offset, sub), n), xs),
      dot8(mask8(deq8(b6 + offset, sub), n), xs),
      dot8(mask8(deq8(b7 + offset, sub), n), xs),
    );
  }
  partial[tid] = acc_a.x;
  partial[WG + tid] = acc_a.y;
  partial[2u * WG + tid] = acc_a.z;
  partial[3u * WG + tid] = acc_a.w;
  partial[4u * WG + tid] = acc_b.x;
  partial[5u * WG + tid] = acc_b.y;
  partial[6u * WG + tid] = acc_b.z;
  partial[7u * WG + tid] = acc_b.w;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (tid < stride) {
      for (var r = 0u; r < NR; r++) {
        partial[r * WG + tid] += partial[r * WG + tid + stride];
      }
    }
    workgroupBarrier();
  }
  if (tid < NR && row0 + tid < params.rows) {
    let i = params.first_row + row0 + tid;
    let sum = partial[tid * WG];
    y[i] = select(sum, y[i] + sum, ACC);
  }
}

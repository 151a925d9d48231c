// _matvec_rows_unit_x.wgsl — the columns of a matvec_rows.wgsl unit, for
// every type: UNIT = 32·{RB} (matvec.ts: 128 for Q8_0 and Q5_0, 256 for Q4_K
// and Q6_K) and the unit's x̂ as one X32 (with its sum) per 32 values, x.x0,
// x.x1, … in the type's unit_dot (_matvec_rows_<type>.wgsl).
//
// Needs X32 (_quant_common.wgsl) and x32_at (matvec_rows.wgsl). Placeholders
// (matvec.ts): lines marked `// @each i` are written out for i < {RB}, the
// unit's 32-value groups (repeatLines).

const UNIT: u32 = 32u * {RB}u;

/** The unit's x̂, one X32 (with its sum) per 32 values. */
struct UnitX {
  x{i}: X32, // @each i
}

/** x̂ of the unit at column c (a multiple of UNIT) of the staged input at vec4 `base`. */
fn unit_x(base: u32, c: u32) -> UnitX {
  return UnitX(
    x32_at(base, c + 32u * {i}u), // @each i
  );
}

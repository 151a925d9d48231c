// _matvec_rows_unit_words.wgsl — the weight words of a matvec_rows.wgsl unit
// that need not start 16-byte aligned (Q8_0 and Q5_0: 8-byte aligned, Q6_K:
// 2-byte): the {RB} + 1 vec4 from the one holding the unit's first byte, each
// realigned with the next into unit words 4k .. 4k+3 (the last with itself:
// the words it holds), for the type's unit_dot (_matvec_rows_<type>.wgsl).
//
// Needs wq (matvec_rows.wgsl), and pick4 and funnel (_quant_common.wgsl) for
// BYTES. Placeholders (matvec.ts): lines marked `// @each i` are written out
// for i < {RB}, one fewer than the loads (repeatLines); one of the sections
// HALVES (units 8-byte aligned: words 0.. or 2.. of the loads) and BYTES (any
// even byte: pick4 for the word offset, funnel for the two-byte one) is kept.

/** The unit's words: w<k> holds words 4k .. 4k+3. */
struct UnitWords {
  w{i}: vec4<u32>, // @each i
  w{RB}: vec4<u32>,
}

// @if HALVES
/** Words 4k .. 4k+3 of the unit at byte `at`, from its loaded vec4 k (a) and k + 1 (b). */
fn unit_realign(a: vec4<u32>, b: vec4<u32>, at: u32) -> vec4<u32> {
  return select(a, vec4<u32>(a.zw, b.xy), (at & 8u) != 0u);
}
// @end HALVES
// @if BYTES
/** Words 4k .. 4k+3 of the unit at byte `at`, from its loaded vec4 k (a) and k + 1 (b). */
fn unit_realign(a: vec4<u32>, b: vec4<u32>, at: u32) -> vec4<u32> {
  let k = (at >> 2u) & 3u;
  return funnel(pick4(a, b, k), pick4(a, b, k + 1u), at);
}
// @end BYTES

/** The words of the unit at byte `at` of one row. */
fn unit_words(at: u32) -> UnitWords {
  let v = at >> 4u;
  let q{i} = wq[v + {i}u]; // @each i
  let q{RB} = wq[v + {RB}u];
  return UnitWords(
    unit_realign(q{i}, q{i+1}, at), // @each i
    unit_realign(q{RB}, q{RB}, at),
  );
}

import assert from "node:assert/strict";
import { packKScales, unpackKScaleMin } from "../../../src/gguf/quant/k_scales.ts";
import { makeRng } from "../../../src/reference/prng.ts";

Deno.test("packKScales() lays out scales and mins 4..7 across the top bits of bytes 0..7", () => {
  const out = new Uint8Array(12);
  packKScales([1, 2, 3, 4, 17, 33, 50, 63], [0, 1, 2, 3, 20, 40, 5, 63], out, 0);
  // bytes 0..3: sc[i] | (sc[i+4] >> 4) << 6; bytes 4..7: mn[i] | (mn[i+4] >> 4) << 6;
  // bytes 8..11: (sc[i+4] & 15) | (mn[i+4] & 15) << 4
  // deno-fmt-ignore
  const expected = [
    1 | (1 << 6), 2 | (2 << 6), 3 | (3 << 6), 4 | (3 << 6),
    0 | (1 << 6), 1 | (2 << 6), 2 | (0 << 6), 3 | (3 << 6),
    1 | (4 << 4), 1 | (8 << 4), 2 | (5 << 4), 15 | (15 << 4),
  ];
  assert.deepEqual([...out], expected);
});

Deno.test("unpackKScaleMin() inverts packKScales() on random 6-bit values", () => {
  const rng = makeRng(5);
  const buf = new Uint8Array(20);
  for (let trial = 0; trial < 500; trial++) {
    const sc = Array.from({ length: 8 }, () => Math.floor(rng() * 64));
    const mn = Array.from({ length: 8 }, () => Math.floor(rng() * 64));
    packKScales(sc, mn, buf, 3);
    for (let i = 0; i < 8; i++) assert.deepEqual(unpackKScaleMin(buf, 3, i), [sc[i], mn[i]]);
  }
});

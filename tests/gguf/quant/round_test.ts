import assert from "node:assert/strict";
import { roundHalfUp } from "../../../src/gguf/quant/round.ts";
import { makeRng } from "../../../src/reference/prng.ts";

Deno.test("roundHalfUp() equals Math.round on ties, near-ties and random values", () => {
  const rng = makeRng(5);
  const cases = [0.49999999999999994, -0.49999999999999994, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5];
  cases.push(2 ** 52 + 1, -(2 ** 52) - 1, 2 ** 53 - 1, 4503599627370495.5, -4503599627370495.5);
  for (let i = 0; i < 100000; i++) {
    const scale = 10 ** (8 * rng() - 4);
    const tie = Math.floor(rng() * 1000) - 500 + 0.5;
    const ulp = 2 ** (Math.floor(Math.log2(Math.abs(tie))) - 52);
    cases.push((rng() - 0.5) * scale, tie, tie - ulp, tie + ulp);
  }
  for (const y of cases) {
    const want = Math.round(y);
    const got = roundHalfUp(y);
    assert.ok(got === want, `roundHalfUp(${y}) = ${got}, Math.round gives ${want}`);
  }
});

/**
 * The seeded generator the CPU twins' tests and the fixtures draw their data
 * from; it lives in `src/sample/prng.ts` because a benchmark op in the
 * product uses it too.
 *
 * @module
 */

export { makeRng, randn } from "../sample/prng.ts";

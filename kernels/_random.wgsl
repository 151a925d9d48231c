// _random: counter-based random numbers for sampling, bit-identical to
// src/sample/random.ts. pcg_hash is PCG-RXS-M-XS (Jarzynski & Olano 2020);
// random_unit(seed, counter) = (pcg_hash(seed ^ pcg_hash(counter)) >> 8) / 2^24,
// a uniform f32 in [0, 1) with 24 random bits (exact).

fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn random_unit(seed: u32, counter: u32) -> f32 {
  return f32(pcg_hash(seed ^ pcg_hash(counter)) >> 8u) * (1.0 / 16777216.0);
}

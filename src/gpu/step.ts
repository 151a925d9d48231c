/**
 * The per-step uniform every token-dependent kernel reads: written once per
 * forward step with `queue.writeBuffer`, so no op creates anything per token.
 *
 * @module
 */

/** WGSL declaration of the step uniform, prepended to kernels that bind it. */
export const STEP_WGSL = `// Step: written once per forward step.
// pos = position of the first token of this step; n_tokens = tokens in this step
// (1 for decode, T for a prefill chunk); n_kv = valid cached tokens after this
// step's K/V are written; seed = sampling seed (the sampler mixes in its own counter).
struct Step { pos: u32, n_tokens: u32, n_kv: u32, seed: u32 }
`;

/** Size of the step uniform in bytes. */
export const STEP_BYTES = 16;

/** Values of one forward step. */
export interface StepValues {
  /** Position of the first token of this step. */
  readonly pos: number;
  /** Tokens in this step (1 for decode, T for a prefill chunk). */
  readonly nTokens: number;
  /** Valid cached tokens after this step's K/V are written. */
  readonly nKv: number;
  /** Sampling seed (u32). */
  readonly seed: number;
}

/**
 * Creates the step uniform buffer (zeroed).
 *
 * @param device owning device
 * @param label GPU label
 * @returns a 16-byte uniform buffer (also copyable, for inspection) that `writeStep` fills
 */
export function createStepBuffer(device: GPUDevice, label = "step"): GPUBuffer {
  return device.createBuffer({
    label,
    size: STEP_BYTES,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
}

/**
 * Writes one step's values into the step uniform (queued before the step's submit).
 *
 * @param device owning device
 * @param buffer the step uniform from {@linkcode createStepBuffer}
 * @param values this step's position, token count, cache fill and seed
 * @throws {RangeError} when a value is not a u32 or the step has no tokens
 */
export function writeStep(device: GPUDevice, buffer: GPUBuffer, values: StepValues): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new RangeError(`Cannot write step: ${name} must be a u32, got ${v}`);
    }
  }
  if (values.nTokens < 1) {
    throw new RangeError(`Cannot write step: nTokens must be at least 1, got ${values.nTokens}`);
  }
  device.queue.writeBuffer(
    buffer,
    0,
    new Uint32Array([values.pos, values.nTokens, values.nKv, values.seed]),
  );
}

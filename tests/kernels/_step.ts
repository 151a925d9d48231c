/**
 * A step uniform for kernel tests.
 *
 * @module
 */

import { createStepBuffer, type StepValues, writeStep } from "../../src/gpu/step.ts";

/** Creates a step uniform holding `values`. */
export function stepBuffer(device: GPUDevice, values: StepValues): GPUBuffer {
  const buffer = createStepBuffer(device, "test.step");
  writeStep(device, buffer, values);
  return buffer;
}

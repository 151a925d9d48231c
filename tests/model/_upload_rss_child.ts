/**
 * Uploads the weights of the model `Deno.args[0]` names as a session does
 * (`uploadModelWeights` on the shared adapter), then prints one JSON line:
 * `before` (peak RSS with the model open and the device up, before the
 * upload), `peak` (peak RSS after it, both bytes, Linux VmHWM) and `weights`
 * (bytes uploaded). A process of its own, so the peak is the upload's alone.
 *
 * @module
 */

import { acquireGpu } from "../../src/gpu/device.ts";
import { peakRssBytes } from "../../src/gpu/host_memory.ts";
import { createRuntime } from "../../src/gpu/runtime.ts";
import { uploadModelWeights } from "../../src/model/gpu_weights.ts";
import { openModel } from "../../src/model/model_file.ts";

const model = await openModel(Deno.args[0]!);
const ctx = await acquireGpu();
const rt = createRuntime(ctx);
// Let the device finish starting up (its first submission) before the baseline is read.
rt.device.queue.submit([]);
await rt.device.queue.onSubmittedWorkDone();
const before = peakRssBytes();
const weights = await uploadModelWeights(rt, model);
rt.device.queue.submit([]);
await rt.device.queue.onSubmittedWorkDone();
console.log(JSON.stringify({ before, peak: peakRssBytes(), weights: weights.byteSize }));
weights.destroy();
model.close();
ctx.device.destroy();

/**
 * llama.cpp as the bench's peer, through the test-only node-llama-cpp corner
 * (tests/llama/_llama.ts; installed by `bash tests/llama/install.sh`, never
 * part of the product's import graph): pp and tg of the same file, on the
 * CPU build (2 threads) or the Vulkan build on the same adapter (lavapipe
 * with `GGML_VK_VISIBLE_DEVICES=0`).
 *
 * @module
 */

import {
  getLlama,
  llamaCppRelease,
  llamaInstalled,
  type LlamaModelLike,
} from "../../tests/llama/_llama.ts";

/** Which llama.cpp build a peer run uses. */
export type PeerBackend = "cpu" | "vulkan";

/** pp and tg tokens per second of one peer run. */
export interface PeerFigures {
  readonly pp: number;
  readonly tg: number;
}

/** What the bench uses of a context sequence beyond the shared helper's interface. */
interface BenchSequence {
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], options?: Record<string, unknown>): AsyncGenerator<number>;
}

/** Whether the peer can run here, and which llama.cpp it is. */
export function peerVersion(): string | undefined {
  return llamaInstalled() ? `${llamaCppRelease()} via node-llama-cpp 3.21.1` : undefined;
}

/** A loaded peer model per (backend, path), loaded once. */
const models = new Map<string, Promise<LlamaModelLike>>();

function peerModel(backend: PeerBackend, path: string): Promise<LlamaModelLike> {
  const key = `${backend}|${path}`;
  let model = models.get(key);
  if (!model) {
    // The Vulkan build on a machine without a GPU sees only lavapipe, as device 0.
    if (backend === "vulkan") Deno.env.set("GGML_VK_VISIBLE_DEVICES", "0");
    model = getLlama(backend === "vulkan" ? "vulkan" : false).then((llama) =>
      llama.loadModel({ modelPath: path, gpuLayers: backend === "vulkan" ? "max" : 0 })
    );
    models.set(key, model);
  }
  return model;
}

/**
 * One peer run: a fresh context, the prompt evaluated as one batch (pp), then
 * `tg` tokens generated greedily one at a time (tg).
 *
 * @param backend CPU or Vulkan build
 * @param path GGUF file
 * @param prompt prompt token ids (BOS first)
 * @param tg tokens to generate
 */
export async function runPeer(
  backend: PeerBackend,
  path: string,
  prompt: readonly number[],
  tg: number,
): Promise<PeerFigures> {
  const model = await peerModel(backend, path);
  const context = await model.createContext({
    contextSize: prompt.length + tg + 16,
    batchSize: prompt.length,
    threads: 2,
  });
  try {
    const sequence = context.getSequence() as unknown as BenchSequence;
    const t0 = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens([...prompt]);
    const t1 = performance.now();
    let n = 0;
    for await (const _ of sequence.evaluate([prompt[prompt.length - 1]!], { temperature: 0 })) {
      if (++n >= tg) break;
    }
    const t2 = performance.now();
    return { pp: prompt.length / ((t1 - t0) / 1000), tg: tg / ((t2 - t1) / 1000) };
  } finally {
    await context.dispose();
  }
}

/** Frees every loaded peer model. */
export async function closePeers(): Promise<void> {
  for (const model of models.values()) await model.then((m) => m.dispose(), () => {});
  models.clear();
}

/**
 * llama.cpp as an oracle and a peer, through `node-llama-cpp` (pinned in
 * `tests/llama/package.json`, installed into `tests/llama/node_modules` by
 * `tests/llama/install.sh`). Test and benchmark code only: nothing under
 * `src/` may import this module.
 *
 * The package is loaded with a dynamic import of a computed path, so type
 * checking and the product never need it installed; the few types used are
 * declared here.
 *
 * @module
 */

/** A token id as llama.cpp gives it. */
export type LlamaToken = number;

/** What the suite uses of a loaded llama.cpp model (`LlamaModel`). */
export interface LlamaModelLike {
  /** Tokens without BOS; `special` parses control tokens written in the text. */
  tokenize(text: string, special?: boolean): LlamaToken[];
  /** Whether generation ends at `token` (llama.cpp's end-of-generation set). */
  isEogToken(token: LlamaToken): boolean;
  /** The tokens llama.cpp names. */
  readonly tokens: {
    readonly bos: LlamaToken | null;
    readonly eos: LlamaToken | null;
  };
  /** Creates an evaluation context. */
  createContext(options: Record<string, unknown>): Promise<LlamaContextLike>;
  /** Frees the model. */
  dispose(): Promise<void>;
}

/** What the suite uses of a context (`LlamaContext`). */
export interface LlamaContextLike {
  /** One sequence to evaluate in. */
  getSequence(): LlamaSequenceLike;
  /** Frees the context. */
  dispose(): Promise<void>;
}

/** One result of `controlledEvaluate`. */
export interface LlamaEvaluateOutput {
  readonly next?: {
    readonly token?: LlamaToken;
    readonly probabilities?: Map<LlamaToken, number>;
  };
}

/** What the suite uses of a sequence (`LlamaContextSequence`). */
export interface LlamaSequenceLike {
  /** Evaluates tokens, optionally asking for the next-token distribution after each. */
  controlledEvaluate(
    input: (LlamaToken | [
      LlamaToken,
      { generateNext: { probabilities?: boolean; token?: boolean } },
    ])[],
  ): Promise<(LlamaEvaluateOutput | undefined)[]>;
}

/** What the suite uses of the runtime (`Llama`). */
export interface LlamaLike {
  /** Loads a GGUF file. */
  loadModel(options: Record<string, unknown>): Promise<LlamaModelLike>;
}

const HERE = new URL(".", import.meta.url);
const ENTRY = new URL("node_modules/node-llama-cpp/dist/index.js", HERE);

/** The llama.cpp release the pinned node-llama-cpp bundles (as it records it). */
export function llamaCppRelease(): string {
  const info = JSON.parse(
    Deno.readTextFileSync(
      new URL("node_modules/node-llama-cpp/llama/llama.cpp.info.json", HERE),
    ),
  );
  return `${info.llamaCppGithubRepo}@${info.tag}`;
}

/** Whether the package is installed (run `bash tests/llama/install.sh` otherwise). */
export function llamaInstalled(): boolean {
  try {
    Deno.statSync(ENTRY);
    return true;
  } catch {
    return false;
  }
}

const runtimes = new Map<string, Promise<LlamaLike>>();

/**
 * Environment for llama.cpp's Vulkan build to compute in f32 throughout, as
 * d2o does: no integer dot products (which quantize activations to 8 bits),
 * no f16 or cooperative-matrix shaders. The CPU build has no such switch: it
 * always quantizes activations for quantized weights (about 1e-2 of the logit
 * range on a Q4_K_M model), so logit comparisons use this mode. ggml reads
 * these once per process, when the Vulkan backend starts.
 */
export const VULKAN_F32_ENV: Readonly<Record<string, string>> = {
  GGML_VK_VISIBLE_DEVICES: "0",
  GGML_VK_DISABLE_INTEGER_DOT_PRODUCT: "1",
  GGML_VK_DISABLE_F16: "1",
  GGML_VK_DISABLE_COOPMAT: "1",
  GGML_VK_DISABLE_COOPMAT2: "1",
};

/**
 * The llama.cpp runtime, loaded once per process.
 *
 * @param gpu `false` for the CPU build (tokenization; speed), `"vulkan"` for the
 *   Vulkan build; on lavapipe it needs `GGML_VK_VISIBLE_DEVICES=0`, which is set
 *   when missing (set {@linkcode VULKAN_F32_ENV} first for f32 results)
 */
export function getLlama(gpu: false | "vulkan" = false): Promise<LlamaLike> {
  const key = String(gpu);
  if (gpu === "vulkan" && Deno.env.get("GGML_VK_VISIBLE_DEVICES") === undefined) {
    Deno.env.set("GGML_VK_VISIBLE_DEVICES", "0");
  }
  let runtime = runtimes.get(key);
  if (!runtime) {
    if (!llamaInstalled()) {
      throw new Error(
        "node-llama-cpp is not installed: run `bash tests/llama/install.sh`",
      );
    }
    runtime = import(ENTRY.href).then((m) =>
      m.getLlama({
        gpu,
        logLevel: "error",
        build: "never",
        progressLogs: false,
      })
    );
    runtimes.set(key, runtime);
  }
  return runtime;
}

/** Loads only the vocabulary of a GGUF file (no weights needed). */
export async function loadVocab(path: string): Promise<LlamaModelLike> {
  const llama = await getLlama();
  return await llama.loadModel({ modelPath: path, vocabOnly: true });
}

/** The element type of llama.cpp's KV cache (`-ctk`/`-ctv`), as node-llama-cpp names it. */
export type LlamaKvType = "F32" | "F16";

/**
 * Context options that make llama.cpp's logits comparable to ours: no flash
 * attention, and the KV cache in the element type d2o's runs with (`F32`, or
 * `F16` to compare with d2o's f16 cache), keys and values alike.
 *
 * @param kvType the KV cache's element type
 */
export function exactContext(kvType: LlamaKvType) {
  return {
    flashAttention: false,
    experimentalKvCacheKeyType: kvType,
    experimentalKvCacheValueType: kvType,
  } as const;
}

/**
 * Natural-log next-token probabilities after every position of `ids`, as
 * llama.cpp computes them (a `kvType` KV cache, no flash attention), each a
 * dense array over the vocabulary (`-Infinity` where llama.cpp's probability
 * is 0).
 */
export async function llamaLogProbs(
  model: LlamaModelLike,
  ids: readonly LlamaToken[],
  vocabSize: number,
  contextSize: number,
  kvType: LlamaKvType,
): Promise<Float64Array[]> {
  const context = await model.createContext({
    contextSize,
    batchSize: Math.max(ids.length, 1),
    threads: 2,
    ...exactContext(kvType),
  });
  try {
    const out = await context.getSequence().controlledEvaluate(
      ids.map((t) => [t, { generateNext: { probabilities: true } }]),
    );
    return out.map((result, i) => {
      const probabilities = result?.next?.probabilities;
      if (!probabilities) {
        throw new Error(`llama.cpp gave no probabilities at position ${i}`);
      }
      const row = new Float64Array(vocabSize).fill(-Infinity);
      for (const [token, p] of probabilities) row[token] = Math.log(p);
      return row;
    });
  } finally {
    await context.dispose();
  }
}

/**
 * llama.cpp's greedy choice after each of `tokens[from - 1..]`: the prompt and
 * a continuation evaluated in one batch (a `kvType` KV cache, no flash attention),
 * llama.cpp's own sampler at temperature 0 at every position from `from - 1`
 * on. A greedy continuation is llama.cpp's own exactly when these equal its tokens.
 */
export async function llamaArgmaxAfter(
  model: LlamaModelLike,
  tokens: readonly LlamaToken[],
  from: number,
  contextSize: number,
  kvType: LlamaKvType,
): Promise<LlamaToken[]> {
  const context = await model.createContext({
    contextSize,
    batchSize: tokens.length,
    threads: 2,
    ...exactContext(kvType),
  });
  try {
    const greedy = { generateNext: { token: true, options: { temperature: 0 } } };
    const out = await context.getSequence().controlledEvaluate(
      tokens.map((t, i) => i >= from - 1 ? [t, greedy] : t),
    );
    return out.slice(from - 1).map((result, i) => {
      const token = result?.next?.token;
      if (token === undefined) throw new Error(`llama.cpp sampled no token at ${from - 1 + i}`);
      return token;
    });
  } finally {
    await context.dispose();
  }
}

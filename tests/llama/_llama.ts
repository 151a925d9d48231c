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
 * The llama.cpp runtime, loaded once per process.
 *
 * @param gpu `false` for the CPU build (the differential suite's default),
 *   `"vulkan"` for the Vulkan build (on lavapipe it needs `GGML_VK_VISIBLE_DEVICES=0`)
 */
export function getLlama(gpu: false | "vulkan" = false): Promise<LlamaLike> {
  const key = String(gpu);
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

/** Context options that make llama.cpp's logits comparable to ours (f32 KV, no flash attention). */
export const EXACT_CONTEXT = {
  flashAttention: false,
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
} as const;

/**
 * Natural-log next-token probabilities after every position of `ids`, as
 * llama.cpp computes them (f32 KV cache, no flash attention), each a dense
 * array over the vocabulary (`-Infinity` where llama.cpp's probability is 0).
 */
export async function llamaLogProbs(
  model: LlamaModelLike,
  ids: readonly LlamaToken[],
  vocabSize: number,
  contextSize: number,
): Promise<Float64Array[]> {
  const context = await model.createContext({
    contextSize,
    batchSize: Math.max(ids.length, 1),
    threads: 2,
    ...EXACT_CONTEXT,
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

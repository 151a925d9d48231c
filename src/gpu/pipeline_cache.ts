/**
 * Compute pipelines created once and cached by a typed key. The key's label
 * names the kernel on every pipeline, so validation errors and profiles say
 * which kernel failed.
 *
 * @module
 */

/** What identifies one compiled pipeline. */
export interface KernelKey {
  /** Kernel name and variant, e.g. `"matvec_q4_k"`; used as the GPU label. */
  readonly label: string;
  /** Full WGSL source. */
  readonly code: string;
  /** Entry point; defaults to `"main"`. */
  readonly entryPoint?: string;
  /** Values for WGSL `override` constants. */
  readonly constants?: Readonly<Record<string, number>>;
}

/** Caches shader modules and compute pipelines for one device. */
export class PipelineCache {
  readonly #device: GPUDevice;
  /** Shader modules by source (a label may name several specialisations of one kernel). */
  readonly #modules = new Map<string, { module: GPUShaderModule; id: number }>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #compileMs = 0;

  /** @param device the device pipelines are created on */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /**
   * The pipeline for `key`, compiling it on first use.
   *
   * @param key kernel source, entry point and override constants
   * @returns a cached compute pipeline with an `auto` layout
   */
  get(key: KernelKey): GPUComputePipeline {
    const entryPoint = key.entryPoint ?? "main";
    const constants = key.constants ?? {};
    const started = performance.now();
    let source = this.#modules.get(key.code);
    if (!source) {
      const module = this.#device.createShaderModule({ label: key.label, code: key.code });
      source = { module, id: this.#modules.size };
      this.#modules.set(key.code, source);
    }
    const id = `${key.label}|${source.id}|${entryPoint}|${
      Object.entries(constants).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`)
        .join(",")
    }`;
    let pipeline = this.#pipelines.get(id);
    if (pipeline) return pipeline;
    pipeline = this.#device.createComputePipeline({
      label: key.label,
      layout: "auto",
      compute: { module: source.module, entryPoint, constants },
    });
    this.#pipelines.set(id, pipeline);
    this.#compileMs += performance.now() - started;
    return pipeline;
  }

  /** Milliseconds spent compiling shader modules and pipelines so far (reported apart from run times). */
  get compileMs(): number {
    return this.#compileMs;
  }

  /** Number of compiled pipelines (for tests that check nothing is created per token). */
  get size(): number {
    return this.#pipelines.size;
  }
}

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
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();

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
    const id = `${key.label}|${entryPoint}|${
      Object.entries(constants).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`)
        .join(",")
    }`;
    let pipeline = this.#pipelines.get(id);
    if (pipeline) return pipeline;
    let module = this.#modules.get(key.label);
    if (!module) {
      module = this.#device.createShaderModule({ label: key.label, code: key.code });
      this.#modules.set(key.label, module);
    }
    pipeline = this.#device.createComputePipeline({
      label: key.label,
      layout: "auto",
      compute: { module, entryPoint, constants },
    });
    this.#pipelines.set(id, pipeline);
    return pipeline;
  }

  /** Number of compiled pipelines (for tests that check nothing is created per token). */
  get size(): number {
    return this.#pipelines.size;
  }
}

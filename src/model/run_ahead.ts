/**
 * Steps that run ahead of their read-backs: up to `depth` steps are submitted
 * before the first result is awaited, each copying its result into the next
 * buffer of a ring of map-readable buffers, so the read-back latency is
 * hidden behind the next steps' GPU work. One helper for the token loop of
 * `generate` and the logits loop of teacher forcing (perplexity, profile).
 *
 * @module
 */

/** What one run-ahead loop submits and reads. */
export interface RunAheadSteps<T> {
  /** Map-readable buffers, used round-robin (at least `depth` of them). */
  readonly ring: readonly GPUBuffer[];
  /** Steps in flight at most. */
  readonly depth: number;
  /** Whether another step may be submitted now. */
  more(): boolean;
  /**
   * Submits the next step, whose result the GPU copies into `buffer`.
   *
   * @param buffer the ring buffer this step's result lands in
   */
  submit(buffer: GPUBuffer): void;
  /**
   * The value of a mapped result buffer.
   *
   * @param buffer the mapped buffer (unmapped after this returns)
   */
  read(buffer: GPUBuffer): T;
  /**
   * Turns a failed read-back into the error to throw.
   *
   * @param error the map failure
   */
  failed(error: unknown): never;
  /** Throws the device's own error, if one was reported. */
  checkHealth(): void;
}

/**
 * Yields each step's result in order as soon as it is read back, keeping up
 * to `depth` steps in flight. When the consumer stops early, the steps already
 * submitted still complete; their buffers are released.
 *
 * @param steps what to submit and read
 */
export async function* runAhead<T>(steps: RunAheadSteps<T>): AsyncGenerator<T> {
  const pending: { buffer: GPUBuffer; done: Promise<void> }[] = [];
  let next = 0;
  try {
    for (;;) {
      while (pending.length < steps.depth && steps.more()) {
        const buffer = steps.ring[next++ % steps.ring.length]!;
        steps.submit(buffer);
        pending.push({ buffer, done: buffer.mapAsync(GPUMapMode.READ) });
      }
      const head = pending.shift();
      if (!head) return;
      await head.done.catch((error) => steps.failed(error));
      steps.checkHealth();
      const value = steps.read(head.buffer);
      head.buffer.unmap();
      yield value;
    }
  } finally {
    // Steps already submitted still complete; release their read-back buffers.
    for (const p of pending) {
      await p.done.catch(() => {});
      if (p.buffer.mapState === "mapped") p.buffer.unmap();
    }
  }
}

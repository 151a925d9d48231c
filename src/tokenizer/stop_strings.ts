/**
 * Stop strings for streamed text: emits text as soon as it cannot be the
 * start of a stop string, and cuts the output where a stop string appears.
 *
 * @module
 */

/** Streams text through a set of stop strings. */
export class StopStringFilter {
  readonly #stops: readonly string[];
  #pending = "";
  #stopped = false;

  /** @param stops strings that end generation (empty strings are ignored) */
  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /** Whether a stop string has been seen. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Adds newly decoded text; returns what can be emitted now.
   *
   * @param text the next piece of decoded text
   * @returns text that is safe to print (never part of a stop string)
   */
  push(text: string): string {
    if (this.#stopped) return "";
    this.#pending += text;
    let cut = -1;
    for (const stop of this.#stops) {
      const at = this.#pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.#stopped = true;
      const out = this.#pending.slice(0, cut);
      this.#pending = "";
      return out;
    }
    // Hold back the longest tail that could still grow into a stop string.
    let hold = 0;
    for (const stop of this.#stops) {
      for (let n = Math.min(stop.length - 1, this.#pending.length); n > hold; n--) {
        if (this.#pending.endsWith(stop.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    const out = this.#pending.slice(0, this.#pending.length - hold);
    this.#pending = this.#pending.slice(this.#pending.length - hold);
    return out;
  }

  /** Returns what is still held back (at the end of generation). */
  flush(): string {
    const out = this.#stopped ? "" : this.#pending;
    this.#pending = "";
    return out;
  }
}

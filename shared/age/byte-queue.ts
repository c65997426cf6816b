/** A FIFO of byte chunks that hands out fixed-size pieces without copying when a piece lies in one chunk. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes queued. */
  length = 0;

  /** Queues `chunk` (kept by reference, not copied). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Removes and returns the first `n` bytes (n ≤ length). */
  take(n: number): Buffer {
    if (n > this.length) throw new RangeError(`take(${n}) with ${this.length} bytes queued`);
    this.length -= n;
    const first = this.chunks[this.head];
    if (n === 0) return Buffer.alloc(0);
    if (first.length >= n) {
      if (first.length === n) this.shift();
      else this.chunks[this.head] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head];
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.shift();
      else this.chunks[this.head] = c.subarray(k);
    }
    return out;
  }

  private shift(): void {
    this.head++;
    // Drop consumed slots now and then rather than on every shift (Array.shift is O(n)).
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

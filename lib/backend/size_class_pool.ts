/**
 * A size-class caching allocator: freed blocks are kept in buckets of rounded sizes and handed
 * to later requests of any size that rounds to the same class, so a training step whose
 * shapes change with every batch (crystals of 2–24 atoms) still reuses its memory.
 *
 * Classes are the powers of two split in four (2^k · {1, 1.25, 1.5, 1.75}): a request wastes
 * at most 25% of its block, and a batch a few percent larger than the last still finds a
 * block. This is the policy of PyTorch's CUDA caching allocator and tinygrad's `LRUAllocator`
 * (round up, cache by size, free the cache when it grows too large), in one small module that
 * any backend can use with its own block type (host ArrayBuffers, device pointers).
 *
 * The pool only does the bookkeeping: the backend creates and destroys blocks, and decides
 * whether a reused block needs zeroing (most ops overwrite their output).
 * @module
 */

/** Counters of a size-class pool (printed by the benches and `backendInfo()`). */
export interface PoolStats {
  /** Blocks handed out and not yet returned. */
  liveBlocks: number;
  /** Bytes of those blocks (rounded class sizes). */
  liveBytes: number;
  /** Blocks waiting in the cache. */
  cachedBlocks: number;
  /** Bytes waiting in the cache. */
  cachedBytes: number;
  /** Requests served by a new block. */
  freshAllocations: number;
  /** Requests served from the cache. */
  reusedAllocations: number;
  /** Blocks dropped because the cache was over its bound. */
  evictions: number;
}

/** Options of {@linkcode SizeClassPool}. */
export interface SizeClassPoolOptions {
  /** Requests below this many bytes are not rounded nor cached (default 1 KiB). */
  minBytes?: number;
  /**
   * The cache never holds more than `max(maxCachedBytes, peakLiveBytes + largest block)` bytes: enough for
   * one more step of the largest batch seen, never unbounded (default 64 MiB).
   */
  maxCachedBytes?: number;
}

/**
 * The class (block size in bytes) a request of `bytes` rounds up to: the next of
 * 2^k · {1, 1.25, 1.5, 1.75}. Requests below `minBytes` keep their size.
 */
export function sizeClass(bytes: number, minBytes = 1024): number {
  if (bytes < minBytes) return bytes;
  const k = Math.floor(Math.log2(bytes));
  const base = 2 ** k;
  if (bytes === base) return base;
  const quarter = base / 4;
  // k ≥ 2 here, so `quarter` is a whole number of bytes; round up to the next quarter step.
  return base + Math.ceil((bytes - base) / quarter) * quarter;
}

/**
 * How many classes above its own a request may take a cached block from: 4 quarter steps,
 * i.e. a block at most twice the class size (never more than 2× the memory asked for, and the
 * block is already resident, so no new memory is touched).
 */
export const LARGER_CLASSES = 4;

/**
 * The cache of freed blocks by size class. `B` is the block type (an ArrayBuffer on the CPU).
 * Not thread-safe (one backend, one thread).
 *
 * @example
 * ```ts
 * import { SizeClassPool } from "./size_class_pool.ts";
 * const pool = new SizeClassPool<ArrayBuffer>((n) => new ArrayBuffer(n), () => {}, (b) => b.byteLength);
 * const a = pool.acquire(5000); // a block of 5120 bytes
 * pool.release(a);
 * const b = pool.acquire(4500); // the same block, reused
 * console.log(a === b, pool.stats().reusedAllocations); // true 1
 * ```
 */
export class SizeClassPool<B> {
  readonly #create: (bytes: number) => B;
  readonly #destroy: (block: B) => void;
  readonly #sizeOf: (block: B) => number;
  readonly #minBytes: number;
  readonly #maxCached: number;
  /** Free blocks by class size; Map order is the order classes were first cached. */
  readonly #free = new Map<number, B[]>();
  #liveBlocks = 0;
  #liveBytes = 0;
  #peakLive = 0;
  /** The largest block handed out so far (the cache may exceed the peak by one such block). */
  #largest = 0;
  #cachedBlocks = 0;
  #cachedBytes = 0;
  #fresh = 0;
  #reused = 0;
  #evictions = 0;

  /**
   * @param create makes a block of exactly `bytes` bytes.
   * @param destroy releases a block the cache drops (a no-op for garbage-collected memory).
   * @param sizeOf the size in bytes of a block `create` made (kept by the block itself, so
   * the pool holds no reference to live blocks and a leaked one is still collected).
   */
  constructor(
    create: (bytes: number) => B,
    destroy: (block: B) => void,
    sizeOf: (block: B) => number,
    options: SizeClassPoolOptions = {},
  ) {
    this.#create = create;
    this.#destroy = destroy;
    this.#sizeOf = sizeOf;
    this.#minBytes = options.minBytes ?? 1024;
    this.#maxCached = options.maxCachedBytes ?? 64 * 1024 * 1024;
  }

  /**
   * A block of at least `bytes` bytes, reused when one is cached: of the request's class, or
   * else of one of the next {@linkcode LARGER_CLASSES} classes (at most 2× its size). Taking a
   * larger cached block matters for variable-size batches: a batch a little larger than the
   * last moves many of its arrays one class up, and without this every one of them would be a
   * fresh (zero-filled, page-faulting) block while the one-class-smaller blocks sit unused and
   * are then evicted — the churn PyTorch's caching allocator avoids by best-fit over larger
   * blocks.
   */
  acquire(bytes: number): B {
    const cls = sizeClass(bytes, this.#minBytes);
    let block: B | undefined;
    if (cls >= this.#minBytes) {
      for (let c = cls, i = 0; i <= LARGER_CLASSES && block === undefined; i++) {
        block = this.#free.get(c)?.pop();
        if (block === undefined) c = sizeClass(c + 1, this.#minBytes);
      }
    }
    let size = cls;
    if (block !== undefined) {
      size = this.#sizeOf(block);
      this.#cachedBlocks--;
      this.#cachedBytes -= size;
      this.#reused++;
    } else {
      block = this.#create(cls);
      this.#fresh++;
    }
    this.#liveBlocks++;
    this.#liveBytes += size;
    if (this.#liveBytes > this.#peakLive) this.#peakLive = this.#liveBytes;
    if (size > this.#largest) this.#largest = size;
    return block;
  }

  /** Returns a block: cached for reuse, or dropped when small or over the cache bound. */
  release(block: B): void {
    const cls = this.#sizeOf(block);
    this.#liveBlocks--;
    this.#liveBytes -= cls;
    // One block of the largest class above the peak: a step's set of distinct blocks can exceed
    // its peak live bytes (a block freed early and cached while a new one of another class is
    // live), and with the bound at the peak exactly, the step's largest array (CGCNN's
    // `[E, 2A]`, tens of MB) was dropped at the end of every step and made afresh in the next.
    const bound = Math.max(this.#maxCached, this.#peakLive + this.#largest);
    if (cls < this.#minBytes || this.#cachedBytes + cls > bound) {
      if (cls >= this.#minBytes) this.#evictions++;
      this.#destroy(block);
      return;
    }
    let list = this.#free.get(cls);
    if (!list) this.#free.set(cls, list = []);
    list.push(block);
    this.#cachedBlocks++;
    this.#cachedBytes += cls;
  }

  /** Drops every cached block (live blocks are untouched). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const block of list) {
        this.#destroy(block);
      }
    }
    this.#free.clear();
    this.#cachedBlocks = 0;
    this.#cachedBytes = 0;
  }

  /** The counters. */
  stats(): PoolStats {
    return {
      liveBlocks: this.#liveBlocks,
      liveBytes: this.#liveBytes,
      cachedBlocks: this.#cachedBlocks,
      cachedBytes: this.#cachedBytes,
      freshAllocations: this.#fresh,
      reusedAllocations: this.#reused,
      evictions: this.#evictions,
    };
  }
}

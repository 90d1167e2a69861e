/**
 * Caching device allocator: `cudaMalloc`/`cudaFree` synchronise the device and cost
 * microseconds to milliseconds, while a training step allocates the same sizes every step. So
 * freed blocks go to a free list per size bucket and are handed out again (stream-ordered reuse
 * is safe because the backend uses one stream). Learned from tinygrad's `LRUAllocator` and
 * PyTorch's caching allocator, much simplified:
 * - sizes round up to 512 B below 1 MiB and to 2 MiB at or above it, so near sizes share a bucket;
 * - when the device is out of memory, every cached block is released and the malloc retried once;
 * - stats: live and cached bytes, their peak, and malloc/free counts.
 * Written against {@linkcode DeviceMemory} so it can be tested without a GPU.
 * @module
 */

/** The raw device memory calls the allocator wraps (cudaMalloc/cudaFree in the backend). */
export interface DeviceMemory {
  /** Allocates `bytes`; returns the address, or null when the device is out of memory. */
  malloc(bytes: number): bigint | null;
  /** Releases an address returned by `malloc`. */
  free(ptr: bigint): void;
}

/** A block handed out by {@linkcode CachingAllocator.alloc}. */
export interface DeviceBlock {
  /** Device address. */
  readonly ptr: bigint;
  /** Bucket size in bytes (≥ the requested size). */
  readonly size: number;
}

/** Allocator counters. */
export interface AllocatorStats {
  /** Bytes in blocks handed out and not yet released (bucket sizes). */
  liveBytes: number;
  /** Blocks handed out and not yet released. */
  liveBlocks: number;
  /** Bytes held in free lists, ready for reuse. */
  cachedBytes: number;
  /** Highest `liveBytes` since creation or `resetPeak`. */
  peakLiveBytes: number;
  /** Highest `liveBytes + cachedBytes`: what the device really held. */
  peakReservedBytes: number;
  /** Calls to the device's `malloc` (successful or not). */
  deviceMallocs: number;
  /** Calls to the device's `free`. */
  deviceFrees: number;
  /** Times an OOM was answered by releasing the cache and retrying. */
  oomRetries: number;
}

/** Thrown when the device is out of memory even after the cache was released. */
export class DeviceOutOfMemoryError extends Error {
  /** Builds the message with the request and the allocator's state. */
  constructor(bytes: number, stats: AllocatorStats) {
    super(
      `CUDA out of memory: could not allocate ${bytes} bytes (live ${stats.liveBytes} B in ` +
        `${stats.liveBlocks} blocks after releasing the cache)`,
    );
    this.name = "DeviceOutOfMemoryError";
  }
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** Granularity of small blocks. */
export const SMALL_ROUND: number = 512;
/** Blocks of at least this many bytes are "large". */
export const LARGE_THRESHOLD: number = MiB;
/** Granularity of large blocks. */
export const LARGE_ROUND: number = 2 * MiB;

/** Bucket size for a request: 512 B multiples below 1 MiB, 2 MiB multiples from 1 MiB; ≥ 512. */
export function bucketSize(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`bad allocation size ${bytes}`);
  if (bytes < LARGE_THRESHOLD) {
    return Math.max(SMALL_ROUND, Math.ceil(bytes / SMALL_ROUND) * SMALL_ROUND);
  }
  return Math.ceil(bytes / LARGE_ROUND) * LARGE_ROUND;
}

/** The caching allocator over one {@linkcode DeviceMemory}. */
export class CachingAllocator {
  #device: DeviceMemory;
  #free = new Map<number, bigint[]>();
  #live = new Map<bigint, number>();
  #stats: AllocatorStats = {
    liveBytes: 0,
    liveBlocks: 0,
    cachedBytes: 0,
    peakLiveBytes: 0,
    peakReservedBytes: 0,
    deviceMallocs: 0,
    deviceFrees: 0,
    oomRetries: 0,
  };

  /** Wraps `device`; nothing is allocated until the first `alloc`. */
  constructor(device: DeviceMemory) {
    this.#device = device;
  }

  /** A block of at least `bytes` bytes: a cached one of the same bucket, else a fresh one. */
  alloc(bytes: number): DeviceBlock {
    const size = bucketSize(bytes);
    const s = this.#stats;
    let ptr: bigint | null = this.#free.get(size)?.pop() ?? null;
    if (ptr !== null) {
      s.cachedBytes -= size;
    } else {
      ptr = this.#deviceMalloc(size);
      if (ptr === null) {
        // Cached blocks of other sizes may be what stands in the way: release and retry once.
        s.oomRetries++;
        this.emptyCache();
        ptr = this.#deviceMalloc(size);
        if (ptr === null) throw new DeviceOutOfMemoryError(size, s);
      }
    }
    this.#live.set(ptr, size);
    s.liveBytes += size;
    s.liveBlocks++;
    s.peakLiveBytes = Math.max(s.peakLiveBytes, s.liveBytes);
    s.peakReservedBytes = Math.max(s.peakReservedBytes, s.liveBytes + s.cachedBytes);
    return { ptr, size };
  }

  /** Returns a block to its free list. Releasing an unknown or already released block throws. */
  release(block: DeviceBlock | bigint): void {
    const ptr = typeof block === "bigint" ? block : block.ptr;
    const size = this.#live.get(ptr);
    if (size === undefined) {
      throw new Error(`CachingAllocator: 0x${ptr.toString(16)} is not a live block`);
    }
    this.#live.delete(ptr);
    const list = this.#free.get(size);
    if (list) list.push(ptr);
    else this.#free.set(size, [ptr]);
    const s = this.#stats;
    s.liveBytes -= size;
    s.liveBlocks--;
    s.cachedBytes += size;
  }

  /** Frees every cached (not live) block on the device. */
  emptyCache(): void {
    for (const [size, list] of this.#free) {
      for (const ptr of list) {
        this.#device.free(ptr);
        this.#stats.deviceFrees++;
        this.#stats.cachedBytes -= size;
      }
    }
    this.#free.clear();
  }

  /** Frees everything, live blocks included (backend disposal). */
  releaseAll(): void {
    for (const ptr of [...this.#live.keys()]) this.release(ptr);
    this.emptyCache();
  }

  /** A copy of the counters. */
  stats(): AllocatorStats {
    return { ...this.#stats };
  }

  /** Restarts the peaks from the current values. */
  resetPeak(): void {
    const s = this.#stats;
    s.peakLiveBytes = s.liveBytes;
    s.peakReservedBytes = s.liveBytes + s.cachedBytes;
  }

  #deviceMalloc(size: number): bigint | null {
    this.#stats.deviceMallocs++;
    return this.#device.malloc(size);
  }
}

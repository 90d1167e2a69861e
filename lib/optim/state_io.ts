/**
 * Optimizer state ↔ safetensors file (the checkpoint's second file): buffers as F32
 * tensors, kind and scalars as JSON in the `__metadata__` entry `optimizer`. JSON keeps
 * float64 scalars exact (shortest round-trip formatting).
 * @module
 */

import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  type SafeTensor,
  writeSafetensors,
} from "../io/safetensors.ts";
import type { OptimizerState } from "./optimizer.ts";

function toTensors(state: OptimizerState): Record<string, SafeTensor> {
  const out: Record<string, SafeTensor> = {};
  for (const [k, data] of Object.entries(state.tensors)) {
    out[k] = { dtype: "F32", shape: [data.length], data };
  }
  return out;
}

function fromFile(
  file: { tensors: Record<string, SafeTensor>; metadata: Record<string, string> },
  source: string,
): OptimizerState {
  const meta = file.metadata.optimizer;
  if (meta === undefined) throw new Error(`${source}: not an optimizer state (no metadata)`);
  const { kind, scalars } = JSON.parse(meta) as Pick<OptimizerState, "kind" | "scalars">;
  const tensors: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(file.tensors)) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${source}: "${k}" is not F32`);
    tensors[k] = t.data;
  }
  return { kind, scalars, tensors };
}

function metadataOf(state: OptimizerState): Record<string, string> {
  return { optimizer: JSON.stringify({ kind: state.kind, scalars: state.scalars }) };
}

/** Writes an optimizer state to `path` atomically. */
export function saveOptimizerState(path: string, state: OptimizerState): Promise<void> {
  return writeSafetensors(path, toTensors(state), metadataOf(state));
}

/** Reads an optimizer state written by {@link saveOptimizerState}. */
export async function loadOptimizerState(path: string): Promise<OptimizerState> {
  return fromFile(await readSafetensors(path), path);
}

/** Encodes an optimizer state as safetensors bytes. */
export function encodeOptimizerState(state: OptimizerState): Uint8Array {
  return encodeSafetensors(toTensors(state), metadataOf(state));
}

/** Decodes bytes from {@link encodeOptimizerState}. */
export function decodeOptimizerState(bytes: Uint8Array, source = "<bytes>"): OptimizerState {
  return fromFile(decodeSafetensors(bytes, source), source);
}

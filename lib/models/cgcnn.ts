/**
 * The CGCNN network (Xie & Grossman 2018), faithful to the reference `model.py`, in the
 * fast node/edge split form: `Linear(concat(v_i, v_j, u_ij)) = W_a v_i + W_b v_j + W_u u_ij + b`
 * where W_a, W_b, W_u are column blocks of the one `fc_full` weight, so the maths (and the
 * state dict) is the reference's while the node parts are computed once per atom.
 *
 * FACGCNN uses the same network with 3 more node inputs (frame coordinates) and 3 more edge
 * inputs (frame relative vectors), built in `inputs.ts`; `model.ts` averages over frames.
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import type { Rng } from "../util/random.ts";
import { BatchNorm1d, Linear } from "../nn/layers.ts";
import { Module } from "../nn/module.ts";
import {
  add,
  concatCols,
  edgeCombine,
  gate,
  gateSum,
  gatherRows,
  hasFusedEdgeKernels,
  linear,
  segmentExpand,
  segmentMean,
  segmentSum,
  sliceCols,
  softplus,
  sub,
} from "../tensor/ops.ts";
import { type EdgeSource, edgeSourceFeatures } from "../tensor/edge_source.ts";
import { releaseUnrecorded } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { DeviceInputs } from "./inputs.ts";

/**
 * A network's atom input: `[N, F]` features per atom, or `{ table }`, the `[maxZ + 1, F]` atom
 * feature table whose rows `inputs.numbers` picks.
 */
export type AtomInput = Tensor | { table: Tensor };

/** Sizes of a CGCNN-style network. */
export interface NetworkShape {
  /** Node input length: 92 atom features (+ 3 frame coordinates for FACGCNN). */
  nodeInputs: number;
  /** Edge input length: 41 Gaussians (+ 3 frame vector components for FACGCNN). */
  edgeInputs: number;
  /** A: atom embedding length. */
  atomFeaLen: number;
  /** H: hidden length of the head. */
  hFeaLen: number;
  nConv: number;
  /** Hidden layers of the head (n_h ≥ 1). */
  nH: number;
  /** Outputs of `fc_out`: 1 (regression, default) or 2 (two-class scores). */
  outputs?: number;
}

/**
 * One CGCNN convolution: for edge (i, j) with features u_ij,
 * z = BN1(W [v_i ‖ v_j ‖ u_ij] + b); f, c = split(z); s_i = Σ_j σ(f) ⊙ softplus(c);
 * v_i ← softplus(v_i + BN2(s_i)).
 */
export class ConvLayer extends Module {
  readonly atomFeaLen: number;
  /** `fc_full`: `[2A, 2A + edgeInputs]`. */
  readonly fcFull: Linear;
  readonly bn1: BatchNorm1d;
  readonly bn2: BatchNorm1d;

  constructor(backend: Backend, atomFeaLen: number, edgeInputs: number, rng: Rng) {
    super(backend);
    this.atomFeaLen = atomFeaLen;
    this.fcFull = this.child(
      "fc_full",
      new Linear(backend, 2 * atomFeaLen + edgeInputs, 2 * atomFeaLen, rng),
    );
    this.bn1 = this.child("bn1", new BatchNorm1d(backend, 2 * atomFeaLen));
    this.bn2 = this.child("bn2", new BatchNorm1d(backend, atomFeaLen));
  }

  /**
   * @param v `[N, A]` atom features.
   * @param edges `[E, F]` edge features, or their distances (and frame vectors) as an
   * {@linkcode EdgeSource}: the fused path then forms the Gaussians inside the edge-term
   * products, and only the composed path stores the features.
   * `edgeOffsets` `[N + 1]` CSR by centre atom, `neighbors` `[E]`.
   * @returns `[N, A]` updated atom features.
   */
  forward(v: Tensor, edges: Tensor | EdgeSource, edgeOffsets: Tensor, neighbors: Tensor): Tensor {
    const A = this.atomFeaLen;
    const w = this.fcFull.weight;
    const self = linear(v, w, null, 0); // W_a v_i, [N, 2A]
    const other = linear(v, w, null, A); // W_b v_j, [N, 2A]
    if (hasFusedEdgeKernels(v.backend) && this.bn1.sync === null) {
      // Fused: z = W_u u_ij + b + W_a v_i + W_b v_j (one stored [E, 2A], BN1 statistics in the
      // same pass), then BN1 → gate → Σ_j without storing the normalised z or the messages.
      const bn1 = this.bn1, training = bn1.training;
      const { z, mean, variance } = edgeCombine(
        ...[self, other, edges, w, this.fcFull.bias!, 2 * A] as const,
        ...[edgeOffsets, neighbors, training] as const,
      );
      releaseUnrecorded(self, other);
      if (training) bn1.trackBatch(mean!, variance!, z.rows);
      const summed = gateSum(
        ...[z, bn1.weight, bn1.bias] as const,
        ...(training ? [mean!, variance!] as const : [bn1.runningMean, bn1.runningVar] as const),
        ...[bn1.eps, training, edgeOffsets] as const,
      );
      releaseUnrecorded(z);
      const normed = this.bn2.forward(summed);
      releaseUnrecorded(summed);
      const sum = add(v, normed);
      releaseUnrecorded(normed);
      const out = softplus(sum);
      releaseUnrecorded(sum);
      return out;
    }
    // Composed from the primitive ops (backends without the fused edge kernels, SyncBN).
    const x = "distances" in edges ? edgeSourceFeatures(edges) : edges; // [E, F]
    const edge = linear(x, w, this.fcFull.bias, 2 * A); // W_u u_ij + b, [E, 2A]
    const z = add(
      add(segmentExpand(self, edgeOffsets, x.rows), gatherRows(other, neighbors)),
      edge,
    );
    const messages = gate(this.bn1.forward(z)); // σ(f) ⊙ softplus(c), [E, A]
    const summed = segmentSum(messages, edgeOffsets); // [N, A]
    return softplus(add(v, this.bn2.forward(summed)));
  }
}

/**
 * The whole network: embedding → n_conv ConvLayers → mean pooling → softplus →
 * conv_to_fc → softplus → (n_h − 1) × [fc, softplus] → fc_out.
 */
export class CrystalGraphNetwork extends Module {
  readonly shape: NetworkShape;
  readonly embedding: Linear;
  readonly convs: ConvLayer[];
  readonly convToFc: Linear;
  readonly fcs: Linear[];
  readonly fcOut: Linear;

  constructor(backend: Backend, shape: NetworkShape, rng: Rng) {
    super(backend);
    this.shape = shape;
    const { nodeInputs, edgeInputs, atomFeaLen: A, hFeaLen: H } = shape;
    this.embedding = this.child("embedding", new Linear(backend, nodeInputs, A, rng));
    this.convs = [];
    for (let i = 0; i < shape.nConv; i++) {
      this.convs.push(this.child(`convs.${i}`, new ConvLayer(backend, A, edgeInputs, rng)));
    }
    this.convToFc = this.child("conv_to_fc", new Linear(backend, A, H, rng));
    this.fcs = [];
    for (let i = 0; i < shape.nH - 1; i++) {
      this.fcs.push(this.child(`fcs.${i}`, new Linear(backend, H, H, rng)));
    }
    this.fcOut = this.child("fc_out", new Linear(backend, H, shape.outputs ?? 1, rng));
  }

  /**
   * The atom embedding `[N, A]`: `embedding([x_i ‖ c_i])` of each atom's features x_i (and
   * FACGCNN's frame coordinates c_i). From `{ table }`, the atom feature table
   * `[maxZ + 1, F]`: an atom's features are its element's row, so the embedding of the table's
   * rows is formed once (`[maxZ + 1, A]`, ~100 rows) and gathered by `inputs.numbers`, with the
   * coordinates' 3 columns added per atom — the same sums as the `[N, F] × [F, A]` product it
   * replaces, which was the batch's largest GEMM after the convolutions' (its weight gradient
   * becomes a scatter of N rows and a ~100-row product).
   */
  embedAtoms(atoms: AtomInput, inputs: DeviceInputs): Tensor {
    const { weight, bias } = this.embedding;
    if ("table" in atoms) {
      const table = atoms.table;
      const perElement = linear(table, weight, bias, 0); // [maxZ + 1, A]
      const gathered = gatherRows(perElement, inputs.numbers);
      releaseUnrecorded(perElement);
      if (!inputs.coords) return gathered;
      const coordTerm = linear(inputs.coords, weight, null, table.cols);
      const v = add(gathered, coordTerm);
      releaseUnrecorded(gathered, coordTerm);
      return v;
    }
    const nodeIn = inputs.coords ? concatCols([atoms, inputs.coords]) : atoms;
    const v = this.embedding.forward(nodeIn);
    if (nodeIn !== atoms) releaseUnrecorded(nodeIn);
    return v;
  }

  /**
   * Embedding, convolutions and mean pooling: one vector per crystal copy, `[k·C, A]`.
   * @param atoms `[N, 92]` atom features (gathered from the atom feature table), or
   * `{ table }`, the table itself (gathered inside by `inputs.numbers`; see
   * {@linkcode embedAtoms}).
   * @param inputs the batch's device inputs (frame copies stacked).
   */
  pool(atoms: AtomInput, inputs: DeviceInputs): Tensor {
    let v = this.embedAtoms(atoms, inputs);
    // The fused convolution forms the Gaussians from the distances inside its products; only
    // the composed one (no fused kernels, SyncBN) reads the stored features (built on first use).
    const fused = hasFusedEdgeKernels(this.backend) && this.convs.every((c) => c.bn1.sync === null);
    const edges = inputs.edgeSource && fused ? inputs.edgeSource : inputs.edgeFeatures;
    for (const conv of this.convs) {
      const next = conv.forward(v, edges, inputs.edgeOffsets, inputs.neighbors);
      releaseUnrecorded(v); // inference: the previous layer's atoms are no longer needed
      v = next;
    }
    return segmentMean(v, inputs.crystalOffsets); // [k·C, A]
  }

  /**
   * The crystal embedding: the pooled vector (CGCNN's crystal features before its head),
   * averaged over the k frame copies of each crystal, `[C, A]`.
   */
  embed(atoms: AtomInput, inputs: DeviceInputs): Tensor {
    const pooled = this.pool(atoms, inputs);
    if (inputs.copies === 1) return pooled;
    return segmentMean(gatherRows(pooled, inputs.copyOrder!), inputs.copyOffsets!);
  }

  /**
   * @param atoms `[N, 92]` atom features, or `{ table }` (see {@linkcode pool}).
   * @param inputs the batch's device inputs (frame copies stacked).
   * @returns `[C, 1]` predictions (standardised scale), averaged over frame copies.
   */
  forward(atoms: AtomInput, inputs: DeviceInputs): Tensor {
    const pooled = this.pool(atoms, inputs); // [k·C, A]
    let h = softplus(this.convToFc.forward(softplus(pooled)));
    for (const fc of this.fcs) h = softplus(fc.forward(h));
    let out = this.fcOut.forward(h); // [k·C, 1], or [k·C, 2] class scores
    // Two classes (CGCNN's classification head without its dropout): log-softmax over the two
    // scores depends only on their difference d = z₁ − z₀ (log p₁ = −softplus(−d),
    // log p₀ = −softplus(d)), so the network returns d as its one column.
    if ((this.shape.outputs ?? 1) === 2) out = sub(sliceCols(out, 1, 2), sliceCols(out, 0, 1));
    if (inputs.copies === 1) return out;
    // Frame averaging: mean over the k copies of each crystal.
    return segmentMean(gatherRows(out, inputs.copyOrder!), inputs.copyOffsets!);
  }
}

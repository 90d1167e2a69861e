import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  type SafeTensor,
  SafetensorsChecksumError,
  SafetensorsError,
  writeSafetensors,
} from "../../lib/io/safetensors.ts";

function sample(): Record<string, SafeTensor> {
  return {
    "b.weight": { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2.5, 3, 4, 5e-8, -0]) },
    "a.index": { dtype: "I32", shape: [3], data: new Int32Array([7, -1, 2147483647]) },
    "z.double": { dtype: "F64", shape: [1], data: new Float64Array([Math.PI]) },
    "empty": { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    "scalar": { dtype: "F32", shape: [], data: new Float32Array([42]) },
  };
}

/** An independent minimal reader: the format straight from the spec, no shared code. */
function minimalParse(bytes: Uint8Array) {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.slice(8, 8 + n)));
  const base = 8 + n;
  const out: Record<string, { dtype: string; shape: number[]; values: number[] }> = {};
  for (
    const [name, e] of Object.entries<{ dtype: string; shape: number[]; data_offsets: number[] }>(
      header,
    )
  ) {
    if (name === "__metadata__") continue;
    const dv = new DataView(bytes.buffer, bytes.byteOffset + base + e.data_offsets[0]);
    const size = e.dtype === "F64" ? 8 : 4;
    const count = (e.data_offsets[1] - e.data_offsets[0]) / size;
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      if (e.dtype === "F32") values.push(dv.getFloat32(i * 4, true));
      else if (e.dtype === "I32") values.push(dv.getInt32(i * 4, true));
      else values.push(dv.getFloat64(i * 8, true));
    }
    out[name] = { dtype: e.dtype, shape: e.shape, values };
  }
  return { header, headerLength: n, out };
}

Deno.test("encode/decode round trip keeps dtypes, shapes, values and metadata", () => {
  const t = sample();
  const bytes = encodeSafetensors(t, { format: "pt", config: '{"a":1}' });
  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: "pt", config: '{"a":1}' });
  assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(t).sort());
  for (const [name, v] of Object.entries(t)) {
    assert.equal(back.tensors[name].dtype, v.dtype, name);
    assert.deepEqual(back.tensors[name].shape, v.shape, name);
    assert.deepEqual(back.tensors[name].data, v.data, name);
  }
});

Deno.test("I64 round trip", () => {
  const data = new BigInt64Array([1n, -2n, 9007199254740993n]);
  const back = decodeSafetensors(encodeSafetensors({ ids: { dtype: "I64", shape: [3], data } }));
  assert.deepEqual(back.tensors.ids.data, data);
});

Deno.test("an independent parser reads our bytes; layout follows the spec", async () => {
  const t = sample();
  const bytes = encodeSafetensors(t, { note: "hi" });
  const { header, headerLength, out } = minimalParse(bytes);
  assert.equal(headerLength % 8, 0, "data starts 8-byte aligned");
  // The metadata carries the SHA-256 of the data section (WebCrypto, not the encoder's hash).
  const dataBytes = bytes.slice(8 + headerLength);
  const sha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", dataBytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.deepEqual(header.__metadata__, { note: "hi", data_sha256: sha });
  for (const [name, v] of Object.entries(t)) {
    assert.equal(out[name].dtype, v.dtype);
    assert.deepEqual(out[name].shape, v.shape);
    assert.deepEqual(out[name].values, [...v.data].map(Number), name);
  }
  // Back to back, no holes, every tensor aligned to its element size, F64 before 4-byte types.
  const spans = Object.entries<{ dtype: string; data_offsets: number[] }>(header)
    .filter(([n]) => n !== "__metadata__")
    .map(([n, e]) => ({ n, d: e.dtype, b: e.data_offsets[0], e: e.data_offsets[1] }))
    .sort((x, y) => x.b - y.b || x.e - y.e);
  let at = 0;
  for (const s of spans) {
    assert.equal(s.b, at, `${s.n} contiguous`);
    assert.equal(s.b % (s.d === "F64" ? 8 : 4), 0, `${s.n} aligned`);
    at = s.e;
  }
  assert.equal(8 + headerLength + at, bytes.length);
  assert.equal(spans.find((s) => s.b === 0 && s.e > 0)?.d, "F64");
  // Among the 4-byte tensors, order is by name.
  const four = spans.filter((s) => s.d !== "F64" && s.e > s.b).map((s) => s.n);
  assert.deepEqual(four, [...four].sort());
});

Deno.test("file round trip, atomic (no temp left behind)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/model.safetensors`;
    await writeSafetensors(path, sample(), { epoch: "3" });
    const back = await readSafetensors(path);
    assert.equal(back.metadata.epoch, "3");
    assert.deepEqual(back.tensors["b.weight"].data, sample()["b.weight"].data);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["model.safetensors"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a bad tensor fails before touching an existing file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/ckpt.safetensors`;
    await writeSafetensors(path, sample());
    const before = Deno.readFileSync(path);
    const bad = { x: { dtype: "F32" as const, shape: [5], data: new Float32Array(4) } };
    await assert.rejects(() => writeSafetensors(path, bad), (e: Error) => {
      assert.ok(e instanceof SafetensorsError);
      assert.match(e.message, /ckpt\.safetensors.*shape \[5\] does not match 4/);
      return true;
    });
    assert.deepEqual(Deno.readFileSync(path), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ckpt.safetensors"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("truncated and corrupted files give clear errors naming the file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/w.safetensors`;
    await writeSafetensors(path, sample());
    const good = Deno.readFileSync(path);
    const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));
    const cases: [string, Uint8Array, RegExp][] = [
      ["tiny", good.slice(0, 5), /truncated: 5 bytes/],
      ["header cut", good.slice(0, 20), /truncated: header says/],
      ["data cut", good.slice(0, good.length - 4), /out of range|trailing|hole/],
      ["trailing", new Uint8Array([...good, 0, 0, 0, 0]), /4 trailing bytes/],
      [
        "huge length",
        (() => {
          const b = good.slice();
          new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
          return b;
        })(),
        /too large/,
      ],
      [
        "bad json",
        (() => {
          const b = good.slice();
          b[8] = "x".charCodeAt(0);
          return b;
        })(),
        /bad header JSON/,
      ],
    ];
    for (const [label, bytes, re] of cases) {
      const p = `${dir}/${label.replace(" ", "_")}.safetensors`;
      Deno.writeFileSync(p, bytes);
      await assert.rejects(() => readSafetensors(p), (e: Error) => {
        assert.ok(e instanceof SafetensorsError, label);
        assert.ok(e.message.startsWith(p + ":"), `${label}: ${e.message}`);
        assert.match(e.message, re, label);
        return true;
      });
    }
    assert.ok(headerLen > 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

function withHeader(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("header validation: offsets, sizes, overlaps, dtypes, metadata", () => {
  const cases: [unknown, number, RegExp][] = [
    [{ a: { dtype: "F32", shape: [2], data_offsets: [0, 16] } }, 8, /out of range/],
    [{ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8, /8 bytes for shape \[3\]/],
    [{ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, 8, /out of range/],
    [{ a: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } }, 4, /unsupported dtype "BF16"/],
    [{ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4, /bad shape/],
    [{ a: { dtype: "F32", shape: [1], data_offsets: [0] } }, 4, /bad data_offsets/],
    [
      {
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      },
      8,
      /overlaps/,
    ],
    [{ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, 8, /hole/],
    [{ __metadata__: { k: 1 } }, 0, /__metadata__\["k"\] is not a string/],
    [[1, 2], 0, /not a JSON object/],
  ];
  for (const [header, n, re] of cases) {
    assert.throws(() => decodeSafetensors(withHeader(header, n), "mem"), (e: Error) => {
      assert.ok(e.message.startsWith("mem: "), e.message);
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("decoding from an unaligned buffer copies into aligned arrays", () => {
  const bytes = encodeSafetensors(sample());
  const shifted = new Uint8Array(bytes.length + 1).subarray(1);
  shifted.set(bytes);
  const back = decodeSafetensors(shifted);
  assert.deepEqual(back.tensors["z.double"].data, new Float64Array([Math.PI]));
});

Deno.test("checksum: a flipped bit in the tensor data is caught and names the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "st_sum_" });
  try {
    const path = `${dir}/w.safetensors`;
    const t = sample();
    await writeSafetensors(path, t, { epoch: "3" });
    const good = await readSafetensors(path);
    assert.deepEqual(good.metadata, { epoch: "3" }, "the checksum key is not handed back");
    const bytes = await Deno.readFile(path);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const flipped = bytes.slice();
    flipped[8 + headerLength + 5] ^= 0x10; // a bit of the first tensor's data
    await Deno.writeFile(path, flipped);
    await assert.rejects(readSafetensors(path), (e: Error) => {
      assert.ok(e instanceof SafetensorsChecksumError);
      assert.ok(e.message.startsWith(`${path}: checksum mismatch: the tensor data's SHA-256`));
      return true;
    });
    // A file without the key (written by another tool) is read as before.
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    delete header.__metadata__.data_sha256;
    let json = JSON.stringify(header);
    json += " ".repeat((8 - (json.length % 8)) % 8);
    const enc = new TextEncoder().encode(json);
    const plain = new Uint8Array(8 + enc.length + bytes.length - 8 - headerLength);
    new DataView(plain.buffer).setBigUint64(0, BigInt(enc.length), true);
    plain.set(enc, 8);
    plain.set(flipped.subarray(8 + headerLength), 8 + enc.length);
    const other = decodeSafetensors(plain, "other");
    assert.deepEqual(other.metadata, { epoch: "3" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

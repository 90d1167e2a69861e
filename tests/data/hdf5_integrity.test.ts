/**
 * HDF5 integrity: a broken atom index (atoms_ptr / natoms) is rejected as a whole before any
 * structure is read, a valid one gives back exactly the coordinates written, and a truncated
 * file is named with its size, without the C library's diagnostics on stderr.
 */
import assert from "node:assert/strict";
import h5wasm from "h5wasm/node";
import { DatasetError, loadDataset } from "../../lib/data/dataset.ts";
import { readHdf5, writeHdf5 } from "../../lib/data/readers/hdf5.ts";

async function tempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "h5idx_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Three 2-atom cubic structures whose coordinates identify them (0.5 + k/10 on atom 2). */
function rawFile(path: string, ptr: bigint[], natoms: number[], atomCount = 6): void {
  const n = natoms.length;
  const f = new h5wasm.File(path, "w");
  try {
    const s = f.create_group("structures");
    const cell = new Float64Array(9 * n);
    for (let i = 0; i < n; i++) cell.set([5, 0, 0, 0, 5, 0, 0, 0, 5], 9 * i);
    s.create_dataset({ name: "cell", data: cell, shape: [n, 3, 3], dtype: "<d" });
    s.create_dataset({ name: "natoms", data: Int32Array.from(natoms), shape: [n], dtype: "<i" });
    s.create_dataset({
      name: "energy_pa",
      data: Float64Array.from(natoms, (_, i) => i),
      shape: [n],
      dtype: "<d",
    });
    s.create_dataset({
      name: "atoms_ptr",
      data: BigInt64Array.from(ptr),
      shape: [ptr.length],
      dtype: "<q",
    });
    const a = f.create_group("atoms");
    const pos = new Float64Array(3 * atomCount);
    for (let k = 0; k < atomCount; k++) {
      const v = k % 2 === 0 ? 0 : 0.5 + Math.floor(k / 2) / 10;
      pos.set([v, v, v], 3 * k);
    }
    a.create_dataset({ name: "positions", data: pos, shape: [atomCount, 3], dtype: "<d" });
    a.create_dataset({
      name: "atomic_number",
      data: Uint8Array.from({ length: atomCount }, (_, k) => (k % 2 === 0 ? 11 : 17)),
      shape: [atomCount],
      dtype: "|B",
    });
  } finally {
    f.close();
  }
}

Deno.test("HDF5: a consistent index gives back the exact coordinates of every structure", async () => {
  await h5wasm.ready;
  await tempDir(async (dir) => {
    const path = `${dir}/ok.h5`;
    rawFile(path, [0n, 2n, 4n], [2, 2, 2]);
    const ds = await readHdf5(path, { positions: "fractional" });
    assert.equal(ds.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(Array.from(ds.get(i).structure.frac), [
        0,
        0,
        0,
        ...Array(3).fill(0.5 + i / 10),
      ]);
    }
    // Reading twice (the file's buffers are converted once, never in place) gives the same.
    const again = await readHdf5(path, { positions: "fractional" });
    assert.deepEqual(Array.from(again.get(1).structure.frac), Array.from(ds.get(1).structure.frac));
  });
});

Deno.test("HDF5: every kind of broken atoms_ptr / natoms index is rejected before reading", async () => {
  await h5wasm.ready;
  const cases: { name: string; ptr: bigint[]; natoms: number[]; want: RegExp }[] = [
    {
      name: "overlap",
      ptr: [0n, 1n, 4n],
      natoms: [2, 2, 2],
      want: /structure 1: atoms 1\.\.2 overlap structure 0/,
    },
    {
      name: "repeat",
      ptr: [0n, 2n, 2n],
      natoms: [2, 2, 2],
      want: /structure 2: atoms_ptr 2 does not increase/,
    },
    {
      name: "backwards",
      ptr: [4n, 2n, 0n],
      natoms: [2, 2, 2],
      want: /structure 1: atoms_ptr 2 does not increase/,
    },
    {
      name: "past the end",
      ptr: [0n, 2n, 5n],
      natoms: [2, 2, 2],
      want: /structure 2: atoms 5\.\.6 run past the end of atoms\/ \(6 atoms\)/,
    },
    {
      name: "natoms disagrees",
      ptr: [0n, 2n, 4n],
      natoms: [3, 2, 1],
      want: /structure 1: atoms 2\.\.3 overlap structure 0/,
    },
    {
      name: "all zero",
      ptr: [0n, 0n, 0n],
      natoms: [2, 2, 2],
      want: /structure 1: atoms_ptr 0 does not increase/,
    },
    {
      name: "gap",
      ptr: [0n, 3n, 4n],
      natoms: [2, 1, 2],
      want: /structure 1: atoms_ptr 3 leaves atoms 2\.\.2 unused/,
    },
    {
      name: "negative natoms",
      ptr: [0n, 2n, 4n],
      natoms: [2, -2, 2],
      want: /structure 1: natoms is -2/,
    },
    {
      name: "CSR disagrees",
      ptr: [0n, 2n, 4n, 5n],
      natoms: [2, 2, 2],
      want: /structure 2: atoms_ptr range 1 ≠ natoms 2/,
    },
    {
      name: "unused tail",
      ptr: [0n, 2n],
      natoms: [2, 2, 2].slice(0, 2),
      want: /the structures use 4 atoms but atoms\/ has 6/,
    },
  ];
  await tempDir(async (dir) => {
    for (const c of cases) {
      const path = `${dir}/${c.name.replaceAll(" ", "_")}.h5`;
      rawFile(path, c.ptr, c.natoms);
      await assert.rejects(
        loadDataset(path, { quiet: true, positions: "fractional" }),
        (e: Error) => {
          assert.ok(e instanceof DatasetError, c.name);
          assert.ok(e.message.startsWith(`${path}: inconsistent atom index`), e.message);
          assert.match(e.message, /no structure was read/, c.name);
          assert.match(e.message, c.want, `${c.name}: ${e.message}`);
          return true;
        },
        c.name,
      );
    }
  });
});

Deno.test("HDF5: a truncated file names the file and its size, the library stays quiet", async () => {
  await tempDir(async (dir) => {
    const path = `${dir}/full.h5`;
    const entries = [0, 1, 2].map((k) => ({
      structure: {
        id: `s${k}`,
        lattice: new Float64Array([5, 0, 0, 0, 5, 0, 0, 0, 5]),
        frac: new Float64Array([0, 0, 0, 0.5, 0.5, 0.5]),
        numbers: new Int32Array([11, 17]),
      },
      target: k,
    }));
    await writeHdf5(path, entries, { positions: "fractional" });
    const bytes = await Deno.readFile(path);
    for (const keep of [Math.floor(bytes.length / 2), 100, 5]) {
      const cut = `${dir}/cut${keep}.h5`;
      await Deno.writeFile(cut, bytes.subarray(0, keep));
      await assert.rejects(
        readHdf5(cut, { positions: "fractional" }),
        (e: Error) => {
          assert.ok(e instanceof DatasetError);
          assert.ok(
            e.message.startsWith(`truncated or not HDF5: ${cut} (${keep} bytes`),
            e.message,
          );
          return true;
        },
      );
    }
    // The library's ~25-line diagnostic is not printed: run a reader in a child and read stderr.
    const cut = `${dir}/cut${Math.floor(bytes.length / 2)}.h5`;
    const script = `${dir}/open.ts`;
    const reader = new URL("../../lib/data/readers/hdf5.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { readHdf5 } from ${JSON.stringify(reader)};\n` +
        `try { await readHdf5(${JSON.stringify(cut)}, { positions: "fractional" }); }\n` +
        `catch (e) { console.error("ERR " + e.message); }\n`,
    );
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.doesNotMatch(err, /HDF5-DIAG/);
    assert.match(err, /ERR truncated or not HDF5: /);
  });
});

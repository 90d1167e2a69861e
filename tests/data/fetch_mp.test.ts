/**
 * fetch-data for the Materials Project 2019 set (`mp_2019`, materials-toolkits HDF5 in a
 * `.tar.gz`), without the network: the test writes a tiny HDF5 file in that layout (h5wasm)
 * plus an `index.json`, packs them with the system's GNU `tar -cz` (an archiver independent of
 * our reader), serves the archive from the loopback server, and checks download, resume after
 * a cut connection, unpacking, the positions probe and loading; then a truncated, a corrupted
 * and an incomplete archive.
 */
import assert from "node:assert/strict";
import { DownloadError, fetchDataset, KNOWN_DATASETS } from "../../lib/data/download.ts";
import { ArchiveError } from "../../lib/data/untar.ts";
import { loadDataset } from "../../lib/data/dataset.ts";
import { withServer } from "./fetch_server.ts";

const ARCHIVE = "/mp_2019/materials-project.tar.gz";
const quiet = () => {};

/** Three two-atom cubic cells (edges 4, 5, 6 Å), atom 2 at the body centre. */
const CELLS = [4, 5, 6];
const ENERGIES = [-1.25, 0.5, -2.75];
const NUMBERS = [11, 17, 12, 8, 3, 9];

async function writeMpHdf5(path: string, positions: "cartesian" | "fractional") {
  const h5wasm = (await import("h5wasm/node")).default;
  await h5wasm.ready;
  const f = new h5wasm.File(path, "w");
  const s = f.create_group("structures");
  s.create_dataset({
    name: "cell",
    data: new Float32Array(CELLS.flatMap((a) => [a, 0, 0, 0, a, 0, 0, 0, a])),
    shape: [3, 3, 3],
    dtype: "<f",
  });
  s.create_dataset({ name: "natoms", data: new Int32Array([2, 2, 2]), dtype: "<i" });
  s.create_dataset({ name: "energy_pa", data: new Float32Array(ENERGIES), dtype: "<f" });
  s.create_dataset({ name: "atoms_ptr", data: new BigInt64Array([0n, 2n, 4n]), dtype: "<q" });
  const a = f.create_group("atoms");
  const pos = CELLS.flatMap((c) => {
    const h = positions === "cartesian" ? c / 2 : 0.5;
    return [0, 0, 0, h, h, h];
  });
  a.create_dataset({ name: "positions", data: new Float32Array(pos), shape: [6, 3], dtype: "<f" });
  a.create_dataset({ name: "atomic_number", data: new Uint8Array(NUMBERS), dtype: "|B" });
  f.close();
}

/** A `.tar.gz` made by GNU tar holding `members` (paths relative to a scratch folder). */
async function makeArchive(
  positions: "cartesian" | "fractional",
  opts: { omitIndex?: boolean; format?: string; top?: string } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const src = await Deno.makeTempDir({ prefix: "mp_src_" });
  try {
    const top = opts.top ?? "materials-project";
    await Deno.mkdir(`${src}/${top}`, { recursive: true });
    await writeMpHdf5(`${src}/${top}/data.hdf5`, positions);
    if (!opts.omitIndex) {
      await Deno.writeTextFile(`${src}/${top}/index.json`, JSON.stringify({ ids: [0, 1, 2] }));
    }
    await Deno.writeTextFile(`${src}/${top}/README.txt`, "not taken out");
    const out = await new Deno.Command("tar", {
      args: ["-czf", `${src}/a.tar.gz`, `--format=${opts.format ?? "gnu"}`, "-C", src, top],
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return await Deno.readFile(`${src}/a.tar.gz`);
  } finally {
    await Deno.remove(src, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("mp_2019 is known: energy_pa, an archive with data.hdf5 and index.json", () => {
  const mp = KNOWN_DATASETS.mp_2019;
  assert.equal(mp.target, "energy_pa");
  assert.deepEqual(mp.archive?.members, ["data.hdf5", "index.json"]);
  assert.equal(mp.archive?.structures, 133_420);
  assert.match(mp.files[0].url ?? "", /^https:\/\/huggingface\.co\/.*materials-project\.tar\.gz$/);
});

Deno.test("mp_2019: download, resume after a cut, unpack, probe positions, load", async () => {
  const archive = await makeArchive("cartesian");
  await withServer(async ({ base, state, dir }) => {
    state.files.set(ARCHIVE, archive);
    state.cutNextAt = Math.floor(archive.length / 3);
    await assert.rejects(
      fetchDataset("mp_2019", { baseUrl: base, outDir: dir, retries: 0, log: quiet }),
      (e: Error) => e instanceof DownloadError && /broke off/.test(e.message),
    );
    assert.equal(
      (await Deno.stat(`${dir}/materials-project.tar.gz.part`)).size,
      Math.floor(archive.length / 3),
    );
    await assert.rejects(Deno.stat(`${dir}/mp_2019`), Deno.errors.NotFound);
    const r = await fetchDataset("mp_2019", { baseUrl: base, outDir: dir, log: quiet });
    assert.equal(r[0].how, "resumed");
    assert.equal(state.requests.at(-1)?.range, `bytes=${Math.floor(archive.length / 3)}-`);
    assert.deepEqual(await Deno.readFile(`${dir}/materials-project.tar.gz`), archive);
    const u = r.unpacked!;
    assert.equal(u.how, "unpacked");
    assert.equal(u.positions, "cartesian");
    assert.equal(u.structures, 3);
    assert.equal(u.hdf5, `${dir}/mp_2019/data.hdf5`);
    // Only the two members, flat; no temporary folder left beside it.
    assert.deepEqual(await listDir(`${dir}/mp_2019`), ["data.hdf5", "index.json"]);
    assert.deepEqual(await listDir(dir), ["materials-project.tar.gz", "mp_2019"]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/mp_2019/index.json`)), {
      ids: [0, 1, 2],
    });
    // What `deno task train --data … --positions cartesian` loads.
    const ds = await loadDataset(u.hdf5, { positions: "cartesian", quiet: true });
    assert.equal(ds.length, 3);
    for (let i = 0; i < 3; i++) {
      const e = ds.get(i);
      assert.equal(e.target, ENERGIES[i]);
      assert.deepEqual(Array.from(e.structure.numbers), NUMBERS.slice(2 * i, 2 * i + 2));
      assert.equal(e.structure.lattice[0], CELLS[i]);
      // Cartesian (c/2, c/2, c/2) in a cubic cell of edge c is fractional (0.5, 0.5, 0.5).
      assert.deepEqual(Array.from(e.structure.frac.subarray(3, 6)), [0.5, 0.5, 0.5]);
    }
    // Again: everything present, nothing requested.
    const before = state.requests.length;
    const again = await fetchDataset("mp_2019", { baseUrl: base, outDir: dir, log: quiet });
    assert.deepEqual([again.length, again.unpacked?.how], [0, "present"]);
    assert.equal(state.requests.length, before);
    // The archive deleted to save space: the unpacked folder is enough, nothing is fetched.
    await Deno.remove(`${dir}/materials-project.tar.gz`);
    const kept = await fetchDataset("mp_2019", { baseUrl: base, outDir: dir, log: quiet });
    assert.deepEqual([kept.length, kept.unpacked?.how], [0, "present"]);
    assert.equal(state.requests.length, before);
  });
});

Deno.test("mp_2019: fractional positions found by the probe; pax archive, other top folder", async () => {
  const archive = await makeArchive("fractional", { format: "pax", top: "a/b/mp" });
  await withServer(async ({ base, state, dir }) => {
    state.files.set(ARCHIVE, archive);
    const r = await fetchDataset("mp_2019", { baseUrl: base, outDir: dir, log: quiet });
    assert.equal(r.unpacked?.positions, "fractional");
    assert.equal(r.unpacked?.structures, 3);
  });
});

Deno.test("mp_2019: truncated, corrupted or incomplete archives name the file", async () => {
  const good = await makeArchive("cartesian");
  const truncated = good.slice(0, Math.floor(good.length / 2));
  const corrupted = good.slice();
  for (let i = 200; i < 260; i++) corrupted[i] ^= 0x5a;
  const incomplete = await makeArchive("cartesian", { omitIndex: true });
  const cases: [string, Uint8Array<ArrayBuffer>, RegExp][] = [
    ["truncated", truncated, /cut off or corrupted/],
    ["corrupted", corrupted, /cut off or corrupted/],
    ["incomplete", incomplete, /no index\.json in the archive/],
  ];
  for (const [what, bytes, re] of cases) {
    await withServer(async ({ base, state, dir }) => {
      state.files.set(ARCHIVE, bytes);
      await assert.rejects(
        fetchDataset("mp_2019", { baseUrl: base, outDir: dir, log: quiet }),
        (e: Error) => {
          assert.ok(e instanceof ArchiveError, `${what}: ${e}`);
          assert.ok(e.message.includes(`${dir}/materials-project.tar.gz`), e.message);
          assert.match(e.message, re);
          return true;
        },
      );
      // Nothing half-unpacked is left: no mp_2019 folder, no temporary folder.
      assert.deepEqual(await listDir(dir), ["materials-project.tar.gz"], what);
    });
  }
});

Deno.test("fetch-data mp_2019 (the task's permissions) prints the exact train command", async () => {
  const archive = await makeArchive("cartesian");
  const task = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)))
    .tasks["fetch-data"] as string;
  const perms = task.split(" ").filter((w) => w.startsWith("--allow"));
  const cli = new URL("../../cli/fetch_data.ts", import.meta.url).pathname;
  await withServer(async ({ base, state, dir }) => {
    state.files.set(ARCHIVE, archive);
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...perms, "--no-prompt", cli, "mp_2019", "--base-url", base, "--out", dir],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.ok(
      out.includes(
        `deno task train --data ${dir}/mp_2019/data.hdf5 --positions cartesian --target energy_pa`,
      ),
      out,
    );
  });
});

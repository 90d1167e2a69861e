/**
 * fetch-data against a local HTTP server on loopback (never the internet): complete
 * downloads, a connection that breaks off (then resume with Range, or restart without),
 * 404, a file without a `cif` column, an unreachable host.
 */
import assert from "node:assert/strict";
import {
  checkCsvFile,
  DownloadError,
  downloadFile,
  fetchDataset,
  KNOWN_DATASETS,
} from "../../lib/data/download.ts";
import { withServer } from "./fetch_server.ts";

/** A CSV in CDVAE's shape with multi-line quoted CIFs, `size` rows. */
function cdvaeCsv(rows: number, tag: string): string {
  const lines = [",material_id,formation_energy_per_atom,cif"];
  for (let i = 0; i < rows; i++) {
    const cif = `data_${tag}${i}\n_cell_length_a 4.0\n_cell_length_b 4.0\n_cell_length_c 4.0\n` +
      `_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_site_label\n` +
      `_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n` +
      `Na1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5 # "quoted" ${i}\n`;
    lines.push(`${i},${tag}-${i},${(-i / 10).toFixed(2)},"${cif.replaceAll('"', '""')}"`);
  }
  return lines.join("\n") + "\n";
}

const enc = new TextEncoder();
const quiet = () => {};

Deno.test("fetchDataset downloads train/val/test of a known set from the base URL", async () => {
  await withServer(async ({ base, state, dir }) => {
    const files = { train: cdvaeCsv(20, "tr"), val: cdvaeCsv(5, "va"), test: cdvaeCsv(4, "te") };
    for (const [k, v] of Object.entries(files)) state.files.set(`/mp_20/${k}.csv`, enc.encode(v));
    const results = await fetchDataset("mp_20", { baseUrl: base, outDir: dir, log: quiet });
    assert.deepEqual(results.map((r) => r.how), ["downloaded", "downloaded", "downloaded"]);
    for (const [k, v] of Object.entries(files)) {
      assert.equal(await Deno.readTextFile(`${dir}/mp_20/${k}.csv`), v);
      await assert.rejects(Deno.stat(`${dir}/mp_20/${k}.csv.part`), Deno.errors.NotFound);
    }
    assert.equal(await checkCsvFile(`${dir}/mp_20/train.csv`, "cif"), 20);
    // A second run finds the files present and requests nothing.
    const before = state.requests.length;
    const again = await fetchDataset("mp_20", { baseUrl: base, outDir: dir, log: quiet });
    assert.deepEqual(again.map((r) => r.how), ["present", "present", "present"]);
    assert.equal(state.requests.length, before);
  });
});

Deno.test("FACGCNN_DATA_URL overrides the base URL", async () => {
  await withServer(async ({ base, state, dir }) => {
    for (const k of ["train", "val", "test"]) {
      state.files.set(`/perov_5/${k}.csv`, enc.encode(cdvaeCsv(3, k)));
    }
    const old = Deno.env.get("FACGCNN_DATA_URL");
    Deno.env.set("FACGCNN_DATA_URL", base + "/");
    try {
      const r = await fetchDataset("perov_5", { outDir: dir, log: quiet });
      assert.equal(r.length, 3);
      assert.ok(state.requests.every((q) => q.path.startsWith("/perov_5/")));
    } finally {
      if (old === undefined) Deno.env.delete("FACGCNN_DATA_URL");
      else Deno.env.set("FACGCNN_DATA_URL", old);
    }
  });
});

Deno.test("a broken-off download fails cleanly, keeps .part, then resumes with Range", async () => {
  await withServer(async ({ base, state, dir }) => {
    const body = enc.encode(cdvaeCsv(200, "big"));
    state.files.set("/f.csv", body);
    state.cutNextAt = 5000;
    const dest = `${dir}/f.csv`;
    const err = await downloadFile(`${base}/f.csv`, dest, { csvColumn: "cif", log: quiet }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof DownloadError, `expected DownloadError, got ${err}`);
    assert.match(err.message, /broke off at \d+/);
    assert.match(err.message, /run again to resume/);
    await assert.rejects(Deno.stat(dest), Deno.errors.NotFound);
    const partSize = (await Deno.stat(`${dest}.part`)).size;
    assert.ok(partSize > 0 && partSize < body.length, `part size ${partSize}`);

    const r = await downloadFile(`${base}/f.csv`, dest, { csvColumn: "cif", log: quiet });
    assert.equal(r.how, "resumed");
    assert.equal(state.requests.at(-1)!.range, `bytes=${partSize}-`);
    assert.deepEqual(await Deno.readFile(dest), body);
    await assert.rejects(Deno.stat(`${dest}.part`), Deno.errors.NotFound);
  });
});

Deno.test("without Range support a broken download restarts from zero", async () => {
  await withServer(async ({ base, state, dir }) => {
    const body = enc.encode(cdvaeCsv(200, "nr"));
    state.files.set("/f.csv", body);
    state.cutNextAt = 7000;
    const dest = `${dir}/f.csv`;
    await assert.rejects(
      downloadFile(`${base}/f.csv`, dest, { csvColumn: "cif", log: quiet }),
      DownloadError,
    );
    const r = await downloadFile(`${base}/f.csv`, dest, { csvColumn: "cif", log: quiet });
    assert.equal(r.how, "downloaded");
    assert.ok(state.requests.at(-1)!.range !== null, "the client asked for a range");
    assert.deepEqual(await Deno.readFile(dest), body);
  }, { ranges: false });
});

Deno.test("fetchDataset retries a broken connection by resuming", async () => {
  await withServer(async ({ base, state, dir }) => {
    const bodies = ["train", "val", "test"].map((k) => enc.encode(cdvaeCsv(50, k)));
    ["train", "val", "test"].forEach((k, i) => state.files.set(`/carbon_24/${k}.csv`, bodies[i]));
    state.cutNextAt = 3000;
    const r = await fetchDataset("carbon_24", { baseUrl: base, outDir: dir, log: quiet });
    assert.equal(r[0].how, "resumed");
    for (const [i, k] of ["train", "val", "test"].entries()) {
      assert.deepEqual(await Deno.readFile(`${dir}/carbon_24/${k}.csv`), bodies[i]);
    }
  });
});

Deno.test("a stale .part longer than the file is discarded (416) and the file re-fetched", async () => {
  await withServer(async ({ base, state, dir }) => {
    const body = enc.encode(cdvaeCsv(3, "s"));
    state.files.set("/f.csv", body);
    const dest = `${dir}/f.csv`;
    await Deno.writeFile(`${dest}.part`, new Uint8Array(body.length + 100).fill(65));
    const r = await downloadFile(`${base}/f.csv`, dest, { csvColumn: "cif", log: quiet });
    assert.equal(r.how, "downloaded");
    assert.deepEqual(await Deno.readFile(dest), body);
  });
});

Deno.test("404 gives a clear error naming the URL", async () => {
  await withServer(async ({ base, dir }) => {
    await assert.rejects(
      fetchDataset("mp_20", { baseUrl: base, outDir: dir, log: quiet }),
      (e: Error) =>
        e instanceof DownloadError && /mp_20\/train\.csv: 404 Not Found/.test(e.message),
    );
  });
});

Deno.test("a file without a cif column, or cut inside a quoted CIF, is rejected and removed", async () => {
  await withServer(async ({ base, state, dir }) => {
    state.files.set("/nocif.csv", enc.encode("material_id,formation_energy_per_atom\nmp-1,0.5\n"));
    await assert.rejects(
      downloadFile(`${base}/nocif.csv`, `${dir}/nocif.csv`, { csvColumn: "cif", log: quiet }),
      (e: Error) => /no cif column in the header/.test(e.message),
    );
    await assert.rejects(Deno.stat(`${dir}/nocif.csv.part`), Deno.errors.NotFound);
    // Cut in the middle of a quoted field, served as if complete.
    const full = cdvaeCsv(3, "cut");
    state.files.set("/cut.csv", enc.encode(full.slice(0, full.length - 40)));
    await assert.rejects(
      downloadFile(`${base}/cut.csv`, `${dir}/cut.csv`, { csvColumn: "cif", log: quiet }),
      (e: Error) => /unterminated quoted field/.test(e.message) && /cut\.csv/.test(e.message),
    );
    await assert.rejects(Deno.stat(`${dir}/cut.csv`), Deno.errors.NotFound);
  });
});

Deno.test("a known size or hash that does not match is an error", async () => {
  await withServer(async ({ base, state, dir }) => {
    const body = enc.encode(cdvaeCsv(2, "h"));
    state.files.set("/f.csv", body);
    await assert.rejects(
      downloadFile(`${base}/f.csv`, `${dir}/a.csv`, { size: body.length + 1, log: quiet }),
      /size \d+ bytes, expected/,
    );
    await assert.rejects(
      downloadFile(`${base}/f.csv`, `${dir}/b.csv`, { sha256: "00".repeat(32), log: quiet }),
      /SHA-256 [0-9a-f]{64}, expected/,
    );
    const good = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", body)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const r = await downloadFile(`${base}/f.csv`, `${dir}/c.csv`, { sha256: good, log: quiet });
    assert.equal(r.bytes, body.length);
  });
});

Deno.test("an unreachable host says so (offline?)", async () => {
  // A loopback port with nothing listening: bind one, close it, use its number.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      fetchDataset("mp_20", { baseUrl: `http://127.0.0.1:${port}`, outDir: dir, log: quiet }),
      (e: Error) => /cannot reach 127\.0\.0\.1:\d+: offline\?/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown data set names the known ones", async () => {
  await assert.rejects(
    fetchDataset("mp_21", { log: quiet }),
    (e: Error) => e.message.includes("mp_20") && e.message.includes("carbon_24"),
  );
  assert.ok(["mp_20", "perov_5", "carbon_24"].every((k) => k in KNOWN_DATASETS));
});

Deno.test("a server that never answers times out with the offline message", async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => release = r);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    await held;
    return new Response("late");
  });
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      downloadFile(`http://127.0.0.1:${server.addr.port}/f.csv`, `${dir}/f.csv`, {
        timeoutMs: 100,
        log: quiet,
      }),
      (e: Error) =>
        /cannot reach 127\.0\.0\.1:\d+: offline\? \(no response in 100 ms\)/.test(e.message),
    );
  } finally {
    release();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the fetch-data command: --list, usage without a name, a download via --base-url", async () => {
  const cli = new URL("../../cli/fetch_data.ts", import.meta.url).pathname;
  const run = async (args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-net", cli, ...args],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  };
  const list = await run(["--list"]);
  assert.equal(list.code, 0);
  for (const [k, v] of Object.entries(KNOWN_DATASETS)) {
    assert.ok(list.out.includes(`${k.padEnd(10)} ${v.description} (target ${v.target})`));
  }
  assert.equal((await run([])).code, 2, "no data set named: usage, exit 2");
  await withServer(async ({ base, state, dir }) => {
    for (const k of ["train", "val", "test"]) {
      state.files.set(`/perov_5/${k}.csv`, enc.encode(cdvaeCsv(3, k)));
    }
    const r = await run(["perov_5", "--base-url", base, "--out", dir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /perov_5: 3 files in .*perov_5\/; train with target heat_ref/);
    assert.equal(await Deno.readTextFile(`${dir}/perov_5/val.csv`), cdvaeCsv(3, "val"));
    const bad = await run(["mp_21", "--out", dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^fetch-data: unknown data set "mp_21"; known: mp_20/);
  });
});

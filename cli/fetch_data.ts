/**
 * `deno task fetch-data <name>`: downloads a public data set users start from into
 * `data/<name>/` (CDVAE's MP-20, Perov-5 and Carbon-24 CSV splits, and `mp_2019`, the Materials
 * Project 2019 formation-energy set in the materials-toolkits HDF5 layout, unpacked from its
 * `.tar.gz`; `lib/data/download.ts` does the work: resume, checks, retries, unpacking). Ends by
 * printing the command that trains on what it fetched.
 *
 * Flags: `--base-url URL` (or env `FACGCNN_DATA_URL`) replaces the base
 * `https://raw.githubusercontent.com/txie-93/cdvae/main/data` and the Hugging Face URL of
 * `mp_2019` (files are fetched from `<base>/<name>/<file>`), `--out DIR` (default `data`), `--force` (download again),
 * `--retries N` (default 3: resume after a broken connection), `--list`.
 * @module
 */

import { parseArgs } from "node:util";
import { fetchDataset, KNOWN_DATASETS } from "../lib/data/download.ts";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "base-url": { type: "string" },
      out: { type: "string" },
      force: { type: "boolean" },
      retries: { type: "string" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || values.list || positionals.length === 0) {
    console.log(
      "usage: deno task fetch-data <name> [--base-url URL] [--out DIR] [--force] [--retries N]",
    );
    console.log("known data sets:");
    for (const [k, v] of Object.entries(KNOWN_DATASETS)) {
      console.log(`  ${k.padEnd(10)} ${v.description} (target ${v.target})`);
    }
    return positionals.length === 0 && !values.help && !values.list ? 2 : 0;
  }
  for (const name of positionals) {
    const results = await fetchDataset(name, {
      baseUrl: values["base-url"],
      outDir: values.out,
      force: values.force,
      retries: values.retries === undefined ? undefined : Number(values.retries),
    });
    const dir = `${values.out ?? "data"}/${name}`;
    const u = results.unpacked;
    if (u !== undefined) {
      console.log(
        `${name}: ${u.structures} structures in ${u.hdf5} (positions ${u.positions}); train with\n` +
          `  deno task train --data ${u.hdf5} --positions ${u.positions} --target ` +
          KNOWN_DATASETS[name].target,
      );
      continue;
    }
    console.log(
      `${name}: ${results.length} files in ${dir}/; train with target ` +
        `${KNOWN_DATASETS[name].target}, e.g. loadDataset("${dir}/train.csv", { target: ` +
        `"${KNOWN_DATASETS[name].target}" })\n  deno task train --data ${dir}/train.csv ` +
        `--val-data ${dir}/val.csv --test-data ${dir}/test.csv --target ` +
        KNOWN_DATASETS[name].target,
    );
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`fetch-data: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}

import assert from "node:assert/strict";
import {
  writeFileAtomic,
  writeFileAtomicSync,
  writeTextAtomic,
  writeTextAtomicSync,
} from "../../lib/io/atomic.ts";

const entries = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("writeTextAtomic writes, overwrites and leaves no temp file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/out.txt`;
    await writeTextAtomic(path, "first");
    assert.equal(Deno.readTextFileSync(path), "first");
    writeTextAtomicSync(path, "second ünïcode");
    assert.equal(Deno.readTextFileSync(path), "second ünïcode");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...Deno.readFileSync(path)], [1, 2, 3]);
    assert.deepEqual(entries(dir), ["out.txt"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("chunks are written in order", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/c.bin`;
    writeFileAtomicSync(path, [new Uint8Array([1]), new Uint8Array([2, 3]), new Uint8Array(0)]);
    assert.deepEqual([...Deno.readFileSync(path)], [1, 2, 3]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a failure mid-way keeps the old file and removes the temp file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/keep.bin`;
    writeTextAtomicSync(path, "old contents");
    const failing = function* (): Generator<Uint8Array> {
      yield new Uint8Array(1024).fill(7);
      throw new Error("disk on fire");
    };
    await assert.rejects(() => writeFileAtomic(path, failing()), /disk on fire/);
    assert.equal(Deno.readTextFileSync(path), "old contents");
    assert.deepEqual(entries(dir), ["keep.bin"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a read-only folder fails and keeps the old file (skipped when root)", () => {
  if (Deno.build.os === "windows") return;
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/ro.txt`;
  try {
    writeTextAtomicSync(path, "old");
    Deno.chmodSync(dir, 0o555);
    try {
      // root ignores permission bits: then this check is meaningless, so skip it.
      Deno.writeTextFileSync(`${dir}/probe`, "");
      Deno.removeSync(`${dir}/probe`);
      return;
    } catch { /* not privileged: the folder really is read-only */ }
    assert.throws(() => writeTextAtomicSync(path, "new"), Deno.errors.PermissionDenied);
    assert.equal(Deno.readTextFileSync(path), "old");
    assert.deepEqual(entries(dir), ["ro.txt"]);
  } finally {
    Deno.chmodSync(dir, 0o755);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a failing rename (target is a folder) removes the temp file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/target`);
    Deno.writeTextFileSync(`${dir}/target/inside.txt`, "x");
    assert.throws(() => writeTextAtomicSync(`${dir}/target`, "new"));
    assert.deepEqual(entries(dir), ["target"]);
    assert.equal(Deno.readTextFileSync(`${dir}/target/inside.txt`), "x");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

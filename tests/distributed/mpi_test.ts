import assert from "node:assert/strict";
import { detectLaunch } from "../../lib/distributed/environment.ts";
import { mpiCandidates } from "../../lib/distributed/library.ts";
import { initDistributed, LocalCommunicator } from "../../lib/distributed/communicator.ts";
import { rankErrorLine } from "../../lib/distributed/failure.ts";
import { mpiLaunchers, mpirun, mpiSkipReason } from "./_mpirun.ts";

const here = new URL(".", import.meta.url).pathname;
const skip = mpiSkipReason();
if (skip) console.warn(`tests/distributed: MPI tests skipped: ${skip}`);

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("detectLaunch: Open MPI, MPICH/PMI, PMIx, Slurm, none", () => {
  assert.deepEqual(
    detectLaunch(envOf({ OMPI_COMM_WORLD_RANK: "1", OMPI_COMM_WORLD_SIZE: "4" })),
    {
      rank: 1,
      size: 4,
      localRank: 0,
      localSize: 1,
      launcher: "openmpi",
      source: "OMPI_COMM_WORLD_RANK=1, OMPI_COMM_WORLD_SIZE=4",
    },
  );
  assert.equal(detectLaunch(envOf({ PMI_RANK: "2", PMI_SIZE: "3" }))?.launcher, "mpich");
  assert.equal(detectLaunch(envOf({ PMIX_RANK: "0", SLURM_NTASKS: "2" }))?.launcher, "pmix");
  assert.deepEqual(
    detectLaunch(envOf({ SLURM_PROCID: "5", SLURM_NTASKS: "8", SLURM_STEP_ID: "0" }))?.rank,
    5,
  );
  // A batch script (no srun step, or one task) is not a parallel launch; no variables: one
  // process.
  assert.equal(detectLaunch(envOf({ SLURM_PROCID: "0", SLURM_NTASKS: "4" })), null);
  assert.equal(
    detectLaunch(envOf({ SLURM_PROCID: "0", SLURM_NTASKS: "1", SLURM_STEP_ID: "0" })),
    null,
  );
  assert.equal(detectLaunch(envOf({})), null);
  // Open MPI's variables win over Slurm's when mpirun runs inside an allocation.
  assert.equal(
    detectLaunch(envOf({
      SLURM_PROCID: "0",
      SLURM_NTASKS: "16",
      OMPI_COMM_WORLD_RANK: "3",
      OMPI_COMM_WORLD_SIZE: "4",
    }))?.size,
    4,
  );
});

Deno.test("detectLaunch: inconsistent variables are named in the error", () => {
  assert.throws(
    () => detectLaunch(envOf({ PMI_RANK: "2", PMI_SIZE: "2" })),
    /rank ≥ size in PMI_RANK=2, PMI_SIZE=2/,
  );
  assert.throws(
    () => detectLaunch(envOf({ OMPI_COMM_WORLD_RANK: "x", OMPI_COMM_WORLD_SIZE: "2" })),
    /OMPI_COMM_WORLD_RANK=x/,
  );
});

Deno.test("mpiCandidates: the launcher's own library family first", () => {
  assert.match(mpiCandidates("openmpi")[0], /libmpi\.so\.40/);
  assert.match(mpiCandidates("mpich")[0], /libmpich\.so\.12/);
  assert.match(mpiCandidates("slurm")[0], /libmpich\.so\.12/);
});

Deno.test("one process: initDistributed without a launcher is a local group", () => {
  const comm = initDistributed({ env: envOf({}) });
  assert.ok(comm instanceof LocalCommunicator);
  assert.equal(comm.rank, 0);
  assert.equal(comm.size, 1);
  const buf = new Float32Array([1.5, -2]);
  comm.allreduceSum(buf);
  assert.deepEqual(Array.from(buf), [1.5, -2]);
  assert.equal(rankErrorLine(comm, "bad\nmore"), "error: bad");
  assert.equal(rankErrorLine({ rank: 3, size: 8 }, "bad"), "rank 3/8: error: bad");
});

for (const launcher of mpiLaunchers()) {
  Deno.test(`${launcher.name}: allreduce (float32, float64 views), broadcast on 2 and 3 ranks`, async () => {
    for (const np of [2, 3]) {
      const r = await mpirun(launcher, np, `${here}allreduce_worker.ts`);
      assert.equal(r.code, 0, `${launcher.command} -np ${np} failed:\n${r.stdout}\n${r.stderr}`);
      const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, np);
      assert.deepEqual(lines.map((l) => l.rank).sort(), [...Array(np).keys()]);
      for (const l of lines) {
        assert.equal(l.size, np);
        assert.equal(l.f32Error, 0);
        assert.ok(l.f64Error < 1e-15, `float64 sum off by ${l.f64Error}`);
        assert.ok(l.untouched, "allreduce wrote outside its subarray");
        assert.ok(l.broadcastOk);
        assert.match(l.description, new RegExp(launcher.name === "MPICH" ? "MPICH" : "Open MPI"));
      }
    }
  });

  Deno.test(`${launcher.name}: a failing rank ends every rank, non-zero, with its message`, async () => {
    const t0 = performance.now();
    const r = await mpirun(launcher, 2, `${here}fail_worker.ts`, [], {}, 60_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /rank 1\/2: error: rank one failed on purpose/);
    assert.doesNotMatch(r.stdout, /passed the barrier/);
    assert.ok(performance.now() - t0 < 60_000);
  });
}

/** Builds the NCCL stand-in (fake_nccl.c) with the C compiler; null when there is none. */
function buildFakeNccl(): string | null {
  const out = Deno.makeTempDirSync({ prefix: "fake_nccl_" }) + "/libfake_nccl.so";
  try {
    const r = new Deno.Command("cc", {
      args: ["-shared", "-fPIC", "-O1", "-o", out, `${here}fake_nccl.c`],
      stderr: "piped",
    }).outputSync();
    return r.success ? out : null;
  } catch {
    return null;
  }
}

const firstLauncher = mpiLaunchers()[0];
Deno.test({
  name: "NCCL rank logic over MPI: rank 0's unique id reaches every rank's ncclCommInitRank",
  ignore: firstLauncher === undefined,
  async fn() {
    const lib = buildFakeNccl();
    if (lib === null) {
      console.warn("no C compiler: the NCCL stand-in cannot be built; check skipped");
      return;
    }
    const r = await mpirun(firstLauncher, 3, `${here}nccl_worker.ts`, [], { FACGCNN_NCCL: lib });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    const ids = new Set(lines.map((l) => l.idChecksum));
    assert.equal(ids.size, 1, "every rank joined with the same 128-byte id (passed by value)");
    for (const l of lines) {
      assert.equal(l.initRank, l.rank);
      assert.equal(l.initSize, 3);
      assert.deepEqual(
        l.buf,
        [2, 3, 4, 5, 5],
        "ncclAllReduce got the buffer, count 4, float32, sum",
      );
      assert.match(l.description, /^NCCL 2\.21\.5/);
    }
  },
});

Deno.test({
  name: "MPI launch tests",
  ignore: skip !== null,
  fn: () => assert.ok(mpiLaunchers().length > 0),
});

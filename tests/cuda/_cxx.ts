/**
 * The C++ compiler that builds the CUDA kernels' host versions for the host-build tests
 * (`eigen_host`, `frames_host`): the first of g++, c++, clang++ on PATH, or null (the tests
 * are then skipped).
 * @module
 */

/** Absolute path of a C++ compiler on PATH, or null. */
export function findCxx(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["g++", "c++", "clang++"]) {
      try {
        if (dir && Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch { /* not there */ }
    }
  }
  return null;
}

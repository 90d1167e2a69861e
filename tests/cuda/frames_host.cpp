// Host harness for native/cuda/frames3.cuh (the device frames kernel's arithmetic). stdin:
// "C N k kind gap scale node", then C+1 atom ranges, 3N positions, 9C lattices, kC patterns.
// stdout: C degenerate flags, then the 3N centred positions, 9kC atom and 9kC edge matrices
// (%.9g: float32 round trip). Built by tests/cuda/frames_host.test.ts.
#include <cstdio>
#include <vector>
#define __host__
#define __device__
#include "../../native/cuda/frames3.cuh"

int main() {
  int C = 0, N = 0, k = 0, kind = 0, node = 0;
  double gap = 0.0, scale = 0.0;
  if (std::scanf("%d %d %d %d %lf %lf %d", &C, &N, &k, &kind, &gap, &scale, &node) != 7) return 1;
  std::vector<int> ranges(C + 1), patterns((size_t)k * C);
  std::vector<double> pos(3 * (size_t)N), lat(9 * (size_t)C);
  for (auto& r : ranges) if (std::scanf("%d", &r) != 1) return 1;
  for (auto& x : pos) if (std::scanf("%lf", &x) != 1) return 1;
  for (auto& x : lat) if (std::scanf("%lf", &x) != 1) return 1;
  for (auto& p : patterns) if (std::scanf("%d", &p) != 1) return 1;
  std::vector<float> centred(3 * (size_t)N), atom(9 * (size_t)k * C), edge(9 * (size_t)k * C);
  FrameJob job{pos.data(), ranges.data(), kind == kFramePca ? nullptr : lat.data(),
               patterns.data(), kind, gap, scale, node, k, C, centred.data(), atom.data(),
               edge.data()};
  for (int c = 0; c < C; ++c) std::printf("%d ", crystal_frames(job, c));
  std::printf("\n");
  for (float x : centred) std::printf("%.9g ", x);
  for (float x : atom) std::printf("%.9g ", x);
  for (float x : edge) std::printf("%.9g ", x);
  std::printf("\n");
  return 0;
}

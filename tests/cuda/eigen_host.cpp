// Host harness for native/cuda/eigen3.cuh: reads "count" then 9*count doubles from stdin, prints
// per matrix 3 eigenvalues and 9 vector entries (%.17g). Built by tests/cuda/eigen_host.test.ts.
#include <cstdio>
#define __host__
#define __device__
#include "../../native/cuda/eigen3.cuh"

int main() {
  int count = 0;
  if (std::scanf("%d", &count) != 1) return 1;
  for (int m = 0; m < count; ++m) {
    double a[3][3], w[3], v[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        if (std::scanf("%lf", &a[i][j]) != 1) return 1;
    jacobi3(a, w, v);
    for (int i = 0; i < 3; ++i) std::printf("%.17g ", w[i]);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) std::printf("%.17g ", v[i][j]);
    std::printf("\n");
  }
  return 0;
}

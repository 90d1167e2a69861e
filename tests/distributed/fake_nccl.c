/* A stand-in for libnccl.so.2 with the same C signatures, for testing the FFI table and the
 * rank logic (unique id broadcast over MPI, ncclCommInitRank arguments) on machines without a
 * GPU. ncclGetUniqueId fills the id from the process id, so ranks agree only if the id was
 * broadcast; ncclCommInitRank encodes (checksum of the id, rank, nranks) in the handle;
 * ncclAllReduce on a host buffer adds 1 to each float (proves count, dtype and in-place). */
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>

typedef struct { char internal[128]; } ncclUniqueId;
typedef void *ncclComm_t;

int ncclGetVersion(int *version) { *version = 22105; return 0; }

int ncclGetUniqueId(ncclUniqueId *id) {
  uint32_t x = (uint32_t)getpid() * 2654435761u;
  for (int i = 0; i < 128; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; id->internal[i] = (char)x; }
  return 0;
}

int ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
  uint32_t h = 2166136261u;
  for (int i = 0; i < 128; i++) { h ^= (unsigned char)id.internal[i]; h *= 16777619u; }
  *comm = (ncclComm_t)(((uint64_t)h << 24) | ((uint64_t)(rank & 0xfff) << 12) | (uint64_t)(nranks & 0xfff));
  return 0;
}

int ncclAllReduce(const void *send, void *recv, size_t count, int datatype, int op, ncclComm_t comm,
                  void *stream) {
  (void)comm; (void)stream;
  if (send != recv || datatype != 7 || op != 0) return 4; /* ncclInvalidArgument */
  float *f = (float *)recv;
  for (size_t i = 0; i < count; i++) f[i] += 1.0f;
  return 0;
}

int ncclCommDestroy(ncclComm_t comm) { (void)comm; return 0; }
int ncclCommAbort(ncclComm_t comm) { (void)comm; return 0; }
const char *ncclGetErrorString(int result) { return result == 4 ? "invalid argument" : "fake error"; }

/* Counts OpenMP parallel regions: an LD_PRELOAD shim around libgomp's GOMP_parallel (what GCC's
 * "#pragma omp parallel" compiles to, and what torch's CPU kernels call through at::parallel_for).
 * The count is read and reset through two extra symbols that benchmarks/regions.py finds with
 * ctypes.  Build: cc -O2 -shared -fPIC -o count_gomp.so count_gomp.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>

typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
static atomic_long regions;

void GOMP_parallel(void (*fn)(void *), void *data, unsigned n, unsigned flags) {
    static gomp_parallel_fn real;
    if (!real) real = (gomp_parallel_fn)dlsym(RTLD_NEXT, "GOMP_parallel");
    atomic_fetch_add(&regions, 1);
    real(fn, data, n, flags);
}

long gomp_regions_count(void) { return atomic_load(&regions); }
void gomp_regions_reset(void) { atomic_store(&regions, 0); }

/* What one data-parallel step's gradient exchange costs on this machine,
 * without the model: MPI_Allgather of every rank's gradients (the float
 * count of the model, e.g. 269834 for configs/mlp-sync-bn.yaml's MLP) and
 * the sum in rank order in double that core/dist/dist.c makes of them,
 * once per value over the ranks (strided, the first version) and rank by
 * rank over blocks of values (the current one). Best of 200 each.
 *
 *   mpicc -O3 -march=native experiments/bench/mpi_exchange_ceiling.c -o /tmp/mpi_exchange_ceiling
 *   OMP_NUM_THREADS=1 mpirun -np 2 /tmp/mpi_exchange_ceiling 269834
 */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sum_strided(const float *all, int ranks, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int r = 0; r < ranks; r++)
            s += all[(size_t)r * n + i];
        out[i] = (float)(s / ranks);
    }
}

static void sum_blocked(const float *all, int ranks, size_t n, float *out)
{
    enum { BLOCK = 512 };
    double s[BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        const size_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        for (size_t j = 0; j < m; j++)
            s[j] = all[i0 + j];
        for (int r = 1; r < ranks; r++)
            for (size_t j = 0; j < m; j++)
                s[j] += all[(size_t)r * n + i0 + j];
        for (size_t j = 0; j < m; j++)
            out[i0 + j] = (float)(s[j] / ranks);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const size_t n = argc > 1 ? (size_t)atol(argv[1]) : 269834;
    float *mine = malloc(n * sizeof *mine), *all = malloc(n * ranks * sizeof *all);
    float *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        mine[i] = (float)(i % 1000) * 1e-3f;
    double gather = 1e9, strided = 1e9, blocked = 1e9;
    for (int rep = 0; rep < 200; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = now_s();
        MPI_Allgather(mine, (int)(n * sizeof *mine), MPI_BYTE, all, (int)(n * sizeof *mine),
                      MPI_BYTE, MPI_COMM_WORLD);
        const double t1 = now_s();
        sum_strided(all, ranks, n, out);
        const double t2 = now_s();
        sum_blocked(all, ranks, n, out);
        const double t3 = now_s();
        gather = t1 - t0 < gather ? t1 - t0 : gather;
        strided = t2 - t1 < strided ? t2 - t1 : strided;
        blocked = t3 - t2 < blocked ? t3 - t2 : blocked;
    }
    if (rank == 0)
        printf("%d ranks, %zu floats: all-gather %.3f ms, rank-order sum strided %.3f ms, "
               "blocked %.3f ms (best of 200)\n",
               ranks, n, 1e3 * gather, 1e3 * strided, 1e3 * blocked);
    free(mine), free(all), free(out);
    MPI_Finalize();
    return 0;
}

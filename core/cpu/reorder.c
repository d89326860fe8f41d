/* Images between NCHW and the channel-blocked (N, C/B, HW, B): a transpose
 * of each (B, HW) slab of B channel planes. Element for element, so the
 * same bits either way; the reorder layer (layers/reorder.c) runs them
 * where a layer that cannot read the block follows a blocked activation. */
#include "cpu/cpu.h"

/* to_nchw: y's slab (B, HW) from x's (HW, B); else x's (B, HW) into y's
 * (HW, B), added with accumulate */
static void reorder_slabs(int block, int n, int c, int hw, const float *x, float *y, bool to_nchw,
                          bool accumulate)
{
    const int slabs = n * (c / block);
    const size_t slab = (size_t)hw * block;
    NL_PARALLEL_FOR_IF((size_t)slabs * slab >= NL_PARALLEL_MIN,
    for (int s = 0; s < slabs; s++) {
        const float *xs = x + (size_t)s * slab;
        float *ys = y + (size_t)s * slab;
        if (to_nchw) {
            for (int l = 0; l < block; l++)
                for (int p = 0; p < hw; p++)
                    ys[(size_t)l * hw + p] = xs[(size_t)p * block + l];
            continue;
        }
        for (int p = 0; p < hw; p++)
            for (int l = 0; l < block; l++) {
                const float v = xs[(size_t)l * hw + p];
                ys[(size_t)p * block + l] = accumulate ? ys[(size_t)p * block + l] + v : v;
            }
    });
}

void nl_cpu_reorder_to_nchw_blocked(nl_backend *be, int block, int n, int c, int hw,
                                    const float *x, float *y)
{
    (void)be;
    reorder_slabs(block, n, c, hw, x, y, true, false);
}

void nl_cpu_reorder_from_nchw_blocked(nl_backend *be, int block, int n, int c, int hw,
                                      const float *x, float *y, bool accumulate)
{
    (void)be;
    reorder_slabs(block, n, c, hw, x, y, false, accumulate);
}

/* Successive halving's arithmetic (Jamieson & Talwalkar 2016; ASHA's
 * rungs, Li et al. 2018), shared by a sweep's `stop: {rule: asha}`
 * (sweep/stop.h) and a search's `rank.rungs` (search/search.h), so that
 * both cut the same way: rungs at min * eta^k, and of the m that reached a
 * rung the best floor(m / eta) go on, at least one. */
#ifndef NL_BASE_HALVING_H
#define NL_BASE_HALVING_H

/* The rungs min * eta^k (k = 0, 1, ...) strictly below `length`, ascending,
 * into rungs (at most cap); their count. None when min <= 0 or eta < 2. */
int nl_halving_rungs(long min, int eta, long length, long *rungs, int cap);

/* of m that reached a rung, how many go on: floor(m / eta), at least 1
 * (the best always goes on: a sweep finishes a run, a search ranks one
 * candidate at the longest budget); 0 when m is 0 */
int nl_halving_keep(int m, int eta);

#endif

/* A run that dies of a fatal signal (an illegal instruction where
 * OPENBLAS_CORETYPE names a core the CPU lacks, a bad address, a bus error,
 * an arithmetic trap, an abort) leaves a summary.json that says so: status
 * failed, its reason beginning NL_RUN_CRASHED_REASON and naming the signal,
 * instead of the "running" written at its start, which reads as a run still
 * going or killed. Failed, not a status of its own: every reader (show,
 * table, report, verdict, a resumed sweep that runs it again) already knows
 * what a failed run is, and the reason tells the crash apart.
 *
 * Two writers, for two ways a run is started:
 *  - the run itself: a process of its own (`normlab run`) prepares the
 *    record once its "running" summary is on disk (nl_crash_record_arm), and
 *    its fatal-signal handler writes it with async-signal-safe calls only
 *    (nl_crash_record_write), the step it had reached included;
 *  - a sweep, from waitpid: a run process that died of such a signal and
 *    still says "running" (its handler could not run: a stack overflow on a
 *    thread without an alternate stack) is rewritten as crashed there
 *    (nl_summary_record_crash). The parent's record cannot fail with the
 *    child's memory.
 * SIGKILL, SIGTERM and SIGINT are not crashes: a run killed so stays as it
 * was (running, or interrupted), and resumes from its checkpoint. */
#ifndef NL_RESULTS_CRASH_H
#define NL_RESULTS_CRASH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

/* SIGILL, SIGSEGV, SIGBUS, SIGFPE, SIGABRT, SIGSYS, SIGTRAP: a signal
 * that ends a run because of what it executed, not because it was asked to */
bool nl_crash_signal(int sig);

/* "crashed: SIGILL (illegal instruction) after N steps" (no steps part when
 * steps < 0) into buf; async-signal-safe (no stdio, no locale); the
 * length written */
size_t nl_crash_reason(char *buf, size_t size, int sig, long steps);

/* Rewrites DIR/summary.json as failed with the crash's reason when it says
 * "running" (a whole file); NL_OK writing nothing when it says anything
 * else or is absent (the run recorded its own end, or never started). */
nl_code nl_summary_record_crash(const char *dir, int sig, nl_error *err);

/* Prepares the record of this process's run in DIR, from its "running"
 * summary.json there; `steps` (read at the crash) is the run's step count.
 * One run per process: a second arm replaces the first. */
nl_code nl_crash_record_arm(const char *dir, const long *steps, nl_error *err);
/* no record to write any more: the run writes its own end now */
void nl_crash_record_disarm(void);
/* From a handler of `sig`: writes the prepared record, if any, atomically
 * (a temporary file renamed over summary.json); async-signal-safe. */
void nl_crash_record_write(int sig);

/* A test hook, inert unless NORMLAB_TEST_CRASH=SIGNAL:STEP (SIGSEGV:3, say)
 * is set: raises that signal as the run begins its step after STEP steps
 * taken, as a crash in that step would; SIGNAL:STEP:unhandled first restores the
 * signal's default action, as a crash whose handler cannot run (a sweep
 * then records it). Called by the training loop as each step begins; the tests
 * of a crash's record (tests/test_crash.c) use it. */
void nl_crash_test_hook(long steps);

#endif

/* Child processes (core/proc/proc.h), with small programs every system has,
 * each started from an argv (a shell only where the program under test is
 * one): exit statuses and signals as values, a wait that times out and one
 * that does not, the streams (/dev/null by default, a descriptor, pipes
 * both ways, stdout and stderr in one pipe, output past a bound read
 * away), the environment and working directory passed on, the signal mask,
 * a program that is not there, and a child that dies with its parent. */
#define _GNU_SOURCE /* PR_SET_CHILD_SUBREAPER */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"
#include "testutil.h"

/* runs argv to its end with stdout (and stderr when `both`) captured */
static nl_proc_output run_captured(const char *const *argv, bool both, nl_proc_end *end)
{
    const nl_proc_spec spec = {.argv = argv, .out = {NL_PROC_PIPE}, .err = {both ? NL_PROC_PIPE : NL_PROC_NULL}};
    nl_proc_output out;
    nl_error err = {0};
    ck_assert_msg(nl_proc_run(&spec, 1 << 16, &out, end, &err) == NL_OK, "%s: %s", argv[0], err.msg);
    ck_assert(end->ended);
    return out;
}

/* a child that was waited for is gone: no zombie is left */
static void assert_reaped(pid_t pid)
{
    errno = 0;
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}

START_TEST(test_exit_status_and_signal)
{
    nl_proc_end end;
    char how[64];
    const char *const exit3[] = {"/bin/sh", "-c", "exit 3", NULL};
    free(run_captured(exit3, false, &end).text);
    nl_proc_describe(&end, how, sizeof how);
    ck_assert(end.exited);
    ck_assert_int_eq(end.code, 3);
    ck_assert_str_eq(how, "exit status 3");
    ck_assert_int_eq(nl_proc_status(&end), 3);
    const char *const truth[] = {"/bin/true", NULL};
    free(run_captured(truth, false, &end).text);
    ck_assert(end.exited && end.code == 0);
    const char *const killed[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    free(run_captured(killed, false, &end).text);
    nl_proc_describe(&end, how, sizeof how);
    ck_assert(!end.exited);
    ck_assert_int_eq(end.signal, SIGTERM);
    ck_assert_str_eq(how, "killed by signal 15");
    ck_assert_int_eq(nl_proc_status(&end), 128 + SIGTERM);
}
END_TEST

START_TEST(test_wait_times_out)
{
    const char *const argv[] = {"/bin/sleep", "30", NULL};
    nl_proc p;
    nl_proc_end end;
    nl_error err = {0};
    ck_assert_msg(nl_proc_start(&(nl_proc_spec){.argv = argv}, &p, &err) == NL_OK, "%s", err.msg);
    const pid_t pid = p.pid;
    ck_assert_int_eq(nl_proc_wait(&p, 0, &end, &err), NL_OK);
    ck_assert(!end.ended);
    ck_assert_int_eq(nl_proc_wait(&p, 0.2, &end, &err), NL_OK);
    ck_assert(!end.ended);
    ck_assert_int_eq(p.pid, pid);
    nl_proc_signal(&p, SIGKILL);
    ck_assert_msg(nl_proc_wait(&p, -1, &end, &err) == NL_OK, "%s", err.msg);
    ck_assert(end.ended && !end.exited);
    ck_assert_int_eq(end.signal, SIGKILL);
    ck_assert_msg(end.wall_s >= 0.2 && end.wall_s < 25, "%g s", end.wall_s);
    ck_assert_int_eq(p.pid, 0);
    assert_reaped(pid);
    /* a child that ends within the timeout is seen ending, not waited out */
    const char *const quick[] = {"/bin/sh", "-c", "exit 4", NULL};
    ck_assert(nl_proc_start(&(nl_proc_spec){.argv = quick}, &p, &err) == NL_OK);
    ck_assert_int_eq(nl_proc_wait(&p, 20, &end, &err), NL_OK);
    ck_assert(end.ended && end.exited && end.code == 4);
    ck_assert_msg(end.wall_s < 15, "%g s", end.wall_s);
}
END_TEST

START_TEST(test_output_captured)
{
    nl_proc_end end;
    /* argv words reach the program as they are: no shell reads them */
    const char *const echo[] = {"/bin/echo", "a  b", "$HOME", "`id`;", NULL};
    nl_proc_output out = run_captured(echo, false, &end);
    ck_assert_str_eq(out.text, "a  b $HOME `id`;\n");
    ck_assert(!out.cut);
    free(out.text);
    const char *const both[] = {"/bin/sh", "-c", "echo out; echo err >&2", NULL};
    out = run_captured(both, true, &end);
    ck_assert_str_eq(out.text, "out\nerr\n");
    free(out.text);
    out = run_captured(both, false, &end);
    ck_assert_str_eq(out.text, "out\n");
    free(out.text);
    /* argv[0] is the program's to read, whatever file it was started from */
    const char *const named[] = {"given-name", "-c", "echo $0", NULL};
    const nl_proc_spec renamed = {.argv = named, .path = "/bin/sh", .out = {NL_PROC_PIPE}};
    nl_error err = {0};
    ck_assert_msg(nl_proc_run(&renamed, 100, &out, &end, &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(out.text, "given-name\n");
    free(out.text);
    /* past the bound: kept to it, the rest read away so that the child
     * ends on its own instead of by SIGPIPE */
    const char *const zeros[] = {"/usr/bin/head", "-c", "300000", "/dev/zero", NULL};
    const nl_proc_spec spec = {.argv = zeros, .out = {NL_PROC_PIPE}};
    ck_assert(nl_proc_run(&spec, 10, &out, &end, &err) == NL_OK);
    ck_assert(out.cut);
    ck_assert_int_eq(out.len, 10);
    ck_assert(end.exited && end.code == 0);
    free(out.text);
}
END_TEST

START_TEST(test_streams)
{
    nl_proc_end end;
    nl_error err = {0};
    /* stdin is /dev/null unless told: cat ends at once */
    const char *const cat[] = {"/bin/cat", NULL};
    nl_proc_output out = run_captured(cat, false, &end);
    ck_assert_str_eq(out.text, "");
    ck_assert(end.exited && end.code == 0);
    free(out.text);
    /* fed through a pipe, read back through another */
    nl_proc p;
    const nl_proc_spec fed = {.argv = cat, .in = {NL_PROC_PIPE}, .out = {NL_PROC_PIPE}};
    ck_assert_msg(nl_proc_start(&fed, &p, &err) == NL_OK, "%s", err.msg);
    ck_assert(p.to_child >= 0 && p.from_child >= 0);
    ck_assert_int_eq(write(p.to_child, "fed\n", 4), 4);
    close(p.to_child);
    ck_assert(nl_proc_read(p.from_child, p.program, 100, &out, &err) == NL_OK);
    close(p.from_child);
    ck_assert(nl_proc_wait(&p, -1, &end, &err) == NL_OK);
    ck_assert_str_eq(out.text, "fed\n");
    free(out.text);
    /* into a descriptor the caller keeps */
    tu_tmp_make("proc");
    char path[512];
    snprintf(path, sizeof path, "%s/log.txt", tu_tmp);
    const int log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(log, 0);
    const char *const both[] = {"/bin/sh", "-c", "echo out; echo err >&2", NULL};
    const nl_proc_spec logged = {.argv = both, .out = {NL_PROC_FD, log}, .err = {NL_PROC_FD, log}};
    ck_assert(nl_proc_start(&logged, &p, &err) == NL_OK);
    ck_assert(p.to_child < 0 && p.from_child < 0);
    ck_assert(nl_proc_wait(&p, -1, &end, &err) == NL_OK);
    close(log);
    char *text = tu_tmp_read("log.txt");
    ck_assert_str_eq(text, "out\nerr\n");
    free(text);
    tu_tmp_remove();
}
END_TEST

START_TEST(test_environment_directory_and_mask)
{
    nl_proc_end end;
    setenv("NL_PROC_TEST_VALUE", "passed on", 1);
    const char *const env[] = {"/usr/bin/env", NULL};
    nl_proc_output out = run_captured(env, false, &end);
    ck_assert_msg(strstr(out.text, "\nNL_PROC_TEST_VALUE=passed on\n"), "%s", out.text);
    free(out.text);
    const char *const pwd[] = {"pwd", NULL};
    const nl_proc_spec in_root = {.argv = pwd, .search_path = true, .dir = "/", .out = {NL_PROC_PIPE}};
    nl_error err = {0};
    ck_assert_msg(nl_proc_run(&in_root, 100, &out, &end, &err) == NL_OK, "%s", err.msg);
    ck_assert_str_eq(out.text, "/\n");
    free(out.text);
    /* the mask this process blocks is not the child's unless given */
    sigset_t term, before;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &before);
    const char *const status[] = {"/bin/grep", "^SigBlk", "/proc/self/status", NULL};
    out = run_captured(status, false, &end);
    ck_assert_str_eq(out.text, "SigBlk:\t0000000000000000\n");
    free(out.text);
    const nl_proc_spec masked = {.argv = status, .mask = &term, .out = {NL_PROC_PIPE}};
    ck_assert(nl_proc_run(&masked, 100, &out, &end, &err) == NL_OK);
    ck_assert_str_eq(out.text, "SigBlk:\t0000000000004000\n"); /* bit 15 - 1 */
    free(out.text);
    sigprocmask(SIG_SETMASK, &before, NULL);
}
END_TEST

START_TEST(test_start_failures)
{
    nl_proc p;
    nl_proc_output out;
    nl_proc_end end;
    nl_error err = {0};
    const char *const absent[] = {"/nonexistent/normlab-no-such-program", NULL};
    ck_assert_int_eq(nl_proc_start(&(nl_proc_spec){.argv = absent}, &p, &err), NL_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "cannot run /nonexistent/normlab-no-such-program"), "%s", err.msg);
    ck_assert_int_eq(p.pid, 0);
    nl_error_clear(&err);
    const char *const not_on_path[] = {"normlab-no-such-program", NULL};
    const nl_proc_spec searched = {.argv = not_on_path, .search_path = true, .out = {NL_PROC_PIPE}};
    ck_assert_int_eq(nl_proc_run(&searched, 100, &out, &end, &err), NL_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "not found on PATH"), "%s", err.msg);
    ck_assert_ptr_null(out.text);
    nl_error_clear(&err);
    const char *const truth[] = {"/bin/true", NULL};
    const nl_proc_spec nowhere = {.argv = truth, .dir = "/nonexistent/dir"};
    ck_assert_int_eq(nl_proc_start(&nowhere, &p, &err), NL_ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "/nonexistent/dir"), "%s", err.msg);
    /* a program that is there but not one */
    nl_error_clear(&err);
    const char *const dir[] = {"/", NULL};
    ck_assert_int_eq(nl_proc_start(&(nl_proc_spec){.argv = dir}, &p, &err), NL_ERR_RUNTIME);
    /* every child those starts made was reaped */
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}
END_TEST

/* A middle process starts `sleep` with die_with_parent and ends; this
 * process, the subreaper, inherits the sleep and sees it get SIGTERM. */
START_TEST(test_dies_with_parent)
{
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    const pid_t middle = fork();
    ck_assert_int_ge(middle, 0);
    if (middle == 0) {
        const char *const argv[] = {"/bin/sleep", "30", NULL};
        nl_proc p;
        nl_error err = {0};
        if (nl_proc_start(&(nl_proc_spec){.argv = argv, .die_with_parent = true}, &p, &err) != NL_OK)
            _exit(1);
        const ssize_t wrote = write(fds[1], &p.pid, sizeof p.pid);
        _exit(wrote == (ssize_t)sizeof p.pid ? 0 : 1);
    }
    close(fds[1]);
    pid_t sleeper = 0;
    ck_assert_int_eq(read(fds[0], &sleeper, sizeof sleeper), (ssize_t)sizeof sleeper);
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(middle, &status, 0), middle);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(waitpid(sleeper, &status, 0), sleeper);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proc");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_exit_status_and_signal);
    tcase_add_test(tc, test_wait_times_out);
    tcase_add_test(tc, test_output_captured);
    tcase_add_test(tc, test_streams);
    tcase_add_test(tc, test_environment_directory_and_mask);
    tcase_add_test(tc, test_start_failures);
    tcase_add_test(tc, test_dies_with_parent);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}

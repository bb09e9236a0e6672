/*
 * LD_PRELOAD shim for profiling gravel-gateway under valgrind 3.19 (scripts/bench/profile.sh).
 *
 * valgrind 3.19 sanitises the signal mask of rt_sigsuspend in place, in the caller's
 * memory. libdispatch's dispatch_main (Swift's async main on Linux) passes a mask that
 * lives in read-only memory, so valgrind itself dies with SIGSEGV. Passing a copy on
 * the stack gives the kernel the same mask and valgrind a writable one.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, _NSIG / 8);
}

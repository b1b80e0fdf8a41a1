/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SIGBUS, which every access to a revoked key's memory raises, caught
 * around single accesses, per thread.
 */
#ifndef MKTME_SIGBUS_H
#define MKTME_SIGBUS_H

#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

static __thread sigjmp_buf bus_jmp;
static __thread volatile int bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	_exit(99);
}

static inline void catch_sigbus(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigaction(SIGBUS, &sa, NULL);
}

/* 1: SIGBUS; 0: the byte read equals @expect; -1: another byte */
static inline int touch(volatile char *p, char expect)
{
	char c;

	catch_sigbus();
	bus_armed = 1;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return 1;
	}
	c = *p;
	bus_armed = 0;
	return c == expect ? 0 : -1;
}

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * mktme-bench: the guest side of `make bench` (bench/bench.py).
 *
 * The guest runs under QEMU -icount: its clock advances with the
 * instructions it executes, so times repeat run to run.  The model encrypts
 * in the emulator, outside guest time, so what the ratios measure is the
 * kernel's own work for MKTME (KeyID bookkeeping, cache flushes, re-keying
 * copies, PCONFIG, revocation), which is what the design can change.
 *
 * Each result is one line:  "bench NAME VALUE UNIT [-- comment]".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include <linux/mktme.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PAGE		4096UL

#ifndef PR_SET_MKTME_KEY
#error "PR_SET_MKTME_KEY missing: build against the series' UAPI headers"
#endif

static int fault_pages = 1024;
static int mprotect_pages = 256;
static int erase_mib = 4;
static int work_kib = 256;

static void die(const char *what)
{
	fprintf(stderr, "mktme-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long counter(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/mktme/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int new_key(const char *name)
{
	int k = syscall(__NR_add_key, MKTME_KEY_TYPE, name, "type=cpu", 8,
			KEY_SPEC_PROCESS_KEYRING);

	if (k < 0)
		die("add_key");
	return k;
}

static char *map(size_t len, int key)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	madvise(p, len, MADV_NOHUGEPAGE);
	if (key && syscall(__NR_encrypt_mprotect, p, len, PROT_READ | PROT_WRITE, key, 0))
		die("encrypt_mprotect");
	return p;
}

/* Fault in @n pages: ns per fault, and cache flushes per fault */
static double faults(int n, int key, double *flushes)
{
	char *p = map(n * PAGE, key);
	long f0 = counter("cache_flushes");
	uint64_t t0 = now_ns();

	for (int i = 0; i < n; i++)
		p[i * PAGE] = 1;
	t0 = now_ns() - t0;
	*flushes = (double)(counter("cache_flushes") - f0) / n;
	munmap(p, n * PAGE);
	return (double)t0 / n;
}

static void bench_faults(void)
{
	int key = new_key("bench-fault");
	double plain, cold, warm, fl_plain, fl_cold, fl_warm;

	plain = faults(fault_pages, 0, &fl_plain);
	cold = faults(fault_pages, key, &fl_cold);	/* pages last held KeyID 0 */
	warm = faults(fault_pages, key, &fl_warm);	/* the same pages, freed under the key */
	printf("bench fault_plain %.0f ns/fault\n", plain);
	printf("bench fault_encrypted_first %.0f ns/fault -- pages come from KeyID 0: flushed\n", cold);
	printf("bench fault_encrypted_reuse %.0f ns/fault -- pages freed under the same KeyID\n", warm);
	printf("bench fault_ratio_first %.2f x\n", cold / plain);
	printf("bench fault_ratio_reuse %.2f x\n", warm / plain);
	printf("bench flushes_per_fault_plain %.2f flushes\n", fl_plain);
	printf("bench flushes_per_fault_first %.2f flushes\n", fl_cold);
	printf("bench flushes_per_fault_reuse %.2f flushes\n", fl_warm);
	syscall(__NR_keyctl, KEYCTL_REVOKE, key);
}

static void bench_mprotect(void)
{
	size_t len = mprotect_pages * PAGE;
	int key = new_key("bench-mprotect");
	char *p = map(len, 0);
	uint64_t t0, plain, enc;

	memset(p, 'm', len);
	t0 = now_ns();
	if (mprotect(p, len, PROT_READ) || mprotect(p, len, PROT_READ | PROT_WRITE))
		die("mprotect");
	plain = (now_ns() - t0) / 2;
	t0 = now_ns();
	if (syscall(__NR_encrypt_mprotect, p, len, PROT_READ | PROT_WRITE, key, 0))
		die("encrypt_mprotect");
	enc = now_ns() - t0;
	printf("bench mprotect %lu ns -- %d present pages\n", (unsigned long)plain, mprotect_pages);
	printf("bench encrypt_mprotect %lu ns -- the same pages, re-keyed in place\n",
	       (unsigned long)enc);
	printf("bench encrypt_mprotect_ratio %.1f x\n", (double)enc / plain);
	munmap(p, len);
	syscall(__NR_keyctl, KEYCTL_REVOKE, key);
}

static void bench_keys(void)
{
	uint64_t add = 0, revoke = 0, t0;
	int n = 8;

	for (int i = 0; i < n; i++) {
		char name[32];
		int key;

		snprintf(name, sizeof(name), "bench-key-%d", i);
		t0 = now_ns();
		key = new_key(name);
		add += now_ns() - t0;
		t0 = now_ns();
		if (syscall(__NR_keyctl, KEYCTL_REVOKE, key))
			die("revoke");
		revoke += now_ns() - t0;
	}
	printf("bench key_add %lu ns -- PCONFIG on every package\n", (unsigned long)(add / n));
	printf("bench key_revoke_idle %lu ns -- nothing mapped: scan, WBINVD, PCONFIG\n",
	       (unsigned long)(revoke / n));
}

static void bench_erase(void)
{
	size_t len = (size_t)erase_mib << 20;
	int key = new_key("bench-erase");
	char *p = map(len, key);
	uint64_t t0;

	for (size_t i = 0; i < len; i += PAGE)
		p[i] = 1;
	t0 = now_ns();
	if (syscall(__NR_keyctl, KEYCTL_REVOKE, key))
		die("revoke");
	t0 = now_ns() - t0;
	printf("bench key_revoke_%dmib %lu ns -- %d MiB mapped: torn down and erased\n",
	       erase_mib, (unsigned long)t0, erase_mib);
	munmap(p, len);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A small workload of the kind a process does with its anonymous memory:
 * allocate, fill, sort, copy, free, several times.  Returns its time.
 */
static uint64_t workload(void)
{
	size_t n = (size_t)work_kib * 1024 / sizeof(uint32_t);
	uint64_t t0 = now_ns();
	uint32_t x = 12345;

	for (int round = 0; round < 4; round++) {
		uint32_t *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));

		if (!a || !b)
			die("malloc");
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			a[i] = x;
		}
		qsort(a, n, sizeof(*a), cmp_u32);
		memcpy(b, a, n * sizeof(*a));
		free(a);
		free(b);
	}
	return now_ns() - t0;
}

/*
 * Process churn, like a build: short-lived processes that fault in fresh
 * memory, compute a little and exit.  Returns its time.
 */
static uint64_t churn(void)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < 16; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (!pid) {
			size_t n = (size_t)work_kib * 1024 / sizeof(uint32_t);
			uint32_t *a = malloc(n * sizeof(*a)), x = i;

			if (!a)
				_exit(1);
			for (size_t j = 0; j < n; j++) {
				x = x * 1103515245 + 12345;
				a[j] = x;
			}
			qsort(a, n / 16, sizeof(*a), cmp_u32);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	return now_ns() - t0;
}

/* A workload in a child, under a default key (all its new memory) or not */
static uint64_t workload_child(int key, uint64_t (*fn)(void))
{
	int fd[2], status;
	uint64_t t = 0;
	pid_t pid;

	if (pipe(fd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(fd[0]);
		if (key && prctl(PR_SET_MKTME_KEY, key, -1, PR_MKTME_REKEY, 0))
			die("prctl(PR_SET_MKTME_KEY)");
		t = fn();
		if (write(fd[1], &t, sizeof(t)) != sizeof(t))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &t, sizeof(t)) != sizeof(t))
		t = 0;
	close(fd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) || !t) {
		fprintf(stderr, "mktme-bench: the workload's process failed\n");
		exit(1);
	}
	return t;
}

static void bench_workload(const char *name, uint64_t (*fn)(void), const char *what)
{
	int key = new_key("bench-work");
	uint64_t plain, enc;

	workload_child(0, fn);	/* warm up the allocator's free lists */
	plain = workload_child(0, fn);
	enc = workload_child(key, fn);
	printf("bench %s_plain %lu ns -- %s\n", name, (unsigned long)plain, what);
	printf("bench %s_encrypted %lu ns -- the same, all anonymous memory under a key\n",
	       name, (unsigned long)enc);
	printf("bench %s_overhead %+.2f %% -- the 2019 series: +20 %% on a kernel build\n",
	       name, 100.0 * ((double)enc / plain - 1));
	syscall(__NR_keyctl, KEYCTL_REVOKE, key);
}

/*
 * --unused: what CONFIG_X86_MKTME=y costs a machine that never creates a
 * key.  bench.py boots this first thing on the MKTME kernel and on the
 * same tree built without the option, and divides: the work of page
 * faults, fork and exit, mmap and munmap, pipes, and the compute
 * workload, none of it under a key.
 */
static uint64_t unused_work(void)
{
	uint64_t t0 = now_ns();
	char buf[PAGE], *p;
	int fd[2];

	for (int i = 0; i < 4; i++) {
		p = map(fault_pages * PAGE, 0);
		for (int j = 0; j < fault_pages; j++)
			p[j * PAGE] = 1;
		munmap(p, fault_pages * PAGE);
	}
	churn();
	workload();
	for (int i = 0; i < 256; i++) {
		p = map(16 * PAGE, 0);
		memset(p, i, 16 * PAGE);
		munmap(p, 16 * PAGE);
	}
	if (pipe(fd))
		die("pipe");
	for (int i = 0; i < 256; i++) {
		memset(buf, i, sizeof(buf));
		if (write(fd[1], buf, sizeof(buf)) != sizeof(buf) ||
		    read(fd[0], buf, sizeof(buf)) != sizeof(buf))
			die("pipe");
	}
	close(fd[0]);
	close(fd[1]);
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--unused")) {
		unused_work();	/* warm up the allocator's free lists */
		printf("bench unused_work %lu ns -- faults, fork, mmap, pipes, compute; no key ever created\n",
		       (unsigned long)unused_work());
		printf("bench done\n");
		return 0;
	}
	for (int i = 1; i < argc; i += 2) {
		static const struct { const char *name; int *val; } opts[] = {
			{ "--fault-pages", &fault_pages }, { "--mprotect-pages", &mprotect_pages },
			{ "--erase-mib", &erase_mib }, { "--work-kib", &work_kib },
		};
		size_t o;
		char *end;
		long v;

		for (o = 0; o < sizeof(opts) / sizeof(opts[0]); o++)
			if (!strcmp(argv[i], opts[o].name))
				break;
		if (o == sizeof(opts) / sizeof(opts[0]) || i + 1 == argc) {
			fprintf(stderr, "usage: mktme-bench [--fault-pages N] [--mprotect-pages N] [--erase-mib N] [--work-kib N]\n"
				"       mktme-bench --unused\n");
			return 1;
		}
		v = strtol(argv[i + 1], &end, 10);
		if (*end || v < 1 || v > 65536) {
			fprintf(stderr, "mktme-bench: %s: '%s' is not a number from 1 to 65536\n",
				argv[i], argv[i + 1]);
			return 1;
		}
		*opts[o].val = v;
	}
	if (counter("nr_keyids") <= 0) {
		fprintf(stderr, "mktme-bench: MKTME is not enabled\n");
		return 4;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_faults();
	bench_mprotect();
	bench_keys();
	bench_erase();
	bench_workload("compute", workload,
		       "malloc, fill, qsort, memcpy of --work-kib KiB, 4 rounds");
	bench_workload("churn", churn,
		       "16 processes, each faulting in --work-kib KiB, like a build");
	printf("bench done\n");
	return 0;
}

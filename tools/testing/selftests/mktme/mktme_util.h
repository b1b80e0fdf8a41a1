/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the MKTME selftests: keys, smaps, capabilities. */
#ifndef MKTME_UTIL_H
#define MKTME_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/mktme.h>

/* Key permissions (keyctl(2)), which no UAPI header defines */
#ifndef KEY_POS_VIEW
#define KEY_POS_VIEW	0x01000000
#endif
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef __NR_encrypt_mprotect
#error "__NR_encrypt_mprotect missing: build against the series' UAPI headers"
#endif

/* prctl() of a process's default key: from <linux/prctl.h> of the series */
#ifndef PR_SET_MKTME_KEY
#define PR_SET_MKTME_KEY	74
#define PR_MKTME_REKEY		(1UL << 0)
#define PR_GET_MKTME_KEY	75
#endif

static inline long sys_encrypt_mprotect(void *addr, size_t len, int prot,
					int serial, unsigned long flags)
{
	return syscall(__NR_encrypt_mprotect, addr, len, prot, serial, flags);
}

/*
 * Tests keep their keys in a session keyring of their own, joined on first
 * use: using a key takes possessing it (or a Search grant), and a child
 * inherits its parent's session keyring, not its process keyring; the
 * keys go with the test's processes.
 */
static inline int test_keyring(void)
{
	static int joined;

	if (!joined) {
		syscall(__NR_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0UL);
		joined = 1;
	}
	return KEY_SPEC_SESSION_KEYRING;
}

static inline int add_mktme_key(const char *desc, const char *payload)
{
	return syscall(__NR_add_key, MKTME_KEY_TYPE, desc, payload,
		       strlen(payload), test_keyring());
}

static inline long keyctl(int op, unsigned long a, unsigned long b,
			  unsigned long c, unsigned long d)
{
	return syscall(__NR_keyctl, op, a, b, c, d);
}

/* The KeyID of an mktme key, from its line in /proc/keys; -1 if none */
static inline int key_keyid(int serial)
{
	FILE *f = fopen("/proc/keys", "r");
	char line[512], *p;
	int keyid = -1;
	unsigned int id;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%x ", &id) != 1 || id != (unsigned int)serial)
			continue;
		p = strstr(line, "keyid=");
		if (p)
			keyid = atoi(p + 6);
		break;
	}
	fclose(f);
	return keyid;
}

/* The rest of a key's /proc/keys line after its type, or "" */
static inline void key_proc_line(int serial, char *buf, size_t size)
{
	FILE *f = fopen("/proc/keys", "r");
	unsigned int id;

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(buf, size, f))
		if (sscanf(buf, "%x ", &id) == 1 && id == (unsigned int)serial)
			break;
		else
			buf[0] = '\0';
	fclose(f);
}

/* A key's usage count (the third field of /proc/keys); -1 if not found */
static inline int key_usage(int serial)
{
	char line[512];
	int usage;

	key_proc_line(serial, line, sizeof(line));
	return sscanf(line, "%*x %*s %d", &usage) == 1 ? usage : -1;
}

/* The "KeyID:" line of the smaps entry that contains @addr; -1 if none */
static inline int smaps_keyid(const void *addr)
{
	unsigned long a = (unsigned long)addr, start, end;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, keyid = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = a >= start && a < end;
			continue;
		}
		if (in && sscanf(line, "KeyID: %d", &keyid) == 1)
			break;
	}
	fclose(f);
	return keyid;
}

static inline long read_long_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Write @val to the file @path: 0, or -1 */
static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

/* A field of a NUMA node's meminfo ("MemTotal", "MemFree"), in kB; -1 */
static inline long node_meminfo_kb(int node, const char *field)
{
	char path[96], line[256], fmt[64];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	snprintf(fmt, sizeof(fmt), "Node %%*d %s: %%ld kB", field);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A counter of /sys/kernel/mm/mktme/; -1 if it cannot be read */
static inline long mktme_stat(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/mktme/%s", name);
	return read_long_file(path);
}

static inline long keyids_in_use(void)
{
	return mktme_stat("keyids_in_use");
}

/* Drop every capability from the effective set (and the permitted one). */
static inline int drop_all_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { };

	return syscall(__NR_capset, &hdr, data);
}

/* @len bytes of private anonymous memory; MAP_FAILED on error */
static inline void *map_anon(size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* @len bytes of private anonymous memory under key @serial; MAP_FAILED on error */
static inline void *map_encrypted(size_t len, int serial)
{
	void *p = map_anon(len);

	if (p != MAP_FAILED &&
	    sys_encrypt_mprotect(p, len, PROT_READ | PROT_WRITE, serial, 0)) {
		munmap(p, len);
		p = MAP_FAILED;
	}
	return p;
}

/* The pagemap entry of the page holding @p (0 if it cannot be read) */
static inline uint64_t pagemap_entry(const void *p)
{
	unsigned long page = sysconf(_SC_PAGESIZE);
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (unsigned long)p / page * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return e;
}

/* Physical address of @p (root only: PFNs are hidden from others); 0: none */
static inline uint64_t phys_addr_of(const void *p)
{
	uint64_t e = pagemap_entry(p), pfn = e & ((1ULL << 55) - 1);
	unsigned long page = sysconf(_SC_PAGESIZE);

	if (!(e & (1ULL << 63)) || !pfn)
		return 0;
	return pfn * page + (unsigned long)p % page;
}

static inline int page_swapped(const void *p)
{
	return !!(pagemap_entry(p) & (1ULL << 62));
}

/*
 * Whether DRAM holds ciphertext for [p, p + len) (64-byte aligned): every
 * line as read through KeyID 0, without decryption, from the debugfs file
 * /sys/kernel/debug/mktme/phys differs from what the process reads.
 * 1: ciphertext; 0: a line is in DRAM as plaintext; -1: cannot tell, or
 * a page is not encrypted (the file serves encrypted pages only).
 */
static inline int dram_is_ciphertext(const void *p, size_t len)
{
	size_t page = sysconf(_SC_PAGESIZE), off, n, i;
	int fd = open("/sys/kernel/debug/mktme/phys", O_RDONLY);
	char *raw = malloc(page);
	const char *c = p;
	uint64_t pa;
	int ret = 1;

	if (fd < 0 || !raw)
		ret = -1;
	/* A page at a time: the file reads up to the end of one */
	for (off = 0; off < len && ret == 1; off += n) {
		n = page - (uintptr_t)(c + off) % page;
		if (n > len - off)
			n = len - off;
		pa = phys_addr_of(c + off);
		if (!pa || pread(fd, raw, n, pa) != (ssize_t)n) {
			ret = -1;
			break;
		}
		for (i = 0; i < n; i += 64)
			if (!memcmp(raw + i, c + off + i, n - i < 64 ? n - i : 64))
				ret = 0;
	}
	free(raw);
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Whether the page holding @p has a KeyID other than 0, asked of the
 * debugfs file /sys/kernel/debug/mktme/phys (it refuses KeyID 0 pages
 * with EPERM): 1 yes, 0 no, -1 cannot tell.
 */
static inline int page_has_keyid(const void *p)
{
	int fd = open("/sys/kernel/debug/mktme/phys", O_RDONLY);
	uint64_t pa = phys_addr_of(p);
	ssize_t n = -1;
	char c;

	if (fd < 0)
		return -1;
	if (pa)
		n = pread(fd, &c, 1, pa);
	close(fd);
	if (n == 1)
		return 1;
	return n < 0 && errno == EPERM ? 0 : -1;
}

/* mm/gup_test.h (CONFIG_GUP_TEST): a long-term pin held by the kernel */
struct pin_longterm_test {
	uint64_t addr;
	uint64_t size;
	uint32_t flags;
};
#define PIN_LONGTERM_WRITE	1	/* pin for writing */
#define PIN_LONGTERM_FAST	2	/* through GUP-fast */
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, uint64_t)

/*
 * A child that migrates @npages pages from @buf between NUMA nodes 0 and 1
 * with move_pages() (as compaction would, without the mmap_lock) until
 * stopped.  It pauses while the parent checks DRAM.
 */
struct mover {
	volatile int pause, paused, stop;
	pid_t pid;
};

static inline struct mover *start_mover(char *buf, int npages, long page)
{
	struct mover *m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t parent = getpid(), pid;
	void *pages[npages];
	int nodes[npages], st[npages], i, to = 1;

	if (m == MAP_FAILED)
		return NULL;
	pid = fork();
	if (pid < 0)
		return NULL;
	if (pid) {
		m->pid = pid;
		return m;
	}
	/* Not left behind by a failed assertion */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	while (!m->stop) {
		m->paused = m->pause;
		if (m->pause) {
			/* The CPU to the parent's check meanwhile */
			usleep(1000);
			continue;
		}
		for (i = 0; i < npages; i++) {
			pages[i] = buf + i * page;
			nodes[i] = to;
		}
		syscall(__NR_move_pages, parent, npages, pages, nodes, st,
			4 /* MPOL_MF_MOVE_ALL */);
		to = !to;
	}
	_exit(0);
}

static inline void mover_pause(struct mover *m, int pause)
{
	m->pause = pause;
	while (m->paused != pause)
		;
}

/* 0 once the mover has exited */
static inline int stop_mover(struct mover *m)
{
	int status;

	m->stop = 1;
	if (waitpid(m->pid, &status, 0) != m->pid)
		return -1;
	munmap(m, sizeof(*m));
	return 0;
}

static inline int mktme_available(void)
{
	return access("/sys/kernel/mm/mktme/nr_keyids", F_OK) == 0;
}

#endif

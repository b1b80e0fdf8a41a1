// SPDX-License-Identifier: GPL-2.0
/*
 * Memory and CPU hot-add from the host, with MKTME enabled.  The guest
 * runs with scripts/run-guest.sh --hotplug: a socket with no CPU yet,
 * room for a DIMM, "mktme_hotplug=host" on the command line, and
 * scripts/hotplug-host.py on the host, which does what the test asks
 * with QMP.  They talk through the scratch disk, with O_DIRECT here: the
 * request "N WHAT" at 14 MiB, the answer "N: ANSWER" at 15 MiB.
 *
 *	add-memory	a 128 MiB DIMM on node 1 (device_add pc-dimm)
 *	add-cpu		a CPU in the empty socket, package 2, on node 2,
 *			which has no memory (device_add)
 *	keys N K...	the model's key table of package 2: how each KeyID
 *			is programmed, "K=state" for each K asked, then
 *			"programmed=P of N" for KeyIDs 1..N
 *
 * Hot-added memory has no KeyID aliases: the kernel refuses it.  A new
 * package gets every KeyID programmed before its CPU runs user code: a
 * CPU key gets a fresh random key, a user key the material the kernel
 * kept (/sys/kernel/mm/mktme/keep_user_keys), or the CPU stays offline.
 *
 * package_with_memory_waits_for_its_cpu needs no host: it runs in a guest
 * booted with maxcpus=1.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

#define DISK		"/dev/vda"
#define REQUEST_AT	(14UL << 20)
#define REPLY_AT	(15UL << 20)
#define REPLY_SIZE	4096
#define NEW_CPU		"/sys/devices/system/cpu/cpu2"
#define USER_KEY	"type=user algorithm=aes-xts-128 " \
			"key=00112233445566778899aabbccddeeff tweak=ffeeddccbbaa99887766554433221100"

static int host_driven(void)
{
	char cmdline[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	if (!fgets(cmdline, sizeof(cmdline), f))
		cmdline[0] = '\0';
	fclose(f);
	return strstr(cmdline, "mktme_hotplug=host") != NULL;
}

/*
 * Ask the host for @what and wait up to 120 s for its answer, which goes
 * into @reply (without the "N: " prefix).  0, or -1 without one.  Each
 * test runs in a process of its own: N is unique across them.
 */
static int ask_host(const char *what, char *reply, size_t size)
{
	static int n;
	char *buf, want[32];
	long seq = (long)getpid() * 100 + ++n;
	int fd, i, ret = -1;

	if (posix_memalign((void **)&buf, REPLY_SIZE, REPLY_SIZE))
		return -1;
	fd = open(DISK, O_RDWR | O_DIRECT);
	if (fd < 0)
		goto out;
	snprintf(want, sizeof(want), "%ld: ", seq);
	ksft_print_msg("mktme-hotplug: request %ld %s\n", seq, what);
	memset(buf, 0, REPLY_SIZE);
	snprintf(buf, REPLY_SIZE, "%ld %s\n", seq, what);
	if (pwrite(fd, buf, REPLY_SIZE, REQUEST_AT) != REPLY_SIZE || fdatasync(fd))
		goto out_close;
	for (i = 0; i < 1200 && ret; i++) {
		if (i)
			usleep(100000);
		if (pread(fd, buf, REPLY_SIZE, REPLY_AT) != REPLY_SIZE) {
			ksft_print_msg("reading the host's answer: %s\n", strerror(errno));
			break;
		}
		buf[REPLY_SIZE - 1] = '\0';
		if (strncmp(buf, want, strlen(want)))
			continue;
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(reply, size, "%s", buf + strlen(want));
		ret = 0;
	}
	if (ret)
		ksft_print_msg("no answer %s from the host; the disk holds \"%.20s\"\n",
			       want, buf);
out_close:
	close(fd);
out:
	free(buf);
	return ret;
}

/* Wait up to 60 s for @path to exist */
static int wait_for(const char *path)
{
	int i;

	for (i = 0; i < 600; i++) {
		if (!access(path, F_OK))
			return 0;
		usleep(100000);
	}
	return -1;
}

static int kmsg_has(const char *a, const char *b);

/* Wait up to 60 s for a kernel message with both @a and @b */
static int wait_for_kmsg(const char *a, const char *b)
{
	int i;

	for (i = 0; i < 600; i++) {
		if (kmsg_has(a, b) == 1)
			return 0;
		usleep(100000);
	}
	return -1;
}

static int count_memory_blocks(void)
{
	char path[64];
	int i, n = 0;

	for (i = 0; i < 4096; i++) {
		snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%d", i);
		n += !access(path, F_OK);
	}
	return n;
}

/* Whether the kernel log has a line with both @a and @b */
static int kmsg_has(const char *a, const char *b)
{
	char line[2048];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK), found = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (!found && (n = read(fd, line, sizeof(line) - 1)) != 0) {
		if (n < 0) {
			if (errno == EPIPE)
				continue;
			break;
		}
		line[n] = '\0';
		found = strstr(line, a) && strstr(line, b);
	}
	close(fd);
	return found;
}

/* "echo 1 > cpuN/online": 0 or -errno */
static int set_online(const char *cpu, int on)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/online", cpu);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, on ? "1" : "0", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

struct on_cpu {
	int cpu;
	char *p;
	const char *want;
	size_t len;
	int ret;
};

static void *on_cpu_fn(void *arg)
{
	struct on_cpu *w = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) || sched_getcpu() != w->cpu)
		w->ret = 2;
	else if (memcmp(w->p, w->want, w->len))
		w->ret = 3;
	else
		memset(w->p, 0x5a, w->len);
	return NULL;
}

/*
 * A thread on CPU @cpu checks @len bytes at @p against @want, and writes
 * them: 0, 2 if it could not run there, 3 if it read something else.
 */
static int check_on_cpu(int cpu, char *p, const char *want, size_t len)
{
	struct on_cpu w = { cpu, p, want, len, 0 };
	pthread_t t;

	if (pthread_create(&t, NULL, on_cpu_fn, &w) || pthread_join(t, NULL))
		return -1;
	return w.ret;
}

/* The NUMA node of the page at @p, from move_pages(2); -1 if unknown */
static int node_of(void *p)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &p, NULL, &status, 0))
		return -1;
	return status;
}

/*
 * Booted with maxcpus=1, package 1 owns node 1's memory and has no online
 * CPU: no key can be programmed there, so none is added, and the kernel
 * says why.  Its CPU's first online programs its key table; from then on
 * keys work, for memory on node 1 too.
 */
TEST(package_with_memory_waits_for_its_cpu)
{
	long page = sysconf(_SC_PAGESIZE);
	char *want, *p;
	int key;

	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	if (read_long_file("/sys/devices/system/cpu/cpu1/online") != 0)
		SKIP(return, "CPU 1 is online (boot with maxcpus=1 to leave package 1 without one)");
	EXPECT_EQ(-1, add_mktme_key("maxcpus-early", "type=cpu"));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(1, kmsg_has("owns the memory of node 1", "has no online CPU"));

	ASSERT_EQ(0, set_online("/sys/devices/system/cpu/cpu1", 1));
	EXPECT_EQ(1, kmsg_has("package 1:", "KeyIDs programmed"));
	key = add_mktme_key("maxcpus-late", "type=cpu");
	ASSERT_LT(0, key);
	want = calloc(1, page);
	p = map_encrypted(page, key);
	ASSERT_NE(NULL, want);
	ASSERT_NE(MAP_FAILED, p);
	/* CPU 1 reads the zero page, then its write fault allocates on node 1 */
	EXPECT_EQ(0, check_on_cpu(1, p, want, page));
	memset(want, 0x5a, page);
	EXPECT_EQ(0, memcmp(p, want, page));
	EXPECT_EQ(1, node_of(p));
	EXPECT_EQ(1, dram_is_ciphertext(p, page));
	munmap(p, page);
	free(want);
	EXPECT_EQ(0, keyctl(KEYCTL_REVOKE, key, 0, 0, 0));
}

FIXTURE(hotplug) {
	char reply[512];
};

FIXTURE_SETUP(hotplug)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	if (!host_driven())
		SKIP(return, "no host to hot-add from (scripts/run-guest.sh --hotplug)");
}

FIXTURE_TEARDOWN(hotplug)
{
	/* An assertion may have left the material kept */
	if (!access("/sys/kernel/mm/mktme/keep_user_keys", W_OK))
		write_file("/sys/kernel/mm/mktme/keep_user_keys", "0");
}

/* The DIMM's memory is refused, and the kernel says why */
TEST_F_TIMEOUT(hotplug, memory_hotplug_refused, 300)
{
	long total = node_meminfo_kb(1, "MemTotal");
	int blocks = count_memory_blocks();

	ASSERT_EQ(0, ask_host("add-memory", self->reply, sizeof(self->reply)));
	ASSERT_STREQ("done", self->reply);
	/* the ACPI memory driver adds it from a work item */
	EXPECT_EQ(0, wait_for_kmsg("memory hot-add of", "refused"));
	EXPECT_EQ(blocks, count_memory_blocks());
	EXPECT_EQ(total, node_meminfo_kb(1, "MemTotal"));
}

/*
 * A CPU of a new package: refused while a user key whose material was
 * not kept is in use; then, with the material kept, online, with every
 * KeyID programmed on its package as the model's key table shows, and
 * encrypted memory reads and writes correctly from it.  Keys are made and
 * erased while the new package is present and not yet online: its first
 * CPU programs them.
 */
TEST_F_TIMEOUT(hotplug, cpu_hotplug_new_package_programmed, 300)
{
	long page = sysconf(_SC_PAGESIZE);
	int cpu_key, lost_key, kept_key, nr = (int)read_long_file("/sys/kernel/mm/mktme/nr_keyids");
	char *a, *b, *c, *want, what[80];
	long failures;

	ASSERT_LT(0, nr);
	want = map_anon(page);
	ASSERT_NE(MAP_FAILED, want);
	memset(want, 0x3c, page);
	ASSERT_EQ(0, write_file("/sys/kernel/mm/mktme/keep_user_keys", "0"));
	cpu_key = add_mktme_key("hotplug-cpu", "type=cpu");
	lost_key = add_mktme_key("hotplug-lost", USER_KEY);
	ASSERT_LT(0, cpu_key);
	if (lost_key < 0 && errno == EOPNOTSUPP)
		SKIP(return, "user keys not allowed (boot with mktme.user_keys=1)");
	ASSERT_LT(0, lost_key);
	a = map_encrypted(page, cpu_key);
	b = map_encrypted(page, lost_key);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	memset(a, 0x3c, page);
	memset(b, 0x3c, page);

	ASSERT_EQ(0, ask_host("add-cpu", self->reply, sizeof(self->reply)));
	ASSERT_STREQ("done", self->reply);
	ASSERT_EQ(0, wait_for(NEW_CPU "/online"));
	/* the user key's material is gone: package 2 cannot get it */
	EXPECT_EQ(-EPERM, set_online(NEW_CPU, 1));
	EXPECT_EQ(0, read_long_file(NEW_CPU "/online"));
	EXPECT_EQ(1, kmsg_has("cannot come online", "did not keep"));
	/* all or nothing: the refused package holds no key */
	snprintf(what, sizeof(what), "keys %d %d", nr, key_keyid(cpu_key));
	ASSERT_EQ(0, ask_host(what, self->reply, sizeof(self->reply)));
	snprintf(what, sizeof(what), "%d=unprogrammed programmed=0 of %d", key_keyid(cpu_key), nr);
	EXPECT_STREQ(what, self->reply);

	/* kept from now on; the key whose material is lost goes */
	ASSERT_EQ(0, write_file("/sys/kernel/mm/mktme/keep_user_keys", "1"));
	kept_key = add_mktme_key("hotplug-kept", USER_KEY);
	ASSERT_LT(0, kept_key);
	c = map_encrypted(page, kept_key);
	ASSERT_NE(MAP_FAILED, c);
	memset(c, 0x3c, page);
	munmap(b, page);
	failures = mktme_stat("erase_failures");
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, lost_key, 0, 0, 0));
	EXPECT_EQ(failures, mktme_stat("erase_failures"));
	EXPECT_EQ(0, set_online(NEW_CPU, 1));
	EXPECT_EQ(1, read_long_file(NEW_CPU "/online"));

	snprintf(what, sizeof(what), "keys %d %d %d", nr, key_keyid(cpu_key), key_keyid(kept_key));
	ASSERT_EQ(0, ask_host(what, self->reply, sizeof(self->reply)));
	snprintf(what, sizeof(what), "%d=random %d=direct programmed=%d of %d",
		 key_keyid(cpu_key), key_keyid(kept_key), nr, nr);
	EXPECT_STREQ(what, self->reply);

	/* the new CPU reads both keys' memory as written, and writes it */
	EXPECT_EQ(0, check_on_cpu(2, a, want, page));
	EXPECT_EQ(0, check_on_cpu(2, c, want, page));
	memset(want, 0x5a, page);
	EXPECT_EQ(0, memcmp(a, want, page));
	EXPECT_EQ(0, memcmp(c, want, page));
	EXPECT_EQ(1, dram_is_ciphertext(c, page));
	ASSERT_EQ(0, write_file("/sys/kernel/mm/mktme/keep_user_keys", "0"));
}

TEST_HARNESS_MAIN

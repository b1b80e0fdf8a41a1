// SPDX-License-Identifier: GPL-2.0
/*
 * kexec with MKTME: make check's guest-kexec run.
 *
 * "kexec --jump", run by /init when the kernel command line says
 * mktme_kexec=jump, leaves lines of a KeyID dirty in both packages' caches
 * (its encrypted memory stays mapped), loads the kernel and initramfs the
 * host attached as virtio disks (serials kexec-kernel and kexec-initrd)
 * with kexec_file_load(), and jumps into them with mktme_kexec=landed in
 * place of mktme_kexec=jump.  It returns only if the jump failed.
 *
 * As a kselftest, in the kernel the jump started: memory the new kernel
 * wrote is intact after every cache was written back, and new KeyIDs
 * encrypt.  A line the old kernel left dirty would be written back over
 * the new kernel's memory; the model (mktme-check=strict in that run)
 * does so, encrypted, as hardware may, and reports it.  Outside that run
 * the tests skip.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/reboot.h>
#include <sys/reboot.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

#define JUMP		"mktme_kexec=jump"
#define LANDED		"mktme_kexec=landed"
#define DIRTY_LEN	(8UL << 20)

static char cmdline[4096];

/* The jump's messages, on the console before the next kernel's */
#define say(fmt, ...)	fprintf(stderr, "mktme-kexec: " fmt "\n", ##__VA_ARGS__)

static const char *kexec_stage(void)
{
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f || !fgets(cmdline, sizeof(cmdline), f))
		cmdline[0] = '\0';
	if (f)
		fclose(f);
	cmdline[strcspn(cmdline, "\n")] = '\0';
	if (strstr(cmdline, LANDED))
		return "landed";
	return strstr(cmdline, JUMP) ? "jump" : NULL;
}

/* A copy of the virtio disk with serial @serial in a memfd; -1 if none */
static int disk_to_memfd(const char *serial)
{
	char path[300], buf[1 << 16];
	struct dirent *d;
	int fd = -1, mfd;
	ssize_t n;
	DIR *dir;

	dir = opendir("/sys/block");
	if (!dir)
		return -1;
	while (fd < 0 && (d = readdir(dir))) {
		char s[64] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/sys/block/%s/serial", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(s, sizeof(s), f) && !strncmp(s, serial, strlen(serial))) {
			snprintf(path, sizeof(path), "/dev/%s", d->d_name);
			fd = open(path, O_RDONLY);
		}
		fclose(f);
	}
	closedir(dir);
	if (fd < 0)
		return -1;
	mfd = memfd_create(serial, 0);
	while (mfd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (write(mfd, buf, n) != n) {
			close(mfd);
			mfd = -1;
		}
	close(fd);
	return mfd;
}

/* Dirty lines of one KeyID in the cache of CPU @cpu's package */
static int dirty_on_cpu(int cpu, int key, char **mem)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	*mem = map_encrypted(DIRTY_LEN, key);
	if (*mem == MAP_FAILED)
		return -1;
	memset(*mem, 0x5a + cpu, DIRTY_LEN);
	return 0;
}

static int jump(void)
{
	char *mem[2], *p, next[sizeof(cmdline) + 16];
	int key, kfd, ifd, cpu;

	if (!kexec_stage() || strcmp(kexec_stage(), "jump")) {
		say("no %s on the command line", JUMP);
		return 1;
	}
	key = add_mktme_key("kexec", "type=cpu");
	if (key < 0) {
		say("add_key: %s", strerror(errno));
		return 1;
	}
	for (cpu = 0; cpu < 2; cpu++)
		if (dirty_on_cpu(cpu, key, &mem[cpu])) {
			say("CPU %d: encrypted memory: %s", cpu, strerror(errno));
			return 1;
		}
	kfd = disk_to_memfd("kexec-kernel");
	ifd = disk_to_memfd("kexec-initrd");
	if (kfd < 0 || ifd < 0) {
		say("no virtio disks with serials kexec-kernel and kexec-initrd");
		return 1;
	}
	p = strstr(cmdline, JUMP);
	snprintf(next, sizeof(next), "%.*s%s%s", (int)(p - cmdline), cmdline, LANDED,
		 p + strlen(JUMP));
	/* KUnit runs in the kernel the jump starts (the first has it off) */
	p = strstr(next, "kunit.enable=0");
	if (p)
		p[strlen("kunit.enable=")] = '1';
	if (syscall(__NR_kexec_file_load, kfd, ifd, strlen(next) + 1, next, 0UL)) {
		say("kexec_file_load: %s", strerror(errno));
		return 1;
	}
	say("%lu MiB dirty under KeyID %d in both packages' caches; jumping, command line: %s",
	    2 * DIRTY_LEN >> 20, key_keyid(key), next);
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	say("reboot(LINUX_REBOOT_CMD_KEXEC): %s", strerror(errno));
	return 1;
}

#define SKIP_UNLESS_LANDED()							\
	do {									\
		const char *stage = kexec_stage();				\
		if (!stage)							\
			SKIP(return, "not started by kexec (make check's guest-kexec run)"); \
		ASSERT_STREQ("landed", stage) {					\
			TH_LOG("the kexec did not happen: see the mktme-kexec: lines"); \
		}								\
	} while (0)

TEST(kernel_started_by_kexec)
{
	SKIP_UNLESS_LANDED();
	ASSERT_GE(keyids_in_use(), 0) {
		TH_LOG("MKTME is not enabled in the kernel kexec started");
	}
}

/*
 * Most of free memory, written by the new kernel through KeyID 0, holds
 * what was written once every package wrote back and invalidated its
 * caches (revoking a key does) and encrypted memory cycled through them.
 */
TEST(memory_intact_after_write_back)
{
	long page = sysconf(_SC_PAGESIZE), free_kb = 0, i, bad = 0;
	uint64_t *mem, *enc, words;
	size_t len;
	char line[128];
	FILE *f;
	int key;

	SKIP_UNLESS_LANDED();
	f = fopen("/proc/meminfo", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &free_kb) == 1)
			break;
	fclose(f);
	len = (size_t)free_kb * 1024 / 10 * 6 / page * page;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	words = len / sizeof(*mem);
	for (i = 0; i < (long)words; i++)
		mem[i] = (uint64_t)i * 0x9e3779b97f4a7c15ULL;

	key = add_mktme_key("kexec-landed", "type=cpu");
	ASSERT_GT(key, 0);
	enc = map_encrypted(32UL << 20, key);
	ASSERT_NE(MAP_FAILED, enc);
	memset(enc, 0xa5, 32UL << 20);
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, key, 0, 0, 0));

	for (i = 0; i < (long)words; i++) {
		if (mem[i] == (uint64_t)i * 0x9e3779b97f4a7c15ULL)
			continue;
		if (bad++ < 4)
			TH_LOG("word %ld (physical %#llx) changed: %#llx", i,
			       (unsigned long long)phys_addr_of(&mem[i]),
			       (unsigned long long)mem[i]);
	}
	EXPECT_EQ(0, bad) {
		TH_LOG("%ld of %llu words of %zu MiB changed behind the kernel's back",
		       bad, (unsigned long long)words, len >> 20);
	}
	munmap(enc, 32UL << 20);
	munmap(mem, len);
}

/* KeyIDs the old kernel used encrypt again under keys of the new one */
TEST(keyids_encrypt_after_kexec)
{
	int key;
	char *p;

	SKIP_UNLESS_LANDED();
	key = add_mktme_key("kexec-new", "type=cpu");
	ASSERT_GT(key, 0);
	p = map_encrypted(1UL << 20, key);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x3c, 1UL << 20);
	EXPECT_EQ(0x3c, p[12345]);
	EXPECT_EQ(1, dram_is_ciphertext(p, 1UL << 20));
	munmap(p, 1UL << 20);
	EXPECT_EQ(0, keyctl(KEYCTL_REVOKE, key, 0, 0, 0));
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--jump"))
		return jump();
	return test_harness_run(argc, argv);
}

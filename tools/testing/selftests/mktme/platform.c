// SPDX-License-Identifier: GPL-2.0
/*
 * The machine the MKTME tests run on: the tests of key scope assume two
 * packages, each owning one NUMA node with memory.  Check that the booted
 * kernel sees exactly that, so that a misconfigured guest fails here and
 * not as a puzzling key-table result elsewhere.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/utsname.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ret = -1;

	if (!f)
		return -1;
	if (fgets(buf, len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_line(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 0);
}

TEST(kernel_is_6_12)
{
	struct utsname u;

	ASSERT_EQ(0, uname(&u));
	EXPECT_EQ(0, strncmp(u.release, "6.12.", 5)) {
		TH_LOG("booted kernel is %s", u.release);
	}
	EXPECT_EQ(0, strcmp(u.machine, "x86_64"));
}

TEST(two_numa_nodes_with_memory)
{
	char online[64];
	int node;

	ASSERT_EQ(0, read_line("/sys/devices/system/node/online", online, sizeof(online)));
	ASSERT_STREQ("0-1", online);
	for (node = 0; node < 2; node++) {
		long kb = node_meminfo_kb(node, "MemTotal");

		EXPECT_LT(64 * 1024, kb) {
			TH_LOG("node %d has %ld kB of memory", node, kb);
		}
	}
}

TEST(one_package_per_node)
{
	char path[96];
	long pkg[2];
	int cpu;

	for (cpu = 0; cpu < 2; cpu++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
		pkg[cpu] = read_long(path);
		ASSERT_LE(0, pkg[cpu]);
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/node%d", cpu, cpu);
		EXPECT_EQ(0, access(path, F_OK)) {
			TH_LOG("cpu%d is not on node %d", cpu, cpu);
		}
	}
	EXPECT_NE(pkg[0], pkg[1]);
}

/* Whether /proc/cpuinfo's flags line of CPU 0 has @flag. */
static int cpu_has(const char *flag)
{
	char line[4096], word[64];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int found = 0;

	if (!f)
		return -1;
	snprintf(word, sizeof(word), " %s ", flag);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		line[strcspn(line, "\n")] = ' ';
		found = strstr(line, word) != NULL;
		break;
	}
	fclose(f);
	return found;
}

static int dmesg_has(const char *text)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int n, found;

	if (len <= 0)
		return -1;
	buf = calloc(1, len + 1);
	if (!buf)
		return -1;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	found = n > 0 && strstr(buf, text) != NULL;
	free(buf);
	return found;
}

/*
 * The guest is booted with mktme_expect=tme on the TME-MK model,
 * mktme_expect=off on the model with mktme=off, and mktme_expect=none on a
 * CPU without it; the kernel passes the word to /init's environment.
 */
static const char *expectation(void)
{
	return getenv("mktme_expect");
}

TEST(tme_as_the_platform_provides)
{
	const char *expect = expectation();
	int tme;

	if (!expect)
		SKIP(return, "boot with mktme_expect=tme, off or none");
	tme = strcmp(expect, "none") != 0;
	ASSERT_EQ(tme, cpu_has("tme"));
	ASSERT_EQ(tme, cpu_has("pconfig"));
	ASSERT_EQ(tme, dmesg_has("x86/tme: enabled by BIOS"));
	ASSERT_EQ(tme, dmesg_has("x86/mktme: BIOS enabled: x86_phys_bits reduced by 6"));
}

TEST(mktme_enabled_unless_off)
{
	const char *expect = expectation();
	int on;

	if (!expect)
		SKIP(return, "boot with mktme_expect=tme, off or none");
	on = !strcmp(expect, "tme");
	ASSERT_EQ(on, access("/sys/kernel/mm/mktme/nr_keyids", F_OK) == 0);
	ASSERT_EQ(on, dmesg_has("x86/mktme: enabled: 63 KeyIDs"));
	ASSERT_EQ(!strcmp(expect, "off"), dmesg_has("x86/mktme: disabled by mktme=off"));
	if (on) {
		EXPECT_EQ(63, read_long("/sys/kernel/mm/mktme/nr_keyids"));
		EXPECT_EQ(6, read_long("/sys/kernel/mm/mktme/keyid_bits"));
		EXPECT_EQ(40, read_long("/sys/kernel/mm/mktme/keyid_shift"));
	}
}

TEST_HARNESS_MAIN

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

	/* a guest with CPU hotplug has a third node, without memory */
	ASSERT_EQ(0, read_line("/sys/devices/system/node/has_memory", online, sizeof(online)));
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
 * The guest is booted with mktme_expect=WORD naming what the platform
 * provides, and the kernel passes the word to /init's environment:
 *   tme       the TME-MK model, firmware locked TME on with 6 KeyID bits
 *             (mktme_expect_keyids=N when partitioning leaves N for MKTME)
 *   off       the same, booted with mktme=off
 *   none      a CPU without TME
 *   unlocked  firmware enabled TME but did not lock it
 *   disabled  firmware did not enable TME
 *   nokeyids  firmware enabled TME without KeyID bits
 *   toowide   KeyIDs at bit 46 (phys-bits=52) under 4-level paging
 *             (no5lvl): their direct-map aliases do not fit
 */
struct platform {
	const char *word;
	int tme_flag;		/* /proc/cpuinfo "tme": kept when locked on */
	int pconfig;		/* /proc/cpuinfo "pconfig" */
	int bios_enabled;	/* "x86/tme: enabled by BIOS" */
	int keyid_bits;		/* KeyID bits taken out of x86_phys_bits */
	int mktme;		/* MKTME enabled */
	const char *dmesg;	/* what the kernel says about it */
};

static const struct platform platforms[] = {
	{ "tme",      1, 1, 1, 6, 1, "x86/mktme: enabled: " },
	{ "off",      1, 1, 1, 6, 0, "x86/mktme: disabled by mktme=off" },
	{ "none",     0, 0, 0, 0, 0, NULL },
	{ "unlocked", 0, 1, 0, 0, 0, "x86/tme: not enabled by BIOS" },
	{ "disabled", 0, 1, 0, 0, 0, "x86/tme: not enabled by BIOS" },
	{ "nokeyids", 1, 1, 1, 0, 0, "x86/mktme: firmware enabled TME without KeyIDs" },
	{ "toowide",  1, 1, 1, 6, 0,
	  "x86/mktme: not enabled: the direct-map aliases of 63 KeyIDs at bit 46 need " },
};

static const struct platform *expectation(void)
{
	const char *word = getenv("mktme_expect");

	for (size_t i = 0; word && i < sizeof(platforms) / sizeof(platforms[0]); i++)
		if (!strcmp(word, platforms[i].word))
			return &platforms[i];
	return NULL;
}

TEST(tme_as_the_platform_provides)
{
	const struct platform *p = expectation();
	char reduced[64];

	if (!p)
		SKIP(return, "boot with mktme_expect=tme, off, none, unlocked, disabled, nokeyids or toowide");
	snprintf(reduced, sizeof(reduced), "x86/mktme: BIOS enabled: x86_phys_bits reduced by %d",
		 p->keyid_bits);
	ASSERT_EQ(p->tme_flag, cpu_has("tme"));
	ASSERT_EQ(p->pconfig, cpu_has("pconfig"));
	ASSERT_EQ(p->bios_enabled, dmesg_has("x86/tme: enabled by BIOS"));
	ASSERT_EQ(p->keyid_bits != 0, dmesg_has("x86/mktme: BIOS enabled: x86_phys_bits reduced by"));
	if (p->keyid_bits)
		ASSERT_TRUE(dmesg_has(reduced));
	if (p->dmesg)
		ASSERT_TRUE(dmesg_has(p->dmesg)) TH_LOG("no '%s' in the kernel log", p->dmesg);
}

TEST(mktme_enabled_unless_off)
{
	const struct platform *p = expectation();
	const char *nr = getenv("mktme_expect_keyids");
	long keyids = nr ? strtol(nr, NULL, 0) : 63;
	char enabled[64];

	if (!p)
		SKIP(return, "boot with mktme_expect=tme, off, none, unlocked, disabled, nokeyids or toowide");
	snprintf(enabled, sizeof(enabled), "x86/mktme: enabled: %ld KeyIDs", keyids);
	ASSERT_EQ(p->mktme, access("/sys/kernel/mm/mktme/nr_keyids", F_OK) == 0);
	ASSERT_EQ(p->mktme, dmesg_has(enabled));
	ASSERT_EQ(!strcmp(p->word, "off"), dmesg_has("x86/mktme: disabled by mktme=off"));
	if (p->mktme) {
		EXPECT_EQ(keyids, read_long("/sys/kernel/mm/mktme/nr_keyids"));
		EXPECT_EQ(6, read_long("/sys/kernel/mm/mktme/keyid_bits"));
		EXPECT_EQ(40, read_long("/sys/kernel/mm/mktme/keyid_shift"));
	}
}

TEST_HARNESS_MAIN

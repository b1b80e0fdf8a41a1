/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the MKTME selftests: keys, smaps, capabilities. */
#ifndef MKTME_UTIL_H
#define MKTME_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/mktme.h>
#include <sys/syscall.h>

#ifndef __NR_encrypt_mprotect
#error "__NR_encrypt_mprotect missing: build against the series' UAPI headers"
#endif

static inline long sys_encrypt_mprotect(void *addr, size_t len, int prot,
					int serial, unsigned long flags)
{
	return syscall(__NR_encrypt_mprotect, addr, len, prot, serial, flags);
}

static inline int add_mktme_key(const char *desc, const char *payload)
{
	return syscall(__NR_add_key, MKTME_KEY_TYPE, desc, payload,
		       strlen(payload), KEY_SPEC_PROCESS_KEYRING);
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

static inline long keyids_in_use(void)
{
	return read_long_file("/sys/kernel/mm/mktme/keyids_in_use");
}

/* Drop every capability from the effective set (and the permitted one). */
static inline int drop_all_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { };

	return syscall(__NR_capset, &hdr, data);
}

static inline int mktme_available(void)
{
	return access("/sys/kernel/mm/mktme/nr_keyids", F_OK) == 0;
}

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * The "mktme" key type: every payload accepted or refused with its exact
 * errno, and a refused payload takes no KeyID; capabilities; what the key
 * shows and refuses to show.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

#define K16 "00112233445566778899aabbccddeeff"
#define T16 "ffeeddccbbaa99887766554433221100"

struct bad_payload {
	const char *name;
	const char *payload;
};

/* Every one of these is -EINVAL, and nothing is allocated. */
static const struct bad_payload bad_payloads[] = {
	{ "empty", "" },
	{ "blank", "   " },
	{ "no_equals", "type" },
	{ "empty_type", "type=" },
	{ "unknown_type", "type=cpus" },
	{ "type_upper_case", "type=CPU" },
	{ "type_none", "type=none" },
	{ "type_underscore", "type=no_encrypt" },
	{ "duplicate_type", "type=cpu type=cpu" },
	{ "duplicate_type_tab", "type=cpu\ttype=cpu" },
	{ "type_value_with_equals", "type=cpu=cpu" },
	{ "no_name", "=cpu" },
	{ "name_upper_case", "Type=cpu" },
	{ "space_before_equals", "type =cpu" },
	{ "comma_separated", "type=cpu,algorithm=aes-xts-128" },
	{ "missing_type", "algorithm=aes-xts-128" },
	{ "unknown_algorithm", "type=cpu algorithm=aes-xts-512" },
	{ "empty_algorithm", "type=cpu algorithm=" },
	{ "algorithm_upper_case", "type=cpu algorithm=AES-XTS-128" },
	{ "integrity_algorithm", "type=cpu algorithm=aes-xts-128-int" },
	{ "duplicate_algorithm", "type=cpu algorithm=aes-xts-128 algorithm=aes-xts-256" },
	{ "unknown_option", "type=cpu foo=bar" },
	{ "stray_word", "type=cpu extra" },
	{ "cpu_with_key", "type=cpu key=00112233445566778899aabbccddeeff" },
	{ "cpu_with_tweak", "type=cpu tweak=ffeeddccbbaa99887766554433221100" },
	{ "cpu_with_empty_key", "type=cpu key=" },
	{ "no_encrypt_with_key", "type=no-encrypt key=00112233445566778899aabbccddeeff" },
	{ "no_encrypt_with_tweak", "type=no-encrypt tweak=00" },
	{ "user_without_key", "type=user" },
	{ "user_key_only", "type=user key=00112233445566778899aabbccddeeff" },
	{ "user_tweak_only", "type=user tweak=ffeeddccbbaa99887766554433221100" },
	{ "user_short_key", "type=user key=00112233445566778899aabbccddee tweak=ffeeddccbbaa99887766554433221100" },
	{ "user_long_tweak", "type=user key=00112233445566778899aabbccddeeff tweak=ffeeddccbbaa9988776655443322110000" },
	{ "user_odd_hex", "type=user key=00112233445566778899aabbccddeef tweak=ffeeddccbbaa99887766554433221100" },
	{ "user_not_hex", "type=user key=zz112233445566778899aabbccddeeff tweak=ffeeddccbbaa99887766554433221100" },
	{ "user_0x_prefix", "type=user key=0x112233445566778899aabbccddeeff tweak=ffeeddccbbaa99887766554433221100" },
	{ "user_256_bit_keys_for_128", "type=user key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff tweak=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100" },
	{ "user_128_bit_keys_for_256", "type=user algorithm=aes-xts-256 key=00112233445566778899aabbccddeeff tweak=ffeeddccbbaa99887766554433221100" },
	{ "user_keys_too_long", "type=user algorithm=aes-xts-256 key=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00 tweak=ffeeddccbbaa99887766554433221100ffeeddccbbaa9988776655443322110000" },
	{ "user_equal_halves", "type=user key=00112233445566778899aabbccddeeff tweak=00112233445566778899aabbccddeeff" },
	{ "user_duplicate_key", "type=user key=00112233445566778899aabbccddeeff tweak=ffeeddccbbaa99887766554433221100 key=00112233445566778899aabbccddeeff" },
	{ "user_space_in_key", "type=user key=0011223344556677 8899aabbccddeeff tweak=ffeeddccbbaa99887766554433221100" },
};

FIXTURE(keys) {
	long in_use;
};

FIXTURE_SETUP(keys)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	self->in_use = keyids_in_use();
}

FIXTURE_TEARDOWN(keys)
{
}

TEST_F(keys, bad_payloads_are_einval)
{
	size_t i;
	int failed = 0;

	ASSERT_LE(40, sizeof(bad_payloads) / sizeof(bad_payloads[0]));
	for (i = 0; i < sizeof(bad_payloads) / sizeof(bad_payloads[0]); i++) {
		const struct bad_payload *b = &bad_payloads[i];
		long ret = add_mktme_key("bad", b->payload);

		if (ret != -1 || errno != EINVAL) {
			TH_LOG("%s (\"%s\"): got %ld, errno %d (%s)", b->name, b->payload,
			       ret, ret == -1 ? errno : 0, ret == -1 ? strerror(errno) : "-");
			failed++;
		}
	}
	EXPECT_EQ(0, failed);
	/* Keys of earlier tests may still be returning their KeyIDs */
	EXPECT_GE(self->in_use, keyids_in_use());
}

TEST_F(keys, payload_with_nul_or_too_long_is_einval)
{
	static const char nul[] = "type=cpu\0algorithm=aes-xts-128";
	char big[MKTME_MAX_PAYLOAD + 2];

	EXPECT_EQ(-1, syscall(__NR_add_key, MKTME_KEY_TYPE, "nul", nul, sizeof(nul) - 1,
			      test_keyring()));
	EXPECT_EQ(EINVAL, errno);
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, "type=cpu", 8);
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(-1, add_mktme_key("big", big));
	EXPECT_EQ(EINVAL, errno);
	/* Keys of earlier tests may still be returning their KeyIDs */
	EXPECT_GE(self->in_use, keyids_in_use());
}

TEST_F(keys, cpu_key_takes_a_keyid_and_describes_itself)
{
	char desc[512];
	int key = add_mktme_key("ctr1", "type=cpu");

	ASSERT_LT(0, key) {
		TH_LOG("add_key: %s", strerror(errno));
	}
	EXPECT_GE(self->in_use + 1, keyids_in_use());
	key_proc_line(key, desc, sizeof(desc));
	EXPECT_NE(NULL, strstr(desc, " mktme ")) {
		TH_LOG("/proc/keys: %s", desc);
	}
	EXPECT_NE(NULL, strstr(desc, "ctr1: keyid="));
	EXPECT_NE(NULL, strstr(desc, " type=cpu algorithm=aes-xts-128"));
	EXPECT_LT(0, key_keyid(key));
	EXPECT_EQ(0, keyctl(KEYCTL_UNLINK, key, test_keyring(), 0, 0));
}

TEST_F(keys, every_type_and_algorithm)
{
	static const char * const good[] = {
		"type=cpu algorithm=aes-xts-128",
		"type=cpu algorithm=aes-xts-256",
		"algorithm=aes-xts-256 type=cpu",
		"  type=no-encrypt\t",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int key = add_mktme_key("good", good[i]);

		EXPECT_LT(0, key) {
			TH_LOG("\"%s\": %s", good[i], strerror(errno));
		}
		if (key > 0)
			keyctl(KEYCTL_UNLINK, key, test_keyring(), 0, 0);
	}
}

TEST_F(keys, user_keys_only_with_the_boot_option)
{
	long allowed = 0;
	FILE *f = fopen("/sys/module/mktme/parameters/user_keys", "r");
	int key;

	if (f) {
		allowed = fgetc(f) == 'Y';
		fclose(f);
	}
	key = add_mktme_key("user", "type=user key=" K16 " tweak=" T16);
	if (allowed) {
		ASSERT_LT(0, key);
		keyctl(KEYCTL_UNLINK, key, test_keyring(), 0, 0);
	} else {
		ASSERT_EQ(-1, key);
		ASSERT_EQ(EOPNOTSUPP, errno);
		/* Keys of earlier tests may still be returning their KeyIDs */
	EXPECT_GE(self->in_use, keyids_in_use());
	}
}

TEST_F(keys, no_read_no_update)
{
	char buf[256];
	int key = add_mktme_key("noread", "type=cpu");

	ASSERT_LT(0, key);
	/* No read method; the update method refuses: a key never changes */
	EXPECT_EQ(-1, keyctl(KEYCTL_READ, key, (unsigned long)buf, sizeof(buf), 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, keyctl(KEYCTL_UPDATE, key, (unsigned long)"type=cpu", 8, 0));
	EXPECT_EQ(EEXIST, errno);
	keyctl(KEYCTL_UNLINK, key, test_keyring(), 0, 0);
}

/*
 * add_key() of a description the keyring holds would replace the key and
 * erase the memory of every process using it: it fails, and the key and
 * the memory under it stay.
 */
TEST_F(keys, add_of_an_existing_name_keeps_the_key)
{
	size_t len = getpagesize();
	int key = add_mktme_key("twice", "type=cpu");
	char *buf = map_encrypted(len, key), ref[len];

	ASSERT_LT(0, key);
	ASSERT_NE(MAP_FAILED, buf);
	memset(ref, 0x77, len);
	memcpy(buf, ref, len);
	EXPECT_EQ(-1, add_mktme_key("twice", "type=cpu"));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, add_mktme_key("twice", "type=cpu algorithm=aes-xts-256"));
	EXPECT_EQ(EEXIST, errno);
	/* the same key, still live, and the memory under it intact */
	EXPECT_EQ(key, keyctl(KEYCTL_SEARCH, test_keyring(),
			      (unsigned long)MKTME_KEY_TYPE, (unsigned long)"twice", 0));
	EXPECT_LE(0, keyctl(KEYCTL_DESCRIBE, key, (unsigned long)NULL, 0, 0));
	EXPECT_EQ(0, memcmp(buf, ref, len));
	munmap(buf, len);
	keyctl(KEYCTL_UNLINK, key, test_keyring(), 0, 0);
}

/* Capabilities are dropped in a child, so privilege cannot mask the check. */
TEST_F(keys, needs_cap_sys_resource)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (!pid) {
		if (drop_all_caps())
			_exit(2);
		if (add_mktme_key("nocap", "type=cpu") != -1)
			_exit(3);
		/* The capability is checked before the payload */
		if (errno != EPERM || add_mktme_key("nocap", "type=bogus") != -1 ||
		    errno != EPERM)
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* Keys of earlier tests may still be returning their KeyIDs */
	EXPECT_GE(self->in_use, keyids_in_use());
}

#define CPU1_ONLINE	"/sys/devices/system/cpu/cpu1/online"

/* Wait up to 10 s for every KeyID to be back in the pool */
static int no_keyids_in_use(void)
{
	for (int i = 0; i < 100; i++) {
		if (!keyids_in_use() &&
		    !read_long_file("/sys/kernel/mm/mktme/keyids_draining"))
			return 1;
		usleep(100000);
	}
	return 0;
}

/*
 * PCONFIG programs and erases a KeyID on each package from one of its
 * CPUs: while KeyIDs are in use, the last online CPU of a package cannot
 * go offline, and while a package has none online, no key can be made.
 */
TEST_F_TIMEOUT(keys, every_package_keeps_an_online_cpu, 60)
{
	char cpus[64] = "";
	FILE *f;
	int key;

	if (access(CPU1_ONLINE, W_OK))
		SKIP(return, "no CPU 1 to take offline (CONFIG_HOTPLUG_CPU)");
	f = fopen("/sys/devices/system/cpu/cpu1/topology/package_cpus_list", "r");
	if (!f || !fgets(cpus, sizeof(cpus), f) || strcmp(cpus, "1\n")) {
		if (f)
			fclose(f);
		SKIP(return, "CPU 1 shares its package with other CPUs (%s)", cpus);
	}
	fclose(f);
	key = add_mktme_key("hotplug", "type=cpu");
	ASSERT_LT(0, key);
	EXPECT_EQ(-1, write_file(CPU1_ONLINE, "0"));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(1, read_long_file(CPU1_ONLINE));
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, key, 0, 0, 0));
	ASSERT_EQ(0, keyctl(KEYCTL_UNLINK, key, test_keyring(), 0, 0));
	if (!no_keyids_in_use())
		SKIP(return, "KeyIDs of earlier tests are still in use");

	ASSERT_EQ(0, write_file(CPU1_ONLINE, "0"));
	EXPECT_EQ(-1, add_mktme_key("hotplug-offline", "type=cpu"));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, keyids_in_use());
	ASSERT_EQ(0, write_file(CPU1_ONLINE, "1"));
	key = add_mktme_key("hotplug-online", "type=cpu");
	EXPECT_LT(0, key);
	EXPECT_LT(0, key_keyid(key));
}

TEST_HARNESS_MAIN

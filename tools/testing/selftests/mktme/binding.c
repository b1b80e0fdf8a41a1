// SPDX-License-Identifier: GPL-2.0
/*
 * A process's default memory-encryption key (prctl PR_SET_MKTME_KEY): new
 * private anonymous memory gets its KeyID, other memory does not; it is
 * inherited across fork and execve, can re-key existing memory in place,
 * can be set on another process by an admin, reads back, shows in
 * /proc/<pid>/status, and once revoked new anonymous memory is refused.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

static int set_key(int serial, int pidfd, unsigned long flags)
{
	return prctl(PR_SET_MKTME_KEY, serial, pidfd, flags, 0);
}

/* "MktmeKeyID:" of /proc/<pid>/status, with " (revoked)" if so */
static int status_keyid(pid_t pid, int *revoked)
{
	char path[64], line[256];
	int keyid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MktmeKeyID: %d", &keyid) == 1) {
			if (revoked)
				*revoked = strstr(line, "(revoked)") != NULL;
			break;
		}
	fclose(f);
	return keyid;
}

FIXTURE(bind) {
	long page;
	int key, keyid;
};

FIXTURE_SETUP(bind)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	self->page = sysconf(_SC_PAGESIZE);
	self->key = add_mktme_key("bind", "type=cpu");
	ASSERT_LT(0, self->key);
	self->keyid = key_keyid(self->key);
	ASSERT_LT(0, self->keyid);
}

FIXTURE_TEARDOWN(bind)
{
}

TEST_F(bind, new_private_anonymous_memory_only)
{
	char *a, *shared, *file, *heap;
	int fd;

	ASSERT_EQ(0, prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0));
	ASSERT_EQ(0, set_key(self->key, -1, 0));
	EXPECT_EQ(self->key, prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0));
	EXPECT_EQ(self->keyid, status_keyid(getpid(), NULL));

	a = map_anon(4 * self->page);
	ASSERT_NE(MAP_FAILED, a);
	memset(a, 'a', 4 * self->page);
	EXPECT_EQ(self->keyid, smaps_keyid(a));

	shared = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	EXPECT_EQ(0, smaps_keyid(shared));
	fd = open("/init", O_RDONLY);
	ASSERT_LE(0, fd);
	file = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, file);
	EXPECT_EQ(0, smaps_keyid(file));
	EXPECT_EQ('#', file[0]);
	close(fd);

	/* The heap grows under the key */
	heap = sbrk(0);
	ASSERT_NE((void *)-1, sbrk(4 * self->page));
	heap[0] = 'h';
	EXPECT_EQ(self->keyid, smaps_keyid(heap));

	/* Unbind: new memory is plain again */
	ASSERT_EQ(0, set_key(MKTME_NO_KEY, -1, 0));
	EXPECT_EQ(0, prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0));
	EXPECT_EQ(0, smaps_keyid(map_anon(self->page)));
	EXPECT_EQ(self->keyid, smaps_keyid(a));
}

TEST_F(bind, rekey_existing_memory_in_place)
{
	size_t len = 16 * self->page, i;
	char *a = map_anon(len);
	int bad = 0;

	ASSERT_NE(MAP_FAILED, a);
	for (i = 0; i < len; i++)
		a[i] = i * 13;
	ASSERT_EQ(0, set_key(self->key, -1, PR_MKTME_REKEY));
	EXPECT_EQ(self->keyid, smaps_keyid(a));
	for (i = 0; i < len; i++)
		bad += a[i] != (char)(i * 13);
	EXPECT_EQ(0, bad);
	/* The stack moved too: this function still runs */
	EXPECT_EQ(self->keyid, smaps_keyid(&bad));
}

/* Run by the exec test: the default KeyID survived execve. */
static int exec_check(int keyid)
{
	char *a = map_anon(4096);

	if (a == MAP_FAILED)
		return 2;
	a[0] = 1;
	if (status_keyid(getpid(), NULL) != keyid)
		return 3;
	return smaps_keyid(a) == keyid ? 0 : 4;
}

TEST_F(bind, inherited_across_fork_and_exec)
{
	char keyid[16];
	int status;
	pid_t pid;

	ASSERT_EQ(0, set_key(self->key, -1, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *a = map_anon(self->page);

		a[0] = 1;
		if (smaps_keyid(a) != self->keyid)
			_exit(1);
		snprintf(keyid, sizeof(keyid), "%d", self->keyid);
		execl("/proc/self/exe", "binding", "--exec-check", keyid, NULL);
		_exit(5);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(bind, another_process_by_an_admin)
{
	int up[2], down[2], pidfd, status;
	size_t len = 8 * self->page;
	char c;
	pid_t pid, admin;

	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *a = map_anon(len);
		size_t i;

		memset(a, 'T', len);
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(2);
		for (i = 0; i < len; i++)
			if (a[i] != 'T')
				_exit(3);
		/* The parent sent the KeyID the memory must now have */
		_exit(smaps_keyid(a) == c ? 0 : 4);
	}
	ASSERT_EQ(1, read(up[0], &c, 1));
	pidfd = syscall(__NR_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd);

	/* Without CAP_SYS_RESOURCE: refused */
	admin = fork();
	ASSERT_LE(0, admin);
	if (!admin) {
		drop_all_caps();
		_exit(set_key(self->key, pidfd, PR_MKTME_REKEY) == -1 && errno == EPERM ? 0 : 1);
	}
	ASSERT_EQ(admin, waitpid(admin, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, set_key(self->key, pidfd, PR_MKTME_REKEY));
	EXPECT_EQ(self->key, prctl(PR_GET_MKTME_KEY, pidfd, 0, 0, 0));
	EXPECT_EQ(self->keyid, status_keyid(pid, NULL));
	c = self->keyid;
	ASSERT_EQ(1, write(down[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(pidfd);
}

TEST_F(bind, revoked_key_refuses_new_anonymous_memory)
{
	int revoked = 0;
	char *a;

	ASSERT_EQ(0, set_key(self->key, -1, 0));
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	EXPECT_EQ(-1, prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0));
	EXPECT_EQ(EKEYREVOKED, errno);
	EXPECT_EQ(0, status_keyid(getpid(), &revoked));
	EXPECT_EQ(1, revoked);
	a = map_anon(self->page);
	EXPECT_EQ(MAP_FAILED, a);
	EXPECT_EQ(EKEYREVOKED, errno);
	EXPECT_EQ((void *)-1, sbrk(4 * self->page));
	/* Other mappings still work */
	a = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	EXPECT_NE(MAP_FAILED, a);
	/* A new key makes the process whole again */
	ASSERT_EQ(0, set_key(MKTME_NO_KEY, -1, 0));
	EXPECT_NE(MAP_FAILED, map_anon(self->page));
}

TEST_F(bind, errors)
{
	EXPECT_EQ(-1, set_key(self->key, -1, 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_MKTME_KEY, self->key, -1, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, set_key(self->key, 12345, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, set_key(0x7fffffff, -1, 0));
	EXPECT_EQ(ENOKEY, errno);
	EXPECT_EQ(-1, prctl(PR_GET_MKTME_KEY, -1, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--exec-check"))
		return exec_check(atoi(argv[2]));
	return test_harness_run(argc, argv);
}

// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmktme: keys of the "mktme" type, encrypt_mprotect() and default
 * keys, through raw syscalls (no library but libc).  The interface is
 * Documentation/arch/x86/mktme.rst, "User-space interface".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include "mktme.h"

#define KEY_TYPE	"mktme"
#define MAX_PAYLOAD	512
#define SYSFS		"/sys/kernel/mm/mktme"

#ifndef PR_SET_MKTME_KEY
#define PR_SET_MKTME_KEY	74
#define PR_GET_MKTME_KEY	75
#endif
#ifndef __NR_encrypt_mprotect
#define __NR_encrypt_mprotect	463
#endif

/*
 * keyctl(2) permissions (as <keyutils.h>): a possessor may do anything;
 * the owner and the key's group (0) may view and revoke, not use (that
 * takes Search: possession, or a grant).  The
 * kernel grants as much at add_key(), also where the caller does not
 * possess the keyring it adds to (KEY_SPEC_* names it possessed, the key
 * not); setting them again says so to a reader and fixes the group.
 */
#define PERM_POS_ALL		0x3f000000U
#define PERM_USR_VIEW		0x00010000U
#define PERM_USR_SETATTR	0x00200000U
#define PERM_GRP_VIEW		0x00000100U
#define PERM_GRP_SETATTR	0x00002000U
#define KEY_PERMS	(PERM_POS_ALL | PERM_USR_VIEW | PERM_USR_SETATTR | \
			 PERM_GRP_VIEW | PERM_GRP_SETATTR)

static long keyctl(int cmd, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5)
{
	return syscall(__NR_keyctl, cmd, a2, a3, a4, a5);
}

int mktme_available(void)
{
	struct stat st;

	if (stat(SYSFS, &st))
		return errno = errno == ENOENT ? ENODEV : errno, 0;
	return S_ISDIR(st.st_mode);
}

/* Set the permissions of a key just added; remove it if that fails */
static mktme_key_t finish_add(mktme_key_t key)
{
	int e;

	if (key < 0)
		return -1;
	/* group 0 too, where the caller may (else the group stays its own) */
	keyctl(KEYCTL_CHOWN, key, (unsigned long)-1, 0, 0);
	if (!keyctl(KEYCTL_SETPERM, key, KEY_PERMS, 0, 0))
		return key;
	e = errno;
	keyctl(KEYCTL_INVALIDATE, key, 0, 0, 0);
	errno = e;
	return -1;
}

static const char *alg_name(enum mktme_algorithm alg)
{
	switch (alg) {
	case MKTME_AES_XTS_128:
		return "aes-xts-128";
	case MKTME_AES_XTS_256:
		return "aes-xts-256";
	}
	return NULL;
}

static mktme_key_t add(const char *name, const char *payload, size_t len,
		       mktme_key_t keyring)
{
	if (!name || !*name) {
		errno = EINVAL;
		return -1;
	}
	return finish_add(syscall(__NR_add_key, KEY_TYPE, name, payload, len, keyring));
}

mktme_key_t mktme_key_add(const char *name, enum mktme_type type,
			  enum mktme_algorithm alg, mktme_key_t keyring)
{
	const char *a = alg_name(alg), *t;
	char payload[64];

	switch (type) {
	case MKTME_TYPE_CPU:
		t = "cpu";
		break;
	case MKTME_TYPE_NO_ENCRYPT:
		t = "no-encrypt";
		break;
	case MKTME_TYPE_USER:
		return mktme_key_add_user(name, alg, NULL, NULL, keyring);
	default:
		t = NULL;
	}
	if (!a || !t) {
		errno = EINVAL;
		return -1;
	}
	snprintf(payload, sizeof(payload), "type=%s algorithm=%s", t, a);
	return add(name, payload, strlen(payload), keyring);
}

static void hex(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

static int random_bytes(unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = getrandom(buf, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * The material lives in one locked, undumpable page, which is wiped
 * before return: the payload carries it in hex, as the kernel wants.
 */
struct material {
	unsigned char key[32], tweak[32];
	char payload[MAX_PAYLOAD];
};

mktme_key_t mktme_key_add_user(const char *name, enum mktme_algorithm alg,
			       const void *key, const void *tweak,
			       mktme_key_t keyring)
{
	size_t len = alg == MKTME_AES_XTS_256 ? 32 : 16;
	const char *a = alg_name(alg);
	mktme_key_t ret = -1;
	struct material *m;
	int n, e;

	if (!a || !key != !tweak) {
		errno = EINVAL;
		return -1;
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	mlock(m, sizeof(*m));		/* best effort */
	madvise(m, sizeof(*m), MADV_DONTDUMP);
	if (key) {
		memcpy(m->key, key, len);
		memcpy(m->tweak, tweak, len);
	} else {
		/* the kernel refuses equal data and tweak keys */
		do {
			if (random_bytes(m->key, len) || random_bytes(m->tweak, len))
				goto out;
		} while (!memcmp(m->key, m->tweak, len));
	}
	n = snprintf(m->payload, sizeof(m->payload), "type=user algorithm=%s key=", a);
	hex(m->payload + n, m->key, len);
	n += 2 * len;
	n += snprintf(m->payload + n, sizeof(m->payload) - n, " tweak=");
	hex(m->payload + n, m->tweak, len);
	n += 2 * len;
	ret = add(name, m->payload, n, keyring);
out:
	e = errno;
	explicit_bzero(m, sizeof(*m));
	munlock(m, sizeof(*m));
	munmap(m, sizeof(*m));
	errno = e;
	return ret;
}

int mktme_key_set_owner(mktme_key_t key, uid_t uid)
{
	return keyctl(KEYCTL_CHOWN, key, uid, (unsigned long)-1, 0) ? -1 : 0;
}

mktme_key_t mktme_key_find(const char *name)
{
	return syscall(__NR_request_key, KEY_TYPE, name, NULL, 0);
}

int mktme_key_revoke(mktme_key_t key)
{
	return keyctl(KEYCTL_REVOKE, key, 0, 0, 0) ? -1 : 0;
}

int mktme_key_keyid(mktme_key_t key)
{
	char line[1024], flags[16], type[32];
	unsigned int serial;
	int off, e = ENOKEY;
	char *p;
	FILE *f;

	f = fopen("/proc/keys", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		off = 0;
		if (sscanf(line, "%x %15s %*d %*s %*x %*u %*u %31s %n",
			   &serial, flags, type, &off) < 3 ||
		    !off || serial != (unsigned int)key)
			continue;
		/* flags "IRDQUNi": a revoked key shows R second */
		p = strstr(line + off, ": keyid=");
		if (strcmp(type, KEY_TYPE))
			e = EINVAL;
		else if (flags[1] == 'R' || !p)
			e = EKEYREVOKED;
		else
			e = 0;
		break;
	}
	fclose(f);
	if (e) {
		errno = e;
		return -1;
	}
	return atoi(p + 8);
}

int mktme_encrypt_mprotect(void *addr, size_t len, int prot, mktme_key_t key)
{
	return syscall(__NR_encrypt_mprotect, addr, len, prot, key, 0) ? -1 : 0;
}

void *mktme_map(size_t len, int prot, mktme_key_t key)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int e;

	if (p == MAP_FAILED)
		return p;
	if (!mktme_encrypt_mprotect(p, len, prot, key))
		return p;
	e = errno;
	munmap(p, len);
	errno = e;
	return MAP_FAILED;
}

int mktme_set_default_key(int pidfd, mktme_key_t key, unsigned int flags)
{
	unsigned long f = flags & MKTME_REKEY ? 1UL : 0;

	if (flags & ~MKTME_REKEY) {
		errno = EINVAL;
		return -1;
	}
	return prctl(PR_SET_MKTME_KEY, (unsigned long)key, (unsigned long)pidfd, f, 0) ? -1 : 0;
}

mktme_key_t mktme_get_default_key(int pidfd)
{
	return prctl(PR_GET_MKTME_KEY, (unsigned long)pidfd, 0, 0, 0);
}

const char *mktme_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case ENODEV:
		return "MKTME is not enabled: no TME-MK CPU, turned off by firmware, or mktme=off";
	case ENOSYS:
		return "this kernel has no MKTME support (encrypt_mprotect() is missing)";
	case EPERM:
		return "not permitted: keys and binding another process need CAP_SYS_RESOURCE, "
		       "and a binding an administrator made can only be changed with it";
	case EACCES:
		return "no permission on the key (it needs Search: possess it, own it, or be in its group) "
		       "or no ptrace rights over the process";
	case ENOSPC:
		return "every KeyID is in use: revoke a key that is no longer needed";
	case EOPNOTSUPP:
		return "not supported: user keys need the boot option mktme.user_keys=1, "
		       "and hugetlb memory cannot be encrypted";
	case EKEYREVOKED:
		return "the key was revoked and its memory erased: add a new key";
	case ENOKEY:
		return "no such key (never added, or unlinked, invalidated or expired)";
	case EKEYEXPIRED:
		return "the key expired";
	case EEXIST:
		return "the keyring already has a key of that name: keys are never replaced, "
		       "revoke it or choose another name";
	case EBUSY:
		return "busy: a key table is busy, pages are pinned for DMA, "
		       "or a package has no online CPU; retry";
	case EAGAIN:
	case EIO:
		return "PCONFIG kept failing (no entropy, or a hardware error): retry";
	case EINVAL:
		return "invalid: not an mktme key, not private anonymous memory, "
		       "a bad payload, or an algorithm firmware did not activate";
	case ESRCH:
		return "the process has exited";
	case ENOMEM:
		return "out of memory, or the range is not mapped";
	default:
		return strerror(err);
	}
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmktme: Intel Multi-Key Total Memory Encryption for applications
 *
 * Keys of the kernel's "mktme" key type, encrypt_mprotect() and a
 * process's default key (Documentation/arch/x86/mktme.rst, "User-space
 * interface"), without copying syscall numbers and payload formats into
 * every program.  The manual is libmktme(3).
 *
 * Every function that can fail returns -1 (MAP_FAILED for mktme_map())
 * and sets errno; mktme_strerror() says what the error means here and
 * what to do about it.  Key serials are those of keyctl(1).
 */
#ifndef LIBMKTME_H
#define LIBMKTME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t mktme_key_t;

/* "No key": back to KeyID 0 (unencrypted, or TME's key) */
#define MKTME_NO_KEY		0

/* Keyrings for mktme_key_add(), as keyctl(2)'s KEY_SPEC_* */
#define MKTME_THREAD_KEYRING	(-1)
#define MKTME_PROCESS_KEYRING	(-2)
#define MKTME_SESSION_KEYRING	(-3)
#define MKTME_USER_KEYRING	(-4)

enum mktme_type {
	MKTME_TYPE_CPU,		/* a random key the CPU makes, never seen by software */
	MKTME_TYPE_NO_ENCRYPT,	/* the KeyID does not encrypt */
	MKTME_TYPE_USER,	/* key material from the caller (mktme.user_keys=1) */
};

enum mktme_algorithm {
	MKTME_AES_XTS_128,
	MKTME_AES_XTS_256,
};

/* mktme_set_default_key() flags */
#define MKTME_REKEY		(1U << 0)	/* existing memory moves too */

/* Is MKTME enabled on this system?  1 yes, 0 no (errno says why) */
int mktme_available(void);

/*
 * A new key called @name in @keyring (a MKTME_*_KEYRING or a keyring's
 * serial).  Its owner and group 0 may always view and revoke it, so
 * that root finds and erases it without possessing it (using it takes
 * possession, or a grant of Search).  Fails with EEXIST if the
 * keyring holds a key of that name: keys are never replaced.
 */
mktme_key_t mktme_key_add(const char *name, enum mktme_type type,
			  enum mktme_algorithm alg, mktme_key_t keyring);

/*
 * A user key: @key and @tweak are 16 (AES-XTS-128) or 32 (AES-XTS-256)
 * bytes each, or both NULL for random ones from getrandom(2).  The
 * material is wiped from the library's buffers before it returns.
 */
mktme_key_t mktme_key_add_user(const char *name, enum mktme_algorithm alg,
			       const void *key, const void *tweak,
			       mktme_key_t keyring);

/* Give a key to user @uid (CAP_SYS_ADMIN): the user 'mktmectl purge' names */
int mktme_key_set_owner(mktme_key_t key, uid_t uid);

/* The key called @name in the caller's keyrings (ENOKEY if none) */
mktme_key_t mktme_key_find(const char *name);

/* Revoke: every page it encrypted is erased before this returns */
int mktme_key_revoke(mktme_key_t key);

/* The KeyID a key holds, from /proc/keys (the key must be viewable) */
int mktme_key_keyid(mktme_key_t key);

/* encrypt_mprotect(2): mprotect() that also sets the key */
int mktme_encrypt_mprotect(void *addr, size_t len, int prot, mktme_key_t key);

/* Private anonymous memory encrypted with @key; MAP_FAILED on error */
void *mktme_map(size_t len, int prot, mktme_key_t key);

/*
 * The default key of new private anonymous memory (and of children) for
 * the process @pidfd refers to, or this process for -1.
 */
int mktme_set_default_key(int pidfd, mktme_key_t key, unsigned int flags);
mktme_key_t mktme_get_default_key(int pidfd);

/* What @err means for MKTME, and what to do; never NULL */
const char *mktme_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBMKTME_H */

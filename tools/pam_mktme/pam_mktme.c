// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pam_mktme: a memory-encryption key for each user's sessions, revoked
 * (secure erase) when the user's last session closes.  The manual is
 * pam_mktme.8.
 *
 * open_session: the user's key, named "login-USER", is found or added to
 * root's user keyring, owned by the user, and made the locked default
 * key of the process that opened the session, so that everything it
 * starts for the user (the shell, and their children) encrypts its
 * private anonymous memory with it.  Sessions are counted per user in
 * STATE_DIR/UID ("SERIAL COUNT"), under flock(), as pam_fscrypt counts
 * them.
 *
 * close_session: this process's memory moves back to KeyID 0 (it lives
 * on after the session: login, sshd, su), and at the last session's
 * close the key is revoked: every page it encrypted is erased before
 * close returns, and processes that outlive the session get SIGBUS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <mktme.h>

#define STATE_DIR	"/run/pam_mktme"
#define KEY_PREFIX	"login-"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open	434
#endif

struct options {
	enum mktme_type type;
	enum mktme_algorithm alg;
	const char *skip_users;		/* comma-separated */
	const char *skip_groups;
	const char *state_dir;
	bool debug;
};

static bool in_list(const char *list, const char *word)
{
	size_t len = strlen(word);
	const char *p = list;

	while (p && *p) {
		const char *end = strchrnul(p, ',');

		if ((size_t)(end - p) == len && !strncmp(p, word, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

static int parse_options(pam_handle_t *pamh, int argc, const char **argv,
			 struct options *o)
{
	*o = (struct options){ .type = MKTME_TYPE_CPU, .alg = MKTME_AES_XTS_128,
			       .state_dir = STATE_DIR };
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "type=cpu")) {
			o->type = MKTME_TYPE_CPU;
		} else if (!strcmp(a, "type=user")) {
			o->type = MKTME_TYPE_USER;
		} else if (!strcmp(a, "algorithm=aes-xts-128")) {
			o->alg = MKTME_AES_XTS_128;
		} else if (!strcmp(a, "algorithm=aes-xts-256")) {
			o->alg = MKTME_AES_XTS_256;
		} else if (!strncmp(a, "skip_users=", 11)) {
			o->skip_users = a + 11;
		} else if (!strncmp(a, "skip_groups=", 12)) {
			o->skip_groups = a + 12;
		} else if (!strncmp(a, "state_dir=", 10) && a[10] == '/') {
			o->state_dir = a + 10;
		} else if (!strcmp(a, "debug")) {
			o->debug = true;
		} else {
			pam_syslog(pamh, LOG_ERR, "unknown option '%s' (see pam_mktme(8))", a);
			return PAM_SERVICE_ERR;
		}
	}
	return PAM_SUCCESS;
}

/* Is the user one the admin opted out, by name or by group? */
static bool skipped(const struct options *o, const struct passwd *pw)
{
	gid_t groups[256];
	int n = 256;

	if (in_list(o->skip_users, pw->pw_name))
		return true;
	if (!o->skip_groups)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		n = 256;
	for (int i = 0; i < n; i++) {
		struct group *g = getgrgid(groups[i]);

		if (g && in_list(o->skip_groups, g->gr_name))
			return true;
	}
	return false;
}

/* The user's state file, locked; -1 with errno */
static int lock_state(const struct options *o, uid_t uid)
{
	char path[4096];
	int fd;

	if (mkdir(o->state_dir, 0700) && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%u", o->state_dir, uid);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void read_state(int fd, mktme_key_t *key, long *count)
{
	char buf[64] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	*key = 0;
	*count = 0;
	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%d %ld", key, count) != 2 || *key <= 0 || *count < 0)
			*key = 0, *count = 0;
	}
}

static int write_state(int fd, mktme_key_t key, long count)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%d %ld\n", count ? key : 0, count);

	if (ftruncate(fd, 0) || pwrite(fd, buf, n, 0) != n || fsync(fd))
		return -1;
	return 0;
}

static int get_user(pam_handle_t *pamh, struct passwd **pw)
{
	const char *user;
	int ret = pam_get_user(pamh, &user, NULL);

	if (ret != PAM_SUCCESS)
		return ret;
	*pw = getpwnam(user);
	if (!*pw) {
		pam_syslog(pamh, LOG_ERR, "unknown user '%s'", user);
		return PAM_USER_UNKNOWN;
	}
	return PAM_SUCCESS;
}

/* The user's key, if it is alive (a key an admin revoked is not) */
static bool key_alive(mktme_key_t key)
{
	return key > 0 && mktme_key_keyid(key) > 0;
}

static mktme_key_t new_key(pam_handle_t *pamh, const struct options *o,
			   const struct passwd *pw)
{
	char name[256];
	mktme_key_t key;

	snprintf(name, sizeof(name), KEY_PREFIX "%s", pw->pw_name);
	/* a key of that name an admin revoked is replaced by the kernel */
	key = mktme_key_add(name, o->type, o->alg, MKTME_USER_KEYRING);
	if (key < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot add key '%s': %s", name, mktme_strerror(errno));
		return -1;
	}
	/* the user's: 'mktmectl purge --user' and list name it */
	if (mktme_key_set_owner(key, pw->pw_uid)) {
		pam_syslog(pamh, LOG_ERR, "cannot give key '%s' to uid %u: %m", name, pw->pw_uid);
		mktme_key_revoke(key);
		return -1;
	}
	return key;
}

/* Make @key the locked default key of this process (an admin's binding) */
static int bind_self(mktme_key_t key)
{
	int pidfd = syscall(__NR_pidfd_open, getpid(), 0), ret, e;

	if (pidfd < 0)
		return -1;
	ret = mktme_set_default_key(pidfd, key, 0);
	e = errno;
	close(pidfd);
	errno = e;
	return ret;
}

/* The options and the user, or PAM_IGNORE for a user opted out */
static int session_user(pam_handle_t *pamh, int argc, const char **argv,
			struct options *o, struct passwd **pw)
{
	int ret = parse_options(pamh, argc, argv, o);

	if (ret == PAM_SUCCESS)
		ret = get_user(pamh, pw);
	if (ret != PAM_SUCCESS)
		return ret;
	if (!skipped(o, *pw))
		return PAM_SUCCESS;
	if (o->debug)
		pam_syslog(pamh, LOG_DEBUG, "user '%s' opted out", (*pw)->pw_name);
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags,
				   int argc, const char **argv)
{
	struct options o;
	struct passwd *pw;
	mktme_key_t key;
	long count;
	int ret, fd;

	(void)flags;
	ret = session_user(pamh, argc, argv, &o, &pw);
	if (ret != PAM_SUCCESS)
		return ret;
	if (!mktme_available()) {
		pam_syslog(pamh, LOG_ERR, "session of '%s' not encrypted: %s",
			   pw->pw_name, mktme_strerror(errno));
		return PAM_SESSION_ERR;
	}
	/* the key lives in root's user keyring, where the next session finds it */
	if (getuid() != 0) {
		pam_syslog(pamh, LOG_ERR, "session of '%s' not encrypted: the application runs as uid %u, not root",
			   pw->pw_name, getuid());
		return PAM_SESSION_ERR;
	}
	fd = lock_state(&o, pw->pw_uid);
	if (fd < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot lock %s/%u: %m", o.state_dir, pw->pw_uid);
		return PAM_SESSION_ERR;
	}
	read_state(fd, &key, &count);
	if (!count || !key_alive(key)) {
		key = new_key(pamh, &o, pw);
		count = 0;
	}
	ret = PAM_SESSION_ERR;
	if (key < 0)
		goto out;
	if (bind_self(key)) {
		pam_syslog(pamh, LOG_ERR, "cannot bind the session of '%s' to key %d: %s",
			   pw->pw_name, key, mktme_strerror(errno));
		if (!count)
			mktme_key_revoke(key);
		goto out;
	}
	if (write_state(fd, key, count + 1)) {
		pam_syslog(pamh, LOG_ERR, "cannot write %s/%u: %m", o.state_dir, pw->pw_uid);
		mktme_set_default_key(-1, MKTME_NO_KEY, MKTME_REKEY);
		if (!count)
			mktme_key_revoke(key);
		goto out;
	}
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "session %ld of '%s': key %d, KeyID %d",
			   count + 1, pw->pw_name, key, mktme_key_keyid(key));
	ret = PAM_SUCCESS;
out:
	close(fd);
	return ret;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags,
				    int argc, const char **argv)
{
	struct options o;
	struct passwd *pw;
	mktme_key_t key, mine;
	long count;
	int ret, fd;

	(void)flags;
	ret = session_user(pamh, argc, argv, &o, &pw);
	if (ret != PAM_SUCCESS)
		return ret;
	fd = lock_state(&o, pw->pw_uid);
	if (fd < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot lock %s/%u: %m", o.state_dir, pw->pw_uid);
		return PAM_SESSION_ERR;
	}
	read_state(fd, &key, &count);
	/*
	 * This process outlives the session: its memory goes back to KeyID 0
	 * first, so that the erase below does not take it too.
	 */
	mine = mktme_get_default_key(-1);
	if (mine > 0 && mine == key && mktme_set_default_key(-1, MKTME_NO_KEY, MKTME_REKEY))
		pam_syslog(pamh, LOG_ERR, "cannot unbind from key %d: %s", mine,
			   mktme_strerror(errno));
	ret = PAM_SUCCESS;
	if (!count) {
		pam_syslog(pamh, LOG_NOTICE, "no open session of '%s' to close", pw->pw_name);
		goto out;
	}
	count--;
	if (!count && key > 0) {
		if (mktme_key_revoke(key) && errno != EKEYREVOKED) {
			pam_syslog(pamh, LOG_ERR, "cannot revoke key %d of '%s': %s",
				   key, pw->pw_name, mktme_strerror(errno));
			ret = PAM_SESSION_ERR;
		} else {
			syscall(__NR_keyctl, KEYCTL_UNLINK, key, MKTME_USER_KEYRING, 0, 0);
			pam_syslog(pamh, LOG_INFO, "last session of '%s' closed: key %d revoked, its memory erased",
				   pw->pw_name, key);
		}
	}
	if (write_state(fd, key, count)) {
		pam_syslog(pamh, LOG_ERR, "cannot write %s/%u: %m", o.state_dir, pw->pw_uid);
		ret = PAM_SESSION_ERR;
	}
out:
	close(fd);
	return ret;
}

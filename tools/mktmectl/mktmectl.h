/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mktmectl: manage Intel MKTME memory-encryption keys
 *
 * Drives the interface of Documentation/arch/x86/mktme.rst, sections
 * "User-space interface" and "Observability": the "mktme" key type,
 * prctl(PR_SET_MKTME_KEY), /proc/keys, /proc/<pid>/{status,smaps} and
 * /sys/kernel/mm/mktme/.  The manual is mktmectl.8.
 *
 * It never prints key material: libmktme generates user keys into a
 * payload buffer that is locked in memory and wiped on every exit path.
 *
 * cli.c: the command line and main(); keys.c: /proc/keys, add, revoke,
 * purge; procs.c: /proc/<pid>, bind, exec; status.c: status, list;
 * oci.c: the OCI runtime hook; output.c: messages, errors and exit
 * codes; system.c: files below MKTMECTL_ROOT, users.
 */
#ifndef MKTMECTL_H
#define MKTMECTL_H

#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <keyutils.h>
#include <mktme.h>

#if __has_include(<linux/mktme.h>)
#include <linux/mktme.h>
#endif

#ifndef MKTME_KEY_TYPE
#define MKTME_KEY_TYPE		"mktme"
#define MKTME_MAX_PAYLOAD	512
#endif
#ifndef PR_SET_MKTME_KEY
#define PR_SET_MKTME_KEY	74
#define PR_MKTME_REKEY		(1UL << 0)
#define PR_GET_MKTME_KEY	75
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif

#define SCHEMA		"mktmectl/1"
#define VERSION		"1.0"
#define SYSFS		"/sys/kernel/mm/mktme"
#define CAP_SYS_RESOURCE_BIT	24

/* Exit codes: documented in mktmectl.8, EXIT STATUS */
enum {
	MX_OK		= 0,
	MX_USAGE	= 1,
	MX_PERM		= 2,
	MX_UNSUPPORTED	= 3,
	MX_NOSPC	= 4,
	MX_PARTIAL	= 5,
	MX_ERROR	= 6,
};

struct mkey {
	int serial;
	char name[256];
	int keyid;		/* -1 when /proc/keys does not show it */
	char type[16];
	char alg[16];
	unsigned int uid;
	bool revoked;
	long pages;		/* allocated under its KeyID (/proc/keys); -1 unknown */
	int nusers;		/* processes that use it (/proc/keys); -1 unknown */
	int nbound;		/* processes whose default key it is */
};

struct mproc {
	int pid;
	char comm[32];
	int keyid;		/* default key's KeyID, 0 none */
	bool revoked;
};

extern const char *verb;	/* for messages: "mktmectl VERB: " */
extern bool json;
extern bool json_done;		/* the verb printed its own JSON */
extern const char *root;	/* MKTMECTL_ROOT: the test build only */

/* Options shared by the verbs */
enum { OPT_HELP = 'h', OPT_JSON = 0x100, OPT_YES, OPT_NOREKEY };

/* output.c */
void json_str(const char *s);
void json_long(long v);
int fail(int code, const char *fmt, ...);
int usage_err(const char *fmt, ...);
int errno_exit(int e);
const char *hint(int e);

/* system.c */
const char *rpath(char *buf, size_t size, const char *fmt, ...);
int read_str(const char *path, char *buf, size_t size);
long sysfs_long(const char *name);
bool mktme_enabled(void);
int require_mktme(void);
bool has_word(const char *s, const char *word);
bool uid_name(unsigned int uid, char *name, size_t size);
bool name_uid(const char *name, unsigned int *uid);
bool parse_uint(const char *s, long max, long *out);

/* keys.c */
int load_keys(struct mkey **keys, int *nkeys);
const char *valid_name(const char *s);
int lookup(const char *spec, struct mkey **keys, int *nkeys,
	   struct mproc **ps, int *np);
int cmd_add(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_purge(int argc, char **argv);

/* procs.c */
int set_key(int serial, pid_t pid, unsigned long flags);
int load_procs(struct mproc **procs, int *nprocs);
void free_procs(struct mproc *ps, int n);
bool proc_bound(const struct mproc *p, const struct mkey *k);
void account(struct mkey *keys, int nkeys, struct mproc *ps, int np);
int cmd_bind(int argc, char **argv);
int cmd_exec(int argc, char **argv);

/* oci.c */
int cmd_oci_hook(int argc, char **argv);

/* status.c */
int cmd_status(int argc, char **argv);
int cmd_list(int argc, char **argv);

/* cli.c */
bool all_digits(const char *s);
int bad_option(int c, char **argv);
void help(const char *text);
const char *one_operand(int argc, char **argv, const char *what, int *err);
int json_help_options(int argc, char **argv, const char *helptext);

#endif /* MKTMECTL_H */

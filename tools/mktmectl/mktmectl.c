// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl: manage Intel MKTME memory-encryption keys
 *
 * Drives the interface of Documentation/arch/x86/mktme.rst, sections
 * "User-space interface" and "Observability": the "mktme" key type,
 * prctl(PR_SET_MKTME_KEY), /proc/keys, /proc/<pid>/{status,smaps} and
 * /sys/kernel/mm/mktme/.  The manual is mktmectl.8.
 *
 * It never prints key material: user keys are generated into the payload
 * buffer, which is locked in memory and wiped on every exit path.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
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
	long kb;		/* Rss of VMAs under its KeyID, all processes */
	int nbound;		/* processes whose default key it is */
};

struct kbent {
	int keyid;
	long kb;
};

struct mproc {
	int pid;
	char comm[32];
	int keyid;		/* default key's KeyID, 0 none */
	bool revoked;
	struct kbent *mem;	/* Rss per KeyID other than 0 */
	int nmem;
};

static const char *verb = "";		/* for messages: "mktmectl VERB: " */
static bool json;
static bool json_done;			/* the verb printed its own JSON */
static const char *root = "";		/* MKTMECTL_ROOT: the test build only */
static long page_kb = 4;

/* ---- output helpers ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void vmsg(const char *fmt, va_list ap, char *buf, size_t size)
{
	vsnprintf(buf, size, fmt, ap);
}

/* An error: "mktmectl VERB: what failed: why — what to do"; returns code */
static int fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, msg, sizeof(msg));
	va_end(ap);
	fprintf(stderr, "mktmectl%s%s: %s\n", *verb ? " " : "", verb, msg);
	if (json && !json_done) {
		printf("{\"schema\":\"%s\",\"command\":", SCHEMA);
		json_str(*verb ? verb : "mktmectl");
		printf(",\"exit\":%d,\"error\":", code);
		json_str(msg);
		printf("}\n");
		json_done = true;
	}
	return code;
}

static int usage_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, msg, sizeof(msg));
	va_end(ap);
	fail(MX_USAGE, "%s", msg);
	fprintf(stderr, "Try 'mktmectl%s%s --help'.\n", *verb ? " " : "", verb);
	return MX_USAGE;
}

static int errno_exit(int e)
{
	switch (e) {
	case EPERM:
	case EACCES:
		return MX_PERM;
	case ENODEV:
	case EOPNOTSUPP:
		return MX_UNSUPPORTED;
	case ENOSPC:
		return MX_NOSPC;
	default:
		return MX_ERROR;
	}
}

/* What to do about an errno from the kernel's MKTME interface */
static const char *hint(int e)
{
	switch (e) {
	case EPERM:
	case EACCES:
		return " — needs CAP_SYS_RESOURCE (and ptrace rights over another process): run as root";
	case ENODEV:
		return " — MKTME is not enabled: run 'mktmectl status'";
	case EOPNOTSUPP:
		return " — user keys need the boot option mktme.user_keys=1";
	case ENOSPC:
		return " — every KeyID is taken: revoke keys no longer needed ('mktmectl list', 'mktmectl revoke')";
	case EKEYREVOKED:
		return " — the key was revoked: add a new one";
	case EBUSY:
		return " — pages are pinned for DMA, a key table is busy, or a package has no online CPU: retry, or bind with --no-rekey";
	case ESRCH:
		return " — the process has exited";
	case EAGAIN:
	case EIO:
		return " — PCONFIG kept failing: retry; see 'mktmectl status' counters";
	default:
		return "";
	}
}

/* ---- files under /proc and /sys (below MKTMECTL_ROOT in tests) ---- */

/* The path, below root; "" (which no open() finds) if it does not fit */
static const char *rpath(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = snprintf(buf, size, "%s", root);
	va_list ap;
	int m;

	if (n >= size) {
		buf[0] = '\0';
		return buf;
	}
	va_start(ap, fmt);
	m = vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= size - n)
		buf[0] = '\0';
	return buf;
}

static int read_str(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static long sysfs_long(const char *name)
{
	char path[PATH_MAX], buf[64];

	if (read_str(rpath(path, sizeof(path), SYSFS "/%s", name), buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

static bool mktme_enabled(void)
{
	char path[PATH_MAX];
	struct stat st;

	return stat(rpath(path, sizeof(path), SYSFS), &st) == 0 && S_ISDIR(st.st_mode);
}

static int require_mktme(void)
{
	if (mktme_enabled())
		return 0;
	return fail(MX_UNSUPPORTED,
		    "MKTME is not enabled on this system (no " SYSFS ") — run 'mktmectl status' to see why");
}

/* Is @word one of the space-separated words of @s? */
static bool has_word(const char *s, const char *word)
{
	size_t len = strlen(word);
	const char *p = s;

	while ((p = strstr(p, word))) {
		if ((p == s || isspace((unsigned char)p[-1])) &&
		    (p[len] == '\0' || isspace((unsigned char)p[len])))
			return true;
		p += len;
	}
	return false;
}

/* User names from /etc/passwd: a static binary cannot use NSS */
static bool uid_name(unsigned int uid, char *name, size_t size)
{
	char path[PATH_MAX], line[1024];
	bool found = false;
	unsigned int u;
	FILE *f;

	f = fopen(rpath(path, sizeof(path), "/etc/passwd"), "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 && sscanf(c2 + 1, "%u:", &u) == 1 && u == uid) {
			*c1 = '\0';
			snprintf(name, size, "%.*s", (int)(size - 1), line);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static bool name_uid(const char *name, unsigned int *uid)
{
	char path[PATH_MAX], line[1024];
	bool found = false;
	FILE *f;

	f = fopen(rpath(path, sizeof(path), "/etc/passwd"), "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c1 = '\0';
		if (!strcmp(line, name) && sscanf(c2 + 1, "%u:", uid) == 1)
			found = true;
	}
	fclose(f);
	return found;
}

static bool parse_uint(const char *s, long max, long *out)
{
	char *end;
	long v;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* ---- keys (/proc/keys) and processes (/proc/<pid>) ---- */

static void parse_key_desc(struct mkey *k, char *desc)
{
	char *p = strstr(desc, ": keyid="), *w, *save;

	k->keyid = -1;
	if (!p) {
		snprintf(k->name, sizeof(k->name), "%s", desc);
		return;
	}
	*p = '\0';
	snprintf(k->name, sizeof(k->name), "%s", desc);
	for (w = strtok_r(p + 2, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (!strncmp(w, "keyid=", 6))
			k->keyid = atoi(w + 6);
		else if (!strncmp(w, "type=", 5))
			snprintf(k->type, sizeof(k->type), "%s", w + 5);
		else if (!strncmp(w, "algorithm=", 10))
			snprintf(k->alg, sizeof(k->alg), "%s", w + 10);
	}
}

static int load_keys(struct mkey **keys, int *nkeys)
{
	char path[PATH_MAX], line[1024], flags[16], type[32];
	struct mkey *k = NULL, *t;
	unsigned int serial, uid;
	int n = 0, off;
	FILE *f;

	f = fopen(rpath(path, sizeof(path), "/proc/keys"), "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		off = 0;
		if (sscanf(line, "%x %15s %*d %*s %*x %u %*u %31s %n",
			   &serial, flags, &uid, type, &off) < 4 || !off)
			continue;
		if (strcmp(type, MKTME_KEY_TYPE))
			continue;
		t = realloc(k, (n + 1) * sizeof(*k));
		if (!t) {
			free(k);
			fclose(f);
			return -ENOMEM;
		}
		k = t;
		memset(&k[n], 0, sizeof(k[n]));
		line[strcspn(line, "\n")] = '\0';
		k[n].serial = serial;
		k[n].uid = uid;
		/* flags: I R D Q U N i; a revoked key shows R second */
		k[n].revoked = flags[1] == 'R';
		parse_key_desc(&k[n], line + off);
		n++;
	}
	fclose(f);
	*keys = k;
	*nkeys = n;
	return 0;
}

static void proc_add_kb(struct mproc *p, int keyid, long kb)
{
	struct kbent *t;
	int i;

	if (keyid <= 0)
		return;
	for (i = 0; i < p->nmem; i++)
		if (p->mem[i].keyid == keyid) {
			p->mem[i].kb += kb;
			return;
		}
	t = realloc(p->mem, (p->nmem + 1) * sizeof(*t));
	if (!t)
		return;
	p->mem = t;
	p->mem[p->nmem].keyid = keyid;
	p->mem[p->nmem++].kb = kb;
}

/* One process's default KeyID, name and memory per KeyID; false if gone */
static bool load_proc(struct mproc *p)
{
	unsigned long start, end;
	char path[PATH_MAX], line[512];
	int keyid = 0;
	long kb = 0;
	FILE *f;

	f = fopen(rpath(path, sizeof(path), "/proc/%d/status", p->pid), "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Name:", 5)) {
			sscanf(line + 5, " %31[^\n]", p->comm);
		} else if (sscanf(line, "MktmeKeyID: %d", &p->keyid) == 1) {
			p->revoked = strstr(line, "(revoked)") != NULL;
		}
	}
	fclose(f);

	/* Kernel threads and other users' processes may deny smaps: no pages */
	f = fopen(rpath(path, sizeof(path), "/proc/%d/smaps", p->pid), "r");
	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			proc_add_kb(p, keyid, kb);
			keyid = 0;
			kb = 0;
		} else if (!strncmp(line, "Rss:", 4)) {
			kb = strtol(line + 4, NULL, 10);
		} else if (!strncmp(line, "KeyID:", 6)) {
			keyid = atoi(line + 6);
		}
	}
	proc_add_kb(p, keyid, kb);
	fclose(f);
	return true;
}

/* Processes with a default key or memory under a KeyID; sorted by pid */
static int load_procs(struct mproc **procs, int *nprocs)
{
	struct mproc *ps = NULL, *t, p;
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	long pid;
	DIR *d;

	d = opendir(rpath(path, sizeof(path), "/proc"));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!parse_uint(de->d_name, INT_MAX, &pid) || !pid)
			continue;
		memset(&p, 0, sizeof(p));
		p.pid = pid;
		if (!load_proc(&p) || (p.keyid <= 0 && !p.nmem)) {
			free(p.mem);
			continue;
		}
		t = realloc(ps, (n + 1) * sizeof(*ps));
		if (!t) {
			free(p.mem);
			break;
		}
		ps = t;
		ps[n++] = p;
	}
	closedir(d);
	/* readdir order is not pid order on every file system */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ps[j - 1].pid > ps[j].pid; j--) {
			p = ps[j];
			ps[j] = ps[j - 1];
			ps[j - 1] = p;
		}
	*procs = ps;
	*nprocs = n;
	return 0;
}

static void free_procs(struct mproc *ps, int n)
{
	for (int i = 0; i < n; i++)
		free(ps[i].mem);
	free(ps);
}

static bool proc_bound(const struct mproc *p, const struct mkey *k)
{
	return k->keyid > 0 && p->keyid == k->keyid && p->revoked == k->revoked;
}

static long proc_kb(const struct mproc *p, const struct mkey *k)
{
	long kb = 0;

	if (k->keyid <= 0 || k->revoked)
		return 0;
	for (int i = 0; i < p->nmem; i++)
		if (p->mem[i].keyid == k->keyid)
			kb += p->mem[i].kb;
	return kb;
}

static void account(struct mkey *keys, int nkeys, struct mproc *ps, int np)
{
	for (int i = 0; i < nkeys; i++)
		for (int j = 0; j < np; j++) {
			keys[i].nbound += proc_bound(&ps[j], &keys[i]);
			keys[i].kb += proc_kb(&ps[j], &keys[i]);
		}
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* KEY: a serial, or the name of a key not yet revoked; index or -exit code */
static int find_key(const char *spec, struct mkey *keys, int n)
{
	long serial;
	int found = -1, matches = 0;

	if (all_digits(spec)) {
		if (!parse_uint(spec, INT_MAX, &serial))
			return -usage_err("bad key serial '%s'", spec);
		for (int i = 0; i < n; i++)
			if (keys[i].serial == serial)
				return i;
		return -fail(MX_ERROR, "no mktme key with serial %ld in /proc/keys: %s — see 'mktmectl list'",
			     serial, strerror(ENOKEY));
	}
	for (int i = 0; i < n; i++)
		if (!keys[i].revoked && !strcmp(keys[i].name, spec)) {
			if (!matches++)
				found = i;
		}
	if (matches > 1)
		return -usage_err("key name '%s' is ambiguous (%d live mktme keys have it): give the serial, see 'mktmectl list'",
				  spec, matches);
	if (found < 0)
		return -fail(MX_ERROR, "no mktme key named '%s' in /proc/keys: %s — see 'mktmectl list'",
			     spec, strerror(ENOKEY));
	return found;
}

/* Load keys (and processes) and resolve KEY; index or -exit code */
static int lookup(const char *spec, struct mkey **keys, int *nkeys,
		  struct mproc **ps, int *np)
{
	int ret;

	ret = load_keys(keys, nkeys);
	if (ret)
		return -fail(MX_ERROR, "cannot read /proc/keys: %s", strerror(-ret));
	if (ps) {
		ret = load_procs(ps, np);
		if (ret)
			return -fail(MX_ERROR, "cannot read /proc: %s", strerror(-ret));
		account(*keys, *nkeys, *ps, *np);
	}
	return spec ? find_key(spec, *keys, *nkeys) : 0;
}

static long pages(long kb)
{
	return kb / page_kb;
}

/* ---- argument parsing shared by the verbs ---- */

enum { OPT_HELP = 'h', OPT_JSON = 0x100, OPT_YES, OPT_NOREKEY };

/* getopt_long with opterr 0: '?' and ':' become our own messages */
static int bad_option(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return usage_err("option '%s' needs an argument", arg);
	if (optopt && optopt < 0x100 && arg[0] == '-' && arg[1] != '-')
		return usage_err("unknown option '-%c'", optopt);
	return usage_err("unknown option '%s'", arg);
}

static void help(const char *text)
{
	fputs(text, stdout);
}

/* ---- status ---- */

struct check {
	const char *name;
	bool ok;
	char detail[512];
	char fix[512];
};

static const char status_help[] =
"Usage: mktmectl status [--json]\n"
"\n"
"Check that this system can use MKTME: CPU flags, kernel, free KeyIDs,\n"
"algorithms, user keys, swap policy, counters.  Each line is\n"
"\"ok|FAIL name: detail\", a failing one followed by \" — \" and how\n"
"to fix it.\n"
"Exit 0 if usable, 3 if MKTME is unsupported, 4 if no KeyID is free,\n"
"2 if usable but not by you (no CAP_SYS_RESOURCE).\n";

static void check_set(struct check *c, const char *name, bool ok,
		      const char *fix, const char *fmt, ...)
{
	va_list ap;

	c->name = name;
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	snprintf(c->fix, sizeof(c->fix), "%s", ok || !fix ? "" : fix);
}

static bool cpu_flag(const char *cpuinfo, const char *flag)
{
	const char *p = strstr(cpuinfo, "\nflags");

	if (!p && !strncmp(cpuinfo, "flags", 5))
		p = cpuinfo;
	if (!p)
		return false;
	p = strchr(p + 1, ':');
	if (!p)
		return false;
	char line[8192];

	snprintf(line, sizeof(line), "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
	return has_word(line, flag);
}

/* The verb's one operand; NULL after a usage error, whose code is in *err */
static const char *one_operand(int argc, char **argv, const char *what, int *err)
{
	if (optind >= argc) {
		*err = usage_err("missing %s", what);
		return NULL;
	}
	if (optind + 1 < argc) {
		*err = usage_err("unexpected argument '%s'", argv[optind + 1]);
		return NULL;
	}
	return argv[optind];
}

/*
 * The options of the verbs that take only --json and --help.
 * Return: -1 to go on, else the exit code.
 */
static int json_help_options(int argc, char **argv, const char *helptext)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			help(helptext);
			return MX_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	return -1;
}

static const char qemu_fix[] =
	"on QEMU use -cpu max,vendor=GenuineIntel,tme=on,pconfig=on; on hardware enable TME and multi-key TME in the firmware setup";

static int cmd_status(int argc, char **argv)
{
	static char cpuinfo[1 << 16];
	char path[PATH_MAX], cmdline[4096], buf[256], algs[256] = "";
	struct check c[12];
	bool tme, pconfig, off, enabled, cap = false, user_keys = false;
	long nr = -1, in_use = -1, draining = -1, tdx = -1, free_ids = -1;
	static const char * const counters[] = {
		"erases", "erased_pages", "cache_flushes", "pconfig_calls",
		"pconfig_failures", "pconfig_retries", "swap_refused", "swapin_rekeyed",
	};
	long cnt[8], swap_plaintext = -1;
	int n = 0, code;
	FILE *f;

	code = json_help_options(argc, argv, status_help);
	if (code >= 0)
		return code;
	code = MX_OK;

	if (read_str(rpath(path, sizeof(path), "/proc/cpuinfo"), cpuinfo, sizeof(cpuinfo)))
		cpuinfo[0] = '\0';
	if (read_str(rpath(path, sizeof(path), "/proc/cmdline"), cmdline, sizeof(cmdline)))
		cmdline[0] = '\0';
	tme = cpu_flag(cpuinfo, "tme");
	pconfig = cpu_flag(cpuinfo, "pconfig");
	off = has_word(cmdline, "mktme=off");
	enabled = mktme_enabled();

	if (tme)
		check_set(&c[n++], "cpu-tme", true, NULL, "the CPU has TME-MK (flag tme in /proc/cpuinfo)");
	else
		check_set(&c[n++], "cpu-tme", false, qemu_fix, "CPU has no TME-MK (no flag tme in /proc/cpuinfo)");
	if (pconfig)
		check_set(&c[n++], "cpu-pconfig", true, NULL, "the CPU has PCONFIG (flag pconfig in /proc/cpuinfo)");
	else
		check_set(&c[n++], "cpu-pconfig", false, qemu_fix,
			  "CPU has no PCONFIG, which programs the keys (no flag pconfig in /proc/cpuinfo)");
	if (off)
		check_set(&c[n++], "cmdline", false,
			  "remove mktme=off from the kernel command line and reboot",
			  "booted with mktme=off (/proc/cmdline)");
	else
		check_set(&c[n++], "cmdline", true, NULL, "MKTME not disabled on the kernel command line");

	if (enabled) {
		check_set(&c[n++], "kernel", true, NULL, "MKTME enabled (" SYSFS ")");
	} else if (off) {
		check_set(&c[n++], "kernel", false, "see cmdline above",
			  "MKTME not enabled (no " SYSFS "): disabled by mktme=off");
	} else if (!tme || !pconfig) {
		check_set(&c[n++], "kernel", false, "see cpu-tme and cpu-pconfig above",
			  "MKTME not enabled (no " SYSFS "): the CPU has no TME-MK");
	} else {
		struct utsname u;
		char config[1 << 16];
		bool cfg = false, has = false;

		if (!uname(&u) &&
		    !read_str(rpath(path, sizeof(path), "/boot/config-%s", u.release),
			      config, sizeof(config))) {
			cfg = true;
			has = strstr(config, "CONFIG_X86_MKTME=y") != NULL;
		}
		if (cfg && !has)
			check_set(&c[n++], "kernel", false,
				  "build the kernel with CONFIG_X86_MKTME=y",
				  "MKTME not enabled: kernel %s was built without CONFIG_X86_MKTME (/boot/config-%s)",
				  u.release, u.release);
		else
			check_set(&c[n++], "kernel", false,
				  "build the kernel with CONFIG_X86_MKTME=y and enable TME-MK in the firmware setup",
				  "MKTME not enabled (no " SYSFS "): kernel without CONFIG_X86_MKTME, or firmware left TME-MK disabled (dmesg | grep -i mktme says which)");
	}
	if (!(tme && pconfig && !off && enabled))
		code = MX_UNSUPPORTED;

	if (enabled) {
		nr = sysfs_long("nr_keyids");
		in_use = sysfs_long("keyids_in_use");
		draining = sysfs_long("keyids_draining");
		tdx = sysfs_long("nr_tdx_keyids");
		free_ids = nr - in_use;
		check_set(&c[n++], "keyids", nr > 0 && free_ids > 0,
			  nr > 0 ? "revoke keys no longer needed: 'mktmectl list', 'mktmectl revoke'"
				 : "enable TME-MK with KeyIDs in the firmware setup",
			  "%ld of %ld KeyIDs free (%ld in use, %ld draining, %ld reserved for TDX)",
			  free_ids, nr, in_use, draining, tdx);
		if (nr <= 0)
			code = MX_UNSUPPORTED;
		else if (free_ids <= 0 && code == MX_OK)
			code = MX_NOSPC;

		read_str(rpath(path, sizeof(path), SYSFS "/algorithms"), algs, sizeof(algs));
		if (*algs)
			check_set(&c[n++], "algorithms", true, NULL, "%s", algs);
		else
			check_set(&c[n++], "algorithms", false,
				  "enable TME-MK in the firmware setup",
				  "firmware activated no algorithm");
		if (!*algs)
			code = MX_UNSUPPORTED;

		if (!read_str(rpath(path, sizeof(path), "/sys/module/mktme/parameters/user_keys"),
			      buf, sizeof(buf)))
			user_keys = buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1';
		else
			user_keys = has_word(cmdline, "mktme.user_keys=1");
		if (user_keys)
			check_set(&c[n++], "user-keys", true, NULL, "allowed (mktme.user_keys=1): add --type user works");
		else
			check_set(&c[n++], "user-keys", true, NULL,
				  "not allowed: --type user needs the boot option mktme.user_keys=1");

		for (int i = 0; i < 8; i++)
			cnt[i] = sysfs_long(counters[i]);
		swap_plaintext = sysfs_long("swap_plaintext");
		if (swap_plaintext == 0)
			check_set(&c[n++], "swap", true, NULL,
				  "encrypted memory is kept out of swap, which would store it in plaintext (swap_plaintext=0)");
		else if (swap_plaintext > 0)
			check_set(&c[n++], "swap", true, NULL,
				  "encrypted memory may be swapped, in plaintext (swap_plaintext=1): swap on an encrypted device (dm-crypt) only");
		check_set(&c[n++], "counters", true, NULL,
			  "erases=%ld erased_pages=%ld cache_flushes=%ld pconfig_calls=%ld pconfig_failures=%ld pconfig_retries=%ld swap_refused=%ld swapin_rekeyed=%ld",
			  cnt[0], cnt[1], cnt[2], cnt[3], cnt[4], cnt[5], cnt[6], cnt[7]);
	}

	f = fopen(rpath(path, sizeof(path), "/proc/self/status"), "r");
	if (f) {
		unsigned long long eff;
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "CapEff: %llx", &eff) == 1)
				cap = eff & (1ULL << CAP_SYS_RESOURCE_BIT);
		fclose(f);
	}
	check_set(&c[n++], "privileges", cap, "run as root",
		  cap ? "CAP_SYS_RESOURCE held" : "no CAP_SYS_RESOURCE: add, bind and revoke will fail with EPERM");
	if (!cap && code == MX_OK)
		code = MX_PERM;

	if (json) {
		printf("{\"schema\":\"%s\",\"command\":\"status\",\"usable\":%s,\"exit\":%d,\"checks\":[",
		       SCHEMA, code == MX_OK ? "true" : "false", code);
		for (int i = 0; i < n; i++) {
			printf("%s{\"name\":\"%s\",\"ok\":%s,\"detail\":", i ? "," : "",
			       c[i].name, c[i].ok ? "true" : "false");
			json_str(c[i].detail);
			printf(",\"fix\":");
			json_str(c[i].fix);
			putchar('}');
		}
		printf("]");
		if (enabled) {
			char *save, *w;

			printf(",\"keyids\":{\"total\":%ld,\"in_use\":%ld,\"free\":%ld,\"draining\":%ld,\"tdx\":%ld}",
			       nr, in_use, free_ids, draining, tdx);
			printf(",\"algorithms\":[");
			n = 0;
			for (w = strtok_r(algs, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
				printf("%s", n++ ? "," : "");
				json_str(w);
			}
			printf("],\"user_keys\":%s,", user_keys ? "true" : "false");
			if (swap_plaintext >= 0)
				printf("\"swap_plaintext\":%s,", swap_plaintext ? "true" : "false");
			printf("\"counters\":{");
			for (int i = 0; i < 8; i++)
				printf("%s\"%s\":%ld", i ? "," : "", counters[i], cnt[i]);
			printf("}");
		}
		printf("}\n");
		return code;
	}
	for (int i = 0; i < n; i++)
		printf("%s %s: %s%s%s\n", c[i].ok ? "ok" : "FAIL", c[i].name,
		       c[i].detail, *c[i].fix ? " — " : "", c[i].fix);
	return code;
}

/* ---- list ---- */

static const char list_help[] =
"Usage: mktmectl list [--json]\n"
"\n"
"List every mktme key visible in /proc/keys: serial, name, KeyID, type,\n"
"algorithm, owner, state, pages encrypted with it (Rss of the VMAs with its\n"
"KeyID in every process) and the processes whose default key it is.\n";

static void owner_name(unsigned int uid, char *buf, size_t size)
{
	if (!uid_name(uid, buf, size))
		snprintf(buf, size, "%u", uid);
}

static int cmd_list(int argc, char **argv)
{
	struct mkey *keys = NULL;
	struct mproc *ps = NULL;
	int nkeys = 0, np = 0, ret;
	char owner[64];

	ret = json_help_options(argc, argv, list_help);
	if (ret >= 0)
		return ret;
	if (require_mktme())
		return MX_UNSUPPORTED;
	ret = lookup(NULL, &keys, &nkeys, &ps, &np);
	if (ret < 0)
		return -ret;

	if (json)
		printf("{\"schema\":\"%s\",\"command\":\"list\",\"keys\":[", SCHEMA);
	else
		printf("%-10s %-16s %5s %-10s %-11s %-8s %-7s %7s %s\n", "SERIAL", "NAME",
		       "KEYID", "TYPE", "ALGORITHM", "OWNER", "STATE", "PAGES", "PIDS");
	for (int i = 0; i < nkeys; i++) {
		struct mkey *k = &keys[i];
		int b = 0;

		owner_name(k->uid, owner, sizeof(owner));
		if (json) {
			printf("%s{\"serial\":%d,\"name\":", i ? "," : "", k->serial);
			json_str(k->name);
			printf(",\"keyid\":%d,\"type\":", k->keyid);
			json_str(k->type);
			printf(",\"algorithm\":");
			json_str(k->alg);
			printf(",\"uid\":%u,\"owner\":", k->uid);
			json_str(owner);
			printf(",\"revoked\":%s,\"pages\":%ld,\"processes\":[",
			       k->revoked ? "true" : "false", pages(k->kb));
			for (int j = 0; j < np; j++) {
				if (!proc_bound(&ps[j], k))
					continue;
				printf("%s{\"pid\":%d,\"comm\":", b++ ? "," : "", ps[j].pid);
				json_str(ps[j].comm);
				printf("}");
			}
			printf("]}");
			continue;
		}
		printf("%-10d %-16s %5d %-10s %-11s %-8s %-7s %7ld ", k->serial, k->name,
		       k->keyid, *k->type ? k->type : "-", *k->alg ? k->alg : "-", owner,
		       k->revoked ? "revoked" : "live", pages(k->kb));
		for (int j = 0; j < np; j++)
			if (proc_bound(&ps[j], k))
				printf("%s%d", b++ ? "," : "", ps[j].pid);
		printf("%s\n", b ? "" : "-");
	}
	if (json)
		printf("]}\n");
	free(keys);
	free_procs(ps, np);
	return MX_OK;
}

/* ---- add ---- */

static const char add_help[] =
"Usage: mktmectl add NAME [--type cpu|no-encrypt|user]\n"
"                    [--algorithm aes-xts-128|aes-xts-256]\n"
"                    [--keyring user|session|process|persistent]\n"
"                    [--owner USER] [--json]\n"
"\n"
"Create an mktme key named NAME and print its serial.  --type cpu (the\n"
"default): the CPU generates the key; no-encrypt: a KeyID that does not\n"
"encrypt; user: the key and tweak come from getrandom(2) (needs the boot\n"
"option mktme.user_keys=1; the material is never shown).  The key is\n"
"linked into the user keyring (@u) unless --keyring says else.  Its owner\n"
"and group 0 may view, search and revoke it, so that root finds it\n"
"without possessing it.\n"
"--owner USER (a name or a uid; needs CAP_SYS_ADMIN) gives the key to USER,\n"
"as a login hook does: 'purge --user USER' then finds it, while the key\n"
"stays in your keyring for 'bind' and 'exec'.\n"
"NAME: 1 to 255 printable characters, no blank, no ':', not all digits.\n";

static const char *valid_name(const char *s)
{
	size_t len = strlen(s);

	if (!len)
		return "is empty";
	if (len > 255)
		return "is longer than 255 characters";
	if (all_digits(s))
		return "is all digits (it would read as a serial)";
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == ':')
			return "contains ':' (it separates the name in /proc/keys)";
		if (c <= ' ' || c == 0x7f)
			return "contains a blank or control character";
	}
	return NULL;
}

static int cmd_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "keyring", required_argument, NULL, 'k' },
		{ "owner", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ }
	};
	const char *type = "cpu", *alg = "aes-xts-128", *ring_name = "user", *name, *why;
	const char *owner = NULL;
	struct mkey *keys = NULL;
	key_serial_t ring, serial = -1;
	int nkeys = 0, opt, ret, e, keyid = -1;
	unsigned int owner_uid = 0;
	long v;

	while ((opt = getopt_long(argc, argv, ":ht:a:k:o:", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			type = optarg;
			if (strcmp(type, "cpu") && strcmp(type, "no-encrypt") && strcmp(type, "user"))
				return usage_err("bad --type '%s': cpu, no-encrypt or user", type);
			break;
		case 'a':
			alg = optarg;
			if (strcmp(alg, "aes-xts-128") && strcmp(alg, "aes-xts-256"))
				return usage_err("bad --algorithm '%s': aes-xts-128 or aes-xts-256", alg);
			break;
		case 'k':
			ring_name = optarg;
			if (strcmp(ring_name, "user") && strcmp(ring_name, "session") &&
			    strcmp(ring_name, "process") && strcmp(ring_name, "persistent"))
				return usage_err("bad --keyring '%s': user, session, process or persistent",
						 ring_name);
			break;
		case 'o':
			owner = optarg;
			if (parse_uint(owner, UINT_MAX >> 1, &v))
				owner_uid = v;
			else if (!name_uid(owner, &owner_uid))
				return usage_err("unknown user '%s' for --owner (not in /etc/passwd): give a user name or a uid",
						 owner);
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			help(add_help);
			return MX_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	name = one_operand(argc, argv, "key NAME", &ret);
	if (!name)
		return ret;
	why = valid_name(name);
	if (why)
		return usage_err("bad key name '%s': it %s", name, why);
	if (require_mktme())
		return MX_UNSUPPORTED;

	/*
	 * The kernel refuses add_key() of a description the keyring holds
	 * (EEXIST), which closes any race there; looking first also refuses
	 * a name a live key has in any other keyring, which would make the
	 * name ambiguous, and names that key.
	 */
	ret = load_keys(&keys, &nkeys);
	if (ret)
		return fail(MX_ERROR, "cannot read /proc/keys: %s", strerror(-ret));
	for (int i = 0; i < nkeys; i++)
		if (!keys[i].revoked && !strcmp(keys[i].name, name)) {
			ret = fail(MX_ERROR, "cannot create key '%s': %s: serial %d has that name — choose another name or revoke it first",
				   name, strerror(EEXIST), keys[i].serial);
			free(keys);
			return ret;
		}
	free(keys);

	if (!strcmp(ring_name, "user")) {
		ring = KEY_SPEC_USER_KEYRING;
	} else if (!strcmp(ring_name, "session")) {
		ring = KEY_SPEC_SESSION_KEYRING;
	} else if (!strcmp(ring_name, "process")) {
		ring = KEY_SPEC_PROCESS_KEYRING;
	} else {
		ring = keyctl_get_persistent(-1, KEY_SPEC_PROCESS_KEYRING);
		if (ring < 0) {
			e = errno;
			return fail(errno_exit(e), "cannot get the persistent keyring: %s%s",
				    strerror(e), e == EOPNOTSUPP ? " — kernel without CONFIG_PERSISTENT_KEYRINGS: use --keyring user" : "");
		}
	}

	serial = mktme_key_add(name, !strcmp(type, "cpu") ? MKTME_TYPE_CPU :
			       !strcmp(type, "user") ? MKTME_TYPE_USER : MKTME_TYPE_NO_ENCRYPT,
			       !strcmp(alg, "aes-xts-256") ? MKTME_AES_XTS_256 : MKTME_AES_XTS_128,
			       ring);
	e = serial < 0 ? errno : 0;
	if (e) {
		const char *h = hint(e);

		if (e == EINVAL)
			h = " — the algorithm may not be activated: see 'mktmectl status'";
		else if (e == EEXIST)
			h = " — the keyring has a key of that name: choose another name or revoke it first";
		return fail(errno_exit(e), "cannot create %s key '%s' (%s): %s%s",
			    type, name, alg, strerror(e), h);
	}
	/*
	 * The key stays in our keyring, so we keep possessing it; the owner
	 * is the user 'purge --user' and /proc/keys name.  A key that could
	 * not be given away must not be left behind.
	 */
	if (owner && mktme_key_set_owner(serial, owner_uid) < 0) {
		e = errno;
		keyctl_invalidate(serial);
		return fail(errno_exit(e), "created key '%s' but cannot give it to '%s': %s%s — the key was removed",
			    name, owner, strerror(e), e == EACCES ? " (needs CAP_SYS_ADMIN)" : hint(e));
	}

	if (json) {
		if (!load_keys(&keys, &nkeys)) {
			for (int i = 0; i < nkeys; i++)
				if (keys[i].serial == serial)
					keyid = keys[i].keyid;
			free(keys);
		}
		printf("{\"schema\":\"%s\",\"command\":\"add\",\"serial\":%d,\"name\":", SCHEMA, serial);
		json_str(name);
		printf(",\"keyid\":%d,\"type\":\"%s\",\"algorithm\":\"%s\",\"keyring\":\"%s\",\"uid\":%u}\n",
		       keyid, type, alg, ring_name, owner ? owner_uid : geteuid());
	} else {
		printf("%d\n", serial);
	}
	return MX_OK;
}

/* ---- bind ---- */

static const char bind_help[] =
"Usage: mktmectl bind KEY --pid PID [--no-rekey] [--json]\n"
"       mktmectl bind KEY --cgroup PATH [--no-rekey] [--json]\n"
"\n"
"Make KEY (a serial or a key name) the default key of process PID, or of\n"
"every process in the cgroup PATH (a directory with cgroup.procs, absolute\n"
"or below /sys/fs/cgroup): their new private anonymous memory is encrypted\n"
"with it, and their children inherit it.  Existing private anonymous\n"
"memory is re-keyed in place unless --no-rekey.  Processes that start in\n"
"the cgroup later are not bound unless their parent was.\n";

static int set_key(int serial, pid_t pid, unsigned long flags)
{
	int pidfd = -1, ret, e;

	if (pid != getpid()) {
		pidfd = syscall(__NR_pidfd_open, pid, 0);
		if (pidfd < 0)
			return -errno;
	}
	ret = prctl(PR_SET_MKTME_KEY, serial, pidfd, flags, 0);
	e = errno;
	if (pidfd >= 0)
		close(pidfd);
	return ret ? -e : 0;
}

static int read_cgroup(const char *spec, char *dir, size_t size, pid_t **pids, int *n)
{
	char path[PATH_MAX + 32], line[64];
	pid_t *p = NULL, *t;
	FILE *f = NULL;
	long pid;
	int cnt = 0;

	if (spec[0] == '/') {
		snprintf(dir, size, "%s", spec);
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		f = fopen(path, "r");
	}
	if (!f) {
		rpath(dir, size, "/sys/fs/cgroup/%s", spec + (spec[0] == '/'));
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		f = fopen(path, "r");
		if (!f)
			return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!parse_uint(line, INT_MAX, &pid))
			continue;
		t = realloc(p, (cnt + 1) * sizeof(*p));
		if (!t)
			break;
		p = t;
		p[cnt++] = pid;
	}
	fclose(f);
	*pids = p;
	*n = cnt;
	return 0;
}

static int cmd_bind(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "no-rekey", no_argument, NULL, OPT_NOREKEY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ }
	};
	const char *spec, *cgroup = NULL;
	unsigned long flags = PR_MKTME_REKEY;
	struct mkey *keys = NULL, *k;
	int nkeys = 0, opt, i, npids = 0, nbound = 0, ngone = 0, nfail = 0;
	int first_err = 0, code;
	pid_t *pids = NULL, *res;
	char dir[PATH_MAX];
	long pid = 0;

	while ((opt = getopt_long(argc, argv, ":hp:c:", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (!parse_uint(optarg, INT_MAX, &pid) || !pid)
				return usage_err("bad --pid '%s': a process ID, 1 or more", optarg);
			break;
		case 'c':
			cgroup = optarg;
			if (!*cgroup)
				return usage_err("bad --cgroup '': give a cgroup directory");
			break;
		case OPT_NOREKEY:
			flags = 0;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			help(bind_help);
			return MX_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	spec = one_operand(argc, argv, "KEY (a serial or a key name)", &code);
	if (!spec)
		return code;
	if (pid && cgroup)
		return usage_err("give --pid or --cgroup, not both");
	if (!pid && !cgroup)
		return usage_err("missing --pid PID or --cgroup PATH");
	if (require_mktme())
		return MX_UNSUPPORTED;
	i = lookup(spec, &keys, &nkeys, NULL, NULL);
	if (i < 0) {
		free(keys);
		return -i;
	}
	k = &keys[i];
	if (k->revoked) {
		code = fail(MX_ERROR, "cannot bind key %d: %s%s", k->serial,
			    strerror(EKEYREVOKED), hint(EKEYREVOKED));
		free(keys);
		return code;
	}

	if (cgroup) {
		int e = read_cgroup(cgroup, dir, sizeof(dir), &pids, &npids);

		if (e) {
			free(keys);
			return fail(MX_ERROR, "cannot read %s/cgroup.procs: %s — give a cgroup v2 directory, absolute or below /sys/fs/cgroup",
				    cgroup, strerror(-e));
		}
	} else {
		pids = malloc(sizeof(*pids));
		if (!pids) {
			free(keys);
			return fail(MX_ERROR, "out of memory");
		}
		pids[0] = pid;
		npids = 1;
	}

	/* res[i]: 0 bound, ESRCH gone, else the errno */
	res = calloc(npids ? npids : 1, sizeof(*res));
	if (!res) {
		free(keys);
		free(pids);
		return fail(MX_ERROR, "out of memory");
	}
	for (i = 0; i < npids; i++) {
		int e = -set_key(k->serial, pids[i], flags);

		res[i] = e;
		if (!e) {
			nbound++;
		} else if (e == ESRCH && cgroup) {
			ngone++;	/* exited since cgroup.procs was read */
		} else {
			nfail++;
			if (!first_err)
				first_err = e;
			if (!json || !cgroup)
				fprintf(stderr, "mktmectl bind: cannot bind pid %d to key '%s' (serial %d): %s%s\n",
					pids[i], k->name, k->serial, strerror(e), hint(e));
		}
	}

	if (!nfail)
		code = MX_OK;
	else if (nbound)
		code = MX_PARTIAL;
	else
		code = errno_exit(first_err);

	if (!cgroup && nfail) {
		/* the message is out; JSON still gets its error object */
		if (json) {
			char msg[512];

			snprintf(msg, sizeof(msg), "cannot bind pid %d to key '%s' (serial %d): %s",
				 pids[0], k->name, k->serial, strerror(first_err));
			printf("{\"schema\":\"%s\",\"command\":\"bind\",\"exit\":%d,\"error\":", SCHEMA, code);
			json_str(msg);
			printf("}\n");
		}
	} else if (json) {
		int b = 0;

		printf("{\"schema\":\"%s\",\"command\":\"bind\",\"exit\":%d,\"serial\":%d,\"name\":",
		       SCHEMA, code, k->serial);
		json_str(k->name);
		printf(",\"keyid\":%d,\"rekey\":%s", k->keyid, flags ? "true" : "false");
		if (cgroup) {
			printf(",\"cgroup\":");
			json_str(dir);
		}
		printf(",\"bound\":[");
		for (i = 0; i < npids; i++)
			if (!res[i])
				printf("%s%d", b++ ? "," : "", pids[i]);
		printf("],\"gone\":[");
		b = 0;
		for (i = 0; i < npids; i++)
			if (res[i] == ESRCH && cgroup)
				printf("%s%d", b++ ? "," : "", pids[i]);
		printf("],\"failed\":[");
		b = 0;
		for (i = 0; i < npids; i++) {
			if (!res[i] || (res[i] == ESRCH && cgroup))
				continue;
			printf("%s{\"pid\":%d,\"errno\":%d,\"error\":", b++ ? "," : "", pids[i], res[i]);
			json_str(strerror(res[i]));
			printf("}");
		}
		printf("]}\n");
	} else if (cgroup) {
		printf("bound %d of %d processes in %s to key '%s' (serial %d, KeyID %d)%s",
		       nbound, npids, dir, k->name, k->serial, k->keyid,
		       flags ? ", existing memory re-keyed" : "");
		if (ngone)
			printf("; %d exited meanwhile", ngone);
		if (nfail)
			printf("; %d failed", nfail);
		printf("\n");
		if (!npids)
			printf("the cgroup has no process: nothing bound\n");
	} else {
		printf("bound pid %d to key '%s' (serial %d, KeyID %d)%s\n", pids[0], k->name,
		       k->serial, k->keyid, flags ? ", existing memory re-keyed" : "");
	}
	free(res);
	free(pids);
	free(keys);
	return code;
}

/* ---- exec ---- */

static const char exec_help[] =
"Usage: mktmectl exec --key KEY [--] COMMAND [ARGS...]\n"
"\n"
"Run COMMAND with KEY (a serial or a key name) as its default key: its\n"
"private anonymous memory, and that of its children, is encrypted with it.\n"
"The exit status is COMMAND's; as env(1) has it, 125 if mktmectl fails\n"
"before running it, 126 if COMMAND cannot run, 127 if it is not found.\n";

/* exec's own exit codes, out of the way of COMMAND's (env(1), systemd-run) */
enum {
	MX_EXEC_FAILED	= 125,
	MX_EXEC_CANNOT	= 126,
	MX_EXEC_NOENT	= 127,
};

static int exec_with_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ }
	};
	struct mkey *keys = NULL;
	const char *spec = NULL;
	int nkeys = 0, opt, i, e, serial;

	while ((opt = getopt_long(argc, argv, "+:hk:", opts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			spec = optarg;
			break;
		case OPT_HELP:
			help(exec_help);
			return MX_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (!spec)
		return usage_err("missing --key KEY");
	if (optind >= argc)
		return usage_err("missing COMMAND");
	if (require_mktme())
		return MX_UNSUPPORTED;
	i = lookup(spec, &keys, &nkeys, NULL, NULL);
	if (i < 0) {
		free(keys);
		return -i;
	}
	serial = keys[i].serial;
	free(keys);
	if (prctl(PR_SET_MKTME_KEY, serial, -1, 0, 0)) {
		e = errno;
		return fail(errno_exit(e), "cannot set key %d as this process's default key: %s%s",
			    serial, strerror(e), hint(e));
	}
	execvp(argv[optind], argv + optind);
	e = errno;
	return fail(e == ENOENT ? MX_EXEC_NOENT : MX_EXEC_CANNOT, "cannot run '%s': %s",
		    argv[optind], strerror(e));
}

static int cmd_exec(int argc, char **argv)
{
	int rc = exec_with_key(argc, argv);

	return rc == MX_OK || rc >= MX_EXEC_FAILED ? rc : MX_EXEC_FAILED;
}

/* ---- revoke and purge ---- */

static const char revoke_help[] =
"Usage: mktmectl revoke KEY [--yes] [--json]\n"
"\n"
"Revoke KEY (a serial or the name of a live key): secure erase.  Every\n"
"mapping of memory encrypted with it is torn down in every process (a later\n"
"access gets SIGBUS) and its KeyID gets a fresh random key.  Reports the\n"
"processes that were bound to it and the pages erased.\n"
"On a terminal it asks you to type the key name; otherwise --yes is needed.\n";

static const char purge_help[] =
"Usage: mktmectl purge --user USER [--yes] [--json]\n"
"\n"
"Revoke (secure erase) every live mktme key owned by USER (a name or a\n"
"uid), as 'mktmectl revoke' does for one key.\n"
"On a terminal it asks you to type USER; otherwise --yes is needed.\n";

struct outcome {
	int err;		/* 0 revoked, else errno */
};

static bool confirm(const char *prompt, const char *expect)
{
	char line[512];

	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\n")] = '\0';
	return !strcmp(line, expect);
}

static void print_victims(const struct mkey *k, struct mproc *ps, int np)
{
	int n = 0;

	for (int j = 0; j < np; j++) {
		bool b = proc_bound(&ps[j], k);
		long kb = proc_kb(&ps[j], k);

		if (!b && !kb)
			continue;
		if (json) {
			printf("%s{\"pid\":%d,\"comm\":", n ? "," : "", ps[j].pid);
			json_str(ps[j].comm);
			printf(",\"bound\":%s,\"pages\":%ld}", b ? "true" : "false", pages(kb));
		} else {
			printf("  pid %d (%s): %s%ld pages erased\n", ps[j].pid, ps[j].comm,
			       b ? "bound to it, " : "", pages(kb));
		}
		n++;
	}
	if (!n && !json)
		printf("  no process was bound to it or had memory under it\n");
}

/* Revoke @sel[0..n); report; exit code */
static int revoke_keys(const char *cmd, struct mkey **sel, int n,
		       struct mproc *ps, int np)
{
	long before = sysfs_long("erased_pages"), erases = sysfs_long("erases");
	long after, erases_after, draining;
	int ok = 0, first_err = 0, code, *err;

	err = calloc(n ? n : 1, sizeof(*err));
	if (!err)
		return fail(MX_ERROR, "out of memory");
	for (int i = 0; i < n; i++) {
		if (keyctl_revoke(sel[i]->serial) == 0) {
			ok++;
			continue;
		}
		err[i] = errno;
		if (!first_err)
			first_err = err[i];
		fprintf(stderr, "mktmectl %s: cannot revoke key '%s' (serial %d): %s%s\n", cmd,
			sel[i]->name, sel[i]->serial, strerror(err[i]),
			err[i] == EACCES ? " — you need Setattr permission on the key: run as its owner or root" : hint(err[i]));
	}
	after = sysfs_long("erased_pages");
	erases_after = sysfs_long("erases");
	draining = sysfs_long("keyids_draining");
	code = ok == n ? MX_OK : ok ? MX_PARTIAL : errno_exit(first_err);

	if (json) {
		printf("{\"schema\":\"%s\",\"command\":\"%s\",\"exit\":%d,\"keys\":[", SCHEMA, cmd, code);
		for (int i = 0; i < n; i++) {
			printf("%s{\"serial\":%d,\"name\":", i ? "," : "", sel[i]->serial);
			json_str(sel[i]->name);
			printf(",\"keyid\":%d,\"revoked\":%s,\"error\":", sel[i]->keyid,
			       err[i] ? "false" : "true");
			if (err[i])
				json_str(strerror(err[i]));
			else
				printf("null");
			printf(",\"processes\":[");
			print_victims(sel[i], ps, np);
			printf("]}");
		}
		printf("],\"erased_pages\":{\"before\":%ld,\"after\":%ld},\"erases\":{\"before\":%ld,\"after\":%ld},\"keyids_draining\":%ld}\n",
		       before, after, erases, erases_after, draining);
	} else {
		for (int i = 0; i < n; i++) {
			if (err[i])
				continue;
			printf("revoked key '%s' (serial %d, KeyID %d):\n", sel[i]->name,
			       sel[i]->serial, sel[i]->keyid);
			print_victims(sel[i], ps, np);
		}
		printf("erased_pages: %ld -> %ld (+%ld); erases: %ld -> %ld; keyids_draining: %ld\n",
		       before, after, after - before, erases, erases_after, draining);
	}
	free(err);
	return code;
}

static int cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "yes", no_argument, NULL, OPT_YES },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ }
	};
	struct mkey *keys = NULL, *sel;
	struct mproc *ps = NULL;
	int nkeys = 0, np = 0, opt, i, code;
	bool yes = false;
	const char *spec;
	char prompt[1024];

	while ((opt = getopt_long(argc, argv, ":hy", opts, NULL)) != -1) {
		switch (opt) {
		case 'y':
		case OPT_YES:
			yes = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			help(revoke_help);
			return MX_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	spec = one_operand(argc, argv, "KEY (a serial or a key name)", &code);
	if (!spec)
		return code;
	if (!yes && !isatty(STDIN_FILENO))
		return usage_err("refusing to revoke without confirmation: standard input is not a terminal — add --yes");
	if (require_mktme())
		return MX_UNSUPPORTED;
	i = lookup(spec, &keys, &nkeys, &ps, &np);
	if (i < 0) {
		code = -i;
		goto out;
	}
	sel = &keys[i];
	if (sel->revoked) {
		code = fail(MX_ERROR, "key %d is already revoked (%s)", sel->serial, strerror(EKEYREVOKED));
		goto out;
	}
	if (!yes) {
		snprintf(prompt, sizeof(prompt),
			 "Revoking key '%s' (serial %d, KeyID %d) erases its memory: %d processes bound, %ld pages.\nType the key name to confirm: ",
			 sel->name, sel->serial, sel->keyid, sel->nbound, pages(sel->kb));
		if (!confirm(prompt, sel->name)) {
			code = fail(MX_USAGE, "not confirmed: nothing revoked");
			goto out;
		}
	}
	code = revoke_keys("revoke", &sel, 1, ps, np);
out:
	free(keys);
	free_procs(ps, np);
	return code;
}

static int cmd_purge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ }
	};
	struct mkey *keys = NULL, **sel = NULL;
	struct mproc *ps = NULL;
	int nkeys = 0, np = 0, opt, n = 0, code;
	const char *user = NULL;
	unsigned int uid = 0;
	bool yes = false;
	char prompt[512];
	long v;

	while ((opt = getopt_long(argc, argv, ":hyu:", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			user = optarg;
			break;
		case 'y':
		case OPT_YES:
			yes = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			help(purge_help);
			return MX_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	if (!user)
		return usage_err("missing --user USER");
	if (parse_uint(user, UINT_MAX >> 1, &v))
		uid = v;
	else if (!name_uid(user, &uid))
		return usage_err("unknown user '%s' (not in /etc/passwd): give a user name or a uid", user);
	if (!yes && !isatty(STDIN_FILENO))
		return usage_err("refusing to purge without confirmation: standard input is not a terminal — add --yes");
	if (require_mktme())
		return MX_UNSUPPORTED;
	code = -lookup(NULL, &keys, &nkeys, &ps, &np);
	if (code)
		goto out;
	sel = calloc(nkeys ? nkeys : 1, sizeof(*sel));
	if (!sel) {
		code = fail(MX_ERROR, "out of memory");
		goto out;
	}
	for (int i = 0; i < nkeys; i++)
		if (keys[i].uid == uid && !keys[i].revoked)
			sel[n++] = &keys[i];
	if (!n && !json) {
		printf("no live mktme key owned by '%s' (uid %u): nothing revoked\n", user, uid);
		goto out;
	}
	if (n && !yes) {
		snprintf(prompt, sizeof(prompt),
			 "Revoking the %d mktme keys of uid %u erases their memory.\nType the user '%s' to confirm: ",
			 n, uid, user);
		if (!confirm(prompt, user)) {
			code = fail(MX_USAGE, "not confirmed: nothing revoked");
			goto out;
		}
	}
	code = revoke_keys("purge", sel, n, ps, np);
out:
	free(sel);
	free(keys);
	free_procs(ps, np);
	return code;
}

/* ---- main ---- */

static const char main_help[] =
"Usage: mktmectl [--json] COMMAND [OPTIONS] [ARGS]\n"
"\n"
"Manage Intel MKTME memory-encryption keys.\n"
"\n"
"Commands:\n"
"  status [--json]                    can this system use MKTME, and if not why\n"
"  list [--json]                      mktme keys, their KeyIDs, pages, processes\n"
"  add NAME [--type T] [--algorithm A] [--keyring R]\n"
"                                     create a key, print its serial\n"
"  bind KEY --pid PID [--no-rekey]    make KEY the default key of a process\n"
"  bind KEY --cgroup PATH [--no-rekey]  ... of every process of a cgroup\n"
"  exec --key KEY -- CMD [ARGS]       run CMD under KEY\n"
"  revoke KEY [--yes]                 revoke KEY: erase its memory\n"
"  purge --user USER [--yes]          revoke every key of USER\n"
"\n"
"KEY is a serial or a key name.  'mktmectl COMMAND --help' tells more.\n"
"Exit status: 0 ok, 1 usage, 2 permission, 3 MKTME unsupported,\n"
"4 no free KeyID, 5 partly done, 6 other error.  See mktmectl(8).\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} verbs[] = {
	{ "status", cmd_status },
	{ "list", cmd_list },
	{ "add", cmd_add },
	{ "bind", cmd_bind },
	{ "exec", cmd_exec },
	{ "revoke", cmd_revoke },
	{ "purge", cmd_purge },
};

int main(int argc, char **argv)
{
	long ps = sysconf(_SC_PAGESIZE);
	int i;

#ifdef MKTMECTL_TEST
	/* The host tests' fake /proc and /sys; never in an installed binary */
	if (getenv("MKTMECTL_ROOT"))
		root = getenv("MKTMECTL_ROOT");
#endif
	if (ps >= 1024)
		page_kb = ps / 1024;
	opterr = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help(main_help);
			return MX_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("mktmectl %s (JSON schema %s)\n", VERSION, SCHEMA);
			return MX_OK;
		} else {
			return usage_err("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		fputs(main_help, stderr);
		return MX_USAGE;
	}
	for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
		if (strcmp(argv[i], verbs[v].name))
			continue;
		verb = verbs[v].name;
		optind = 0;	/* glibc: restart scanning */
		return verbs[v].fn(argc - i, argv + i);
	}
	return usage_err("unknown command '%s'", argv[i]);
}

// SPDX-License-Identifier: GPL-2.0
/* mktmectl: status and list */
#include "mktmectl.h"

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
static const char qemu_fix[] =
	"on QEMU use -cpu max,vendor=GenuineIntel,tme=on,pconfig=on; on hardware enable TME and multi-key TME in the firmware setup";

int cmd_status(int argc, char **argv)
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
"algorithm, owner, state, the pages allocated under its KeyID (as the\n"
"kernel counts them; - for a revoked key) and the processes whose default\n"
"key it is.\n";

static void owner_name(unsigned int uid, char *buf, size_t size)
{
	if (!uid_name(uid, buf, size))
		snprintf(buf, size, "%u", uid);
}

int cmd_list(int argc, char **argv)
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
			printf(",\"revoked\":%s,\"pages\":", k->revoked ? "true" : "false");
			json_long(k->pages);
			printf(",\"users\":");
			json_long(k->nusers);
			printf(",\"processes\":[");
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
		printf("%-10d %-16s %5d %-10s %-11s %-8s %-7s ", k->serial, k->name,
		       k->keyid, *k->type ? k->type : "-", *k->alg ? k->alg : "-", owner,
		       k->revoked ? "revoked" : "live");
		if (k->pages >= 0)
			printf("%7ld ", k->pages);
		else
			printf("%7s ", "-");
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

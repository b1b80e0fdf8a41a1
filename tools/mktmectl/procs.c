// SPDX-License-Identifier: GPL-2.0
/* mktmectl: processes: /proc/<pid>, bind and exec */
#include "mktmectl.h"

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
int load_procs(struct mproc **procs, int *nprocs)
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

void free_procs(struct mproc *ps, int n)
{
	for (int i = 0; i < n; i++)
		free(ps[i].mem);
	free(ps);
}

bool proc_bound(const struct mproc *p, const struct mkey *k)
{
	return k->keyid > 0 && p->keyid == k->keyid && p->revoked == k->revoked;
}

long proc_kb(const struct mproc *p, const struct mkey *k)
{
	long kb = 0;

	if (k->keyid <= 0 || k->revoked)
		return 0;
	for (int i = 0; i < p->nmem; i++)
		if (p->mem[i].keyid == k->keyid)
			kb += p->mem[i].kb;
	return kb;
}

void account(struct mkey *keys, int nkeys, struct mproc *ps, int np)
{
	for (int i = 0; i < nkeys; i++)
		for (int j = 0; j < np; j++) {
			keys[i].nbound += proc_bound(&ps[j], &keys[i]);
			keys[i].kb += proc_kb(&ps[j], &keys[i]);
		}
}

long pages(long kb)
{
	return kb / page_kb;
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

int cmd_bind(int argc, char **argv)
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

int cmd_exec(int argc, char **argv)
{
	int rc = exec_with_key(argc, argv);

	return rc == MX_OK || rc >= MX_EXEC_FAILED ? rc : MX_EXEC_FAILED;
}

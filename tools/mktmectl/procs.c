// SPDX-License-Identifier: GPL-2.0
/* mktmectl: processes: /proc/<pid>, bind and exec */
#include "mktmectl.h"

/* One process's default KeyID and name; false if gone */
static bool load_proc(struct mproc *p)
{
	char path[PATH_MAX], line[512];
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
	return true;
}

/*
 * Processes with a default key, sorted by pid: from /proc/<pid>/status,
 * never smaps (a page-table walk under each mmap lock); the kernel counts
 * the pages and processes of each key in /proc/keys.
 */
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
		if (!load_proc(&p) || p.keyid <= 0)
			continue;
		t = realloc(ps, (n + 1) * sizeof(*ps));
		if (!t)
			break;
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
	(void)n;
	free(ps);
}

bool proc_bound(const struct mproc *p, const struct mkey *k)
{
	return k->keyid > 0 && p->keyid == k->keyid && p->revoked == k->revoked;
}

void account(struct mkey *keys, int nkeys, struct mproc *ps, int np)
{
	for (int i = 0; i < nkeys; i++)
		for (int j = 0; j < np; j++) {
			keys[i].nbound += proc_bound(&ps[j], &keys[i]);
		}
}

/* ---- bind ---- */

static const char bind_help[] =
"Usage: mktmectl bind KEY --pid PID [--no-rekey] [--json]\n"
"       mktmectl bind KEY --cgroup PATH [--no-rekey] [--json]\n"
"\n"
"Make KEY (a serial or a key name) the default key of process PID, or of\n"
"every process in the cgroup v2 PATH and the cgroups below it (absolute,\n"
"or below /sys/fs/cgroup): their new private anonymous memory is encrypted\n"
"with it, and their children inherit it.  Existing private anonymous\n"
"memory is re-keyed in place unless --no-rekey.  The cgroup is frozen\n"
"while it is bound (cgroup.freeze), so that no process forks unbound, and\n"
"thawed after (unless it was frozen before).  A cgroup without a process\n"
"is an error.  Processes that join it later are not bound unless their\n"
"parent was.\n";

static int bind_pidfd(int serial, int pidfd, unsigned long flags)
{
	return prctl(PR_SET_MKTME_KEY, serial, pidfd, flags, 0) ? -errno : 0;
}

int set_key(int serial, pid_t pid, unsigned long flags)
{
	int pidfd = -1, ret;

	if (pid != getpid()) {
		pidfd = syscall(__NR_pidfd_open, pid, 0);
		if (pidfd < 0)
			return -errno;
	}
	ret = bind_pidfd(serial, pidfd, flags);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

/* The cgroup v2 directory of @spec: absolute, or below /sys/fs/cgroup */
static int cgroup_dir(const char *spec, char *dir, size_t size)
{
	char path[PATH_MAX + 32];

	if (spec[0] == '/') {
		snprintf(dir, size, "%s", spec);
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		if (!access(path, R_OK))
			return 0;
	}
	rpath(dir, size, "/sys/fs/cgroup/%s", spec + (spec[0] == '/'));
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	return access(path, R_OK) ? -errno : 0;
}

static int read_pids(const char *dir, pid_t **pids, int *n)
{
	char path[PATH_MAX + 32], line[64];
	pid_t *p = NULL, *t;
	int cnt = 0;
	long pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!parse_uint(line, INT_MAX, &pid))
			continue;
		t = realloc(p, (cnt + 1) * sizeof(*p));
		if (!t) {
			free(p);
			fclose(f);
			return -ENOMEM;
		}
		p = t;
		p[cnt++] = pid;
	}
	fclose(f);
	*pids = p;
	*n = cnt;
	return 0;
}

static int write_cgroup_file(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX + 32];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Freeze the cgroup and everything below it, and wait until it is: 1 if
 * we froze it, 0 if it was frozen already, -errno.
 */
static int freeze_cgroup(const char *dir)
{
	char path[PATH_MAX + 32], buf[256];
	int ret, i;

	snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
	if (read_str(path, buf, sizeof(buf)))
		return -errno;
	if (!strcmp(buf, "1"))
		return 0;
	ret = write_cgroup_file(dir, "cgroup.freeze", "1");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	for (i = 0; i < 200; i++) {
		if (!read_str(path, buf, sizeof(buf)) && strstr(buf, "frozen 1"))
			return 1;
		usleep(50 * 1000);
	}
	write_cgroup_file(dir, "cgroup.freeze", "0");
	return -ETIMEDOUT;
}

/* What bind did to each process: 0 bound, ESRCH gone, else the errno */
struct bound {
	pid_t *pids;
	int *res;
	int n, ncgroups;
};

static int add_result(struct bound *b, pid_t pid, int res)
{
	pid_t *p = realloc(b->pids, (b->n + 1) * sizeof(*p));
	int *r;

	if (!p)
		return -ENOMEM;
	b->pids = p;
	r = realloc(b->res, (b->n + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	b->res = r;
	b->pids[b->n] = pid;
	b->res[b->n++] = res;
	return 0;
}

static bool listed(pid_t pid, const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/*
 * Bind the processes of @dir, then of the cgroups below it.  By pidfd: a
 * pidfd opened for a PID that cgroup.procs lists again afterwards refers
 * to that process, not one that reused the PID, as long as the bind
 * finds it alive.
 */
static int bind_cgroup(const char *dir, int serial, unsigned long flags, struct bound *b)
{
	pid_t *pids = NULL, *again = NULL;
	int n = 0, n2 = 0, *fds, ret, i;
	char sub[PATH_MAX];
	struct dirent *de;
	DIR *d;

	ret = read_pids(dir, &pids, &n);
	if (ret)
		return ret;
	fds = calloc(n ? n : 1, sizeof(*fds));
	if (!fds) {
		free(pids);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		fds[i] = syscall(__NR_pidfd_open, pids[i], 0);
	ret = read_pids(dir, &again, &n2);
	for (i = 0; i < n && !ret; i++) {
		int e;

		if (fds[i] < 0)
			e = errno == ESRCH ? ESRCH : EBADF;
		else if (!listed(pids[i], again, n2))
			e = ESRCH;	/* exited, or moved out of the cgroup */
		else
			e = -bind_pidfd(serial, fds[i], flags);
		ret = add_result(b, pids[i], e);
	}
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(pids);
	free(again);
	if (ret)
		return ret;
	b->ncgroups++;

	d = opendir(dir);
	if (!d)
		return -errno;
	while (!ret && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		ret = bind_cgroup(sub, serial, flags, b);
		if (ret == -ENOENT)
			ret = 0;	/* removed meanwhile */
	}
	closedir(d);
	return ret;
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
	int first_err = 0, code, *res;
	struct bound b = { 0 };
	pid_t *pids;
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
		int e = cgroup_dir(cgroup, dir, sizeof(dir)), frozen;

		if (e) {
			free(keys);
			return fail(MX_ERROR, "cannot read %s/cgroup.procs: %s — give a cgroup v2 directory, absolute or below /sys/fs/cgroup",
				    cgroup, strerror(-e));
		}
		frozen = freeze_cgroup(dir);
		if (frozen < 0) {
			free(keys);
			return fail(errno_exit(-frozen), "cannot freeze %s (cgroup.freeze): %s — give a cgroup v2 directory other than the root",
				    dir, strerror(-frozen));
		}
		e = bind_cgroup(dir, k->serial, flags, &b);
		if (frozen)
			write_cgroup_file(dir, "cgroup.freeze", "0");
		if (e) {
			code = fail(b.n ? MX_PARTIAL : MX_ERROR, "cannot bind every process of %s: %s",
				    dir, strerror(-e));
			goto out;
		}
		if (!b.n) {
			code = fail(MX_ERROR, "no process in %s or below: nothing bound (processes that join later would not be)",
				    dir);
			goto out;
		}
	} else if (add_result(&b, pid, -set_key(k->serial, pid, flags))) {
		code = fail(MX_ERROR, "out of memory");
		goto out;
	}
	pids = b.pids;
	res = b.res;
	npids = b.n;
	for (i = 0; i < npids; i++) {
		int e = res[i];

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
		int c = 0;

		printf("{\"schema\":\"%s\",\"command\":\"bind\",\"exit\":%d,\"serial\":%d,\"name\":",
		       SCHEMA, code, k->serial);
		json_str(k->name);
		printf(",\"keyid\":%d,\"rekey\":%s", k->keyid, flags ? "true" : "false");
		if (cgroup) {
			printf(",\"cgroup\":");
			json_str(dir);
			printf(",\"cgroups\":%d", b.ncgroups);
		}
		printf(",\"bound\":[");
		for (i = 0; i < npids; i++)
			if (!res[i])
				printf("%s%d", c++ ? "," : "", pids[i]);
		printf("],\"gone\":[");
		c = 0;
		for (i = 0; i < npids; i++)
			if (res[i] == ESRCH && cgroup)
				printf("%s%d", c++ ? "," : "", pids[i]);
		printf("],\"failed\":[");
		c = 0;
		for (i = 0; i < npids; i++) {
			if (!res[i] || (res[i] == ESRCH && cgroup))
				continue;
			printf("%s{\"pid\":%d,\"errno\":%d,\"error\":", c++ ? "," : "", pids[i], res[i]);
			json_str(strerror(res[i]));
			printf("}");
		}
		printf("]}\n");
	} else if (cgroup) {
		printf("bound %d of %d processes in %s", nbound, npids, dir);
		if (b.ncgroups > 1)
			printf(" and the %d cgroups below it", b.ncgroups - 1);
		printf(" to key '%s' (serial %d, KeyID %d)%s", k->name, k->serial, k->keyid,
		       flags ? ", existing memory re-keyed" : "");
		if (ngone)
			printf("; %d exited meanwhile", ngone);
		if (nfail)
			printf("; %d failed", nfail);
		printf("\n");
	} else {
		printf("bound pid %d to key '%s' (serial %d, KeyID %d)%s\n", pids[0], k->name,
		       k->serial, k->keyid, flags ? ", existing memory re-keyed" : "");
	}
out:
	free(b.res);
	free(b.pids);
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

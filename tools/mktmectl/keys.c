// SPDX-License-Identifier: GPL-2.0
/* mktmectl: keys: /proc/keys, add, revoke and purge */
#include "mktmectl.h"

/* ---- keys (/proc/keys) and processes (/proc/<pid>) ---- */

static void parse_key_desc(struct mkey *k, char *desc)
{
	char *p = strstr(desc, ": keyid="), *w, *save;

	k->keyid = -1;
	k->pages = -1;
	k->nusers = -1;
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
		else if (!strncmp(w, "pages=", 6))
			k->pages = strtol(w + 6, NULL, 10);
		else if (!strncmp(w, "users=", 6))
			k->nusers = atoi(w + 6);
	}
}

int load_keys(struct mkey **keys, int *nkeys)
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
int lookup(const char *spec, struct mkey **keys, int *nkeys,
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
"and group 0 may view and revoke it, so that root finds it\n"
"without possessing it.\n"
"--owner USER (a name or a uid; needs CAP_SYS_ADMIN) gives the key to USER,\n"
"as a login hook does: 'purge --user USER' then finds it, while the key\n"
"stays in your keyring for 'bind' and 'exec'.\n"
"NAME: 1 to 255 printable characters, no blank, no ':', not all digits.\n";

const char *valid_name(const char *s)
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

int cmd_add(int argc, char **argv)
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

/* ---- revoke and purge ---- */

static const char revoke_help[] =
"Usage: mktmectl revoke KEY [--yes] [--json]\n"
"\n"
"Revoke KEY (a serial or the name of a live key): secure erase.  Every\n"
"mapping of memory encrypted with it is torn down in every process (a later\n"
"access gets SIGBUS) and its KeyID gets a fresh random key.  Reports the\n"
"processes that were bound to it, and how many processes used it and how\n"
"many pages were under it.\n"
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

/* What revoking @k erased, by the kernel's counts from before */
static void print_victims(const struct mkey *k, struct mproc *ps, int np)
{
	int n = 0;

	for (int j = 0; j < np; j++) {
		if (!proc_bound(&ps[j], k))
			continue;
		if (json) {
			printf("%s{\"pid\":%d,\"comm\":", n ? "," : "", ps[j].pid);
			json_str(ps[j].comm);
			printf("}");
		} else {
			printf("  pid %d (%s): bound to it\n", ps[j].pid, ps[j].comm);
		}
		n++;
	}
	if (json)
		return;
	if (k->nusers >= 0)
		printf("  %d processes used it, %ld pages under it\n", k->nusers, k->pages);
	else if (!n)
		printf("  no process was bound to it\n");
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
			printf(",\"pages\":");
			json_long(sel[i]->pages);
			printf(",\"users\":");
			json_long(sel[i]->nusers);
			printf(",\"bound\":[");
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

int cmd_revoke(int argc, char **argv)
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
			 sel->name, sel->serial, sel->keyid, sel->nbound, sel->pages < 0 ? 0 : sel->pages);
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

int cmd_purge(int argc, char **argv)
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

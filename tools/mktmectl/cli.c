// SPDX-License-Identifier: GPL-2.0
/* mktmectl: the command line: options shared by the verbs, the verbs, main() */
#include "mktmectl.h"

const char *verb = "";		/* for messages: "mktmectl VERB: " */
bool json;
bool json_done;			/* the verb printed its own JSON */
const char *root = "";		/* MKTMECTL_ROOT: the test build only */

bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* KEY: a serial, or the name of a key not yet revoked; index or -exit code */
/* getopt_long with opterr 0: '?' and ':' become our own messages */
int bad_option(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return usage_err("option '%s' needs an argument", arg);
	if (optopt && optopt < 0x100 && arg[0] == '-' && arg[1] != '-')
		return usage_err("unknown option '-%c'", optopt);
	return usage_err("unknown option '%s'", arg);
}

void help(const char *text)
{
	fputs(text, stdout);
}

const char *one_operand(int argc, char **argv, const char *what, int *err)
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
int json_help_options(int argc, char **argv, const char *helptext)
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
"  oci-hook [createRuntime|poststop]  an OCI runtime hook: a key per container\n"
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
	{ "oci-hook", cmd_oci_hook },
};

int main(int argc, char **argv)
{
	int i;

#ifdef MKTMECTL_TEST
	/* The host tests' fake /proc and /sys; never in an installed binary */
	if (getenv("MKTMECTL_ROOT"))
		root = getenv("MKTMECTL_ROOT");
#endif
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

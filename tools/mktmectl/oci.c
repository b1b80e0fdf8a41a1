// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl: the OCI runtime hook.  A runtime (crun, runc) runs it with
 * the container's state (OCI runtime spec, "State") on standard input:
 *
 *   createRuntime  the container's process gets a key of its own, named
 *                  "oci-ID", before the container's program runs: its
 *                  memory moves to the key, and everything it starts
 *                  inherits it; if that fails the hook fails, and so does
 *                  the container's creation (never unencrypted);
 *   poststop       the key is revoked: the container's memory is erased.
 */
#include <json-c/json.h>

#include "mktmectl.h"

#define OCI_PREFIX	"oci-"
#define STATE_MAX	(1 << 20)

static const char oci_hook_help[] =
"Usage: mktmectl oci-hook [createRuntime|poststop] [--type T] [--algorithm A]\n"
"\n"
"An OCI runtime hook: reads the container's state (JSON) on standard input.\n"
"createRuntime: adds a key named oci-ID (ID: the container's id) and makes\n"
"it the default key of the container's process, moving its memory to it;\n"
"--type and --algorithm as for 'add'.  poststop: revokes the key, which\n"
"erases the container's memory.  Without a phase, the state's status\n"
"says which (creating, stopped).  In config.json:\n"
"\n"
"  \"hooks\": {\n"
"    \"createRuntime\": [{ \"path\": \"/usr/bin/mktmectl\",\n"
"                        \"args\": [\"mktmectl\", \"oci-hook\", \"createRuntime\"] }],\n"
"    \"poststop\": [{ \"path\": \"/usr/bin/mktmectl\",\n"
"                   \"args\": [\"mktmectl\", \"oci-hook\", \"poststop\"] }]\n"
"  }\n";

/* The state on stdin, parsed; NULL after a message */
static struct json_object *read_state(int *code)
{
	struct json_tokener *tok;
	struct json_object *state;
	size_t len = 0;
	char *buf;

	buf = malloc(STATE_MAX);
	if (!buf) {
		*code = fail(MX_ERROR, "cannot read the container state: %s", strerror(ENOMEM));
		return NULL;
	}
	while (len < STATE_MAX) {
		size_t n = fread(buf + len, 1, STATE_MAX - len, stdin);

		if (!n)
			break;
		len += n;
	}
	if (ferror(stdin) || len == STATE_MAX) {
		*code = fail(MX_USAGE, "cannot read the container state on standard input: %s",
			     ferror(stdin) ? strerror(errno) : "larger than 1 MiB");
		free(buf);
		return NULL;
	}
	if (!len) {
		*code = usage_err("no container state on standard input: the runtime writes it there (OCI hooks)");
		free(buf);
		return NULL;
	}
	tok = json_tokener_new();
	state = tok ? json_tokener_parse_ex(tok, buf, len) : NULL;
	if (!state || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(state, json_type_object)) {
		if (tok && json_tokener_get_error(tok) != json_tokener_success)
			*code = usage_err("the container state on standard input is not valid JSON (%s)",
					  json_tokener_error_desc(json_tokener_get_error(tok)));
		else
			*code = usage_err("the container state on standard input is not a JSON object");
		json_object_put(state);
		state = NULL;
	}
	json_tokener_free(tok);
	free(buf);
	return state;
}

static const char *state_string(struct json_object *state, const char *field)
{
	struct json_object *v;

	if (!json_object_object_get_ex(state, field, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The live keys named @name: how many, and the serial of the first */
static int live_keys(const char *name, int *serial, int *code)
{
	struct mkey *keys = NULL;
	int nkeys = 0, n = 0, ret;

	ret = load_keys(&keys, &nkeys);
	if (ret) {
		*code = fail(MX_ERROR, "cannot read /proc/keys: %s", strerror(-ret));
		return -1;
	}
	for (int i = 0; i < nkeys; i++)
		if (!keys[i].revoked && !strcmp(keys[i].name, name) && !n++)
			*serial = keys[i].serial;
	free(keys);
	return n;
}

static int create_runtime(struct json_object *state, const char *name,
			  enum mktme_type type, enum mktme_algorithm alg)
{
	struct json_object *v;
	int serial = 0, code = MX_OK, e, n;
	long pid;

	if (!json_object_object_get_ex(state, "pid", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (pid = json_object_get_int64(v)) <= 0 || pid > INT_MAX)
		return usage_err("the container state has no process (\"pid\"): is this the createRuntime hook?");
	n = live_keys(name, &serial, &code);
	if (n < 0)
		return code;
	if (n)
		return fail(MX_ERROR, "a live key '%s' exists (serial %d): a container of that id is running, or its poststop hook did not run — revoke it ('mktmectl revoke %s')",
			    name, serial, name);
	/*
	 * In the session keyring the runtime gave us: possessed there, so the
	 * bind may use it; it lives as long as the container uses it.
	 */
	serial = mktme_key_add(name, type, alg, KEY_SPEC_SESSION_KEYRING);
	if (serial < 0) {
		e = errno;
		return fail(errno_exit(e), "cannot create key '%s': %s%s", name, strerror(e), hint(e));
	}
	e = -set_key(serial, pid, PR_MKTME_REKEY);
	if (e) {
		mktme_key_revoke(serial);
		return fail(errno_exit(e), "cannot bind the container's process %ld to key '%s': %s%s — the key was revoked",
			    pid, name, strerror(e), hint(e));
	}
	return MX_OK;
}

static int poststop(const char *name)
{
	int serial = 0, code = MX_OK, n;

	/* A container whose createRuntime hook failed or never ran has none */
	while ((n = live_keys(name, &serial, &code)) > 0) {
		if (mktme_key_revoke(serial))
			return fail(errno_exit(errno), "cannot revoke key '%s' (serial %d): %s%s",
				    name, serial, strerror(errno), hint(errno));
	}
	return n < 0 ? code : MX_OK;
}

int cmd_oci_hook(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ }
	};
	enum mktme_algorithm alg = MKTME_AES_XTS_128;
	enum mktme_type type = MKTME_TYPE_CPU;
	const char *phase = NULL, *id, *status, *why = NULL;
	struct json_object *state;
	char name[256];
	int opt, code;

	while ((opt = getopt_long(argc, argv, ":ht:a:", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (!strcmp(optarg, "cpu"))
				type = MKTME_TYPE_CPU;
			else if (!strcmp(optarg, "user"))
				type = MKTME_TYPE_USER;
			else if (!strcmp(optarg, "no-encrypt"))
				type = MKTME_TYPE_NO_ENCRYPT;
			else
				return usage_err("bad --type '%s': cpu, no-encrypt or user", optarg);
			break;
		case 'a':
			if (!strcmp(optarg, "aes-xts-128"))
				alg = MKTME_AES_XTS_128;
			else if (!strcmp(optarg, "aes-xts-256"))
				alg = MKTME_AES_XTS_256;
			else
				return usage_err("bad --algorithm '%s': aes-xts-128 or aes-xts-256", optarg);
			break;
		case OPT_HELP:
			help(oci_hook_help);
			return MX_OK;
		default:
			return bad_option(opt, argv);
		}
	}
	if (optind < argc)
		phase = argv[optind++];
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	if (phase && strcmp(phase, "createRuntime") && strcmp(phase, "poststop"))
		return usage_err("unknown hook phase '%s': createRuntime or poststop", phase);
	state = read_state(&code);
	if (!state)
		return code;
	id = state_string(state, "id");
	status = state_string(state, "status");
	if (!phase && status)
		phase = !strcmp(status, "creating") ? "createRuntime" :
			!strcmp(status, "stopped") ? "poststop" : NULL;
	if (!id || !*id) {
		code = usage_err("the container state has no \"id\"");
	} else if (!phase) {
		code = usage_err("no hook phase given, and status '%s' does not say: give createRuntime or poststop",
				 status ? status : "(none)");
	} else if (snprintf(name, sizeof(name), OCI_PREFIX "%s", id) >= (int)sizeof(name) ||
		   (why = valid_name(name))) {
		code = usage_err("container id '%s' cannot name a key: '" OCI_PREFIX "ID' %s", id,
				 why ? why : "is longer than 255 characters");
	} else if (require_mktme()) {
		code = MX_UNSUPPORTED;
	} else if (!strcmp(phase, "createRuntime")) {
		code = create_runtime(state, name, type, alg);
	} else {
		code = poststop(name);
	}
	json_object_put(state);
	return code;
}

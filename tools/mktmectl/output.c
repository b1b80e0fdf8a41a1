// SPDX-License-Identifier: GPL-2.0
/* mktmectl: messages, errors and exit codes, the same in text and JSON */
#include "mktmectl.h"

/* ---- output helpers ---- */

void json_str(const char *s)
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

/* A count, or null when the kernel does not say */
void json_long(long v)
{
	if (v < 0)
		printf("null");
	else
		printf("%ld", v);
}

static void vmsg(const char *fmt, va_list ap, char *buf, size_t size)
{
	vsnprintf(buf, size, fmt, ap);
}

/* An error: "mktmectl VERB: what failed: why — what to do"; returns code */
int fail(int code, const char *fmt, ...)
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

int usage_err(const char *fmt, ...)
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

int errno_exit(int e)
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
const char *hint(int e)
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

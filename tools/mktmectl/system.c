// SPDX-License-Identifier: GPL-2.0
/* mktmectl: files under /proc and /sys (below MKTMECTL_ROOT in the test build), users */
#include "mktmectl.h"

/* ---- files under /proc and /sys (below MKTMECTL_ROOT in tests) ---- */

/* The path, below root; "" (which no open() finds) if it does not fit */
const char *rpath(char *buf, size_t size, const char *fmt, ...)
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

int read_str(const char *path, char *buf, size_t size)
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

long sysfs_long(const char *name)
{
	char path[PATH_MAX], buf[64];

	if (read_str(rpath(path, sizeof(path), SYSFS "/%s", name), buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

bool mktme_enabled(void)
{
	char path[PATH_MAX];
	struct stat st;

	return stat(rpath(path, sizeof(path), SYSFS), &st) == 0 && S_ISDIR(st.st_mode);
}

int require_mktme(void)
{
	if (mktme_enabled())
		return 0;
	return fail(MX_UNSUPPORTED,
		    "MKTME is not enabled on this system (no " SYSFS ") — run 'mktmectl status' to see why");
}

/* Is @word one of the space-separated words of @s? */
bool has_word(const char *s, const char *word)
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
bool uid_name(unsigned int uid, char *name, size_t size)
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

bool name_uid(const char *name, unsigned int *uid)
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

bool parse_uint(const char *s, long max, long *out)
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

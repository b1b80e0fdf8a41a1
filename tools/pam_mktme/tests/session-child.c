// SPDX-License-Identifier: GPL-2.0
/*
 * A process of a PAM session, for tests/guest.sh: started by pam_exec.so
 * in the session stack after pam_mktme.so, it leaves a daemon behind that
 * holds a page of private anonymous memory, as a user's background job
 * would.  The daemon writes "KEYID CIPHERTEXT" to DIR/PID (the page's
 * KeyID from smaps, and whether DRAM holds ciphertext where the page is:
 * 1 yes, 0 no, -1 cannot tell), then checks the page every 50 ms for as
 * long as it lives.  It never exits on its own: if the page ever reads
 * other than it was written, it writes "leak" to DIR/PID and exits 3.
 */
#define _GNU_SOURCE
#include <time.h>

#include "../../testing/selftests/mktme/mktme_util.h"

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	struct timespec t = { 0, 50 * 1000 * 1000 };
	char *p, *want, tmp[4096], path[4096];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: session-child DIR\n");
		return 2;
	}
	/* pam_exec waits for us: the daemon is the grandchild */
	if (fork())
		return 0;
	setsid();
	p = map_anon(page);
	want = malloc(page);
	if (p == MAP_FAILED || !want)
		return 2;
	memset(p, 0x5a, page);
	memset(want, 0x5a, page);
	snprintf(tmp, sizeof(tmp), "%s/.%d", argv[1], getpid());
	snprintf(path, sizeof(path), "%s/%d", argv[1], getpid());
	f = fopen(tmp, "w");
	if (!f)
		return 2;
	fprintf(f, "%d %d\n", smaps_keyid(p), dram_is_ciphertext(p, page));
	if (fclose(f) || rename(tmp, path))
		return 2;
	for (;;) {
		nanosleep(&t, NULL);
		if (memcmp(p, want, page)) {
			f = fopen(path, "w");
			if (f) {
				fputs("leak\n", f);
				fclose(f);
			}
			return 3;
		}
	}
}

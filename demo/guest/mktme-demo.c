// SPDX-License-Identifier: GPL-2.0
/*
 * mktme-demo: the guest's side of `make demo` (demo/guest/demo.sh runs it).
 *
 *   mktme-demo tell EVENT [WORDS...]   send a line to the host, wait for its reply
 *   mktme-demo worker NAME KIB         a container's process tree: two processes
 *                                      that each fill KIB of memory with a random
 *                                      pattern; SIGUSR1 checks it is intact
 *   mktme-demo secret                  an application that keeps a secret in a page
 *                                      protected with encrypt_mprotect()
 *   mktme-demo session FILE            a user's login session: keeps a secret in
 *                                      memory, writes where to FILE, checks it
 *   mktme-demo pa PID ADDR [PAGES]     the physical addresses of PID's pages at ADDR
 *
 * The host must be able to find in a RAM dump what the guest says it wrote,
 * so no secret or pattern is ever printed or sent as it is: the host gets
 * them hex-encoded, and the raw bytes exist only in the memory under test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include <linux/mktme.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define CHANNEL		"/dev/ttyS1"
#define PAGE		4096UL
#define SECRET_LEN	48	/* "MKTME-SECRET:" + 32 hex digits + NUL, rounded */
#define SESSION_PAGES	1024UL	/* 4 MiB: some of it outlives page reuse after logout */

static const char hexdigits[] = "0123456789abcdef";

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mktme-demo: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* Hex of @len bytes of @p into @out (2 * len + 1 bytes) */
static void to_hex(char *out, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdigits[b[i] >> 4];
		out[2 * i + 1] = hexdigits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * Fill @buf with "MKTME-<what>:" and 32 random hex digits, generated in
 * place: the random bytes go to the end of @buf and are wiped there.
 */
static void make_secret(char *buf, const char *what)
{
	unsigned char *raw = (unsigned char *)buf + SECRET_LEN;
	int n = snprintf(buf, SECRET_LEN, "MKTME-%s:", what);

	if (getrandom(raw, 16, 0) != 16)
		die("getrandom: %s", strerror(errno));
	to_hex(buf + n, raw, 16);
	memset(raw, 0, 16);
	__asm__ volatile("" : : "r"(raw) : "memory");
}

/* Physical address of @addr in process @pid, from its pagemap (root only) */
static unsigned long phys_addr(pid_t pid, unsigned long addr)
{
	char path[64];
	uint64_t e;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	if (pread(fd, &e, sizeof(e), (addr / PAGE) * sizeof(e)) != sizeof(e))
		die("%s: %s", path, strerror(errno));
	close(fd);
	if (!(e & (1ULL << 63)) || !(e & ((1ULL << 55) - 1)))
		die("%s: page at %#lx not present or PFN hidden (needs CAP_SYS_ADMIN)", path, addr);
	return (e & ((1ULL << 55) - 1)) * PAGE + addr % PAGE;
}

/* The "KeyID:" of the smaps entry holding @addr; -1 if none */
static int vma_keyid(const void *addr)
{
	unsigned long a = (unsigned long)addr, start, end;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0, keyid = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = a >= start && a < end;
		else if (in && sscanf(line, "KeyID: %d", &keyid) == 1)
			break;
	}
	fclose(f);
	return keyid;
}

/*
 * Send one line to the host on the second serial port and wait for its
 * answer: "ok" returns 0; anything else is printed and returns 1.
 */
static int tell(int argc, char **argv)
{
	static char line[65536];
	char reply[256];
	struct termios t;
	size_t n = 0, r = 0;
	int fd;

	for (int i = 0; i < argc; i++) {
		int w = snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= sizeof(line) - n - 1)
			die("tell: line too long");
		n += w;
	}
	line[n++] = '\n';
	fd = open(CHANNEL, O_RDWR | O_NOCTTY);
	if (fd < 0)
		die("%s: %s", CHANNEL, strerror(errno));
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	if (write(fd, line, n) != (ssize_t)n)
		die("%s: %s", CHANNEL, strerror(errno));
	alarm(120);	/* a guest booted without demo/demo.py gets no answer */
	while (r < sizeof(reply) - 1) {
		ssize_t k = read(fd, reply + r, 1);

		if (k <= 0)
			die("%s: no answer from the host", CHANNEL);
		if (reply[r] == '\n')
			break;
		if (reply[r] != '\r')
			r++;
	}
	reply[r] = '\0';
	close(fd);
	if (!strcmp(reply, "ok"))
		return 0;
	printf("host: %s\n", reply);
	return 1;
}

/* ---- worker: one container's process tree ---- */

static unsigned char *wbuf;
static size_t wlen;
static const char *wname;

static void check_pattern(int sig)
{
	char msg[128];
	size_t bad = 0;
	int n;

	(void)sig;
	for (size_t i = 16; i < wlen; i++)
		bad += wbuf[i] != wbuf[i % 16];
	n = snprintf(msg, sizeof(msg), "%s: pid %d: %zu KiB %s (KeyID %d)\n", wname, getpid(),
		     wlen / 1024, bad ? "CORRUPTED" : "intact", vma_keyid(wbuf));
	if (write(STDOUT_FILENO, msg, n) < 0)
		_exit(1);
}

static __attribute__((noreturn)) void worker(const char *name, const char *kib, const char *hexfile)
{
	char hex[33];
	FILE *f;

	wname = name;
	wlen = strtoul(kib, NULL, 0) * 1024;
	if (wlen < PAGE)
		die("worker: bad size '%s' KiB", kib);
	wbuf = mmap(NULL, wlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wbuf == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	/* the pattern: 16 random bytes, generated in place, repeated */
	if (getrandom(wbuf, 16, 0) != 16)
		die("getrandom: %s", strerror(errno));
	to_hex(hex, wbuf, 16);
	f = fopen(hexfile, "w");
	if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f))
		die("%s: %s", hexfile, strerror(errno));
	/* a second process of the tree, filling its own copy */
	fork();
	for (size_t i = 16; i < wlen; i++)
		wbuf[i] = wbuf[i % 16];
	signal(SIGUSR1, check_pattern);
	printf("%s: pid %d holds %zu KiB of its pattern\n", name, getpid(), wlen / 1024);
	fflush(stdout);
	for (;;)
		pause();
}

/* ---- secret: an application using encrypt_mprotect() ---- */

static int secret(void)
{
	char *page, *enc, *plain, hex_s[2 * SECRET_LEN + 1], hex_c[2 * SECRET_LEN + 1];
	char pa_s[32], pa_c[32], kid[16], *argv[8];
	unsigned long spa, cpa;
	int serial, keyid, ok;

	serial = syscall(__NR_add_key, MKTME_KEY_TYPE, "demo-app", "type=cpu",
			 strlen("type=cpu"), KEY_SPEC_PROCESS_KEYRING);
	if (serial < 0)
		die("add_key(mktme, demo-app): %s", strerror(errno));
	page = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	enc = page;
	plain = page + PAGE;
	if (syscall(__NR_encrypt_mprotect, enc, PAGE, PROT_READ | PROT_WRITE, serial, 0))
		die("encrypt_mprotect: %s", strerror(errno));
	keyid = vma_keyid(enc);
	make_secret(enc, "SECRET");
	make_secret(plain, "CONTROL");
	spa = phys_addr(getpid(), (unsigned long)enc);
	cpa = phys_addr(getpid(), (unsigned long)plain);
	printf("app: key 'demo-app' (serial %d) -> KeyID %d\n", serial, keyid);
	printf("app: secret (%zu bytes) at %p in a page under KeyID %d: physical %#lx\n",
	       strlen(enc), enc, keyid, spa);
	printf("app: control copy at %p in a plain page (KeyID %d): physical %#lx\n",
	       plain, vma_keyid(plain), cpa);
	fflush(stdout);

	to_hex(hex_s, enc, strlen(enc));
	to_hex(hex_c, plain, strlen(plain));
	snprintf(pa_s, sizeof(pa_s), "pa=%#lx", spa);
	snprintf(pa_c, sizeof(pa_c), "control_pa=%#lx", cpa);
	snprintf(kid, sizeof(kid), "keyid=%d", keyid);
	argv[0] = "secret";
	argv[1] = kid;
	argv[2] = pa_s;
	argv[3] = pa_c;
	argv[4] = strcat(strcpy(malloc(2 * SECRET_LEN + 8), "secret="), hex_s);
	argv[5] = strcat(strcpy(malloc(2 * SECRET_LEN + 9), "control="), hex_c);
	ok = tell(6, argv) == 0;

	/* the application still reads its secret */
	ok &= !strncmp(enc, "MKTME-SECRET:", 13) && strlen(enc) == 45;
	printf("app: reads its secret back: %s\n", ok ? "yes" : "NO");
	munmap(page, 2 * PAGE);
	return ok ? 0 : 1;
}

/* ---- session: a user's processes, bound to the user's key ---- */

/* Append @v in base @base to @p */
static char *put_num(char *p, unsigned long v, unsigned int base)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = hexdigits[v % base];
		v /= base;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/*
 * All of the session's memory is encrypted with the user's key: stack,
 * heap, and libc's thread data with them.  So that it can tell how it
 * loses that memory, the SIGBUS handler runs on a stack moved back to
 * KeyID 0 (encrypt_mprotect with no key) and calls nothing that touches
 * libc's data.
 */
static void lost_memory(int sig, siginfo_t *si, void *uc)
{
	char msg[128], *p = msg;

	(void)uc;
	p = put_str(p, "session: pid ");
	p = put_num(p, syscall(__NR_getpid), 10);
	p = put_str(p, sig == SIGBUS ? ": SIGBUS at 0x" : ": signal at 0x");
	p = put_num(p, (unsigned long)si->si_addr, 16);
	p = put_str(p, ": its encrypted memory is gone\n");
	syscall(__NR_write, STDOUT_FILENO, msg, p - msg);
	syscall(__NR_exit_group, 128 + sig);
}

static void watch_secret(const char *s)
{
	for (;;) {
		if (strncmp(s, "MKTME-USER:", 11))
			exit(2);
		usleep(100000);
	}
}

static int session(const char *file)
{
	struct sigaction sa = { .sa_sigaction = lost_memory, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	stack_t ss = { .ss_size = 4 * PAGE };
	size_t len = SESSION_PAGES * PAGE;
	char *s;
	FILE *f;

	ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED || ss.ss_sp == MAP_FAILED)
		die("out of memory");
	if (syscall(__NR_encrypt_mprotect, ss.ss_sp, ss.ss_size, PROT_READ | PROT_WRITE,
		    MKTME_NO_KEY, 0))
		die("encrypt_mprotect(no key): %s", strerror(errno));
	if (sigaltstack(&ss, NULL) || sigaction(SIGBUS, &sa, NULL))
		die("sigaltstack: %s", strerror(errno));
	/* the user's data: the secret in every 64-byte line of SESSION_PAGES pages */
	make_secret(s, "USER");
	memset(s + SECRET_LEN, 0, 64 - SECRET_LEN);
	for (size_t i = 64; i < len; i += 64)
		memcpy(s + i, s, 64);
	/* a second process of the session, with a copy of the secret */
	if (fork() == 0) {
		char *c = malloc(64);

		memcpy(c, s, 64);
		watch_secret(c);
	}
	f = fopen(file, "w");
	if (!f)
		die("%s: %s", file, strerror(errno));
	fprintf(f, "%d %p %d %lu ", getpid(), (void *)s, vma_keyid(s), SESSION_PAGES);
	for (size_t i = 0; s[i]; i++)
		fprintf(f, "%c%c", hexdigits[(unsigned char)s[i] >> 4], hexdigits[s[i] & 15]);
	fprintf(f, "\n");
	if (fclose(f))
		die("%s: %s", file, strerror(errno));
	watch_secret(s);
	return 0;
}

/* mktme-demo pa PID ADDR [PAGES]: physical addresses, comma-separated */
static int print_pa(pid_t pid, unsigned long addr, unsigned long pages)
{
	for (unsigned long i = 0; i < pages; i++)
		printf("%s%#lx", i ? "," : "", phys_addr(pid, addr + i * PAGE));
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "tell"))
		return tell(argc - 2, argv + 2);
	if (argc == 5 && !strcmp(argv[1], "worker"))
		worker(argv[2], argv[3], argv[4]);
	if (argc == 2 && !strcmp(argv[1], "secret"))
		return secret();
	if (argc == 3 && !strcmp(argv[1], "session"))
		return session(argv[2]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "pa"))
		return print_pa(atoi(argv[2]), strtoul(argv[3], NULL, 0),
				argc == 5 ? strtoul(argv[4], NULL, 0) : 1);
	fprintf(stderr, "usage: mktme-demo tell EVENT [WORDS...] | worker NAME KIB HEXFILE |\n"
			"       secret | session FILE | pa PID ADDR [PAGES]\n");
	return 1;
}

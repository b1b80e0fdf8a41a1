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
		die("%s: cannot read the entry of %#lx", path, addr);
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

static void no_answer(int sig)
{
	static const char msg[] = "mktme-demo: no answer from the host on " CHANNEL "\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

/*
 * Send one line to the host on the second serial port, tagged "id=PID",
 * and wait for the host's answer to it, "PID ok" or "PID <why not>":
 * 0 for ok; otherwise the answer is printed and 1 returned.  Lines for
 * other ids (a late answer to a tell that gave up) are skipped.
 */
static int tell(int argc, char **argv)
{
	static char line[65536];
	char reply[256], id[24];
	struct termios t;
	size_t n = 0, r = 0;
	int fd;

	snprintf(id, sizeof(id), "%d", getpid());
	for (int i = 0; i <= argc; i++) {
		const char *w = i < argc ? argv[i] : "";
		int k;

		/* the id goes before the free text that follows "--" */
		if (i == argc || !strcmp(w, "--"))
			k = snprintf(line + n, sizeof(line) - n, " id=%s%s%s", id,
				     i < argc ? " " : "", w);
		else
			k = snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", w);
		if (k < 0 || (size_t)k >= sizeof(line) - n - 1)
			die("tell: line too long");
		n += k;
		if (i < argc && !strcmp(w, "--")) {
			for (i++; i < argc; i++) {
				k = snprintf(line + n, sizeof(line) - n, " %s", argv[i]);
				if (k < 0 || (size_t)k >= sizeof(line) - n - 1)
					die("tell: line too long");
				n += k;
			}
			break;
		}
	}
	line[n++] = '\n';
	fd = open(CHANNEL, O_RDWR | O_NOCTTY);
	if (fd < 0)
		die("%s: %s", CHANNEL, strerror(errno));
	if (tcgetattr(fd, &t))
		die("%s: %s", CHANNEL, strerror(errno));
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSANOW, &t) || tcflush(fd, TCIFLUSH))
		die("%s: %s", CHANNEL, strerror(errno));
	if (write(fd, line, n) != (ssize_t)n)
		die("%s: %s", CHANNEL, strerror(errno));
	/* a guest booted without demo/demo.py gets no answer */
	signal(SIGALRM, no_answer);
	alarm(120);
	for (;;) {
		ssize_t k = read(fd, reply + r, 1);

		if (k <= 0)
			die("%s: %s", CHANNEL, k ? strerror(errno) : "closed");
		if (reply[r] == '\r')
			continue;
		if (reply[r] != '\n') {
			r += r < sizeof(reply) - 1;
			continue;
		}
		reply[r] = '\0';
		r = 0;
		if (!strncmp(reply, id, strlen(id)) && reply[strlen(id)] == ' ')
			break;
	}
	alarm(0);
	close(fd);
	if (!strcmp(reply + strlen(id) + 1, "ok"))
		return 0;
	printf("host: %s\n", reply + strlen(id) + 1);
	return 1;
}

/*
 * Vector registers that held the secret (strlen(), memcpy()) would be
 * saved in plaintext kernel memory at the next context switch: clear
 * them.  glibc's AVX routines already clear the upper halves.
 */
static void scrub_vector_registers(void)
{
	__asm__ volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\t"
			 "pxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
			 "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
			 "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
			 "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\t"
			 "pxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
			 "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\t"
			 "pxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15"
			 ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			 "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* ---- worker: one container's process tree ---- */

static unsigned char *wbuf;
static size_t wlen;
static const char *wname;
static volatile sig_atomic_t check_requested;

static void request_check(int sig)
{
	(void)sig;
	check_requested = 1;
}

static void check_pattern(void)
{
	size_t bad = 0;

	for (size_t i = 16; i < wlen; i++)
		bad += wbuf[i] != wbuf[i % 16];
	scrub_vector_registers();
	printf("%s: pid %d: %zu KiB %s (KeyID %d)\n", wname, getpid(), wlen / 1024,
	       bad ? "CORRUPTED" : "intact", vma_keyid(wbuf));
	fflush(stdout);
}

static __attribute__((noreturn)) void worker(const char *name, const char *kib,
					     const char *hexfile)
{
	sigset_t usr1, old;
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
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	signal(SIGUSR1, request_check);
	/* a second process of the tree, filling its own copy */
	if (fork() < 0)
		die("fork: %s", strerror(errno));
	for (size_t i = 16; i < wlen; i++)
		wbuf[i] = wbuf[i % 16];
	scrub_vector_registers();
	printf("%s: pid %d holds %zu KiB of its pattern\n", name, getpid(), wlen / 1024);
	fflush(stdout);
	for (;;) {
		sigsuspend(&old);
		if (check_requested) {
			check_requested = 0;
			check_pattern();
		}
	}
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
	argv[4] = malloc(2 * SECRET_LEN + 8);
	argv[5] = malloc(2 * SECRET_LEN + 9);
	if (!argv[4] || !argv[5])
		die("out of memory");
	strcat(strcpy(argv[4], "secret="), hex_s);
	strcat(strcpy(argv[5], "control="), hex_c);
	scrub_vector_registers();
	ok = tell(6, argv) == 0;

	/* the application still reads its secret */
	ok &= !strncmp(enc, "MKTME-SECRET:", 13) && strlen(enc) == 45;
	scrub_vector_registers();
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
__attribute__((no_stack_protector))	/* the canary is in TLS: encrypted */
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

/* Check the secret's prefix every 0.1 s, a byte at a time (no vector loads) */
static void watch_secret(const volatile char *s)
{
	static const char prefix[] = "MKTME-USER:";

	for (;;) {
		for (size_t i = 0; i < sizeof(prefix) - 1; i++)
			if (s[i] != prefix[i])
				exit(2);
		usleep(100000);
	}
}

static int session(const char *file)
{
	struct sigaction sa = { .sa_sigaction = lost_memory, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	stack_t ss = { .ss_size = 4 * PAGE };
	size_t len = SESSION_PAGES * PAGE;
	pid_t pid;
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
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char *c = malloc(64);

		if (!c)
			die("out of memory");
		memcpy(c, s, 64);
		scrub_vector_registers();
		watch_secret(c);
	}
	scrub_vector_registers();
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

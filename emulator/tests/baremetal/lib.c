// SPDX-License-Identifier: GPL-2.0
/*
 * Library for bare-metal x86-64 test programs: serial console, printf,
 * KTAP, exit, command line, exception handling and fault catching.
 */
#include "lib.h"

#define COM1		0x3f8
#define DEBUG_EXIT	0xf4

/* Xen's public/arch-x86/hvm/start_info.h, the fields we read */
struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
};
#define HVM_START_MAGIC	0x336ec578

/* Serial console */

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);		/* no interrupts */
	outb(COM1 + 3, 0x80);		/* DLAB: divisor 1, 115200 baud */
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);		/* 8N1 */
	outb(COM1 + 2, 0x07);		/* enable and clear the FIFOs */
	outb(COM1 + 4, 0x03);		/* DTR, RTS */
}

static void serial_put(char c)
{
	while (!(inb(COM1 + 5) & 0x20))	/* THR empty */
		;
	outb(COM1, c);
}

int putchar(int c)
{
	if (c == '\n')
		serial_put('\r');
	serial_put(c);
	return (u8)c;
}

int puts(const char *s)
{
	while (*s)
		putchar(*s++);
	putchar('\n');
	return 0;
}

int getchar(void)
{
	while (!(inb(COM1 + 5) & 0x01))	/* data ready */
		;
	return inb(COM1);
}

/* printf: flags '0' '-', width (or '*'), l/ll/z; d i u x X p s c % */

struct out {
	char *buf;			/* NULL: the serial console */
	size_t size;
	size_t len;
};

static void out_c(struct out *o, char c)
{
	if (!o->buf)
		putchar(c);
	else if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_c(o, c);
}

static void out_num(struct out *o, u64 v, bool neg, int base, bool upper,
		    int width, bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, len;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + neg;
	if (!left && !zero)
		out_pad(o, ' ', width - len);
	if (neg)
		out_c(o, '-');
	if (!left && zero)
		out_pad(o, '0', width - len);
	while (n)
		out_c(o, tmp[--n]);
	if (left)
		out_pad(o, ' ', width - len);
}

static int format(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		bool zero = false, left = false;
		int width = 0, lng = 0;
		const char *s;
		s64 sv;
		u64 uv;

		if (*fmt != '%') {
			out_c(o, *fmt);
			continue;
		}
		for (fmt++; *fmt == '0' || *fmt == '-'; fmt++) {
			if (*fmt == '0')
				zero = true;
			else
				left = true;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + *fmt - '0';
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;

		switch (*fmt) {
		case 'd':
		case 'i':
			sv = lng ? va_arg(ap, s64) : va_arg(ap, int);
			uv = sv < 0 ? -(u64)sv : (u64)sv;
			out_num(o, uv, sv < 0, 10, false, width, zero, left);
			break;
		case 'u':
		case 'x':
		case 'X':
			uv = lng ? va_arg(ap, u64) : va_arg(ap, unsigned int);
			out_num(o, uv, false, *fmt == 'u' ? 10 : 16, *fmt == 'X',
				width, zero, left);
			break;
		case 'p':
			out_c(o, '0');
			out_c(o, 'x');
			out_num(o, (u64)va_arg(ap, void *), false, 16, false,
				width, zero, left);
			break;
		case 's':
			s = va_arg(ap, const char *) ?: "(null)";
			if (!left)
				out_pad(o, ' ', width - (int)strlen(s));
			for (sv = 0; s[sv]; sv++)
				out_c(o, s[sv]);
			if (left)
				out_pad(o, ' ', width - (int)sv);
			break;
		case 'c':
			out_c(o, va_arg(ap, int));
			break;
		case '\0':
			fmt--;
			break;
		default:
			out_c(o, *fmt);
			break;
		}
	}
	if (o->buf && o->size)
		o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
	return o->len;
}

int vprintf(const char *fmt, va_list ap)
{
	struct out o = { 0 };

	return format(&o, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size };

	return format(&o, fmt, ap);
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* Exit and KTAP */

void exit(int code)
{
	for (;;) {
		outl(DEBUG_EXIT, code);
		/* no isa-debug-exit device: stop here */
		asm volatile("cli; hlt");
	}
}

static struct {
	int planned, count, failed, skipped;
} ktap;

void ktap_plan(int n)
{
	ktap.planned = n;
	printf("KTAP version 1\n1..%d\n", n);
}

void ktap_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	ktap.count++;
	if (!ok)
		ktap.failed++;
	printf("%sok %d ", ok ? "" : "not ", ktap.count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void ktap_skip(const char *name, const char *reason_fmt, ...)
{
	va_list ap;

	ktap.count++;
	ktap.skipped++;
	printf("ok %d %s # SKIP ", ktap.count, name);
	va_start(ap, reason_fmt);
	vprintf(reason_fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void vdiag(const char *fmt, va_list ap)
{
	char buf[512];
	const char *p;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* every line of a multi-line message must stay a comment */
	printf("# ");
	for (p = buf; *p; p++) {
		putchar(*p);
		if (*p == '\n' && p[1])
			printf("# ");
	}
	if (p == buf || p[-1] != '\n')
		putchar('\n');
}

void ktap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

void ktap_bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(EXIT_BAIL);
}

void ktap_exit(void)
{
	int passed = ktap.count - ktap.failed - ktap.skipped;
	bool ok = !ktap.failed && ktap.count == ktap.planned;

	if (ktap.count != ktap.planned)
		ktap_diag("planned %d tests, ran %d", ktap.planned, ktap.count);
	ktap_diag("totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0",
		  passed, ktap.failed, ktap.skipped);
	exit(ok ? EXIT_PASS : EXIT_FAIL);
}

int host_request(char *reply, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0;
	int c;

	printf("HOST: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	while ((c = getchar()) != '\n') {
		if (c == '\r')
			continue;
		if (reply && n + 1 < size)
			reply[n] = c;
		n++;
	}
	if (reply && size)
		reply[n < size ? n : size - 1] = '\0';
	return n;
}

/* Command line */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

const char *arg(const char *cmdline, const char *key)
{
	size_t n = strlen(key);
	const char *p = cmdline;

	while (p && *p) {
		while (is_space(*p))
			p++;
		if (!strncmp(p, key, n)) {
			if (p[n] == '=')
				return p + n + 1;
			if (!p[n] || is_space(p[n]))
				return p + n;
		}
		while (*p && !is_space(*p))
			p++;
	}
	return NULL;
}

char *arg_str(const char *cmdline, const char *key, char *buf, size_t size)
{
	const char *v = arg(cmdline, key);
	size_t n = 0;

	if (!v || !size)
		return NULL;
	while (v[n] && !is_space(v[n]) && n + 1 < size) {
		buf[n] = v[n];
		n++;
	}
	buf[n] = '\0';
	return buf;
}

u64 strtou64(const char *s, const char **end)
{
	u64 v = 0;
	int base = 10, d;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		v = v * base + d;
	}
	if (end)
		*end = s;
	return v;
}

void fill_pattern(u8 *p, size_t n, u32 seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

void tohex(char *dst, const u8 *src, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = d[src[i] >> 4];
		dst[2 * i + 1] = d[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

bool host_kat(char *reply, size_t size, int bits, const u8 *k1, const u8 *k2,
	      u64 pa, const u8 *pt, size_t n)
{
	static char hk1[65], hk2[65], hpt[2 * 512 + 1];

	tohex(hk1, k1, bits / 8);
	tohex(hk2, k2, bits / 8);
	tohex(hpt, pt, n);
	host_request(reply, size, "kat bits=%d k1=%s k2=%s pa=0x%lx pt=%s",
		     bits, hk1, hk2, (unsigned long)pa, hpt);
	return !strcmp(reply, "ok");
}

u64 arg_u64(const char *cmdline, const char *key, u64 def)
{
	const char *v = arg(cmdline, key);

	if (!v || *v < '0' || *v > '9')
		return def;
	return strtou64(v, NULL);
}

/* Exceptions */

struct ctx {
	u64 rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* boot.S */
int ctx_save(struct ctx *c) __attribute__((returns_twice));
void ctx_restore(struct ctx *c, int v) __noreturn;
void enter_user(void (*fn)(void *), void *arg, void *stack_top) __noreturn;
extern char trap_stubs[], trap_stub_user_return[];
extern u64 gdt[];
extern u32 start_info;

struct tss {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
} __attribute__((packed));

struct idt_entry {
	u16 offset0;
	u16 selector;
	u8 ist;
	u8 type;
	u16 offset1;
	u32 offset2;
	u32 reserved;
};

struct catcher {
	struct ctx ctx;
	struct fault *f;
	bool user;
	struct catcher *prev;
};

static struct tss tss;
static struct idt_entry idt[256];
static const struct {
	u16 limit;
	u64 base;
} __attribute__((packed)) idtr = { sizeof(idt) - 1, (u64)idt };
static struct catcher *catcher;
static u8 trap_stack[16384] __attribute__((aligned(16)));	/* TSS.RSP0 */
static u8 df_stack[4096] __attribute__((aligned(16)));	/* #DF: IST1 */
static u8 user_stack[16384] __attribute__((aligned(16)));

static const char *const vector_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22", "23",
	"24", "25", "26", "27", "#HV", "#VC", "#SX", "31",
};

const char *vector_name(int vector)
{
	if (vector == -1)
		return "none";
	if (vector >= 0 && vector < 32)
		return vector_names[vector];
	return vector == USER_RETURN_VECTOR ? "int $0x80" : "?";
}

static void set_gate(int vector, void *handler, int dpl, int ist)
{
	u64 a = (u64)handler;

	idt[vector] = (struct idt_entry) {
		.offset0 = a,
		.selector = GDT_CODE64,
		.ist = ist,
		.type = 0x8e | dpl << 5,	/* present, interrupt gate */
		.offset1 = a >> 16,
		.offset2 = a >> 32,
	};
}

static void cpu_init(void)
{
	u64 base = (u64)&tss, limit = sizeof(tss) - 1;
	int i;

	tss.rsp[0] = (u64)trap_stack + sizeof(trap_stack);
	tss.ist[0] = (u64)df_stack + sizeof(df_stack);
	tss.iomap_base = sizeof(tss);	/* no I/O bitmap: in/out at CPL3 #GP */
	gdt[GDT_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
			   0x89ULL << 40 | (limit >> 16 & 0xf) << 48 |
			   (base >> 24 & 0xff) << 56;
	gdt[GDT_TSS / 8 + 1] = base >> 32;
	asm volatile("ltr %w0" : : "r"(GDT_TSS));

	for (i = 0; i < 32; i++)
		set_gate(i, trap_stubs + 16 * i, 0, i == 8 ? 1 : 0);
	set_gate(USER_RETURN_VECTOR, trap_stub_user_return, 3, 0);
	asm volatile("lidt %0" : : "m"(idtr));
}

static void dump_frame(const struct trap_frame *tf, u64 cr2)
{
	ktap_diag("unexpected exception %lu (%s) error 0x%lx at %04lx:%016lx",
		  tf->vector, vector_name(tf->vector), tf->error, tf->cs, tf->rip);
	ktap_diag("rax %016lx rbx %016lx rcx %016lx rdx %016lx",
		  tf->rax, tf->rbx, tf->rcx, tf->rdx);
	ktap_diag("rsi %016lx rdi %016lx rbp %016lx rsp %016lx",
		  tf->rsi, tf->rdi, tf->rbp, tf->rsp);
	ktap_diag("r8  %016lx r9  %016lx r10 %016lx r11 %016lx",
		  tf->r8, tf->r9, tf->r10, tf->r11);
	ktap_diag("r12 %016lx r13 %016lx r14 %016lx r15 %016lx",
		  tf->r12, tf->r13, tf->r14, tf->r15);
	ktap_diag("rflags %016lx cr2 %016lx cr3 %016lx cr4 %016lx",
		  tf->rflags, cr2, read_cr3(), read_cr4());
}

/* Called by boot.S trap_common; returning resumes the interrupted code. */
void trap(struct trap_frame *tf)
{
	u64 cr2 = read_cr2();
	struct catcher *c = catcher;
	bool from_user = (tf->cs & 3) == 3;

	if (!c) {
		dump_frame(tf, cr2);
		ktap_bail("exception %lu (%s)", tf->vector, vector_name(tf->vector));
	}
	if (tf->vector == USER_RETURN_VECTOR && from_user && c->user)
		ctx_restore(&c->ctx, 1);
	if (c->f) {
		c->f->vector = tf->vector;
		c->f->user = from_user;
		c->f->error = tf->error;
		c->f->cr2 = tf->vector == 14 ? cr2 : 0;
		c->f->rip = tf->rip;
	}
	ctx_restore(&c->ctx, tf->vector + 2);
}

static int catch_call(void (*fn)(void *), void *arg, struct fault *f, bool user)
{
	struct catcher c = { .f = f, .user = user, .prev = catcher };
	int v;

	if (f)
		*f = (struct fault) { .vector = -1 };
	catcher = &c;
	/* ctx_restore() makes this return 1 for a clean return, vector + 2 */
	v = ctx_save(&c.ctx);
	if (!v) {
		if (user)
			enter_user(fn, arg, user_stack + sizeof(user_stack));
		fn(arg);
		v = 1;
	}
	catcher = c.prev;
	return v - 2;
}

int try_call(void (*fn)(void *), void *arg, struct fault *f)
{
	return catch_call(fn, arg, f, false);
}

int run_user(void (*fn)(void *), void *arg, struct fault *f)
{
	return catch_call(fn, arg, f, true);
}

struct msr_op {
	u32 msr;
	u64 val;
};

static void do_rdmsr(void *p)
{
	struct msr_op *op = p;

	op->val = rdmsr(op->msr);
}

static void do_wrmsr(void *p)
{
	struct msr_op *op = p;

	wrmsr(op->msr, op->val);
}

int rdmsr_safe(u32 msr, u64 *val)
{
	struct msr_op op = { .msr = msr };
	int v = try_call(do_rdmsr, &op, NULL);

	*val = v < 0 ? op.val : 0;
	return v;
}

int wrmsr_safe(u32 msr, u64 val)
{
	struct msr_op op = { .msr = msr, .val = val };

	return try_call(do_wrmsr, &op, NULL);
}

/* Called by boot.S in long mode on the boot stack */
void start_c(u32 start_info_pa) __noreturn;
void start_c(u32 start_info_pa)
{
	const struct hvm_start_info *si = (void *)(u64)start_info_pa;
	const char *cmdline = "";

	serial_init();
	cpu_init();
	if (si && si->magic == HVM_START_MAGIC && si->cmdline_paddr)
		cmdline = (const char *)si->cmdline_paddr;
	exit(main(cmdline));
}

/* Freestanding C library; string ops use rep to avoid gcc calling them back */

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	char *d = (char *)dst + n - 1;
	const char *s = (const char *)src + n - 1;

	if (dst <= src || (const char *)src + n <= (char *)dst)
		return memcpy(dst, src, n);
	asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *s, int c, size_t n)
{
	void *d = s;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return s;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			break;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

/* A second CPU */
#define APIC_ICR_LO		0xfee00300UL
#define APIC_ICR_HI		0xfee00310UL
#define ICR_INIT		0x00004500	/* INIT, level assert */
#define ICR_STARTUP		0x00004600	/* start-up, vector in 7:0 */

extern char ap_trampoline[], ap_trampoline_end[], ap_gdt_desc[];
extern char gdt_desc32[];

static void (*volatile ap_fn)(void);
static volatile int ap_running;

void ap_start_c(void) __noreturn;
void ap_start_c(void)
{
	asm volatile("lidt %0" : : "m"(idtr));
	ap_running = 1;
	ap_fn();
	ap_running = 2;
	for (;;)
		asm volatile("cli; hlt");
}

static void icr(unsigned int apic_id, u32 lo)
{
	*(volatile u32 *)APIC_ICR_HI = apic_id << 24;
	*(volatile u32 *)APIC_ICR_LO = lo;
	while (*(volatile u32 *)APIC_ICR_LO & (1 << 12))
		;			/* delivery pending */
}

bool start_ap(unsigned int apic_id, void (*fn)(void))
{
	memcpy((void *)AP_TRAMPOLINE_PA, ap_trampoline, ap_trampoline_end - ap_trampoline);
	memcpy((void *)(AP_TRAMPOLINE_PA + (ap_gdt_desc - ap_trampoline)), gdt_desc32, 6);
	ap_fn = fn;
	ap_running = 0;
	icr(apic_id, ICR_INIT);
	icr(apic_id, ICR_STARTUP | AP_TRAMPOLINE_PA >> 12);
	for (long i = 0; i < 200000000L && !ap_running; i++) {
		if (i == 1000000)
			icr(apic_id, ICR_STARTUP | AP_TRAMPOLINE_PA >> 12);
		asm volatile("pause");
	}
	return ap_running != 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Library for bare-metal x86-64 test programs (see README.md).
 *
 * A test defines int main(const char *cmdline).  It runs at CPL0 with
 * interrupts off, SSE on, and this address space (1 GiB pages, all U/S):
 *   0 .. 4 GiB                    identity
 *   KEYID_VA(k, pa), k = 1..63    -> PA (k << 40) + pa, pa < 4 GiB
 *   UNMAPPED_VA (512 GiB)         not present, 512 GiB long
 */
#ifndef BAREMETAL_LIB_H
#define BAREMETAL_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asm.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __noreturn	__attribute__((noreturn))
#define __printf(a, b)	__attribute__((format(printf, a, b)))

#define KEYID_VA(k, pa)	(((u64)(k) << KEYID_SHIFT) + (u64)(pa))
#define UNMAPPED_VA	0x8000000000ULL

/* The page tables built by boot.S: pdpt[k] maps KeyID k, pml4[2k] -> pdpt[k] */
extern u64 pml4[512];
extern u64 pdpt[NR_KEYIDS][512];

int main(const char *cmdline);

/* Serial console (COM1) */
int putchar(int c);			/* '\n' goes out as "\r\n" */
int puts(const char *s);		/* adds a newline, like stdio */
int printf(const char *fmt, ...) __printf(1, 2);
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int getchar(void);			/* blocks until a byte arrives */

/*
 * Exit QEMU through isa-debug-exit: QEMU's exit status is (code << 1) | 1.
 *   EXIT_PASS 0 -> status 1, EXIT_FAIL 1 -> status 3, EXIT_BAIL 2 -> status 5
 * Status 0 means the guest never got here (triple fault with -no-reboot).
 */
enum { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_BAIL = 2 };
void exit(int code) __noreturn;

/*
 * KTAP on the serial console.  ktap_exit() exits with EXIT_PASS when every
 * planned result was printed and none failed, else EXIT_FAIL.
 */
void ktap_plan(int n);
void ktap_result(bool ok, const char *fmt, ...) __printf(2, 3);
void ktap_skip(const char *name, const char *reason_fmt, ...) __printf(2, 3);
void ktap_diag(const char *fmt, ...) __printf(1, 2);	/* "# ..." line */
void ktap_bail(const char *fmt, ...) __printf(1, 2) __noreturn;
void ktap_exit(void) __noreturn;

/*
 * Ask the host harness (run.py) for something mid-run: prints
 * "HOST: <fmt...>" and blocks until the host sends a line back on COM1;
 * the line, without its newline, is copied to reply (may be NULL).
 * Returns the reply's length.
 */
int host_request(char *reply, size_t size, const char *fmt, ...) __printf(3, 4);

/*
 * Kernel command line: words "key=value" separated by spaces.
 * arg() returns a pointer to the value inside cmdline (it ends at a space
 * or NUL; "" for a bare "key"), or NULL.  arg_str() copies it, NUL-ended.
 * arg_u64() parses decimal or 0x-hex, returning def when absent.
 */
const char *arg(const char *cmdline, const char *key);
char *arg_str(const char *cmdline, const char *key, char *buf, size_t size);
u64 arg_u64(const char *cmdline, const char *key, u64 def);
u64 strtou64(const char *s, const char **end);

/*
 * Fault catching.  try_call() runs fn(arg) at CPL0; run_user() runs it at
 * CPL3 on its own stack (IF=0, IOPL=0), returning to the kernel when fn
 * returns (via int $0x80) or faults.  Both return -1 when fn completed, or
 * the vector of the exception that stopped fn there; *f (may be NULL) gets
 * the details.  Like longjmp, a fault abandons fn's frame.  Nesting works.
 */
struct fault {
	int vector;		/* -1: no fault */
	bool user;		/* the fault was taken at CPL3 */
	u64 error;		/* error code; 0 for vectors without one */
	u64 cr2;		/* #PF only */
	u64 rip;		/* faulting instruction (next one for traps) */
};

int try_call(void (*fn)(void *), void *arg, struct fault *f);
int run_user(void (*fn)(void *), void *arg, struct fault *f);
const char *vector_name(int vector);

/* Register dump of an exception, as pushed by boot.S */
struct trap_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

/* Instructions */
struct cpuid_regs {
	u32 eax, ebx, ecx, edx;
};

static inline void cpuid(u32 leaf, u32 subleaf, struct cpuid_regs *r)
{
	asm volatile("cpuid"
		     : "=a"(r->eax), "=b"(r->ebx), "=c"(r->ecx), "=d"(r->edx)
		     : "a"(leaf), "c"(subleaf));
}

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (u64)hi << 32;
}

static inline void wrmsr(u32 msr, u64 val)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((u32)val), "d"((u32)(val >> 32))
		     : "memory");
}

/* rdmsr/wrmsr under try_call(): -1 on success, else the vector (13: #GP) */
int rdmsr_safe(u32 msr, u64 *val);
int wrmsr_safe(u32 msr, u64 val);

static inline void outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(u16 port, u32 v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

#define DEFINE_CR(n)							\
static inline u64 read_cr##n(void)					\
{									\
	u64 v;								\
	asm volatile("mov %%cr" #n ", %0" : "=r"(v));			\
	return v;							\
}									\
static inline void write_cr##n(u64 v)					\
{									\
	asm volatile("mov %0, %%cr" #n : : "r"(v) : "memory");		\
}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void invlpg(const volatile void *p)
{
	asm volatile("invlpg (%0)" : : "r"(p) : "memory");
}

static inline void flush_tlb(void)
{
	write_cr3(read_cr3());
}

static inline void clflush(const volatile void *p)
{
	asm volatile("clflush (%0)" : : "r"(p) : "memory");
}

static inline void clflushopt(const volatile void *p)
{
	asm volatile(".byte 0x66; clflush (%0)" : : "r"(p) : "memory");
}

static inline void clwb(const volatile void *p)
{
	asm volatile(".byte 0x66; xsaveopt (%0)" : : "r"(p) : "memory");
}

static inline void wbinvd(void)
{
	asm volatile("wbinvd" : : : "memory");
}

static inline void wbnoinvd(void)
{
	asm volatile(".byte 0xf3; wbinvd" : : : "memory");
}

static inline void invd(void)
{
	asm volatile("invd" : : : "memory");
}

/* fw_cfg DMA: the device writes guest memory through the memory core. */
#define FW_CFG_PORT_SEL		0x510
#define FW_CFG_PORT_DMA		0x514
#define FW_CFG_ID		0x01
#define FW_CFG_FILE_DIR		0x19
#define FW_CFG_DMA_READ		0x02
#define FW_CFG_DMA_SELECT	0x08

struct fw_cfg_dma {
	u32 control, length;
	u64 address;
} __attribute__((packed, aligned(16)));

static inline u32 be32(u32 v)
{
	return __builtin_bswap32(v);
}

static inline bool fw_cfg_has_dma(void)
{
	asm volatile("outw %0, %1" : : "a"((u16)FW_CFG_ID), "Nd"((u16)FW_CFG_PORT_SEL));
	return inb(FW_CFG_PORT_SEL + 1) & 2;
}

/* Read @len bytes of fw_cfg item @key into physical address @pa by DMA */
static inline bool fw_cfg_dma_read(u16 key, u64 pa, u32 len)
{
	static volatile struct fw_cfg_dma d;

	d.control = be32((u32)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ);
	d.length = be32(len);
	d.address = __builtin_bswap64(pa);
	outl(FW_CFG_PORT_DMA, be32((u64)&d >> 32));
	outl(FW_CFG_PORT_DMA + 4, be32((u64)&d));
	return d.control == 0;
}

/*
 * Start the CPU with APIC ID @apic_id (INIT-SIPI-SIPI); it runs @fn, with
 * interrupts off and the first CPU's page tables, GDT and IDT, then halts.
 * Returns false if it did not start within a second or so.
 */
bool start_ap(unsigned int apic_id, void (*fn)(void));

/*
 * Ask the host whether RAM at @pa holds OpenSSL's AES-XTS of @pt (@n bytes,
 * at most 512) under @k1/@k2 (@bits / 8 bytes each); its reply in @reply.
 */
bool host_kat(char *reply, size_t size, int bits, const u8 *k1, const u8 *k2,
	      u64 pa, const u8 *pt, size_t n);

/* @n bytes of a pattern from @seed; @n bytes as 2 * @n hex digits */
void fill_pattern(u8 *p, size_t n, u32 seed);
void tohex(char *dst, const u8 *src, size_t n);

/* Write back and invalidate every line of [p, p + n): CLFLUSH each */
static inline void flush_lines(const volatile void *p, size_t n)
{
	const volatile char *c = (const volatile char *)((unsigned long)p & ~63UL);

	for (; c < (const volatile char *)p + n; c += 64)
		clflush(c);
	asm volatile("mfence" : : : "memory");
}

/* Freestanding C library */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

#endif

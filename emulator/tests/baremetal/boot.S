// SPDX-License-Identifier: GPL-2.0
/*
 * Entry of a bare-metal test image, booted by QEMU -kernel through PVH.
 *
 * QEMU's pvh.bin enters _start32 in 32-bit protected mode, paging off,
 * EBX = physical address of struct hvm_start_info.  We build our own GDT
 * and page tables, switch to long mode, and go start64 -> start_c() -> main().
 *
 * Page tables (1 GiB pages, all U/S so ring-3 code can run anywhere):
 *   PML4[0]     VA 0          .. 4 GiB   -> PA 0 .. 4 GiB
 *   PML4[2k]    VA (k << 40)  .. +4 GiB  -> PA (k << 40) ..   (KeyID k=1..63)
 *   PML4[1]     VA 512 GiB .. 1 TiB: not present (UNMAPPED_VA, #PF tests)
 * With phys-bits=46 and 6 KeyID bits, the KeyID is PA bits 45:40.
 */
#include "asm.h"

#define PTE_P		0x001
#define PTE_RW		0x002
#define PTE_US		0x004
#define PTE_PS		0x080

#define CR0_MP		(1 << 1)
#define CR0_EM		(1 << 2)
#define CR0_NE		(1 << 5)
#define CR0_PG		(1 << 31)
#define CR4_PAE		(1 << 5)
#define CR4_OSFXSR	(1 << 9)
#define CR4_OSXMMEXCPT	(1 << 10)
#define MSR_EFER	0xc0000080
#define EFER_LME	(1 << 8)
#define EFER_NXE	(1 << 11)

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* From 32-bit protected mode: our page tables, long mode, jump to @target */
.macro enter_long_mode target
	mov $pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	mov %eax, %cr4
	mov $MSR_EFER, %ecx
	rdmsr
	or $(EFER_LME | EFER_NXE), %eax
	wrmsr
	mov %cr0, %eax
	and $~CR0_EM, %eax
	or $(CR0_PG | CR0_MP | CR0_NE), %eax
	mov %eax, %cr0
	ljmp $GDT_CODE64, $\target
.endm

	.section .note.Xen, "a", @note
	.balign 4
	.long 4				/* namesz */
	.long 8				/* descsz: QEMU reads 8 bytes for ELF64 */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.quad _start32

	.section .text.boot, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	mov %ebx, %esi			/* keep hvm_start_info across the memset */
	lgdt gdt_desc32
	ljmp $GDT_CODE32, $1f
1:	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $boot_stack_top, %esp

	/* .bss holds the page tables and stacks; do not trust the loader */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	mov %esi, start_info

	mov $0x80000000, %eax
	cpuid
	cmp $0x80000001, %eax
	jb no_lm
	mov $0x80000001, %eax
	cpuid
	mov $((1 << 29) | (1 << 26) | (1 << 20)), %eax	/* LM, PDPE1GB, NX */
	and %eax, %edx
	cmp %eax, %edx
	jne no_lm

	/* PML4[2k] -> pdpt[k] for k = 0..63 */
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	add $pdpt, %eax
	or $(PTE_P | PTE_RW | PTE_US), %eax
	lea (%ecx, %ecx), %ebx
	mov %eax, pml4(, %ebx, 8)
	inc %ecx
	cmp $NR_KEYIDS, %ecx
	jb 1b

	/* pdpt[k][i] -> PA (k << 40) + i GiB, for i = 0..3 */
	mov $pdpt, %edi
	xor %ecx, %ecx			/* k */
2:	xor %edx, %edx			/* i */
3:	mov %edx, %eax
	shl $30, %eax
	or $(PTE_P | PTE_RW | PTE_US | PTE_PS), %eax
	mov %eax, (%edi, %edx, 8)
	mov %ecx, %eax
	shl $(KEYID_SHIFT - 32), %eax
	mov %eax, 4(%edi, %edx, 8)
	inc %edx
	cmp $4, %edx
	jb 3b
	add $4096, %edi
	inc %ecx
	cmp $NR_KEYIDS, %ecx
	jb 2b

	enter_long_mode start64

/*
 * A second CPU (start_ap() in lib.c): the INIT-SIPI-SIPI sequence starts
 * it in real mode at ap_trampoline, copied to AP_TRAMPOLINE_PA; it joins
 * the page tables and GDT of the first and calls ap_entry on ap_stack_top.
 */
	.code16
	.globl ap_trampoline, ap_trampoline_end, ap_gdt_desc
ap_trampoline:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	lgdtl AP_TRAMPOLINE_PA + (ap_gdt_desc - ap_trampoline)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $GDT_CODE32, $ap_start32
	.balign 8
ap_gdt_desc:
	.word 0
	.long 0
ap_trampoline_end:

	.code32
ap_start32:
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	enter_long_mode ap_start64

	/* No way to run our page tables: say so and exit with status 5 */
no_lm:
	mov $no_lm_msg, %esi
	mov $0x3f8, %dx
1:	lodsb
	test %al, %al
	jz 2f
	outb %al, %dx
	jmp 1b
2:	mov $2, %eax
	mov $0xf4, %dx
	outl %eax, %dx
	hlt
	jmp 2b

	.code64
start64:
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	mov start_info(%rip), %edi
	call start_c			/* does not return */
	ud2

ap_start64:
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	mov $ap_stack_top, %rsp
	call ap_start_c			/* does not return */
	ud2

/*
 * Exception entry.  Every vector gets the same frame (struct trap_frame):
 * vectors without a CPU error code push a zero.  Stubs are 16 bytes apart.
 */
.macro vector n
	.balign 16
	.if \n == 8 || \n == 10 || \n == 11 || \n == 12 || \n == 13 || \n == 14 || \
	    \n == 17 || \n == 21 || \n == 29 || \n == 30
	.else
	pushq $0
	.endif
	pushq $\n
	jmp trap_common
.endm

	.text
	.balign 16
	.globl trap_stubs
trap_stubs:
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	vector \n
	.endr
	.irp n, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	vector \n
	.endr
	.globl trap_stub_user_return
trap_stub_user_return:
	vector USER_RETURN_VECTOR

trap_common:
	cld				/* user code may have left DF set */
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	mov %rsp, %rbx
	/* trap() is C built with SSE: keep the interrupted code's state */
	sub $512, %rsp
	and $-16, %rsp
	fxsave64 (%rsp)
	call trap
	fxrstor64 (%rsp)
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp			/* vector, error code */
	iretq

/*
 * int ctx_save(struct ctx *c): setjmp.  Returns 0, or the value later
 * passed to ctx_restore(c, v), which must not be 0.
 * struct ctx: rbx, rbp, r12, r13, r14, r15, rsp, rip.
 */
	.globl ctx_save
ctx_save:
	mov %rbx, 0(%rdi)
	mov %rbp, 8(%rdi)
	mov %r12, 16(%rdi)
	mov %r13, 24(%rdi)
	mov %r14, 32(%rdi)
	mov %r15, 40(%rdi)
	lea 8(%rsp), %rax		/* rsp after our return */
	mov %rax, 48(%rdi)
	mov (%rsp), %rax
	mov %rax, 56(%rdi)
	xor %eax, %eax
	ret

/*
 * void ctx_restore(struct ctx *c, int v): longjmp, also out of an
 * exception handler.  SS/DS/ES are reloaded because an exception from
 * ring 3 leaves SS null.
 */
	.globl ctx_restore
ctx_restore:
	mov $GDT_DATA, %eax
	mov %eax, %ss
	mov %eax, %ds
	mov %eax, %es
	mov 0(%rdi), %rbx
	mov 8(%rdi), %rbp
	mov 16(%rdi), %r12
	mov 24(%rdi), %r13
	mov 32(%rdi), %r14
	mov 40(%rdi), %r15
	mov 48(%rdi), %rsp
	mov %esi, %eax
	jmp *56(%rdi)

/*
 * void enter_user(void (*fn)(void *), void *arg, void *stack_top):
 * iretq to ring 3 at user_entry with IF=0 and IOPL=0, which calls fn(arg)
 * and then returns to the kernel through USER_RETURN_VECTOR.
 */
	.globl enter_user
enter_user:
	pushq $(GDT_USER_DATA | 3)
	pushq %rdx
	pushq $0x2			/* RFLAGS: reserved bit 1 only */
	pushq $(GDT_USER_CODE | 3)
	pushq $user_entry
	mov %rdi, %rax
	mov %rsi, %rdi
	xor %esi, %esi
	xor %edx, %edx
	iretq

user_entry:
	call *%rax
	int $USER_RETURN_VECTOR
	ud2

	.section .rodata
no_lm_msg:
	.asciz "boot: CPU lacks long mode, 1 GiB pages or NX; use -cpu max\r\nBail out!\r\n"

	.globl gdt_desc32
gdt_desc32:
	.word gdt_end - gdt - 1
	.long gdt

	/* writable: start_c() fills in the TSS descriptor */
	.data
	.balign 8
	.globl gdt
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* GDT_CODE32 */
	.quad 0x00af9a000000ffff	/* GDT_CODE64 */
	.quad 0x00cf92000000ffff	/* GDT_DATA */
	.quad 0x00affa000000ffff	/* GDT_USER_CODE, DPL 3 */
	.quad 0x00cff2000000ffff	/* GDT_USER_DATA, DPL 3 */
	.quad 0, 0			/* GDT_TSS, 16 bytes in long mode */
gdt_end:

	.globl start_info
start_info:
	.long 0

	.bss
	.balign 4096
	.globl pml4, pdpt
pml4:
	.skip 4096
pdpt:
	.skip 4096 * NR_KEYIDS
	.balign 16
	.skip 16384
boot_stack_top:
	.skip 16384
	.globl ap_stack_top
ap_stack_top:

/* SPDX-License-Identifier: GPL-2.0 */
/* PCONFIG and its key-programming structure, for the TME-MK tests. */
#ifndef BAREMETAL_MKTME_H
#define BAREMETAL_MKTME_H

#include "lib.h"

#define PCONFIG_MKTME_KEY_PROGRAM	0

enum { KEYID_SET_KEY_DIRECT, KEYID_SET_KEY_RANDOM, KEYID_CLEAR_KEY,
       KEYID_NO_ENCRYPT };

#define ALG_AES_XTS_128		(1u << 0)
#define ALG_AES_XTS_256		(1u << 2)

struct mktme_key_program {
	u16 keyid;
	u32 keyid_ctrl;		/* 7:0 command, 23:8 ENC_ALG, 31:24 reserved */
	u8 reserved[58];
	u8 key_field_1[64];
	u8 key_field_2[64];
} __attribute__((packed, aligned(256)));

_Static_assert(sizeof(struct mktme_key_program) == 256, "PCONFIG struct size");

#define RFLAGS_CF	(1u << 0)
#define RFLAGS_PF	(1u << 2)
#define RFLAGS_AF	(1u << 4)
#define RFLAGS_ZF	(1u << 6)
#define RFLAGS_SF	(1u << 7)
#define RFLAGS_OF	(1u << 11)

/* PCONFIG with EAX = leaf, RBX = p; returns RAX, *rflags gets RFLAGS. */
static inline u64 pconfig(u32 leaf, const void *p, u64 *rflags)
{
	u64 rax = leaf, fl;

	asm volatile(".byte 0x0f, 0x01, 0xc5\n\t"
		     "pushfq\n\t"
		     "popq %1"
		     : "+a"(rax), "=r"(fl) : "b"(p) : "memory", "cc");
	if (rflags)
		*rflags = fl;
	return rax;
}

/* Program @keyid with @cmd and @alg, keys from @k1/@k2 (may be NULL). */
static inline u64 mktme_program(u16 keyid, u32 cmd, u32 alg, const u8 *k1,
				const u8 *k2, int keylen)
{
	static struct mktme_key_program kp;

	memset(&kp, 0, sizeof(kp));
	kp.keyid = keyid;
	kp.keyid_ctrl = cmd | alg << 8;
	if (k1)
		memcpy(kp.key_field_1, k1, keylen);
	if (k2)
		memcpy(kp.key_field_2, k2, keylen);
	return pconfig(PCONFIG_MKTME_KEY_PROGRAM, &kp, NULL);
}

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* MKTME internals shared by arch/x86/mm/mktme/. */
#ifndef _X86_MM_MKTME_H
#define _X86_MM_MKTME_H

#include <linux/atomic.h>
#include <linux/types.h>
#include <asm/mktme.h>

#define MKTME_KEY_FIELD_SIZE	64

/* PCONFIG leaf 0 operand: 256-byte aligned, 192 bytes read. */
struct mktme_key_program {
	u16 keyid;
	u32 keyid_ctrl;
	u8 __rsvd[58];
	u8 key_field_1[MKTME_KEY_FIELD_SIZE];
	u8 key_field_2[MKTME_KEY_FIELD_SIZE];
} __packed __aligned(256);

/* Geometry read from the MSRs and CPUID at boot */
struct mktme_geometry {
	unsigned int keyid_bits;	/* MK_TME_KEYID_BITS */
	unsigned int tdx_keyid_bits;
	unsigned int max_keys;		/* MK_TME_MAX_KEYS */
	unsigned int nr_keyids;		/* for MKTME: 1..nr_keyids */
	unsigned int nr_tdx_keyids;
	u32 algs;			/* activated ENC_ALG bits */
};

extern struct mktme_geometry mktme_geo;

struct mktme_counters {
	atomic64_t flushes;		/* pages flushed for a KeyID change */
	atomic64_t pconfig_calls;
	atomic64_t pconfig_failures;	/* calls that returned an error */
	atomic64_t pconfig_retries;
	atomic64_t erases;		/* KeyIDs erased by revocation */
	atomic64_t erase_failures;	/* KeyIDs quarantined: erase failed */
	atomic64_t revoked_mms;		/* mms torn down by revocation */
	atomic64_t erased_pages;	/* pages unmapped by those */
	atomic64_t swap_refused;	/* folios kept out of swap */
	atomic64_t swapin_rekeyed;	/* pages re-keyed when read from swap */
};

extern bool mktme_swap_plaintext;
/* 1: user keys' material is kept for packages that come online later */
extern bool mktme_keep_user_keys;
void mktme_set_keep_user_keys(bool keep);

extern struct mktme_counters mktme_stats;
/* Pages allocated with each KeyID, indexed by KeyID (0 included) */
extern atomic_long_t *mktme_keyid_pages;
/* The mms that use each KeyID (users.c) */
extern atomic_t *mktme_keyid_users;

int mktme_keyids_in_use(void);
struct key *mktme_keyid_owner(unsigned int keyid);
void mktme_keyid_kill(unsigned int keyid);
bool mktme_keyid_dead(unsigned int keyid);
void mktme_keyid_retire(unsigned int keyid, bool erased);
void mktme_keyid_maybe_free(unsigned int keyid);
int mktme_keyids_draining(void);
int mktme_keyids_quarantined(void);

bool mktme_page_set_frozen(struct page *page, bool frozen);
bool mktme_page_frozen(struct page *page);
bool mktme_mm_uses_keyid(struct mm_struct *mm, unsigned int keyid);
int mktme_mm_use_keyid(struct mm_struct *mm, unsigned int keyid);
void mktme_mm_drop_keyid(struct mm_struct *mm, unsigned int keyid);
unsigned long mktme_revoke_users(unsigned int keyid);
void mktme_revoke_mm(struct mm_struct *mm, unsigned int keyid);

void mktme_page_set_keyid(struct page *page, int order, unsigned int keyid);
void mktme_page_change_keyid(struct page *page, unsigned int keyid);
void mktme_page_rekey(struct page *page, unsigned int keyid);
bool mktme_free_contents_matter(void);
void *mktme_keyid_address(phys_addr_t pa, unsigned int keyid);

bool __init mktme_detect(void);
int __init mktme_map_direct_aliases(unsigned int nr_keyids);
void __init mktme_narrow_physical_mask(void);
int __init mktme_sysfs_init(void);
int __init mktme_hotplug_init(void);
int mktme_packages_online(void);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intel Multi-Key Total Memory Encryption (TME-MK): the kernel-wide
 * interface.  Documentation/arch/x86/mktme.rst describes the design.
 *
 * Included from asm/page.h: keep the dependencies minimal.
 */
#ifndef _ASM_X86_MKTME_H
#define _ASM_X86_MKTME_H

#include <linux/bits.h>
#include <linux/jump_label.h>
#include <linux/types.h>

struct folio;
struct key;
struct mm_struct;
struct page;
struct vm_area_struct;

/* IA32_TME_ACTIVATE[63:48], KEYID_CTRL.ENC_ALG */
#define MKTME_ALG_AES_XTS_128	BIT(0)
#define MKTME_ALG_AES_XTS_256	BIT(2)

/* KEYID_CTRL.COMMAND */
enum mktme_command {
	MKTME_KEYID_SET_KEY_DIRECT,
	MKTME_KEYID_SET_KEY_RANDOM,
	MKTME_KEYID_CLEAR_KEY,
	MKTME_KEYID_NO_ENCRYPT,
};

#ifdef CONFIG_X86_MKTME

/* Usable KeyIDs are 1..mktme_nr_keyids; 0 when MKTME is not in use. */
extern unsigned int mktme_nr_keyids;
/* KeyID k sits at physical address bit mktme_keyid_shift */
extern unsigned int mktme_keyid_shift;
extern phys_addr_t mktme_keyid_mask;

static inline bool mktme_enabled(void)
{
	return mktme_nr_keyids;
}

/*
 * Whether a KeyID was ever handed out.  Until then no page, VMA or mm has
 * one, and the hooks below cost a patched-out branch: a kernel with
 * CONFIG_X86_MKTME that never creates a key runs as one without it.
 */
DECLARE_STATIC_KEY_FALSE(mktme_used);

static __always_inline bool mktme_in_use(void)
{
	return static_branch_unlikely(&mktme_used);
}

/* KASLR: the direct map's size with every KeyID's alias */
u64 mktme_direct_map_size(void);

/* Memory hot-add of System RAM: refused, the aliases cover boot memory */
int mktme_memory_add_check(u64 start, u64 size);

/* The algorithms firmware activated: MKTME_ALG_* bits */
u32 mktme_algorithms(void);

/* KeyIDs for the key service (security/keys/mktme_keys.c) */
int mktme_keyid_alloc(void);
void mktme_keyid_free(int keyid);
void mktme_keyid_set_owner(unsigned int keyid, struct key *key);
void mktme_keyid_quarantine(unsigned int keyid);
long mktme_keyid_nr_pages(unsigned int keyid);
int mktme_keyid_nr_users(unsigned int keyid);
int mktme_program_keyid(u16 keyid, enum mktme_command cmd, u32 alg,
			const u8 *key, const u8 *tweak, unsigned int key_len);

/* Migration copies a folio into one of the same KeyIDs */
void mktme_migrate_folio_prep(struct folio *dst, struct folio *src);
#define arch_migrate_folio_prep mktme_migrate_folio_prep

/*
 * Swap: encrypted memory is kept out of swap unless the admin allows it,
 * and a page read back from swap gets its VMA's KeyID before it is mapped.
 */
bool mktme_folio_may_swap(struct folio *folio);
int mktme_swapin_folio_prep(struct folio *folio, struct vm_area_struct *vma);

#define arch_folio_may_swap arch_folio_may_swap
static inline bool arch_folio_may_swap(struct folio *folio)
{
	return !mktme_in_use() || mktme_folio_may_swap(folio);
}

#define arch_swapin_folio_prep arch_swapin_folio_prep
static inline int arch_swapin_folio_prep(struct folio *folio,
					 struct vm_area_struct *vma)
{
	return mktme_in_use() ? mktme_swapin_folio_prep(folio, vma) : 0;
}

/*
 * DMA: a device reaches an encrypted page through its KeyID, so the DMA
 * address of a page carries the page's KeyID bits (dma-direct), and a DMA
 * segment never spans pages of two KeyIDs (the block layer's merging).
 */
phys_addr_t mktme_dma_keyid_bits(phys_addr_t paddr);

#define arch_dma_keyid_bits arch_dma_keyid_bits
static inline phys_addr_t arch_dma_keyid_bits(phys_addr_t paddr)
{
	return mktme_in_use() ? mktme_dma_keyid_bits(paddr) : 0;
}

static inline dma_addr_t arch_dma_keyid_clear(dma_addr_t dma_addr)
{
	return dma_addr & ~(dma_addr_t)mktme_keyid_mask;
}

static inline bool arch_dma_has_keyids(void)
{
	return mktme_nr_keyids;
}

/* Secure erase, for a key that is revoked or destroyed (may sleep) */
int mktme_revoke_keyid(unsigned int keyid, u32 alg);

/* prctl(PR_SET_MKTME_KEY / PR_GET_MKTME_KEY): a process's default key */
int mktme_set_default_key(unsigned long serial, unsigned long pidfd,
			  unsigned long flags, unsigned long unused);
int mktme_get_default_key(unsigned long pidfd);
#define SET_MKTME_KEY(serial, pidfd, flags, unused) \
	mktme_set_default_key(serial, pidfd, flags, unused)
#define GET_MKTME_KEY(pidfd)	mktme_get_default_key(pidfd)
int mktme_keyid_serial(unsigned int keyid);

/* Anonymous memory of a process whose default key was revoked: refused */
long mktme_mmap_check(unsigned long addr, unsigned long len,
		      unsigned long flags);

#define arch_mmap_check arch_mmap_check
static inline long arch_mmap_check(unsigned long addr, unsigned long len,
				   unsigned long flags)
{
	return mktme_in_use() ? mktme_mmap_check(addr, len, flags) : 0;
}

/* encrypt_mprotect(): the key's KeyID, and the work on VMAs and pages */
#define arch_keyids_enabled	mktme_enabled
#define arch_keyid_get		mktme_key_get
#define arch_keyid_put		mktme_key_put
int mktme_key_get(int serial, struct key **keyp);
void mktme_key_put(struct key *key);
int arch_keyid_mprotect_check(struct mm_struct *mm, unsigned long start,
			      unsigned long end);
int arch_keyid_mprotect_prepare(struct mm_struct *mm, unsigned long start,
				unsigned long end, unsigned int keyid);
int arch_keyid_mprotect_retry(unsigned long *deadline);
void arch_keyid_mprotect_finish(struct mm_struct *mm, unsigned long start,
				unsigned long end);
void arch_keyid_mprotect_fixup(struct vm_area_struct *vma, unsigned long start,
			       unsigned long end, unsigned long oldflags);

/*
 * The mms that use each KeyID, for revocation and for the references
 * they hold to its key (arch/x86/mm/mktme/users.c); called through
 * init_new_context(), arch_dup_mmap(), arch_exit_mmap() and
 * destroy_context().
 */
int __mktme_mm_init(struct mm_struct *mm);
int __mktme_mm_dup(struct mm_struct *oldmm, struct mm_struct *mm);
void __mktme_mm_exit(struct mm_struct *mm);

/* execve(): the new mm, before exec_mmap(); a setuid or setgid one */
void mktme_exec_mm(struct mm_struct *mm);
void mktme_exec_secure(struct mm_struct *mm);

/* The KeyID a page's contents are encrypted with; 0: none. */
int __page_keyid(const struct page *page);

#define page_keyid page_keyid
static inline int page_keyid(const struct page *page)
{
	return mktme_in_use() ? __page_keyid(page) : 0;
}

/*
 * Every KeyID has its alias of the direct mapping, at the direct-mapping
 * address of the physical address with the KeyID bits set: page_address()
 * of an encrypted page is in its KeyID's alias, so the kernel reads and
 * writes it in plaintext.
 */
void *mktme_page_to_virt(const struct page *page);

#define HAVE_ARCH_ALLOC_PAGE
#define HAVE_ARCH_FREE_PAGE
void __mktme_alloc_page(struct page *page, int order);
void __mktme_free_page(struct page *page, int order);

static inline void arch_alloc_page(struct page *page, int order)
{
	if (mktme_in_use())
		__mktme_alloc_page(page, order);
}

static inline void arch_free_page(struct page *page, int order)
{
	if (mktme_in_use())
		__mktme_free_page(page, order);
}

/*
 * Allocations for a VMA with a KeyID are prepared for that KeyID: the
 * allocator hands pages over with their lines flushed if they last held
 * another KeyID, so that __GFP_ZERO and the fault path zero them through
 * it.  See linux/gfp.h.
 */
#define HAVE_ARCH_ALLOC_PAGE_FOR_VMA
unsigned int __mktme_alloc_page_for_vma_begin(unsigned long vm_flags);
void __mktme_alloc_page_for_vma_end(unsigned int keyid, struct page *page,
				    int order);

static inline unsigned int arch_alloc_page_for_vma_begin(unsigned long vm_flags)
{
	return mktme_in_use() ? __mktme_alloc_page_for_vma_begin(vm_flags) : 0;
}

static inline void arch_alloc_page_for_vma_end(unsigned int keyid,
					       struct page *page, int order)
{
	if (keyid)
		__mktme_alloc_page_for_vma_end(keyid, page, order);
}

#else /* !CONFIG_X86_MKTME */

#define mktme_nr_keyids		0U
#define mktme_keyid_mask	((phys_addr_t)0)
#define mktme_alias_mask	((phys_addr_t)0)

static inline bool mktme_enabled(void)
{
	return false;
}

static inline bool mktme_in_use(void)
{
	return false;
}

static inline u64 mktme_direct_map_size(void)
{
	return 0;
}

static inline int mktme_memory_add_check(u64 start, u64 size)
{
	return 0;
}

#endif /* CONFIG_X86_MKTME */

#endif /* _ASM_X86_MKTME_H */

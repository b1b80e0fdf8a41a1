// SPDX-License-Identifier: GPL-2.0
/*
 * MKTME and pages: each page's KeyID, cache flushes when it changes, and
 * the per-KeyID aliases of the direct mapping through which the kernel
 * reads and writes encrypted pages.
 *
 * The hardware keeps no coherency between the cache lines of one physical
 * page under two KeyIDs, so a page's lines are flushed, through its old
 * KeyID's alias, exactly when the page changes KeyID.  A freed page keeps
 * its KeyID: when it is next allocated for the same KeyID, nothing is
 * flushed.  With init_on_free or page poisoning, whose free pages hold
 * what the allocator relies on, free pages are at KeyID 0 instead, and
 * keep those contents when they change KeyID.
 */
#define pr_fmt(fmt) "x86/mktme: " fmt

#include <linux/mm.h>
#include <linux/nmi.h>
#include <linux/page_ext.h>
#include <linux/sched.h>
#include <linux/stop_machine.h>
#include <linux/io.h>
#include <linux/kasan.h>
#include <linux/kfence.h>
#include <asm/cacheflush.h>
#include <asm/pgalloc.h>
#include <asm/pgtable.h>
#include <asm/tlbflush.h>

#include "../mm_internal.h"
#include "mktme.h"

/* Pages, free or not, whose recorded KeyID is not 0 */
static atomic_long_t mktme_keyed_pages;

static bool __init need_page_mktme(void)
{
	return mktme_detect();
}

/* What MKTME keeps of each page */
struct mktme_page {
	u16 keyid;
	bool frozen;	/* frozen by encrypt_mprotect() (vma.c), locked */
};

struct page_ext_operations page_keyid_ops = {
	.size = sizeof(struct mktme_page),
	.need = need_page_mktme,
};

static struct mktme_page *page_ext_mktme(struct page_ext *ext)
{
	return page_ext_data(ext, &page_keyid_ops);
}

static u16 *page_ext_keyid(struct page_ext *ext)
{
	return &page_ext_mktme(ext)->keyid;
}

/*
 * Mark a locked page as frozen by encrypt_mprotect(), or no longer;
 * false if the page has no page_ext to say so in.
 */
bool mktme_page_set_frozen(struct page *page, bool frozen)
{
	struct page_ext *ext = page_ext_get(page);

	if (!ext)
		return false;
	page_ext_mktme(ext)->frozen = frozen;
	page_ext_put(ext);
	return true;
}

bool mktme_page_frozen(struct page *page)
{
	struct page_ext *ext = page_ext_get(page);
	bool frozen;

	if (!ext)
		return false;
	frozen = page_ext_mktme(ext)->frozen;
	page_ext_put(ext);
	return frozen;
}

int __page_keyid(const struct page *page)
{
	struct page_ext *ext;
	int keyid;

	/* mk_pte() asks for every page: no lookup while none has a KeyID */
	if (!atomic_long_read(&mktme_keyed_pages))
		return 0;
	ext = page_ext_get(page);
	if (!ext)
		return 0;
	keyid = *page_ext_keyid(ext);
	page_ext_put(ext);
	return keyid;
}
EXPORT_SYMBOL_GPL(__page_keyid);

/* The kernel address of @pa through @keyid's alias of the direct map */
void *mktme_keyid_address(phys_addr_t pa, unsigned int keyid)
{
	return __va(pa | (phys_addr_t)keyid << mktme_keyid_shift);
}

void *mktme_page_to_virt(const struct page *page)
{
	return mktme_keyid_address(PFN_PHYS(page_to_pfn(page)), page_keyid(page));
}
EXPORT_SYMBOL(mktme_page_to_virt);

static void mktme_set_one(struct page *page, unsigned int keyid)
{
	struct page_ext *ext = page_ext_get(page);
	u16 *slot;

	if (!ext)
		return;
	slot = page_ext_keyid(ext);
	if (*slot != keyid) {
		/* Write back and drop what the old KeyID left in the caches */
		clflush_cache_range(mktme_keyid_address(page_to_phys(page), *slot),
				    PAGE_SIZE);
		atomic64_inc(&mktme_stats.flushes);
		if (!*slot)
			atomic_long_inc(&mktme_keyed_pages);
		else if (!keyid)
			atomic_long_dec(&mktme_keyed_pages);
		*slot = keyid;
	}
	page_ext_put(ext);
}

/**
 * mktme_page_set_keyid - give pages a KeyID, flushing those that change
 * @page: the first page
 * @order: 1 << @order pages
 * @keyid: the new KeyID, 0 for none
 *
 * The caller owns the pages and has no mapping of them under another
 * KeyID.  Their contents become unreadable: zero or copy them after.
 */
void mktme_page_set_keyid(struct page *page, int order, unsigned int keyid)
{
	unsigned long i;

	for (i = 0; i < 1UL << order; i++)
		mktme_set_one(nth_page(page, i), keyid);
}

/* A page's lines moved from KeyID @old to @keyid: move its count with it */
static void mktme_count_change(int old, unsigned int keyid)
{
	if (keyid)
		atomic_long_inc(&mktme_keyid_pages[keyid]);
	if (old && atomic_long_dec_and_test(&mktme_keyid_pages[old]))
		mktme_keyid_maybe_free(old);
}

/* Move one allocated page to another KeyID, and its count with it. */
void mktme_page_change_keyid(struct page *page, unsigned int keyid)
{
	int old = page_keyid(page);

	if (old == keyid)
		return;
	mktme_set_one(page, keyid);
	mktme_count_change(old, keyid);
}

/* Bounce buffer for one page's plaintext, used with interrupts disabled */
static DEFINE_PER_CPU_PAGE_ALIGNED(u8, mktme_bounce[PAGE_SIZE]);

/*
 * Move one page to @keyid with its contents: the plaintext is read
 * through the old KeyID's alias, the page's lines flushed, and the
 * plaintext written back through the new KeyID's alias.  The allocator
 * does this too, from interrupts.
 */
static void mktme_set_one_keeping(struct page *page, unsigned int keyid)
{
	unsigned long flags;
	u8 *buf;

	local_irq_save(flags);
	buf = this_cpu_ptr(mktme_bounce);
	copy_page(buf, page_address(page));
	mktme_set_one(page, keyid);
	copy_page(page_address(page), buf);
	memzero_explicit(buf, PAGE_SIZE);
	local_irq_restore(flags);
}

/**
 * mktme_page_rekey - move an allocated page to another KeyID, keeping its data
 * @page: the page; nothing may access it meanwhile (unmapped, or locked and
 *	  mapped nowhere)
 * @keyid: the new KeyID
 */
void mktme_page_rekey(struct page *page, unsigned int keyid)
{
	int old = page_keyid(page);

	if (old == keyid)
		return;
	mktme_set_one_keeping(page, keyid);
	mktme_count_change(old, keyid);
}

/*
 * A device reaches an encrypted page through its KeyID, as the CPU does:
 * the DMA address of a page carries the page's KeyID bits.
 */
phys_addr_t mktme_dma_keyid_bits(phys_addr_t paddr)
{
	unsigned long pfn = PHYS_PFN(paddr);

	/* Nothing to look up while no page has ever held a KeyID */
	if (!atomic_long_read(&mktme_keyed_pages) || !pfn_valid(pfn))
		return 0;
	return (phys_addr_t)page_keyid(pfn_to_page(pfn)) << mktme_keyid_shift;
}
EXPORT_SYMBOL_GPL(mktme_dma_keyid_bits);

/*
 * Migration and compaction copy a folio through page_address(): give the
 * new folio the old one's KeyIDs first, so the copy is encrypted like the
 * original and matches the KeyID the restored PTEs carry.
 */
void mktme_migrate_folio_prep(struct folio *dst, struct folio *src)
{
	long i, n = folio_nr_pages(src);

	if (!mktme_enabled())
		return;
	for (i = 0; i < n; i++)
		mktme_page_change_keyid(folio_page(dst, i),
					page_keyid(folio_page(src, i)));
}

/* The KeyID an allocation for a VMA asked for, consumed by the allocator */
static unsigned int mktme_take_hint(void)
{
	unsigned int keyid;

	/* Not for interrupts, nor for reclaim or compaction within the call */
	if (!in_task() || (current->flags & PF_MEMALLOC))
		return 0;
	keyid = current->thread.mktme_alloc_keyid;
	current->thread.mktme_alloc_keyid = 0;
	return keyid;
}

/*
 * Whether the allocator relies on what a free page holds: zeroes written
 * at free (init_on_free), or the poison pattern it checks at allocation
 * (page_poison).  Read through another KeyID, or through the same KeyID
 * programmed with another key meanwhile, they would be AES noise: a free
 * page then holds them under KeyID 0, and changes KeyID only with its
 * contents.
 */
bool mktme_free_contents_matter(void)
{
	return want_init_on_free() || page_poisoning_enabled_static();
}

/*
 * Move a free page, or one being freed, to @keyid with what the allocator
 * wrote in it at free: the poison pattern or init_on_free's zeroes.  At
 * allocation, the pattern is copied, so that the allocator's check still
 * finds a store into the free page; at free it was just written, and
 * is written again.
 */
static void mktme_free_page_move(struct page *page, unsigned int keyid,
				 bool freeing)
{
	if (page_keyid(page) == keyid)
		return;
	if (page_poisoning_enabled_static() && !freeing) {
		mktme_set_one_keeping(page, keyid);
		return;
	}
	mktme_set_one(page, keyid);
	if (page_poisoning_enabled_static())
		kernel_poison_pages(page, 1);
	else
		clear_page(page_address(page));
}

void __mktme_alloc_page(struct page *page, int order)
{
	unsigned int keyid = mktme_take_hint();
	unsigned long i;

	if (!keyid && !atomic_long_read(&mktme_keyed_pages))
		return;
	/* Revocation left no mm that could ask for it (users.c) */
	VM_WARN_ON_ONCE(keyid && mktme_keyid_dead(keyid));
	if (mktme_free_contents_matter()) {
		for (i = 0; i < 1UL << order; i++)
			mktme_free_page_move(nth_page(page, i), keyid, false);
	} else {
		mktme_page_set_keyid(page, order, keyid);
	}
	if (keyid)
		atomic_long_add(1L << order, &mktme_keyid_pages[keyid]);
}

void __mktme_free_page(struct page *page, int order)
{
	bool keep = mktme_free_contents_matter();
	struct page *p;
	unsigned long i;
	int keyid;

	if (!atomic_long_read(&mktme_keyed_pages))
		return;
	/* Otherwise the KeyID stays with the free page: see mktme_set_one(). */
	for (i = 0; i < 1UL << order; i++) {
		p = nth_page(page, i);
		keyid = page_keyid(p);
		if (!keyid)
			continue;
		/* While the KeyID is still programmed with this page's key */
		if (keep)
			mktme_free_page_move(p, 0, true);
		if (atomic_long_dec_and_test(&mktme_keyid_pages[keyid]))
			mktme_keyid_maybe_free(keyid);
	}
}

unsigned int __mktme_alloc_page_for_vma_begin(unsigned long vm_flags)
{
	unsigned int keyid = vm_flags_keyid(vm_flags);

	if (keyid)
		current->thread.mktme_alloc_keyid = keyid;
	return keyid;
}

void __mktme_alloc_page_for_vma_end(unsigned int keyid, struct page *page,
				    int order)
{
	unsigned long i;

	current->thread.mktme_alloc_keyid = 0;
	if (!page || page_keyid(page) == keyid)
		return;
	/* Something else took the hint: set the KeyID now, and zero again */
	for (i = 0; i < 1UL << order; i++) {
		mktme_page_change_keyid(nth_page(page, i), keyid);
		clear_page(page_address(nth_page(page, i)));
	}
}

#ifdef CONFIG_DEBUG_VM
/* A user mapping of @nr pages from @pfn under @keyid: is it theirs? */
static void mktme_check_keyid(struct mm_struct *mm, unsigned long pfn,
			      unsigned int keyid, unsigned int nr)
{
	unsigned int i;
	int page_id;

	if (mm == &init_mm || (!keyid && !atomic_long_read(&mktme_keyed_pages)))
		return;
	for (i = 0; i < nr && pfn_valid(pfn + i); i++) {
		page_id = page_keyid(pfn_to_page(pfn + i));
		if (page_id != keyid) {
			WARN_ONCE(1, "x86/mktme: PTE with KeyID %u for pfn %#lx, a page of KeyID %d\n",
				  keyid, pfn + i, page_id);
			return;
		}
	}
}

void __mktme_check_ptes_set(struct mm_struct *mm, pte_t pte, unsigned int nr)
{
	if (pte_present(pte))
		mktme_check_keyid(mm, pte_pfn(pte),
				  (pte_val(pte) & mktme_keyid_mask) >> mktme_keyid_shift, nr);
}

void __mktme_check_pmd_set(struct mm_struct *mm, pmd_t pmd)
{
	if (pmd_present(pmd) && pmd_leaf(pmd))
		mktme_check_keyid(mm, pmd_pfn(pmd),
				  (pmd_val(pmd) & mktme_keyid_mask) >> mktme_keyid_shift, 1);
}
#endif

/*
 * KFENCE and debug_pagealloc make pages not present by clearing the
 * Present bit of their direct-map PTEs, and such PTEs have their address
 * bits inverted against L1TF, using the physical-address mask of the
 * moment.  Pages made not present before MKTME narrowed that mask (from
 * all 52 address bits) got every bit above it set, and making them
 * present again would leave those set: a PTE with KeyID 2^bits - 1 and
 * reserved bits, which faults for ever.  Clear them from the PTEs of
 * [@addr, @end); the inverted address stays above the end of memory.
 */
static void __init mktme_fix_inverted_ptes(unsigned long addr, unsigned long end)
{
	pteval_t above = GENMASK_ULL(__PHYSICAL_MASK_SHIFT - 1, mktme_keyid_shift);
	unsigned int level;
	pte_t *pte;

	for (; addr < end; addr += PAGE_SIZE) {
		/* Every other CPU waits: a few seconds per TiB of memory */
		if (IS_ALIGNED(addr, PMD_SIZE))
			touch_nmi_watchdog();
		pte = lookup_address(addr, &level);
		/* Not pte_present(): a kernel PTE's Global bit reads as PROTNONE */
		if (pte && level == PG_LEVEL_4K && !(pte_val(*pte) & _PAGE_PRESENT))
			set_pte(pte, __pte(pte_val(*pte) & ~above));
	}
}

/* With every other CPU stopped, so that no such PTE changes meanwhile */
static int __init mktme_narrow_mask_stopped(void *unused)
{
	int i;

	physical_mask &= BIT_ULL(mktme_keyid_shift) - 1;
#ifdef CONFIG_KFENCE
	if (__kfence_pool)
		mktme_fix_inverted_ptes((unsigned long)__kfence_pool,
					(unsigned long)__kfence_pool + KFENCE_POOL_SIZE);
#endif
	/* Every free page's direct-map PTE, 4 KiB each (init_mem_mapping()) */
	if (debug_pagealloc_enabled())
		for (i = 0; i < nr_pfn_mapped; i++)
			mktme_fix_inverted_ptes((unsigned long)pfn_to_kaddr(pfn_mapped[i].start),
						(unsigned long)pfn_to_kaddr(pfn_mapped[i].end));
	return 0;
}

/* Take the KeyID bits out of the physical-address mask */
void __init mktme_narrow_physical_mask(void)
{
	stop_machine(mktme_narrow_mask_stopped, NULL, NULL);
}

#ifdef CONFIG_KASAN
/*
 * A kernel table, for @pte's level, of our own where @pte points to the
 * shared zero-shadow table @early (or nowhere): a copy of @early, so that
 * filling it in changes nothing else.
 */
static void *__init mktme_kasan_own_table(void *table, void *early)
{
	void *own;

	if (table && table != early)
		return table;
	own = (void *)get_zeroed_page(GFP_KERNEL);
	if (own && table)
		memcpy(own, early, PAGE_SIZE);
	return own;
}

static pud_t *__init mktme_kasan_pud(unsigned long addr)
{
	pgd_t *pgd = pgd_offset_k(addr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgtable_l5_enabled()) {
		p4d = mktme_kasan_own_table(pgd_none(*pgd) ? NULL :
					    (void *)pgd_page_vaddr(*pgd),
					    kasan_early_shadow_p4d);
		if (!p4d)
			return NULL;
		pgd_populate(&init_mm, pgd, p4d);
	}
	p4d = p4d_offset(pgd, addr);
	pud = mktme_kasan_own_table(p4d_none(*p4d) ? NULL : p4d_pgtable(*p4d),
				    kasan_early_shadow_pud);
	if (!pud)
		return NULL;
	p4d_populate(&init_mm, p4d, pud);
	return pud_offset(p4d, addr);
}

/*
 * KASAN's shadow of each alias is the direct mapping's own shadow: an
 * alias reaches the same memory, which is allocated or free whichever
 * KeyID it is read through.  The KeyID bits sit above bit 39, so an
 * alias's shadow is the direct mapping's shadow moved by a multiple of
 * PUD_SIZE, and the alias's PUD entries point to the shadow's PMD tables.
 */
static int __init mktme_kasan_alias_shadow(unsigned int nr_keyids)
{
	unsigned long a, end, delta;
	unsigned int keyid;
	pud_t *src, *dst;
	int i;

	BUILD_BUG_ON(KASAN_SHADOW_SCALE_SHIFT > 3);
	for (keyid = 1; keyid <= nr_keyids; keyid++) {
		delta = ((unsigned long)keyid << mktme_keyid_shift) >> KASAN_SHADOW_SCALE_SHIFT;
		if (!IS_ALIGNED(delta, PUD_SIZE))
			return -EINVAL;
		for (i = 0; i < nr_pfn_mapped; i++) {
			a = (unsigned long)kasan_mem_to_shadow(pfn_to_kaddr(pfn_mapped[i].start));
			end = (unsigned long)kasan_mem_to_shadow(pfn_to_kaddr(pfn_mapped[i].end));
			for (a = ALIGN_DOWN(a, PUD_SIZE); a < end; a += PUD_SIZE) {
				src = pud_offset(p4d_offset(pgd_offset_k(a), a), a);
				dst = mktme_kasan_pud(a + delta);
				if (!dst)
					return -ENOMEM;
				set_pud(dst, *src);
			}
		}
	}
	flush_tlb_all();
	return 0;
}
#else
static inline int mktme_kasan_alias_shadow(unsigned int nr_keyids)
{
	return 0;
}
#endif

/*
 * Map each KeyID's alias of the direct mapping: the same physical ranges,
 * at the direct-mapping address of the physical address with the KeyID
 * bits set, with the KeyID in the page-table entries.
 */
int __init mktme_map_direct_aliases(unsigned int nr_keyids)
{
	unsigned long mask = 1 << PG_LEVEL_2M;
	unsigned int keyid;
	int i;

	if (boot_cpu_has(X86_FEATURE_GBPAGES))
		mask |= 1 << PG_LEVEL_1G;
	for (keyid = 1; keyid <= nr_keyids; keyid++) {
		phys_addr_t k = (phys_addr_t)keyid << mktme_keyid_shift;
		pgprot_t prot = __pgprot(pgprot_val(PAGE_KERNEL) | k);

		for (i = 0; i < nr_pfn_mapped; i++)
			kernel_physical_mapping_init(k | PFN_PHYS(pfn_mapped[i].start),
						     k | PFN_PHYS(pfn_mapped[i].end),
						     mask, prot);
	}
	return mktme_kasan_alias_shadow(nr_keyids);
}

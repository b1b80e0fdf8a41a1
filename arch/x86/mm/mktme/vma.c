// SPDX-License-Identifier: GPL-2.0
/*
 * encrypt_mprotect(): moving the pages of anonymous VMAs to another KeyID
 * with their contents.
 *
 * The 2019 MKTME series zapped a range's pages when its KeyID changed, so
 * encrypt_mprotect() lost the data.  Here each present page is re-keyed in
 * place, all or nothing: every page of the range is first frozen (locked,
 * unmapped behind a migration entry, and checked to be held by nothing but
 * its mapping), the VMAs change, and each page is then re-keyed (its
 * plaintext read through the old KeyID's alias, its lines flushed, written
 * back through the new KeyID's alias) and mapped again.  The caller holds
 * mmap_lock for writing, so no fault can see a page meanwhile; pages
 * shared with other processes are unshared first, so the change is
 * invisible to them.  A huge page wholly in the range is frozen and
 * re-keyed whole under its PMD; a large folio only partly in it, or mapped
 * by PTEs, is split first.
 */
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/pagewalk.h>
#include <linux/pid.h>
#include <linux/prctl.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/percpu.h>
#include <asm/smp.h>
#include <asm/tlbflush.h>

#include "mktme.h"

/* What the preparing walk found to do before the range can be re-keyed */
enum mktme_todo {
	MKTME_OK,
	MKTME_UNSHARE,		/* a page shared copy-on-write */
	MKTME_FAULT,		/* a page in swap, or being migrated */
	MKTME_SPLIT,		/* a large folio */
	MKTME_FREE_SWAP,	/* a page that also has a copy in swap */
	MKTME_HELD,		/* a page with references beyond its mapping */
	MKTME_PASSING,		/* a page locked or off the LRU meanwhile */
};

struct mktme_walk {
	unsigned long addr;		/* where the walk stopped */
	enum mktme_todo todo;
	unsigned int keyid;		/* the KeyID the range gets */
	struct folio *folio;		/* MKTME_PASSING: referenced */
};

/*
 * The page a walk over a range to re-key finds at @pte, or NULL with what
 * the walk returns in *@ret: 0 for no page to move (none, the zero page);
 * 1 with MKTME_FAULT for one in swap or being migrated; -EBUSY for one
 * pinned for DMA, which a device may be writing: re-keying would corrupt
 * that.  Swapped pages come back in before their KeyID changes: one swap
 * entry may be shared after fork, and all of its mappings must keep one
 * KeyID (see mktme_swapin_folio_prep()).  A page being migrated would
 * come back with the old KeyID: the fault waits for the migration.
 */
static struct page *mktme_walk_page(pte_t pte, unsigned long addr,
				    struct mm_walk *walk, int *ret)
{
	struct mktme_walk *w = walk->private;
	struct page *page = NULL;
	swp_entry_t entry;

	w->addr = addr;
	*ret = 0;
	if (!pte_present(pte)) {
		if (!is_swap_pte(pte))
			return NULL;
		entry = pte_to_swp_entry(pte);
		/* A device holds it (HMM): it would keep the old KeyID */
		if (is_device_exclusive_entry(entry) ||
		    is_device_private_entry(entry)) {
			*ret = -EBUSY;
			return NULL;
		}
		if (non_swap_entry(entry) && !is_migration_entry(entry))
			return NULL;
		w->todo = MKTME_FAULT;
		*ret = 1;
		return NULL;
	}
	page = vm_normal_page(walk->vma, addr, pte);
	/* Nothing to do for a page that has the KeyID already */
	if (!page || page_keyid(page) == w->keyid)
		return NULL;
	/* Pinned for DMA, or poisoned: neither can be copied safely */
	if (folio_maybe_dma_pinned(page_folio(page)) || PageHWPoison(page)) {
		*ret = -EBUSY;
		return NULL;
	}
	return page;
}

static int mktme_prepare_pte(pte_t *ptep, unsigned long addr,
			     unsigned long next, struct mm_walk *walk)
{
	struct mktme_walk *w = walk->private;
	struct folio *folio;
	struct page *page;
	int ret;

	page = mktme_walk_page(ptep_get(ptep), addr, walk, &ret);
	if (!page)
		return ret;
	folio = page_folio(page);
	if (!PageAnonExclusive(page)) {
		w->todo = MKTME_UNSHARE;
		return 1;
	}
	/*
	 * Every page of a folio has the same KeyID (one DMA segment per
	 * folio relies on it), and whether a large folio lies wholly in the
	 * range cannot be told cheaply from one of its mappings: split it.
	 */
	if (folio_test_large(folio)) {
		w->todo = MKTME_SPLIT;
		return 1;
	}
	/*
	 * The copy in swap would be the plaintext of memory that gets a key,
	 * and reclaim would drop the clean page for it: free the swap first.
	 */
	if (folio_test_swapcache(folio)) {
		w->todo = MKTME_FREE_SWAP;
		return 1;
	}
	return 0;
}

#ifdef CONFIG_ARCH_ENABLE_THP_MIGRATION
/*
 * Is a page of @folio poisoned?  memory_failure() marks the page before
 * it waits for the folio lock, and the folio only after.
 */
static bool mktme_folio_poisoned(struct folio *folio)
{
	long i;

	if (folio_test_has_hwpoisoned(folio))
		return true;
	for (i = 0; i < folio_nr_pages(folio); i++)
		if (PageHWPoison(folio_page(folio, i)))
			return true;
	return false;
}

/*
 * The huge page a walk finds mapped by @pmd (locked), as mktme_walk_page()
 * for a small one; with MKTME_FAULT for a huge page being migrated.
 */
static struct page *mktme_walk_pmd_page(pmd_t pmd, unsigned long addr,
					struct mm_walk *walk, int *ret)
{
	struct mktme_walk *w = walk->private;
	struct folio *folio;
	struct page *page;

	w->addr = addr;
	*ret = 0;
	if (is_pmd_migration_entry(pmd)) {
		w->todo = MKTME_FAULT;
		*ret = 1;
		return NULL;
	}
	/* NULL for the huge zero page */
	page = vm_normal_page_pmd(walk->vma, addr, pmd);
	if (!page || page_keyid(page) == w->keyid)
		return NULL;
	folio = page_folio(page);
	if (folio_maybe_dma_pinned(folio) || mktme_folio_poisoned(folio)) {
		*ret = -EBUSY;
		return NULL;
	}
	return page;
}

/* Does [addr, next) cover the whole huge page a PMD maps? */
static bool mktme_whole_pmd(unsigned long addr, unsigned long next)
{
	return !(addr & ~HPAGE_PMD_MASK) && next - addr == HPAGE_PMD_SIZE;
}

/*
 * A huge page wholly in the range keeps its PMD and is re-keyed whole; one
 * only partly in it straddles two KeyIDs' VMAs to be: the walk splits its
 * PMD (walk_pmd_range()) and mktme_prepare_pte() the folio.
 */
static int mktme_prepare_pmd(pmd_t *pmd, unsigned long addr,
			     unsigned long next, struct mm_walk *walk)
{
	spinlock_t *ptl = pmd_trans_huge_lock(pmd, walk->vma);
	struct mktme_walk *w = walk->private;
	struct page *page;
	int ret;

	if (!ptl)
		return 0;
	page = mktme_walk_pmd_page(*pmd, addr, walk, &ret);
	if (page && !mktme_whole_pmd(addr, next)) {
		spin_unlock(ptl);
		return 0;
	}
	walk->action = ACTION_CONTINUE;
	if (page && !PageAnonExclusive(page)) {
		w->todo = MKTME_UNSHARE;
		ret = 1;
	} else if (page && folio_test_swapcache(page_folio(page))) {
		w->todo = MKTME_FREE_SWAP;
		ret = 1;
	}
	spin_unlock(ptl);
	return ret;
}

#else
#define mktme_prepare_pmd	NULL
#endif

static const struct mm_walk_ops mktme_prepare_ops = {
	.pmd_entry = mktme_prepare_pmd,
	.pte_entry = mktme_prepare_pte,
	.walk_lock = PGWALK_WRLOCK,
};

/* Private anonymous memory: the only kind that gets KeyIDs */
static bool mktme_vma_suitable(struct vm_area_struct *vma)
{
	return vma_is_anonymous(vma) &&
	       !(vma->vm_flags & (VM_SHARED | VM_HUGETLB | VM_PFNMAP | VM_IO |
				  VM_MIXEDMAP | VM_DROPPABLE));
}

/*
 * Split the large folio mapped at @addr, or free the swap of the folio
 * there; -EBUSY if it cannot be done, -EAGAIN while the folio is isolated
 * (by a migration, which may wait for mmap_lock to let go of it).
 */
static int mktme_fix_folio(struct vm_area_struct *vma, unsigned long addr,
			   enum mktme_todo todo)
{
	struct folio_walk fw;
	struct folio *folio;
	bool isolated = false;
	int ret, tries;

	for (tries = 0; tries < 3; tries++) {
		folio = folio_walk_start(&fw, vma, addr, 0);
		if (!folio)
			return 0;
		folio_get(folio);
		folio_walk_end(&fw, vma);
		folio_lock(folio);
		if (todo == MKTME_SPLIT) {
			/* Split meanwhile by the deferred-split shrinker? */
			ret = folio_test_large(folio) ? split_folio(folio) : 0;
		} else {
			folio_wait_writeback(folio);
			ret = folio_free_swap(folio) || !folio_test_swapcache(folio) ? 0 : -EBUSY;
		}
		isolated = !folio_test_lru(folio);
		folio_unlock(folio);
		folio_put(folio);
		if (!ret)
			return 0;
		/* References held by per-CPU LRU batches */
		lru_add_drain_all();
	}
	return isolated ? -EAGAIN : -EBUSY;
}

/*
 * Before [start, end) changes KeyID: unshare pages shared copy-on-write
 * with other processes (after fork) or through KSM, bring swapped pages
 * back and free their swap, and split large folios not wholly in the
 * range or not mapped by a PMD.  The process cannot tell any of this from
 * before.  -EBUSY for a page pinned for DMA or a folio that cannot be
 * split or freed from swap, a fault's error, -EINTR for a fatal signal.
 */
static int mktme_prepare_pages(struct mm_struct *mm, unsigned long start,
			       unsigned long end, unsigned int keyid)
{
	struct mktme_walk w = { .keyid = keyid };
	struct vm_area_struct *vma;
	vm_fault_t fault;
	int ret;

	for (;;) {
		w.todo = MKTME_OK;
		ret = walk_page_range(mm, start, end, &mktme_prepare_ops, &w);
		if (ret < 0)
			return ret;
		if (w.todo == MKTME_OK)
			return 0;
		if (fatal_signal_pending(current))
			return -EINTR;
		vma = vma_lookup(mm, w.addr);
		if (w.todo == MKTME_SPLIT || w.todo == MKTME_FREE_SWAP) {
			ret = mktme_fix_folio(vma, w.addr, w.todo);
			if (ret)
				return ret;
		} else {
			fault = handle_mm_fault(vma, w.addr, w.todo == MKTME_UNSHARE ?
						FAULT_FLAG_UNSHARE : 0, NULL);
			if (fault & VM_FAULT_ERROR)
				return vm_fault_to_errno(fault, 0) ?: -EFAULT;
		}
		start = w.addr;
	}
}

/* The migration entry a frozen page sits behind, with its PTE's state */
static swp_entry_t mktme_frozen_entry(struct page *page, bool write,
				      bool young, bool dirty)
{
	swp_entry_t entry;

	if (write)
		entry = make_writable_migration_entry(page_to_pfn(page));
	else
		entry = make_readable_exclusive_migration_entry(page_to_pfn(page));
	if (young)
		entry = make_migration_entry_young(entry);
	if (dirty)
		entry = make_migration_entry_dirty(entry);
	return entry;
}

/*
 * Freezing: re-keying is all or nothing.  Each page of the range is
 * locked and unmapped, and must then have no reference beyond its mapping
 * (the protocol of KSM's write_protect_page()): once its PTE is cleared
 * and flushed, GUP-fast cannot take a new reference, and one taken before
 * shows in the count.  A pin (DMA), a reference held by vmsplice(),
 * zerocopy send or O_DIRECT would otherwise keep reading or writing the
 * page through its old KeyID.  The page stays behind a migration entry
 * until thawed: nothing can reach it (GUP-fast falls back to the slow path,
 * which waits for mmap_lock), the folio lock keeps reclaim, compaction and
 * other rmap walkers away, and the rmap is left as it was.  Thawing maps
 * it again, re-keyed to its VMA's KeyID: failing before any VMA changed
 * leaves every page as it was.
 */
static int mktme_freeze_pte(pte_t *ptep, unsigned long addr,
			    unsigned long next, struct mm_walk *walk)
{
	struct mktme_walk *w = walk->private;
	pte_t pte = ptep_get(ptep), frozen;
	struct folio *folio;
	swp_entry_t entry;
	struct page *page;
	int ret;

	/* Swapped out or being migrated since the preparing walk: again */
	page = mktme_walk_page(pte, addr, walk, &ret);
	if (!page)
		return ret;
	folio = page_folio(page);
	if (folio_test_large(folio) || !PageAnonExclusive(page)) {
		w->todo = MKTME_UNSHARE;
		return 1;
	}
	if (!folio_trylock(folio))
		goto passing;
	/* Tells thawing this migration entry from others' */
	if (!mktme_page_set_frozen(page, true)) {
		folio_unlock(folio);
		return -EBUSY;
	}
	if (folio_test_swapcache(folio)) {
		mktme_page_set_frozen(page, false);
		folio_unlock(folio);
		w->todo = MKTME_FREE_SWAP;
		return 1;
	}
	pte = ptep_clear_flush(walk->vma, addr, ptep);
	/* Only the mapping's reference: anything more is someone else's */
	if (folio_ref_count(folio) != 1) {
		set_pte_at(walk->mm, addr, ptep, pte);
		mktme_page_set_frozen(page, false);
		folio_unlock(folio);
		if (folio_maybe_dma_pinned(folio))
			return -EBUSY;
		/*
		 * Off the LRU: in a per-CPU LRU batch, or isolated by
		 * migration, compaction or reclaim, which let go soon.
		 */
		if (!folio_test_lru(folio))
			goto passing;
		w->todo = MKTME_HELD;
		return 1;
	}
	if (pte_dirty(pte))
		folio_mark_dirty(folio);
	entry = mktme_frozen_entry(page, pte_write(pte), pte_young(pte),
				   pte_dirty(pte));
	frozen = swp_entry_to_pte(entry);
	if (pte_soft_dirty(pte))
		frozen = pte_swp_mksoft_dirty(frozen);
	if (pte_uffd_wp(pte))
		frozen = pte_swp_mkuffd_wp(frozen);
	set_pte_at(walk->mm, addr, ptep, frozen);
	return 0;

passing:
	folio_get(folio);
	w->folio = folio;
	w->todo = MKTME_PASSING;
	return 1;
}

#ifdef CONFIG_ARCH_ENABLE_THP_MIGRATION
/*
 * A huge page wholly in the range is frozen whole, as mktme_freeze_pte().
 * Unlike a migration's, this PMD migration entry keeps the folio's
 * mapping, reference and rmap, and only the head page is marked frozen:
 * nothing may split or copy the entry until thawed.  Nothing does: the
 * folio lock keeps rmap walkers away, mmap_lock and the VMA locks held
 * for writing keep away everything that walks page tables, and the walks
 * here leave every huge PMD whole (ACTION_CONTINUE).  A VMA split falls
 * on the range's ends, never inside a PMD wholly in it.
 */
static int mktme_freeze_pmd(pmd_t *pmd, unsigned long addr,
			    unsigned long next, struct mm_walk *walk)
{
	spinlock_t *ptl = pmd_trans_huge_lock(pmd, walk->vma);
	struct mktme_walk *w = walk->private;
	struct vm_area_struct *vma = walk->vma;
	struct folio *folio;
	pmd_t orig, frozen;
	swp_entry_t entry;
	struct page *page;
	int ret;

	if (!ptl)
		return 0;
	walk->action = ACTION_CONTINUE;
	page = mktme_walk_pmd_page(*pmd, addr, walk, &ret);
	if (!page)
		goto unlock;
	folio = page_folio(page);
	ret = 1;
	/* Not as the preparing walk left it: prepare again */
	if (!mktme_whole_pmd(addr, next) || !PageAnonExclusive(page)) {
		w->todo = MKTME_UNSHARE;
		goto unlock;
	}
	if (!folio_trylock(folio))
		goto passing;
	if (!mktme_page_set_frozen(page, true)) {
		ret = -EBUSY;
		goto unlock_folio;
	}
	if (folio_test_swapcache(folio)) {
		w->todo = MKTME_FREE_SWAP;
		goto unfreeze;
	}
	orig = pmdp_huge_clear_flush(vma, addr, pmd);
	if (folio_ref_count(folio) != 1) {
		set_pmd_at(walk->mm, addr, pmd, orig);
		w->todo = MKTME_HELD;
		if (folio_maybe_dma_pinned(folio))
			ret = -EBUSY;
		else if (!folio_test_lru(folio))
			goto passing_unfreeze;
		goto unfreeze;
	}
	if (pmd_dirty(orig))
		folio_mark_dirty(folio);
	entry = mktme_frozen_entry(page, pmd_write(orig), pmd_young(orig),
				   pmd_dirty(orig));
	frozen = swp_entry_to_pmd(entry);
	if (pmd_soft_dirty(orig))
		frozen = pmd_swp_mksoft_dirty(frozen);
	if (pmd_uffd_wp(orig))
		frozen = pmd_swp_mkuffd_wp(frozen);
	set_pmd_at(walk->mm, addr, pmd, frozen);
	ret = 0;
	goto unlock;

passing_unfreeze:
	mktme_page_set_frozen(page, false);
	folio_unlock(folio);
passing:
	folio_get(folio);
	w->folio = folio;
	w->todo = MKTME_PASSING;
	goto unlock;
unfreeze:
	mktme_page_set_frozen(page, false);
unlock_folio:
	folio_unlock(folio);
unlock:
	spin_unlock(ptl);
	return ret;
}

#else
#define mktme_freeze_pmd	NULL
#endif

static const struct mm_walk_ops mktme_freeze_ops = {
	.pmd_entry = mktme_freeze_pmd,
	.pte_entry = mktme_freeze_pte,
	.walk_lock = PGWALK_WRLOCK,
};

/*
 * Map a frozen page again, re-keyed to its VMA's KeyID, with its VMA's
 * protection (which mprotect_fixup() may have changed meanwhile; it turns
 * writable migration entries into read-only ones).  A page thawed early
 * (arch_keyid_mprotect_fixup()) may be under migration again by the time the
 * rest of the range is thawed: its page says whether it is frozen.
 */
static int mktme_thaw_pte(pte_t *ptep, unsigned long addr,
			  unsigned long next, struct mm_walk *walk)
{
	struct vm_area_struct *vma = walk->vma;
	pte_t frozen = ptep_get(ptep), pte;
	struct folio *folio;
	swp_entry_t entry;
	struct page *page;

	if (!is_swap_pte(frozen))
		return 0;
	entry = pte_to_swp_entry(frozen);
	if (!is_migration_entry(entry))
		return 0;
	page = pfn_swap_entry_to_page(entry);
	folio = page_folio(page);
	/* Another's: a page thawed already, and migrated since */
	if (!mktme_page_frozen(page)) {
		/* Or a frozen huge page's, split: mktme_freeze_pmd() says never */
		VM_WARN_ON_ONCE_FOLIO(folio_test_large(folio) &&
				      mktme_page_frozen(&folio->page), folio);
		return 0;
	}
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	mktme_page_set_frozen(page, false);

	/* Poisoned while frozen (memory_failure() waits for the lock) */
	if (!PageHWPoison(page))
		mktme_page_rekey(page, vm_flags_keyid(vma->vm_flags));
	/* mk_pte() takes the KeyID from the page */
	pte = mk_pte(page, READ_ONCE(vma->vm_page_prot));
	if (!is_migration_entry_young(entry))
		pte = pte_mkold(pte);
	if (folio_test_dirty(folio) && is_migration_entry_dirty(entry))
		pte = pte_mkdirty(pte);
	if (pte_swp_soft_dirty(frozen))
		pte = pte_mksoft_dirty(pte);
	else
		pte = pte_clear_soft_dirty(pte);
	if (pte_swp_uffd_wp(frozen))
		pte = pte_mkuffd_wp(pte);
	else if ((vma->vm_flags & VM_WRITE) &&
		 (is_writable_migration_entry(entry) ||
		  can_change_pte_writable(vma, addr, pte)))
		pte = pte_mkwrite(pte, vma);
	set_pte_at(walk->mm, addr, ptep, pte);
	update_mmu_cache(vma, addr, ptep);
	folio_unlock(folio);
	return 0;
}

#ifdef CONFIG_ARCH_ENABLE_THP_MIGRATION
/*
 * A frozen huge page, as mktme_thaw_pte(); others' huge PMDs stay whole.
 * Its 512 pages are re-keyed with the PMD lock let go: nothing can change
 * the frozen entry meanwhile (see mktme_freeze_pmd()).
 */
static int mktme_thaw_pmd(pmd_t *pmd, unsigned long addr,
			  unsigned long next, struct mm_walk *walk)
{
	spinlock_t *ptl = pmd_trans_huge_lock(pmd, walk->vma);
	struct vm_area_struct *vma = walk->vma;
	pmd_t frozen, pmde;
	struct folio *folio;
	swp_entry_t entry;
	struct page *page;
	long i;

	if (!ptl)
		return 0;
	walk->action = ACTION_CONTINUE;
	frozen = *pmd;
	if (!is_pmd_migration_entry(frozen))
		goto unlock;
	entry = pmd_to_swp_entry(frozen);
	page = pfn_swap_entry_to_page(entry);
	if (!mktme_page_frozen(page))
		goto unlock;
	folio = page_folio(page);
	VM_WARN_ON_ONCE_FOLIO(!folio_test_locked(folio), folio);
	mktme_page_set_frozen(page, false);

	spin_unlock(ptl);
	/*
	 * Poisoned while frozen: reading it would be a machine check.  The
	 * folio keeps its KeyID, which its PMD then says; memory_failure()
	 * splits it once it has the lock.
	 */
	if (mktme_folio_poisoned(folio)) {
		pr_warn_ratelimited("mktme: %s[%d]: a poisoned huge page keeps its KeyID\n",
				    current->comm, task_pid_nr(current));
	} else {
		for (i = 0; i < folio_nr_pages(folio); i++) {
			mktme_page_rekey(folio_page(folio, i),
					 vm_flags_keyid(vma->vm_flags));
			cond_resched();
		}
	}
	spin_lock(ptl);
	pmde = mk_huge_pmd(page, READ_ONCE(vma->vm_page_prot));
	if (!is_migration_entry_young(entry))
		pmde = pmd_mkold(pmde);
	if (folio_test_dirty(folio) && is_migration_entry_dirty(entry))
		pmde = pmd_mkdirty(pmde);
	if (pmd_swp_soft_dirty(frozen))
		pmde = pmd_mksoft_dirty(pmde);
	else
		pmde = pmd_clear_soft_dirty(pmde);
	/* Made writable by its next write fault otherwise, as after migration */
	if (pmd_swp_uffd_wp(frozen))
		pmde = pmd_mkuffd_wp(pmde);
	else if ((vma->vm_flags & VM_WRITE) && is_writable_migration_entry(entry))
		pmde = pmd_mkwrite(pmde, vma);
	set_pmd_at(walk->mm, addr, pmd, pmde);
	update_mmu_cache_pmd(vma, addr, pmd);
	folio_unlock(folio);
unlock:
	spin_unlock(ptl);
	return 0;
}

#else
#define mktme_thaw_pmd	NULL
#endif

/* Only private anonymous VMAs are frozen: others' migration entries are real */
static int mktme_thaw_test(unsigned long start, unsigned long end,
			   struct mm_walk *walk)
{
	return !mktme_vma_suitable(walk->vma);
}

static const struct mm_walk_ops mktme_thaw_ops = {
	.pmd_entry = mktme_thaw_pmd,
	.pte_entry = mktme_thaw_pte,
	.test_walk = mktme_thaw_test,
	.walk_lock = PGWALK_WRLOCK,
};

static void mktme_thaw(struct mm_struct *mm, unsigned long start,
		       unsigned long end)
{
	if (start < end)
		walk_page_range(mm, start, end, &mktme_thaw_ops, NULL);
}

/*
 * Rounds of freezing before giving up on a page still held (-EBUSY), or on
 * pages passing by (-EAGAIN: a migration from another process may hold
 * them isolated until it gets mmap_lock, which the caller has to let go).
 */
#define MKTME_FREEZE_HELD	5
#define MKTME_FREEZE_PASSING	8

/*
 * Prepare and freeze every page of [start, end) whose KeyID is not @keyid;
 * on failure nothing is frozen and no page's KeyID has changed.  -EBUSY
 * for a page pinned, held by a device, poisoned, or holding references
 * beyond its mapping through every round; -EAGAIN for pages passing by.
 */
static int mktme_freeze(struct mm_struct *mm, unsigned long start,
			unsigned long end, unsigned int keyid)
{
	unsigned int held = 0, passing = 0;
	struct mmu_notifier_range range;
	struct mktme_walk w = { .keyid = keyid };
	int ret;

	/* This CPU's LRU batch holds references to pages just faulted in */
	lru_add_drain();
	for (;;) {
		ret = mktme_prepare_pages(mm, start, end, keyid);
		if (ret)
			return ret;
		w.todo = MKTME_OK;
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, start, end);
		mmu_notifier_invalidate_range_start(&range);
		ret = walk_page_range(mm, start, end, &mktme_freeze_ops, &w);
		mmu_notifier_invalidate_range_end(&range);
		if (!ret)
			return 0;
		mktme_thaw(mm, start, w.addr);
		if (w.todo == MKTME_PASSING) {
			/* Wait for whoever has it locked: migration copies it */
			folio_wait_locked(w.folio);
			folio_put(w.folio);
			w.folio = NULL;
		}
		if (ret < 0)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		if (w.todo == MKTME_HELD && ++held > MKTME_FREEZE_HELD)
			return -EBUSY;
		if (w.todo == MKTME_PASSING && ++passing > MKTME_FREEZE_PASSING)
			return -EAGAIN;
		/* References held by other CPUs' LRU batches */
		if (w.todo == MKTME_HELD || w.todo == MKTME_PASSING)
			lru_add_drain_all();
		cond_resched();
	}
}

/* How long a caller lets go of mmap_lock and tries again, at most */
#define MKTME_FREEZE_PATIENCE	HZ

/**
 * arch_keyid_mprotect_retry - should a freeze that met pages passing by retry
 * @deadline: 0 before the first retry; kept by the caller between retries
 *
 * Called with mmap_lock let go after -EAGAIN (a migration from another
 * process isolated pages, and may wait for mmap_lock before it copies
 * them).  Sleeps a jiffy so that the migration gets on.
 *
 * Return: 0 to try again; -EBUSY once about a second has passed; -EINTR
 * for a fatal signal.
 */
int arch_keyid_mprotect_retry(unsigned long *deadline)
{
	if (!*deadline)
		*deadline = jiffies + MKTME_FREEZE_PATIENCE;
	if (time_after(jiffies, *deadline))
		return -EBUSY;
	schedule_timeout_killable(1);
	return fatal_signal_pending(current) ? -EINTR : 0;
}

/* PR_MKTME_REKEY: freeze every private anonymous VMA of @mm, or none */
static int mktme_freeze_mm(struct mm_struct *mm, unsigned int keyid)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	int ret;

	for_each_vma(vmi, vma) {
		if (!mktme_vma_suitable(vma))
			continue;
		ret = mktme_freeze(mm, vma->vm_start, vma->vm_end, keyid);
		if (ret) {
			mktme_thaw(mm, 0, vma->vm_start);
			return ret;
		}
	}
	mm->context.mktme_frozen = true;
	return 0;
}

/**
 * arch_keyid_mprotect_check - can encrypt_mprotect() give [start, end) a KeyID
 * @mm: current->mm, locked for writing
 * @start: page-aligned start
 * @end: page-aligned end
 *
 * Return: 0; -ENOMEM for a hole in the range; -EINVAL for a VMA other
 * than private anonymous memory.
 */
int arch_keyid_mprotect_check(struct mm_struct *mm, unsigned long start,
			      unsigned long end)
{
	VMA_ITERATOR(vmi, mm, start);
	struct vm_area_struct *vma;
	unsigned long addr = start;

	for_each_vma_range(vmi, vma, end) {
		if (vma->vm_start > addr)
			return -ENOMEM;
		if (!mktme_vma_suitable(vma))
			return -EINVAL;
		addr = vma->vm_end;
	}
	return addr < end ? -ENOMEM : 0;
}

/**
 * arch_keyid_mprotect_prepare - freeze a range encrypt_mprotect() changes
 * @mm: current->mm, locked for writing
 * @start: page-aligned start
 * @end: page-aligned end
 * @keyid: the new KeyID, of a key the caller holds
 *
 * Called once the range passed arch_keyid_mprotect_check() and every check of
 * mprotect(), before any VMA changes.  Pages are prepared in ways the
 * process cannot tell from before (mktme_prepare_pages(): unshared,
 * brought back from swap, split from large folios the range cuts) and
 * frozen.
 * arch_keyid_mprotect_finish() must follow on success, whatever happens to the
 * VMAs meanwhile.
 *
 * Return: 0; -ENOMEM for no memory; -EBUSY for a page pinned for DMA or
 * holding other references (vmsplice(), zerocopy send), or a folio that
 * could not be split or freed from swap; -EINTR for a fatal signal; the
 * error of a fault that brought a page back from swap.  No page has
 * changed then.
 */
int arch_keyid_mprotect_prepare(struct mm_struct *mm, unsigned long start,
				unsigned long end, unsigned int keyid)
{
	bool user = mktme_mm_uses_keyid(mm, keyid);
	int ret;

	ret = mktme_mm_use_keyid(mm, keyid);
	if (ret)
		return ret;
	ret = mktme_freeze(mm, start, end, keyid);
	if (!ret)
		mm->context.mktme_frozen = true;
	else if (!user)
		mktme_mm_drop_keyid(mm, keyid);
	return ret;
}

/**
 * arch_keyid_mprotect_finish - thaw the range of arch_keyid_mprotect_prepare()
 * @mm: current->mm, locked for writing
 * @start: page-aligned start
 * @end: page-aligned end
 *
 * The pages mprotect_fixup() did not thaw (its VMA kept its flags, or the
 * loop stopped) are mapped again, each with its VMA's KeyID.
 */
void arch_keyid_mprotect_finish(struct mm_struct *mm, unsigned long start,
				unsigned long end)
{
	mktme_thaw(mm, start, end);
	mm->context.mktme_frozen = false;
}

/**
 * arch_keyid_mprotect_fixup - pages follow their VMA's new flags
 * @vma: the VMA, just given its new vm_flags by mprotect_fixup()
 * @start: page-aligned start within @vma
 * @end: page-aligned end within @vma
 * @oldflags: its flags before
 *
 * encrypt_mprotect() froze the range before any VMA changed: its pages in
 * [start, end) are re-keyed to @vma's KeyID and mapped now, before
 * mprotect_fixup() may populate them.  Another caller changing a KeyID
 * (setup_arg_pages(), for the stack of a process with a default key) has
 * the pages frozen and thawed here; one that cannot be frozen (another
 * kernel user holds it) keeps KeyID 0, and its PTE says so.
 */
void arch_keyid_mprotect_fixup(struct vm_area_struct *vma, unsigned long start,
			       unsigned long end, unsigned long oldflags)
{
	unsigned int keyid = vm_flags_keyid(vma->vm_flags);
	struct mm_struct *mm = vma->vm_mm;

	if (!mm->context.mktme_frozen) {
		if (keyid == vm_flags_keyid(oldflags))
			return;
		if (mktme_freeze(mm, start, end, keyid)) {
			pr_warn_ratelimited("mktme: %s[%d]: stack pages left unencrypted\n",
					    current->comm, task_pid_nr(current));
			return;
		}
	}
	mktme_thaw(mm, start, end);
}

/* A revoked key's memory: every access is SIGBUS, never a new page. */
static vm_fault_t mktme_revoked_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct mktme_revoked_vm_ops = {
	.fault = mktme_revoked_fault,
};

/* Tear down @mm's mappings of @keyid's memory; @mm stops using it. */
void mktme_revoke_mm(struct mm_struct *mm, unsigned int keyid)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;

	mmap_write_lock(mm);
	if (vm_flags_keyid(mm->def_flags) == keyid) {
		/* New anonymous memory is refused from now on */
		mm->def_flags &= ~VM_KEYID_MASK;
		set_bit(MMF_MKTME_REVOKED, &mm->flags);
	}
	for_each_vma(vmi, vma) {
		if (vm_flags_keyid(vma->vm_flags) != keyid || !vma_is_anonymous(vma))
			continue;
		/* Faults under the per-VMA lock must see the change too */
		vma_start_write(vma);
		zap_page_range_single(vma, vma->vm_start, vma->vm_end - vma->vm_start,
				      NULL);
		vma->vm_ops = &mktme_revoked_vm_ops;
		/*
		 * Never merged with another VMA (VM_DONTEXPAND is in
		 * VM_SPECIAL; merging does not compare vm_ops), nor grown.
		 * And no KeyID: a write fault allocates its copy-on-write
		 * page before the SIGBUS of ->fault, and the KeyID may
		 * belong to another key by then (nor would the page be
		 * flushed before the next key is programmed).
		 */
		vm_flags_mod(vma, VM_DONTEXPAND, VM_KEYID_MASK);
		vma_set_page_prot(vma);
	}
	mktme_mm_drop_keyid(mm, keyid);
	mmap_write_unlock(mm);
}

/**
 * mktme_revoke_keyid - secure erase of everything encrypted with @keyid
 * @keyid: the KeyID of a revoked or destroyed key
 * @alg: its algorithm, for the new key
 *
 * Every mm that uses the KeyID (users.c) has its mappings of the KeyID's
 * memory torn down (a later access is SIGBUS) and stops using it; the
 * caches are written back, and every package's key slot gets a fresh
 * random key before this returns.  The KeyID goes back to the pool once
 * its last page is freed (a page pinned for DMA keeps it until unpinned);
 * if the slot could not be reprogrammed, the KeyID is quarantined: never
 * used again.  The cost grows with the number of mms that use the KeyID,
 * not with the number of processes.
 *
 * Return: 0, or the error of reprogramming the slot.
 */
int mktme_revoke_keyid(unsigned int keyid, u32 alg)
{
	long before = atomic_long_read(&mktme_keyid_pages[keyid]);
	unsigned long mms;
	int ret;

	mms = mktme_revoke_users(keyid);
	atomic64_add(mms, &mktme_stats.revoked_mms);

	/* Pages still held in per-CPU LRU batches: free them now */
	lru_add_drain_all();
	/* No dirty line of the KeyID may reach DRAM after the new key */
	wbinvd_on_all_cpus();
	ret = mktme_program_keyid(keyid, MKTME_KEYID_SET_KEY_RANDOM, alg,
				  NULL, NULL, 0);
	atomic64_inc(&mktme_stats.erases);
	if (ret)
		atomic64_inc(&mktme_stats.erase_failures);
	atomic64_add(max(before - atomic_long_read(&mktme_keyid_pages[keyid]), 0L),
		     &mktme_stats.erased_pages);
	mktme_keyid_retire(keyid, !ret);
	return ret;
}

/*
 * New private anonymous memory of a process with a default key: refused
 * once the key is revoked, and for hugetlb pages, which MKTME does not
 * encrypt: the process would get plaintext memory where it expects its key.
 */
long mktme_mmap_check(unsigned long addr, unsigned long len,
		      unsigned long flags)
{
	struct mm_struct *mm = current->mm;

	if (!mktme_enabled() || !mm ||
	    (flags & MAP_TYPE) != MAP_PRIVATE || !(flags & MAP_ANONYMOUS))
		return 0;
	if (test_bit(MMF_MKTME_REVOKED, &mm->flags))
		return -EKEYREVOKED;
	if ((flags & MAP_HUGETLB) && vm_flags_keyid(READ_ONCE(mm->def_flags)))
		return -EOPNOTSUPP;
	return 0;
}

/* The mm of this process (pidfd -1), or of the one @pidfd refers to */
static struct mm_struct *mktme_target_mm(unsigned long pidfd, unsigned int mode)
{
	struct task_struct *task;
	struct mm_struct *mm;
	unsigned int f_flags;

	if ((int)pidfd == -1)
		return get_task_mm(current) ?: ERR_PTR(-EINVAL);
	task = pidfd_get_task(pidfd, &f_flags);
	if (IS_ERR(task))
		return ERR_CAST(task);
	mm = mm_access(task, mode);
	put_task_struct(task);
	return mm ?: ERR_PTR(-EINVAL);
}

/**
 * mktme_set_default_key - prctl(PR_SET_MKTME_KEY, serial, pidfd, flags)
 * @serial: an "mktme" key, or 0: new private anonymous memory gets its KeyID
 * @pidfd: the process, or -1 for this one
 * @flags: PR_MKTME_REKEY: move existing private anonymous memory too
 * @unused: must be 0
 *
 * Checks, in this order: flags (-EINVAL), the process (pidfd errors),
 * CAP_SYS_RESOURCE for another process (-EPERM), ptrace-attach rights on
 * it (-EACCES/-EPERM), a locked binding (-EPERM), the key (as
 * encrypt_mprotect()), pinned pages when re-keying (-EBUSY).
 *
 * A default key set on another process (an admin's binding) is locked:
 * the process cannot change it without CAP_SYS_RESOURCE.  Inherited
 * across fork and execve; a setuid or setgid execve() drops a binding the
 * process made itself, and its revoked state (mktme_exec_secure()).
 */
int mktme_set_default_key(unsigned long serial, unsigned long pidfd,
			  unsigned long flags, unsigned long unused)
{
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	unsigned long deadline = 0;
	int keyid, ret = 0;
	struct key *key;
	bool user;

	if (!mktme_enabled())
		return -ENODEV;
	if ((flags & ~PR_MKTME_REKEY) || unused || serial > INT_MAX)
		return -EINVAL;
	if ((int)pidfd != -1 && !capable(CAP_SYS_RESOURCE))
		return -EPERM;
	mm = mktme_target_mm(pidfd, PTRACE_MODE_ATTACH_REALCREDS);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	if ((int)pidfd == -1 && test_bit(MMF_MKTME_LOCKED, &mm->flags) &&
	    !capable(CAP_SYS_RESOURCE)) {
		ret = -EPERM;
		goto put_mm;
	}
	keyid = arch_keyid_get(serial, &key);
	if (keyid < 0) {
		ret = keyid;
		goto put_mm;
	}
again:
	if (mmap_write_lock_killable(mm)) {
		ret = -EINTR;
		goto put_key;
	}
	user = mktme_mm_uses_keyid(mm, keyid);
	ret = mktme_mm_use_keyid(mm, keyid);
	if (ret)
		goto unlock;
	if (flags & PR_MKTME_REKEY) {
		ret = mktme_freeze_mm(mm, keyid);
		if (ret) {
			/* Nothing changed: not a user because of this call */
			if (!user)
				mktme_mm_drop_keyid(mm, keyid);
			/* Pages isolated by a migration that waits for mmap_lock */
			if (ret == -EAGAIN) {
				mmap_write_unlock(mm);
				ret = arch_keyid_mprotect_retry(&deadline);
				if (!ret)
					goto again;
				goto put_key;
			}
			goto unlock;
		}
	}
	mm->def_flags = (mm->def_flags & ~VM_KEYID_MASK) |
			((unsigned long)keyid << VM_KEYID_SHIFT);
	clear_bit(MMF_MKTME_REVOKED, &mm->flags);
	if ((int)pidfd != -1)
		set_bit(MMF_MKTME_LOCKED, &mm->flags);
	if (flags & PR_MKTME_REKEY) {
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma) {
			if (!mktme_vma_suitable(vma))
				continue;
			if (vm_flags_keyid(vma->vm_flags) != keyid) {
				vma_start_write(vma);
				vm_flags_reset(vma, (vma->vm_flags & ~VM_KEYID_MASK) |
						    ((unsigned long)keyid << VM_KEYID_SHIFT));
				vma_set_page_prot(vma);
			}
			mktme_thaw(mm, vma->vm_start, vma->vm_end);
		}
		mm->context.mktme_frozen = false;
	}
unlock:
	mmap_write_unlock(mm);
put_key:
	arch_keyid_put(key);
put_mm:
	mmput(mm);
	return ret;
}

/*
 * A setuid or setgid execve(), on the new mm: the program gets neither a
 * default key the process chose for itself nor its revoked state, with
 * which the caller could make the program fail where it likes.  An
 * admin's binding (locked) stays: the admin chose it, not the caller.
 */
void mktme_exec_secure(struct mm_struct *mm)
{
	unsigned int keyid;

	if (!mktme_enabled() || test_bit(MMF_MKTME_LOCKED, &mm->flags))
		return;
	mmap_write_lock(mm);
	keyid = vm_flags_keyid(mm->def_flags);
	mm->def_flags &= ~VM_KEYID_MASK;
	clear_bit(MMF_MKTME_REVOKED, &mm->flags);
	if (keyid)
		mktme_mm_drop_keyid(mm, keyid);
	mmap_write_unlock(mm);
}

/* prctl(PR_GET_MKTME_KEY, pidfd): the default key's serial, 0 for none */
int mktme_get_default_key(unsigned long pidfd)
{
	struct mm_struct *mm;
	unsigned int keyid;
	int ret;

	if (!mktme_enabled())
		return -ENODEV;
	mm = mktme_target_mm(pidfd, PTRACE_MODE_READ_REALCREDS);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	keyid = vm_flags_keyid(READ_ONCE(mm->def_flags));
	if (test_bit(MMF_MKTME_REVOKED, &mm->flags))
		ret = -EKEYREVOKED;
	else
		ret = keyid ? mktme_keyid_serial(keyid) : 0;
	mmput(mm);
	return ret;
}

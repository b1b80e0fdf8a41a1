// SPDX-License-Identifier: GPL-2.0
/*
 * encrypt_mprotect(): moving the pages of anonymous VMAs to another KeyID
 * with their contents.
 *
 * The 2019 MKTME series zapped a range's pages when its KeyID changed, so
 * encrypt_mprotect() lost the data.  Here each present page is re-keyed in
 * place: its PTE is cleared and flushed, its plaintext read through the old
 * KeyID's alias, its lines flushed, the plaintext written back through the
 * new KeyID's alias, and the PTE set again with the new KeyID.  The caller
 * holds mmap_lock for writing, so no fault can see the page meanwhile;
 * pages shared with other processes are unshared first, so the change is
 * invisible to them.
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
};

struct mktme_walk {
	unsigned long addr;		/* where the walk stopped */
	enum mktme_todo todo;
	unsigned int keyid;
};

static int mktme_prepare_pte(pte_t *ptep, unsigned long addr,
			     unsigned long next, struct mm_walk *walk)
{
	struct mktme_walk *w = walk->private;
	pte_t pte = ptep_get(ptep);
	struct folio *folio;
	struct page *page;
	swp_entry_t entry;

	w->addr = addr;
	if (!pte_present(pte)) {
		/*
		 * Swapped pages come back in before their KeyID changes:
		 * one swap entry may be shared after fork, and all of its
		 * mappings must keep one KeyID (see mktme_swapin_folio_prep()).
		 * A page being migrated would come back with the old KeyID:
		 * the fault waits for the migration.
		 */
		if (!is_swap_pte(pte))
			return 0;
		entry = pte_to_swp_entry(pte);
		if (non_swap_entry(entry) && !is_migration_entry(entry))
			return 0;
		w->todo = MKTME_FAULT;
		return 1;
	}
	page = vm_normal_page(walk->vma, addr, pte);
	if (!page)
		return 0;
	folio = page_folio(page);
	/* A device may be writing it: re-keying would corrupt that. */
	if (folio_maybe_dma_pinned(folio))
		return -EBUSY;
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

static const struct mm_walk_ops mktme_prepare_ops = {
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
 * there; -EBUSY if it cannot be done.
 */
static int mktme_fix_folio(struct vm_area_struct *vma, unsigned long addr,
			   enum mktme_todo todo)
{
	struct folio_walk fw;
	struct folio *folio;
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
		folio_unlock(folio);
		folio_put(folio);
		if (!ret)
			return 0;
		/* References held by per-CPU LRU batches */
		lru_add_drain_all();
	}
	return -EBUSY;
}

/*
 * Before [start, end) changes KeyID: unshare pages shared copy-on-write
 * with other processes (after fork) or through KSM, bring swapped pages
 * back and free their swap, and split large folios.  The process cannot
 * tell any of this from before.  -EBUSY for a page pinned for DMA or a
 * folio that cannot be split or freed from swap, a fault's error, -EINTR
 * for a fatal signal.
 */
static int mktme_prepare_pages(struct mm_struct *mm, unsigned long start,
			       unsigned long end)
{
	struct mktme_walk w = { };
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

/**
 * mktme_mprotect_prepare - check a range before encrypt_mprotect() changes it
 * @mm: current->mm, locked for writing
 * @start: page-aligned start
 * @end: page-aligned end
 * @prot: the new protection
 * @keyid: the new KeyID, of a key the caller holds
 *
 * No KeyID or protection is changed when this fails.  Pages are prepared
 * first, in ways the process cannot tell from before (mktme_prepare_pages()):
 * unshared, brought back from swap, split from large folios.
 *
 * Return: 0; -ENOMEM for a hole in the range or no memory; -EINVAL for a
 * VMA other than private anonymous memory; -EACCES for a protection the
 * VMA may not get;
 * -EBUSY for a page pinned for DMA, or a folio that could not be split or
 * freed from swap; -EINTR for a fatal signal; the error of a fault that
 * brought a page back from swap.
 */
int mktme_mprotect_prepare(struct mm_struct *mm, unsigned long start,
			   unsigned long end, unsigned long prot,
			   unsigned int keyid)
{
	VMA_ITERATOR(vmi, mm, start);
	unsigned long want = calc_vm_prot_bits(prot, 0), addr = start;
	struct vm_area_struct *vma;
	int ret;

	for_each_vma_range(vmi, vma, end) {
		if (vma->vm_start > addr)
			return -ENOMEM;
		if (!mktme_vma_suitable(vma))
			return -EINVAL;
		/* VM_MAY* sit four bits above VM_READ, VM_WRITE, VM_EXEC */
		if ((want & ~(vma->vm_flags >> 4)) & VM_ACCESS_FLAGS)
			return -EACCES;
		addr = vma->vm_end;
	}
	if (addr < end)
		return -ENOMEM;
	ret = mktme_mm_use_keyid(mm, keyid);
	if (ret)
		return ret;

	return mktme_prepare_pages(mm, start, end);
}

static pte_t pte_set_keyid(pte_t pte, unsigned int keyid)
{
	return __pte((pte_val(pte) & ~mktme_keyid_mask) |
		     (pteval_t)keyid << mktme_keyid_shift);
}

static int mktme_rekey_pte(pte_t *ptep, unsigned long addr,
			   unsigned long next, struct mm_walk *walk)
{
	struct mktme_walk *w = walk->private;
	pte_t pte = ptep_get(ptep);
	struct page *page;

	if (!pte_present(pte)) {
		/*
		 * Being migrated since the preparing walk (compaction takes
		 * no mmap_lock): the page would come back with its old KeyID,
		 * under a VMA that promises the new one.  Wait and redo.
		 */
		if (is_swap_pte(pte) && is_migration_entry(pte_to_swp_entry(pte))) {
			w->addr = addr;
			return 1;
		}
		return 0;
	}
	page = vm_normal_page(walk->vma, addr, pte);
	/* The zero page and other special pages keep KeyID 0 */
	if (!page || page_keyid(page) == w->keyid)
		return 0;

	pte = ptep_clear_flush(walk->vma, addr, ptep);
	mktme_page_rekey(page, w->keyid);
	set_pte_at(walk->mm, addr, ptep, pte_set_keyid(pte, w->keyid));
	return 0;
}

static const struct mm_walk_ops mktme_rekey_ops = {
	.pte_entry = mktme_rekey_pte,
	.walk_lock = PGWALK_WRLOCK,
};

/**
 * mktme_vma_set_keyid - give [start, end) of @vma the KeyID in its vm_flags
 * @vma: the VMA, just given its new vm_flags by mprotect_fixup()
 * @start: page-aligned start within @vma
 * @end: page-aligned end within @vma
 *
 * Make vm_page_prot carry the new KeyID (PR_MKTME_REKEY changes vm_flags
 * directly), then move the present pages to it, and those being migrated
 * once their migration is done.  Huge PMDs are split by the page walk.
 */
void mktme_vma_set_keyid(struct vm_area_struct *vma, unsigned long start,
			 unsigned long end)
{
	struct mktme_walk w = { .keyid = vm_flags_keyid(vma->vm_flags) };
	struct mmu_notifier_range range;
	int ret;

	/* vm_page_prot follows vm_flags, KeyID included (pgprot_modify()) */
	vma_set_page_prot(vma);

	do {
		mmu_notifier_range_init(&range, MMU_NOTIFY_PROTECTION_VMA, 0,
					vma->vm_mm, start, end);
		mmu_notifier_invalidate_range_start(&range);
		ret = walk_page_range(vma->vm_mm, start, end, &mktme_rekey_ops, &w);
		mmu_notifier_invalidate_range_end(&range);
		/* A fault on a migration entry waits for the migration */
		if (ret == 1) {
			handle_mm_fault(vma, w.addr, 0, NULL);
			start = w.addr;
			cond_resched();
		}
	} while (ret == 1);
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
		/* Never merged with a VMA of the KeyID's next key, nor grown */
		vm_flags_set(vma, VM_DONTEXPAND);
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
	struct key *key;
	int keyid, ret = 0;

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
	keyid = mktme_key_get(serial, &key);
	if (keyid < 0) {
		ret = keyid;
		goto put_mm;
	}
	if (mmap_write_lock_killable(mm)) {
		ret = -EINTR;
		goto put_key;
	}
	ret = mktme_mm_use_keyid(mm, keyid);
	if (ret)
		goto unlock;
	if (flags & PR_MKTME_REKEY) {
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma) {
			if (!mktme_vma_suitable(vma))
				continue;
			ret = mktme_prepare_pages(mm, vma->vm_start, vma->vm_end);
			if (ret)
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
			if (!mktme_vma_suitable(vma) ||
			    vm_flags_keyid(vma->vm_flags) == keyid)
				continue;
			vma_start_write(vma);
			vm_flags_reset(vma, (vma->vm_flags & ~VM_KEYID_MASK) |
					    ((unsigned long)keyid << VM_KEYID_SHIFT));
			mktme_vma_set_keyid(vma, vma->vm_start, vma->vm_end);
		}
	}
unlock:
	mmap_write_unlock(mm);
put_key:
	mktme_key_put(key);
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

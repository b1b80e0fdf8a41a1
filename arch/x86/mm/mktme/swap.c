// SPDX-License-Identifier: GPL-2.0
/*
 * MKTME and swap.
 *
 * A swap device stores what the kernel reads through page_address(): for
 * an encrypted page, its plaintext.  So by default encrypted anonymous
 * memory is kept out of swap; /sys/kernel/mm/mktme/swap_plaintext lets the
 * admin allow it, for swap that is itself encrypted (dm-crypt) or when the
 * risk is accepted.  Revoking a key cannot erase what was written to swap.
 *
 * A page read back from swap into the swap cache lands in a folio that the
 * allocator gave KeyID 0 (swap readahead knows no VMA); before it is mapped
 * it is re-keyed in place to its VMA's KeyID.  All mappings of one swap
 * entry have the same KeyID: encrypt_mprotect() brings swapped pages back
 * and unshares them before it changes a range's KeyID.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/swap.h>

#include "mktme.h"

bool mktme_swap_plaintext;

/* Reclaim: may @folio be written to swap?  A folio has one KeyID. */
bool mktme_folio_may_swap(struct folio *folio)
{
	if (READ_ONCE(mktme_swap_plaintext) || !page_keyid(&folio->page))
		return true;
	atomic64_inc(&mktme_stats.swap_refused);
	return false;
}

/**
 * mktme_swapin_folio_prep - give a swap-cache folio its VMA's KeyID
 * @folio: the locked folio about to be mapped into @vma
 * @vma: the VMA
 *
 * Return: 0, or -EBUSY when the folio is mapped elsewhere under another
 * KeyID, which encrypt_mprotect() does not let happen.
 */
int mktme_swapin_folio_prep(struct folio *folio, struct vm_area_struct *vma)
{
	unsigned int keyid = vm_flags_keyid(vma->vm_flags);
	long i, n = folio_nr_pages(folio);

	/* All pages of a folio have one KeyID (mktme_prepare_pages()) */
	if (page_keyid(&folio->page) == keyid)
		return 0;
	if (WARN_ON_ONCE(folio_mapped(folio)))
		return -EBUSY;
	folio_wait_writeback(folio);
	for (i = 0; i < n; i++)
		mktme_page_rekey(folio_page(folio, i), keyid);
	atomic64_add(n, &mktme_stats.swapin_rekeyed);
	return 0;
}

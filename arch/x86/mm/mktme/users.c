// SPDX-License-Identifier: GPL-2.0
/*
 * The users of each KeyID: which mms may map it, so that revocation
 * reaches every one of them, and so that a key lives as long as the
 * memory encrypted with it.
 *
 * An mm becomes a user of a KeyID when encrypt_mprotect() or a default key
 * gives it the KeyID, and passes that on to the mm fork() makes and, for
 * a default key, to the mm execve() builds, once that mm is complete (the
 * list holds complete mms only).  It stays a user until it is
 * torn down or the key is revoked.  Each user holds a reference to the
 * key, so unlinking the key from every keyring erases nothing in use.
 *
 * The users of every KeyID are on one list, each with a bitmap of its
 * KeyIDs, under mktme_users_lock.  A bit is set only by someone who holds
 * the key's semaphore for reading (encrypt_mprotect(), the prctl) or who
 * copies it from an mm that has it, under a lock revocation takes:
 * fork() under the parent's mmap_lock (arch_dup_mmap()), execve() under
 * mktme_users_lock (mktme_exec_mm(), before exec_mmap()).
 * Revocation holds the key's semaphore for writing, so the set of users
 * can only shrink or gain children of users while it walks the list;
 * children are added at the tail, where the walk has yet to go.
 */
#include <linux/key.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "mktme.h"

static LIST_HEAD(mktme_users);
static DEFINE_SPINLOCK(mktme_users_lock);

static unsigned long *mktme_keyid_bitmap(void)
{
	return bitmap_zalloc(mktme_nr_keyids + 1, GFP_KERNEL_ACCOUNT);
}

/* Take a user's share in @keyid: a reference to its key. */
static void mktme_keyid_hold(unsigned int keyid)
{
	atomic_inc(&mktme_keyid_users[keyid]);
	key_get(mktme_keyid_owner(keyid));
}

/* Drop it; the KeyID may go back to the pool, the key be destroyed. */
static void mktme_keyid_unhold(unsigned int keyid)
{
	struct key *key = mktme_keyid_owner(keyid);

	if (atomic_dec_and_test(&mktme_keyid_users[keyid]))
		mktme_keyid_maybe_free(keyid);
	key_put(key);
}

/*
 * Put @mm on the list with the KeyIDs of @keyids, using @bitmap if it has
 * none yet; the lock is held.  Only complete mms are listed.
 */
static void mktme_users_add(struct mm_struct *mm, unsigned long *keyids,
			    unsigned long *bitmap)
{
	mm_context_t *ctx = &mm->context;
	unsigned int keyid;

	if (!ctx->mktme_keyids)
		ctx->mktme_keyids = bitmap;
	else
		bitmap_free(bitmap);
	if (list_empty(&ctx->mktme_node))
		list_add_tail(&ctx->mktme_node, &mktme_users);
	for_each_set_bit(keyid, keyids, mktme_nr_keyids + 1)
		if (!__test_and_set_bit(keyid, ctx->mktme_keyids))
			mktme_keyid_hold(keyid);
}

/* Whether @mm, locked, is a user of @keyid */
bool mktme_mm_uses_keyid(struct mm_struct *mm, unsigned int keyid)
{
	return mm->context.mktme_keyids && test_bit(keyid, mm->context.mktme_keyids);
}

/**
 * mktme_mm_use_keyid - make @mm a user of @keyid
 * @mm: locked for writing
 * @keyid: the KeyID of a key the caller holds (mktme_key_get())
 *
 * Return: 0, -ENOMEM, or -EKEYREVOKED for a KeyID being revoked.
 */
int mktme_mm_use_keyid(struct mm_struct *mm, unsigned int keyid)
{
	unsigned long *one, *bitmap = NULL;

	mmap_assert_write_locked(mm);
	if (!keyid || mktme_mm_uses_keyid(mm, keyid))
		return 0;
	/* Revocation holds the key's semaphore, which the caller holds */
	if (WARN_ON_ONCE(mktme_keyid_dead(keyid)))
		return -EKEYREVOKED;
	one = mktme_keyid_bitmap();
	if (!mm->context.mktme_keyids)
		bitmap = mktme_keyid_bitmap();
	if (!one || (!mm->context.mktme_keyids && !bitmap)) {
		bitmap_free(one);
		bitmap_free(bitmap);
		return -ENOMEM;
	}
	__set_bit(keyid, one);
	spin_lock(&mktme_users_lock);
	mktme_users_add(mm, one, bitmap);
	spin_unlock(&mktme_users_lock);
	bitmap_free(one);
	return 0;
}

/* @mm stops using @keyid: revoked, or its default key cleared. */
void mktme_mm_drop_keyid(struct mm_struct *mm, unsigned int keyid)
{
	bool held = false;

	spin_lock(&mktme_users_lock);
	if (mm->context.mktme_keyids)
		held = __test_and_clear_bit(keyid, mm->context.mktme_keyids);
	spin_unlock(&mktme_users_lock);
	if (held)
		mktme_keyid_unhold(keyid);
}

/*
 * A new mm, for fork() or execve(): nothing on the list yet, which holds
 * complete mms only.  One that copied a default KeyID gets its bitmap now,
 * while failing is still simple.
 */
int __mktme_mm_init(struct mm_struct *mm)
{
	mm->context.mktme_keyids = NULL;
	mm->context.mktme_frozen = false;
	INIT_LIST_HEAD(&mm->context.mktme_node);
	if (!vm_flags_keyid(mm->def_flags))
		return 0;
	mm->context.mktme_keyids = mktme_keyid_bitmap();
	return mm->context.mktme_keyids ? 0 : -ENOMEM;
}

/*
 * fork(), at the end of dup_mmap(): the child uses every KeyID the parent
 * does, and has the parent's default key as it is now.  Both mms are
 * locked for writing, so revocation of the parent is either done (its bits
 * are clear, its default key gone) or waits, and then finds the child.
 */
int __mktme_mm_dup(struct mm_struct *oldmm, struct mm_struct *mm)
{
	unsigned long *bitmap, *copy;

	mm->def_flags = (mm->def_flags & ~VM_KEYID_MASK) |
			(oldmm->def_flags & VM_KEYID_MASK);
	if (test_bit(MMF_MKTME_REVOKED, &oldmm->flags))
		set_bit(MMF_MKTME_REVOKED, &mm->flags);
	if (!oldmm->context.mktme_keyids)
		return 0;
	bitmap = mktme_keyid_bitmap();
	copy = mktme_keyid_bitmap();
	if (!bitmap || !copy) {
		bitmap_free(bitmap);
		bitmap_free(copy);
		return -ENOMEM;
	}
	spin_lock(&mktme_users_lock);
	bitmap_copy(copy, oldmm->context.mktme_keyids, mktme_nr_keyids + 1);
	mktme_users_add(mm, copy, bitmap);
	spin_unlock(&mktme_users_lock);
	bitmap_free(copy);
	return 0;
}

/*
 * execve(), the new mm complete, before it replaces current->mm: it uses
 * the default KeyID it copied from current->mm, unless that was revoked
 * since; then it gets the revoked state, as if it had copied it after.
 */
void mktme_exec_mm(struct mm_struct *mm)
{
	unsigned int keyid = vm_flags_keyid(mm->def_flags);
	struct mm_struct *parent = current->mm;

	if (!mktme_enabled() || !keyid || WARN_ON_ONCE(!mm->context.mktme_keyids))
		return;
	spin_lock(&mktme_users_lock);
	if (parent && parent->context.mktme_keyids &&
	    test_bit(keyid, parent->context.mktme_keyids)) {
		__set_bit(keyid, mm->context.mktme_keyids);
		mktme_keyid_hold(keyid);
		list_add_tail(&mm->context.mktme_node, &mktme_users);
	} else {
		mm->def_flags &= ~VM_KEYID_MASK;
		set_bit(MMF_MKTME_REVOKED, &mm->flags);
	}
	spin_unlock(&mktme_users_lock);
}

/* @mm is torn down (or was never used): it uses nothing any more. */
void __mktme_mm_exit(struct mm_struct *mm)
{
	unsigned long *keyids;
	unsigned int keyid;

	/* Set only while the mm is alive: most mms never take the lock */
	if (!READ_ONCE(mm->context.mktme_keyids))
		return;
	spin_lock(&mktme_users_lock);
	keyids = mm->context.mktme_keyids;
	mm->context.mktme_keyids = NULL;
	list_del_init(&mm->context.mktme_node);
	spin_unlock(&mktme_users_lock);
	if (!keyids)
		return;
	for_each_set_bit(keyid, keyids, mktme_nr_keyids + 1)
		mktme_keyid_unhold(keyid);
	bitmap_free(keyids);
}

/**
 * mktme_revoke_users - tear down @keyid's memory in every mm that uses it
 * @keyid: a KeyID whose key's semaphore the caller holds for writing
 *
 * An mm that is being torn down is skipped: it maps nothing any more.
 * The mm being revoked (mktme_revoke_mm()) stays on the list while the
 * walk holds it, so the walk goes on from there; mms forked meanwhile are
 * added behind it.
 *
 * Return: the number of mms revoked.
 */
unsigned long mktme_revoke_users(unsigned int keyid)
{
	struct mm_struct *mm, *held = NULL;
	unsigned long n = 0;

	spin_lock(&mktme_users_lock);
	list_for_each_entry(mm, &mktme_users, context.mktme_node) {
		if (!test_bit(keyid, mm->context.mktme_keyids) || !mmget_not_zero(mm))
			continue;
		spin_unlock(&mktme_users_lock);
		if (held)
			mmput(held);
		mktme_revoke_mm(mm, keyid);
		held = mm;
		n++;
		cond_resched();
		spin_lock(&mktme_users_lock);
	}
	spin_unlock(&mktme_users_lock);
	if (held)
		mmput(held);
	return n;
}

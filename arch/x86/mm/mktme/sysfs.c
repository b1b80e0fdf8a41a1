// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/mktme/: the KeyID geometry and the counters, one value a
 * file, and the swap and CPU hotplug policies; /sys/kernel/debug/mktme/keyids:
 * pages per KeyID in use; /sys/kernel/debug/mktme/phys: encrypted pages as
 * DRAM holds them.
 */
#include <linux/debugfs.h>
#include <linux/kobject.h>
#include <linux/security.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <asm/cacheflush.h>

#include "mktme.h"

#define MKTME_ATTR(name, fmt, expr)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, fmt "\n", expr);				\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

MKTME_ATTR(keyid_bits, "%u", mktme_geo.keyid_bits);
MKTME_ATTR(keyid_shift, "%u", mktme_keyid_shift);
MKTME_ATTR(nr_keyids, "%u", mktme_nr_keyids);
MKTME_ATTR(nr_tdx_keyids, "%u", mktme_geo.nr_tdx_keyids);
MKTME_ATTR(keyids_in_use, "%d", mktme_keyids_in_use());
MKTME_ATTR(keyids_draining, "%d", mktme_keyids_draining());
MKTME_ATTR(keyids_quarantined, "%d", mktme_keyids_quarantined());
MKTME_ATTR(erases, "%lld", atomic64_read(&mktme_stats.erases));
MKTME_ATTR(erase_failures, "%lld", atomic64_read(&mktme_stats.erase_failures));
MKTME_ATTR(revoked_mms, "%lld", atomic64_read(&mktme_stats.revoked_mms));
MKTME_ATTR(erased_pages, "%lld", atomic64_read(&mktme_stats.erased_pages));
MKTME_ATTR(cache_flushes, "%lld", atomic64_read(&mktme_stats.flushes));
MKTME_ATTR(pconfig_calls, "%lld", atomic64_read(&mktme_stats.pconfig_calls));
MKTME_ATTR(pconfig_failures, "%lld", atomic64_read(&mktme_stats.pconfig_failures));
MKTME_ATTR(pconfig_retries, "%lld", atomic64_read(&mktme_stats.pconfig_retries));
MKTME_ATTR(swap_refused, "%lld", atomic64_read(&mktme_stats.swap_refused));
MKTME_ATTR(swapin_rekeyed, "%lld", atomic64_read(&mktme_stats.swapin_rekeyed));

/* A 0/1 policy, writable by root: @get reads it, @set stores val */
#define MKTME_BOOL_ATTR(name, get, set)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%d\n", get);				\
}									\
static ssize_t name##_store(struct kobject *kobj,			\
			    struct kobj_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	bool val;							\
	int ret = kstrtobool(buf, &val);				\
									\
	if (ret)							\
		return ret;						\
	set;								\
	return count;							\
}									\
static struct kobj_attribute name##_attr = __ATTR_RW(name)

/* 1: encrypted anonymous memory may be swapped, as plaintext (mktme/swap.c) */
MKTME_BOOL_ATTR(swap_plaintext, READ_ONCE(mktme_swap_plaintext),
		WRITE_ONCE(mktme_swap_plaintext, val));
/* 1: user keys programmed from now on keep their material (pconfig.c) */
MKTME_BOOL_ATTR(keep_user_keys, READ_ONCE(mktme_keep_user_keys),
		mktme_set_keep_user_keys(val));

static ssize_t algorithms_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s%s%s\n",
			  mktme_geo.algs & MKTME_ALG_AES_XTS_128 ? "aes-xts-128" : "",
			  mktme_geo.algs == (MKTME_ALG_AES_XTS_128 | MKTME_ALG_AES_XTS_256) ?
			  " " : "",
			  mktme_geo.algs & MKTME_ALG_AES_XTS_256 ? "aes-xts-256" : "");
}

static struct kobj_attribute algorithms_attr = __ATTR_RO(algorithms);

static struct attribute *mktme_attrs[] = {
	&keyid_bits_attr.attr,
	&keyid_shift_attr.attr,
	&nr_keyids_attr.attr,
	&nr_tdx_keyids_attr.attr,
	&algorithms_attr.attr,
	&keyids_in_use_attr.attr,
	&keyids_draining_attr.attr,
	&keyids_quarantined_attr.attr,
	&erases_attr.attr,
	&erase_failures_attr.attr,
	&revoked_mms_attr.attr,
	&erased_pages_attr.attr,
	&cache_flushes_attr.attr,
	&pconfig_calls_attr.attr,
	&pconfig_failures_attr.attr,
	&pconfig_retries_attr.attr,
	&swap_refused_attr.attr,
	&swapin_rekeyed_attr.attr,
	&swap_plaintext_attr.attr,
	&keep_user_keys_attr.attr,
	NULL,
};

static const struct attribute_group mktme_group = {
	.attrs = mktme_attrs,
};

/* "KEYID PAGES" for every KeyID with pages allocated */
static int keyids_show(struct seq_file *m, void *v)
{
	unsigned int id;
	long pages;

	seq_puts(m, "keyid pages\n");
	for (id = 1; id <= mktme_nr_keyids; id++) {
		pages = atomic_long_read(&mktme_keyid_pages[id]);
		if (pages)
			seq_printf(m, "%u %ld\n", id, pages);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(keyids);

/*
 * pread() at the physical address of an encrypted page: what DRAM holds
 * there, read through KeyID 0 without decryption, i.e. the ciphertext, up
 * to the end of the page; for tests and debugging.  Only anonymous pages
 * in use, held while they are read: a free page may be unmapped from the
 * KeyID aliases (debug_pagealloc) and reallocated under KeyID 0.  Pages
 * under KeyID 0 are refused (EPERM): this is no window on plaintext
 * memory; EAGAIN if the page changed KeyID meanwhile.
 */
static ssize_t phys_read(struct file *file, char __user *ubuf, size_t count,
			 loff_t *ppos)
{
	phys_addr_t pa = *ppos;
	unsigned long pfn = PHYS_PFN(pa);
	size_t n = min_t(size_t, count, PAGE_SIZE - offset_in_page(pa));
	struct folio *folio;
	unsigned int keyid;
	struct page *page;
	ssize_t ret;
	void *buf;

	if (*ppos < 0 || pa & mktme_keyid_mask || pfn >= max_pfn_mapped ||
	    !page_is_ram(pfn))
		return -EFAULT;
	page = pfn_to_online_page(pfn);
	if (!page)
		return -EFAULT;
	buf = kmalloc(n, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = -EFAULT;
	folio = page_folio(page);
	if (!folio_try_get(folio))
		goto out;
	ret = -EPERM;
	if (folio != page_folio(page) || !folio_test_anon(folio) ||
	    PageHWPoison(page))
		goto put;
	keyid = page_keyid(page);
	if (!keyid)
		goto put;
	/* DRAM holds what the page's KeyID last wrote back: write it back now */
	clflush_cache_range(mktme_keyid_address(pa, keyid), n);
	/* KeyID 0's alias of a page in use may be unmapped (debug_pagealloc) */
	ret = -EFAULT;
	if (copy_from_kernel_nofault(buf, __va(pa), n))
		goto put;
	/* Lines cached under KeyID 0 would outlive the page's next KeyID change */
	clflush_cache_range(__va(pa), n);
	ret = -EAGAIN;
	if (page_keyid(page) != keyid)
		goto put;
	ret = -EFAULT;
	if (copy_to_user(ubuf, buf, n))
		goto put;
	*ppos += n;
	ret = n;
put:
	folio_put(folio);
out:
	kfree_sensitive(buf);
	return ret;
}

static int phys_open(struct inode *inode, struct file *file)
{
	int ret = security_locked_down(LOCKDOWN_DEV_MEM);

	return ret ?: simple_open(inode, file);
}

static const struct file_operations phys_fops = {
	.owner = THIS_MODULE,
	.open = phys_open,
	.read = phys_read,
	.llseek = default_llseek,
};

int __init mktme_sysfs_init(void)
{
	struct kobject *kobj;
	struct dentry *dir;
	int ret;

	kobj = kobject_create_and_add("mktme", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kobj, &mktme_group);
	if (ret) {
		kobject_put(kobj);
		return ret;
	}
	dir = debugfs_create_dir("mktme", NULL);
	debugfs_create_file("keyids", 0400, dir, NULL, &keyids_fops);
	debugfs_create_file("phys", 0400, dir, NULL, &phys_fops);
	return 0;
}

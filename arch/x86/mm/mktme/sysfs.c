// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/mktme/: the KeyID geometry and the counters, one value a
 * file; /sys/kernel/debug/mktme/keyids: pages per KeyID in use.
 */
#include <linux/debugfs.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>

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
MKTME_ATTR(erases, "%lld", atomic64_read(&mktme_stats.erases));
MKTME_ATTR(erased_pages, "%lld", atomic64_read(&mktme_stats.erased_pages));
MKTME_ATTR(cache_flushes, "%lld", atomic64_read(&mktme_stats.flushes));
MKTME_ATTR(pconfig_calls, "%lld", atomic64_read(&mktme_stats.pconfig_calls));
MKTME_ATTR(pconfig_failures, "%lld", atomic64_read(&mktme_stats.pconfig_failures));
MKTME_ATTR(pconfig_retries, "%lld", atomic64_read(&mktme_stats.pconfig_retries));

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
	&erases_attr.attr,
	&erased_pages_attr.attr,
	&cache_flushes_attr.attr,
	&pconfig_calls_attr.attr,
	&pconfig_failures_attr.attr,
	&pconfig_retries_attr.attr,
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
	return 0;
}

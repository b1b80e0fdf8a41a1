// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the MKTME core: enumeration, programming KeyIDs on every
 * package, KeyID allocation, per-page KeyIDs and flush accounting, and
 * kernel access to encrypted pages, which must see plaintext while RAM
 * holds the AES-XTS ciphertext the kernel's own crypto API computes.
 */
#include <crypto/skcipher.h>
#include <kunit/test.h>
#include <linux/cpu.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/poison.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include <linux/unaligned.h>
#include <asm/cacheflush.h>
#include <asm/processor.h>
#include <asm/set_memory.h>

#include "mktme.h"

static const u8 test_key[32] = "MKTME KUnit data key, 32 bytes.";
static const u8 test_tweak[32] = "MKTME KUnit tweak key 32 bytes..";

static int mktme_test_init(struct kunit *test)
{
	if (!mktme_enabled())
		kunit_skip(test, "MKTME is not enabled (no TME-MK, or mktme=off)");
	/* Cases give pages KeyIDs they did not allocate: the hooks must run */
	static_branch_enable(&mktme_used);
	return 0;
}

static void mktme_test_enumeration(struct kunit *test)
{
	unsigned int phys = cpuid_eax(0x80000008) & 0xff;

	/* KeyIDs take the top bits of MAXPHYADDR */
	KUNIT_EXPECT_EQ(test, mktme_keyid_shift + mktme_geo.keyid_bits, phys);
	KUNIT_EXPECT_EQ(test, mktme_keyid_shift, boot_cpu_data.x86_phys_bits);
	KUNIT_EXPECT_EQ(test, mktme_keyid_mask,
			GENMASK_ULL(phys - 1, mktme_keyid_shift));
	KUNIT_EXPECT_GE(test, mktme_geo.max_keys, mktme_nr_keyids);
	KUNIT_EXPECT_LE(test, mktme_nr_keyids + mktme_geo.nr_tdx_keyids,
			(1U << mktme_geo.keyid_bits) - 1);
	KUNIT_EXPECT_NE(test, mktme_geo.algs, 0);
	/* No PFN bit may overlap a KeyID bit */
	KUNIT_EXPECT_EQ(test, PTE_PFN_MASK & mktme_keyid_mask, 0);
	KUNIT_EXPECT_NE(test, _PAGE_CHG_MASK & mktme_keyid_mask, 0);
}

static void mktme_test_keyid_ida(struct kunit *test)
{
	int a, b, c;

	a = mktme_keyid_alloc();
	b = mktme_keyid_alloc();
	KUNIT_ASSERT_GT(test, a, 0);
	KUNIT_ASSERT_GT(test, b, 0);
	KUNIT_EXPECT_NE(test, a, b);
	KUNIT_EXPECT_LE(test, b, (int)mktme_nr_keyids);
	mktme_keyid_free(a);
	c = mktme_keyid_alloc();
	KUNIT_EXPECT_EQ(test, c, a);
	mktme_keyid_free(b);
	mktme_keyid_free(c);
}

/*
 * An erased KeyID waits for its pages; one whose erasure failed is never
 * handed out again, and both are counted.
 */
static void mktme_test_keyid_retire_and_quarantine(struct kunit *test)
{
	int drained, bad, other, next, quarantined = mktme_keyids_quarantined();
	int in_use = mktme_keyids_in_use();
	struct page *page;

	drained = mktme_keyid_alloc();
	bad = mktme_keyid_alloc();
	KUNIT_ASSERT_GT(test, drained, 0);
	KUNIT_ASSERT_GT(test, bad, 0);
	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	mktme_page_change_keyid(page, drained);

	mktme_keyid_retire(drained, true);
	KUNIT_EXPECT_TRUE(test, mktme_keyid_dead(drained));
	mktme_keyid_quarantine(bad);
	KUNIT_EXPECT_EQ(test, mktme_keyids_quarantined(), quarantined + 1);
	/* A quarantined KeyID is not "in use": it keeps no CPU online */
	KUNIT_EXPECT_EQ(test, mktme_keyids_in_use(), in_use + 1);
	/* Neither is free: the lowest free KeyID is another */
	other = mktme_keyid_alloc();
	KUNIT_EXPECT_NE(test, other, drained);
	KUNIT_EXPECT_NE(test, other, bad);
	mktme_keyid_free(other);
	/* The page's going frees the drained one, never the quarantined */
	mktme_page_change_keyid(page, 0);
	__free_page(page);
	KUNIT_EXPECT_FALSE(test, mktme_keyid_dead(drained));
	next = mktme_keyid_alloc();
	KUNIT_EXPECT_EQ(test, next, min(drained, other));
	mktme_keyid_free(next);
}

/*
 * What DRAM holds at @pa, as a cold-boot attacker would see it: the page's
 * lines under @keyid written back first, then read through KeyID 0, whose
 * lines are dropped after.
 */
static void read_raw(phys_addr_t pa, unsigned int keyid, void *buf, size_t len)
{
	clflush_cache_range(mktme_keyid_address(pa, keyid), len);
	memcpy(buf, mktme_keyid_address(pa, 0), len);
	clflush_cache_range(mktme_keyid_address(pa, 0), len);
}

/* The kernel's AES-XTS of @len bytes at @pa, one data unit per line */
static int xts_expected(const u8 *key, const u8 *tweak, unsigned int klen,
			phys_addr_t pa, const u8 *in, u8 *out, size_t len)
{
	struct crypto_skcipher *tfm;
	struct skcipher_request *req;
	struct scatterlist sin, sout;
	DECLARE_CRYPTO_WAIT(wait);
	u8 both[64], iv[16];
	size_t off;
	int ret;

	tfm = crypto_alloc_skcipher("xts(aes)", 0, 0);
	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	memcpy(both, key, klen);
	memcpy(both + klen, tweak, klen);
	ret = crypto_skcipher_setkey(tfm, both, 2 * klen);
	req = skcipher_request_alloc(tfm, GFP_KERNEL);
	if (!req)
		ret = -ENOMEM;
	for (off = 0; !ret && off < len; off += 64) {
		memset(iv, 0, sizeof(iv));
		put_unaligned_le64((pa + off) >> 6, iv);
		sg_init_one(&sin, in + off, 64);
		sg_init_one(&sout, out + off, 64);
		skcipher_request_set_callback(req, 0, crypto_req_done, &wait);
		skcipher_request_set_crypt(req, &sin, &sout, 64, iv);
		ret = crypto_wait_req(crypto_skcipher_encrypt(req), &wait);
	}
	skcipher_request_free(req);
	crypto_free_skcipher(tfm);
	memzero_explicit(both, sizeof(both));
	return ret;
}

/*
 * Program a KeyID with a known key and check, on a page of every node (so
 * on every package's key table), that the kernel reads and writes it in
 * plaintext through page_address() while RAM holds exactly the AES-XTS
 * ciphertext.
 */
/* Packages with an online CPU: those PCONFIG programs now */
static s64 online_packages(void)
{
	unsigned int cpu, other;
	s64 n = 0;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		for_each_online_cpu(other)
			if (other >= cpu ||
			    topology_logical_package_id(other) == topology_logical_package_id(cpu))
				break;
		n += other >= cpu;
	}
	cpus_read_unlock();
	return n;
}

static void mktme_test_program_every_package(struct kunit *test)
{
	u32 alg = mktme_geo.algs & MKTME_ALG_AES_XTS_256 ? MKTME_ALG_AES_XTS_256
							  : MKTME_ALG_AES_XTS_128;
	unsigned int klen = alg == MKTME_ALG_AES_XTS_256 ? 32 : 16;
	s64 calls = atomic64_read(&mktme_stats.pconfig_calls);
	u8 *pt, *ct, *raw;
	int keyid, nid, nodes = 0, i;

	pt = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	ct = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	raw = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pt);
	KUNIT_ASSERT_NOT_NULL(test, ct);
	KUNIT_ASSERT_NOT_NULL(test, raw);
	for (i = 0; i < PAGE_SIZE; i++)
		pt[i] = i * 7 + 3;

	keyid = mktme_keyid_alloc();
	KUNIT_ASSERT_GT(test, keyid, 0);
	KUNIT_ASSERT_EQ(test, 0, mktme_program_keyid(keyid, MKTME_KEYID_SET_KEY_DIRECT,
						     alg, test_key, test_tweak, klen));
	KUNIT_EXPECT_GE(test, atomic64_read(&mktme_stats.pconfig_calls) - calls,
			online_packages());

	for_each_node_state(nid, N_MEMORY) {
		struct page *page = alloc_pages_node(nid, GFP_KERNEL | __GFP_THISNODE, 0);
		phys_addr_t pa;

		KUNIT_ASSERT_NOT_NULL(test, page);
		pa = page_to_phys(page);
		mktme_page_set_keyid(page, 0, keyid);
		KUNIT_EXPECT_EQ(test, page_keyid(page), keyid);
		KUNIT_EXPECT_PTR_EQ(test, page_address(page), mktme_keyid_address(pa, keyid));
		KUNIT_EXPECT_PTR_EQ(test, virt_to_page(page_address(page)), page);

		memcpy(page_address(page), pt, PAGE_SIZE);
		KUNIT_EXPECT_EQ_MSG(test, 0, memcmp(page_address(page), pt, PAGE_SIZE),
				    "node %d: page_address() does not read back plaintext", nid);
		read_raw(pa, keyid, raw, PAGE_SIZE);
		KUNIT_EXPECT_NE_MSG(test, 0, memcmp(raw, pt, 64),
				    "node %d: RAM holds plaintext", nid);
		KUNIT_ASSERT_EQ(test, 0, xts_expected(test_key, test_tweak, klen, pa,
						      pt, ct, PAGE_SIZE));
		KUNIT_EXPECT_EQ_MSG(test, 0, memcmp(raw, ct, PAGE_SIZE),
				    "node %d: RAM is not AES-XTS of the data", nid);

		/* kmap_local_page() is the same view */
		KUNIT_EXPECT_EQ(test, 0, memcmp(kmap_local_page(page), pt, 64));

		mktme_page_set_keyid(page, 0, 0);
		__free_page(page);
		nodes++;
	}
	KUNIT_EXPECT_GE(test, nodes, 1);

	/* CLEAR_KEY: the KeyID now writes plaintext, like KeyID 0 */
	KUNIT_ASSERT_EQ(test, 0, mktme_program_keyid(keyid, MKTME_KEYID_CLEAR_KEY, alg,
						     NULL, NULL, 0));
	for_each_node_state(nid, N_MEMORY) {
		struct page *page = alloc_pages_node(nid, GFP_KERNEL | __GFP_THISNODE, 0);

		KUNIT_ASSERT_NOT_NULL(test, page);
		mktme_page_set_keyid(page, 0, keyid);
		memcpy(page_address(page), pt, PAGE_SIZE);
		read_raw(page_to_phys(page), keyid, raw, PAGE_SIZE);
		KUNIT_EXPECT_EQ_MSG(test, 0, memcmp(raw, pt, PAGE_SIZE),
				    "node %d: a cleared KeyID still encrypts", nid);
		mktme_page_set_keyid(page, 0, 0);
		__free_page(page);
	}
	mktme_keyid_free(keyid);
}

/* A page's lines are flushed when, and only when, its KeyID changes. */
static void mktme_test_flush_accounting(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL);
	s64 f;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, page_keyid(page), 0);
	f = atomic64_read(&mktme_stats.flushes);
	mktme_page_set_keyid(page, 0, 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&mktme_stats.flushes), f + 1);
	mktme_page_set_keyid(page, 0, 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&mktme_stats.flushes), f + 1);
	mktme_page_set_keyid(page, 0, 2);
	KUNIT_EXPECT_EQ(test, atomic64_read(&mktme_stats.flushes), f + 2);
	mktme_page_set_keyid(page, 0, 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&mktme_stats.flushes), f + 3);
	__free_page(page);
}

/*
 * The allocator: a page allocated for a VMA's KeyID comes with it; freed, it
 * keeps it; allocated again for the same KeyID it needs no flush; allocated
 * for the kernel it goes back to KeyID 0.
 */
static void mktme_test_alloc_free(struct kunit *test)
{
	unsigned long vm_flags = 1UL << VM_KEYID_SHIFT;
	long pages = atomic_long_read(&mktme_keyid_pages[1]);
	struct page *page, *again;
	unsigned int cookie;
	s64 f;

	cookie = arch_alloc_page_for_vma_begin(vm_flags);
	KUNIT_EXPECT_EQ(test, cookie, 1);
	page = alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_ZERO);
	arch_alloc_page_for_vma_end(cookie, page, 0);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, page_keyid(page), 1);
	KUNIT_EXPECT_EQ(test, current->thread.mktme_alloc_keyid, 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&mktme_keyid_pages[1]), pages + 1);
	/* __GFP_ZERO zeroed it through KeyID 1 */
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(page_address(page), 0, PAGE_SIZE), NULL);

	__free_page(page);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&mktme_keyid_pages[1]), pages);
	/* Unless init_on_free or page_poison: see mktme_test_free_contents() */
	if (mktme_free_contents_matter()) {
		KUNIT_EXPECT_EQ(test, page_keyid(page), 0);
		return;
	}
	KUNIT_EXPECT_EQ(test, page_keyid(page), 1);

	f = atomic64_read(&mktme_stats.flushes);
	cookie = arch_alloc_page_for_vma_begin(vm_flags);
	again = alloc_page(GFP_HIGHUSER_MOVABLE);
	arch_alloc_page_for_vma_end(cookie, again, 0);
	KUNIT_ASSERT_NOT_NULL(test, again);
	if (again == page)
		KUNIT_EXPECT_EQ_MSG(test, atomic64_read(&mktme_stats.flushes), f,
				    "reuse under the same KeyID flushed");
	else
		kunit_info(test, "the allocator returned another page: reuse not checked");
	__free_page(again);

	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, page_keyid(page), 0);
	__free_page(page);
}

/* set_memory_*() on the direct map reaches every KeyID alias. */
static void mktme_test_set_memory_aliases(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL);
	unsigned long va;
	unsigned int level, keyid;
	pte_t *pte;

	KUNIT_ASSERT_NOT_NULL(test, page);
	va = (unsigned long)page_address(page);
	KUNIT_ASSERT_EQ(test, 0, set_memory_ro(va, 1));
	for (keyid = 1; keyid <= mktme_nr_keyids; keyid++) {
		pte = lookup_address((unsigned long)mktme_keyid_address(page_to_phys(page), keyid),
				     &level);
		KUNIT_ASSERT_NOT_NULL(test, pte);
		KUNIT_EXPECT_FALSE_MSG(test, pte_write(*pte),
				       "KeyID %u alias still writable", keyid);
		KUNIT_EXPECT_EQ(test, (u64)(pte_val(*pte) & mktme_keyid_mask),
				(u64)keyid << mktme_keyid_shift);
	}
	KUNIT_ASSERT_EQ(test, 0, set_memory_rw(va, 1));
	pte = lookup_address((unsigned long)mktme_keyid_address(page_to_phys(page), 1), &level);
	KUNIT_EXPECT_TRUE(test, pte && pte_write(*pte));
	__free_page(page);
}

/*
 * set_direct_map_*() (secretmem, vm_reset_perms()) take a page out of
 * every alias and put it back writable in every alias.
 */
static void mktme_test_set_direct_map_aliases(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL);
	unsigned int level, keyid;
	pte_t *pte;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, 0, set_memory_ro((unsigned long)page_address(page), 1));
	KUNIT_ASSERT_EQ(test, 0, set_direct_map_invalid_noflush(page));
	for (keyid = 1; keyid <= mktme_nr_keyids; keyid++) {
		pte = lookup_address((unsigned long)mktme_keyid_address(page_to_phys(page), keyid),
				     &level);
		KUNIT_EXPECT_FALSE_MSG(test, pte && pte_present(*pte),
				       "page still mapped in the KeyID %u alias", keyid);
	}
	KUNIT_ASSERT_EQ(test, 0, set_direct_map_default_noflush(page));
	for (keyid = 1; keyid <= mktme_nr_keyids; keyid++) {
		pte = lookup_address((unsigned long)mktme_keyid_address(page_to_phys(page), keyid),
				     &level);
		KUNIT_EXPECT_TRUE_MSG(test, pte && pte_present(*pte) && pte_write(*pte),
				      "KeyID %u alias not back to present and writable: %#llx",
				      keyid, pte ? (u64)pte_val(*pte) : 0);
	}
	__free_page(page);
}

/*
 * The aliases lie inside the direct map's region, below vmalloc space and
 * the struct pages, also where KASLR placed those (RANDOMIZE_MEMORY).
 */
static void mktme_test_aliases_in_direct_map_region(struct kunit *test)
{
	unsigned long end = (unsigned long)mktme_keyid_address(0, mktme_nr_keyids) +
			    BIT_ULL(mktme_keyid_shift) - 1;

	kunit_info(test, "direct map %#lx, aliases end %#lx, vmalloc %#lx, struct pages %#lx\n",
		   PAGE_OFFSET, end, VMALLOC_START, (unsigned long)VMEMMAP_START);
	KUNIT_EXPECT_LT_MSG(test, end, VMALLOC_START,
			    "aliases end at %#lx, vmalloc space starts at %#lx", end,
			    VMALLOC_START);
	KUNIT_EXPECT_LT_MSG(test, end, (unsigned long)VMEMMAP_START,
			    "aliases end at %#lx, the struct pages start at %#lx", end,
			    (unsigned long)VMEMMAP_START);
}

/* An alias address is a valid kernel address of its page. */
static void mktme_test_alias_virt_addr_valid(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL);
	void *alias;

	KUNIT_ASSERT_NOT_NULL(test, page);
	alias = mktme_keyid_address(page_to_phys(page), mktme_nr_keyids);
	KUNIT_EXPECT_TRUE(test, virt_addr_valid(alias));
	KUNIT_EXPECT_PTR_EQ(test, virt_to_page(alias), page);
	KUNIT_EXPECT_EQ(test, (u64)__pa(alias), (u64)page_to_phys(page));
	__free_page(page);
}

/*
 * Revocation reprograms the slot on every package: data written under the
 * old key, on a page of every node, no longer decrypts through the KeyID.
 */
static void mktme_test_revoke_erases_every_package(struct kunit *test)
{
	struct page *pages[MAX_NUMNODES];
	int keyid, nid, n = 0, i;
	u8 *pt;

	pt = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pt);
	memset(pt, 0x5a, PAGE_SIZE);
	keyid = mktme_keyid_alloc();
	KUNIT_ASSERT_GT(test, keyid, 0);
	KUNIT_ASSERT_EQ(test, 0, mktme_program_keyid(keyid, MKTME_KEYID_SET_KEY_RANDOM,
						     MKTME_ALG_AES_XTS_128, NULL, NULL, 0));
	for_each_node_state(nid, N_MEMORY) {
		pages[n] = alloc_pages_node(nid, GFP_KERNEL | __GFP_THISNODE, 0);
		KUNIT_ASSERT_NOT_NULL(test, pages[n]);
		mktme_page_set_keyid(pages[n], 0, keyid);
		memcpy(page_address(pages[n]), pt, PAGE_SIZE);
		KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(pages[n]), pt, PAGE_SIZE));
		n++;
	}
	KUNIT_ASSERT_EQ(test, 0, mktme_revoke_keyid(keyid, MKTME_ALG_AES_XTS_128));
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_NE_MSG(test, 0, memcmp(page_address(pages[i]), pt, 64),
				    "node %d: data still decrypts after revocation",
				    page_to_nid(pages[i]));
		mktme_page_set_keyid(pages[i], 0, 0);
		__free_page(pages[i]);
	}
}

/* Allocate a page as for a VMA with @keyid (0: none) */
static struct page *mktme_test_alloc_for(unsigned int keyid, gfp_t gfp)
{
	unsigned int cookie = arch_alloc_page_for_vma_begin((unsigned long)keyid <<
							    VM_KEYID_SHIFT);
	struct page *page = alloc_page(gfp);

	arch_alloc_page_for_vma_end(cookie, page, 0);
	return page;
}

/*
 * With init_on_free or page_poison the allocator relies on what a free
 * page holds: a page freed from an encrypted KeyID and allocated again,
 * for that KeyID and then for none, holds the zeroes (init_on_free) or
 * the poison pattern (page_poison) written at free, whatever KeyID it
 * is read through; the allocator itself reports a wrong pattern.
 */
static void mktme_test_free_contents(struct kunit *test)
{
	u32 alg = mktme_geo.algs & MKTME_ALG_AES_XTS_256 ? MKTME_ALG_AES_XTS_256
							  : MKTME_ALG_AES_XTS_128;
	unsigned int klen = alg == MKTME_ALG_AES_XTS_256 ? 32 : 16;
	int want = page_poisoning_enabled_static() ? PAGE_POISON : 0;
	struct page *page, *again;
	bool back = false;
	int keyid, tries, ret;

	if (!mktme_free_contents_matter())
		kunit_skip(test, "neither init_on_free nor page_poison: nothing to keep");
	/* A KeyID that encrypts (a cleared one would read like KeyID 0) */
	keyid = mktme_keyid_alloc();
	KUNIT_ASSERT_GT(test, keyid, 0);
	ret = mktme_program_keyid(keyid, MKTME_KEYID_SET_KEY_DIRECT, alg, test_key,
				  test_tweak, klen);
	KUNIT_EXPECT_EQ(test, ret, 0);
	/* Freed pages come back first from this CPU's list */
	migrate_disable();
	for (tries = 0; tries < 16 && !ret && !back; tries++) {
		page = mktme_test_alloc_for(keyid, GFP_HIGHUSER_MOVABLE);
		if (!page)
			break;
		memset(page_address(page), 0x5a, PAGE_SIZE);
		__free_page(page);
		/* Without __GFP_ZERO, which init_on_free skips anyway */
		again = mktme_test_alloc_for(keyid, GFP_HIGHUSER_MOVABLE);
		if (again == page) {
			KUNIT_EXPECT_EQ(test, page_keyid(again), keyid);
			KUNIT_EXPECT_PTR_EQ_MSG(test, memchr_inv(page_address(again), want,
								 PAGE_SIZE), NULL,
						"for the KeyID: not what was written at free");
			__free_page(again);
			again = mktme_test_alloc_for(0, GFP_HIGHUSER_MOVABLE);
			back = again == page;
		}
		if (back) {
			KUNIT_EXPECT_EQ(test, page_keyid(again), 0);
			KUNIT_EXPECT_PTR_EQ_MSG(test, memchr_inv(page_address(again), want,
								 PAGE_SIZE), NULL,
						"for none: not what was written at free");
		}
		if (again)
			__free_page(again);
	}
	migrate_enable();
	KUNIT_EXPECT_EQ(test, 0, mktme_program_keyid(keyid, MKTME_KEYID_CLEAR_KEY, alg,
						     NULL, NULL, 0));
	mktme_keyid_free(keyid);
	if (!ret && !back)
		kunit_skip(test, "the allocator did not give the freed page back");
}

static struct kunit_case mktme_test_cases[] = {
	KUNIT_CASE(mktme_test_enumeration),
	KUNIT_CASE(mktme_test_keyid_ida),
	KUNIT_CASE(mktme_test_keyid_retire_and_quarantine),
	KUNIT_CASE(mktme_test_program_every_package),
	KUNIT_CASE(mktme_test_flush_accounting),
	KUNIT_CASE(mktme_test_alloc_free),
	KUNIT_CASE(mktme_test_free_contents),
	KUNIT_CASE(mktme_test_set_memory_aliases),
	KUNIT_CASE(mktme_test_set_direct_map_aliases),
	KUNIT_CASE(mktme_test_alias_virt_addr_valid),
	KUNIT_CASE(mktme_test_aliases_in_direct_map_region),
	KUNIT_CASE(mktme_test_revoke_erases_every_package),
	{}
};

/*
 * Some cases give pages KeyID 1 without owning it, and free them with it:
 * write back what they left in the caches before a key is programmed
 * into KeyID 1 (a key's own pages are written back by its erasure).
 */
static void mktme_test_suite_exit(struct kunit_suite *suite)
{
	if (mktme_enabled())
		wbinvd_on_all_cpus();
}

static struct kunit_suite mktme_test_suite = {
	.name = "mktme",
	.init = mktme_test_init,
	.suite_exit = mktme_test_suite_exit,
	.test_cases = mktme_test_cases,
};

kunit_test_suite(mktme_test_suite);

MODULE_DESCRIPTION("KUnit tests for MKTME");
MODULE_LICENSE("GPL");

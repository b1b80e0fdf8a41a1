// SPDX-License-Identifier: GPL-2.0
/*
 * Intel Multi-Key Total Memory Encryption: enumeration, enabling, KeyIDs
 *
 * Firmware activates TME-MK and locks IA32_TME_ACTIVATE; the kernel reads
 * the KeyID geometry from it, takes the KeyID bits out of the physical
 * address mask, maps one alias of the direct mapping per KeyID and hands
 * KeyIDs out from an IDA.  See Documentation/arch/x86/mktme.rst.
 */
#define pr_fmt(fmt) "x86/mktme: " fmt

#include <linux/bitfield.h>
#include <linux/cpu.h>
#include <linux/idr.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/key.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/pgtable.h>
#include <asm/processor.h>
#include <asm/smp.h>

#include "mktme.h"

#define MSR_TME_CAPABILITY		0x981
#define MSR_TME_ACTIVATE		0x982

#define TME_ACTIVATE_LOCKED		BIT_ULL(0)
#define TME_ACTIVATE_ENABLED		BIT_ULL(1)
#define TME_ACTIVATE_KEYID_BITS		GENMASK_ULL(35, 32)
#define TME_ACTIVATE_TDX_KEYID_BITS	GENMASK_ULL(39, 36)
#define TME_ACTIVATE_CRYPTO_ALGS	GENMASK_ULL(63, 48)
#define TME_CAP_MAX_KEYS		GENMASK_ULL(50, 36)

#define CPUID_PCONFIG_LEAF		0x1b
#define PCONFIG_SUBLEAF_TYPE		GENMASK(11, 0)
#define PCONFIG_SUBLEAF_TARGETS		1
#define PCONFIG_TARGET_MKTME		1

unsigned int mktme_nr_keyids __ro_after_init;
unsigned int mktme_keyid_shift __ro_after_init;
phys_addr_t mktme_keyid_mask __ro_after_init;
phys_addr_t mktme_alias_mask __ro_after_init;
struct mktme_geometry mktme_geo __ro_after_init;
struct mktme_counters mktme_stats;
atomic_long_t *mktme_keyid_pages __ro_after_init;
atomic_t *mktme_keyid_users __ro_after_init;
/* mktme_in_use(): turned on before the first KeyID is handed out */
DEFINE_STATIC_KEY_FALSE(mktme_used);
EXPORT_SYMBOL(mktme_used);

static DEFINE_IDA(mktme_keyid_ida);
static atomic_t mktme_keyids_used = ATOMIC_INIT(0);
static struct key **mktme_keyid_owners __ro_after_init;
/* Revoked or erased: no user is left, and none may come */
static unsigned long *mktme_dead __ro_after_init;
/* Erased, waiting for their last user and page to go */
static unsigned long *mktme_draining __ro_after_init;
/* Erasing failed: never reused */
static unsigned long *mktme_quarantined __ro_after_init;
/* Pages outlived the erasure's WBINVD: lines may be cached still */
static unsigned long *mktme_unflushed __ro_after_init;

static bool mktme_off __initdata;

static int __init mktme_param(char *arg)
{
	if (!arg || strcmp(arg, "off"))
		return -EINVAL;
	mktme_off = true;
	return 0;
}
early_param("mktme", mktme_param);

static bool __init pconfig_has_mktme_target(void)
{
	unsigned int sub, eax, ebx, ecx, edx;

	if (boot_cpu_data.cpuid_level < CPUID_PCONFIG_LEAF)
		return false;
	for (sub = 0; ; sub++) {
		cpuid_count(CPUID_PCONFIG_LEAF, sub, &eax, &ebx, &ecx, &edx);
		if (!FIELD_GET(PCONFIG_SUBLEAF_TYPE, eax))
			return false;
		if (FIELD_GET(PCONFIG_SUBLEAF_TYPE, eax) == PCONFIG_SUBLEAF_TARGETS &&
		    (ebx == PCONFIG_TARGET_MKTME || ecx == PCONFIG_TARGET_MKTME ||
		     edx == PCONFIG_TARGET_MKTME))
			return true;
	}
}

/*
 * KeyID k's alias of the direct map lies k << mktme_keyid_shift above it
 * (page.c), and every physical address is below 1 << mktme_keyid_shift:
 * the aliases fit in the direct map's range, MAXMEM, if KeyIDs + 1 times
 * that do, whatever memory is added later.  With KeyIDs at bit 46
 * (MAXPHYADDR 52) that takes 5-level paging.
 */
static bool __init mktme_aliases_fit(unsigned int nr_keyids)
{
	u64 need = ((u64)nr_keyids + 1) << mktme_keyid_shift;

	if (need <= MAXMEM)
		return true;
	pr_warn("not enabled: the direct-map aliases of %u KeyIDs at bit %u need %llu TiB of address space, %d-level paging has %lu TiB\n",
		nr_keyids, mktme_keyid_shift, need >> 40, pgtable_l5_enabled() ? 5 : 4,
		MAXMEM >> 40);
	return false;
}

/*
 * Read the geometry firmware activated.  Called from the page_ext "need"
 * callback, before initcalls, and again by mktme_init(): the answer is
 * computed once.  MKTME is enabled only at the end of mktme_init().
 */
bool __init mktme_detect(void)
{
	static int detected = -1;
	struct mktme_geometry *g = &mktme_geo;
	u64 activate, cap, part;

	if (detected >= 0)
		return detected;
	detected = 0;

	/* detect_tme_early() cleared TME unless firmware locked it on */
	if (!boot_cpu_has(X86_FEATURE_TME))
		return false;
	rdmsrl(MSR_TME_ACTIVATE, activate);
	g->keyid_bits = FIELD_GET(TME_ACTIVATE_KEYID_BITS, activate);
	if (!g->keyid_bits) {
		pr_info("firmware enabled TME without KeyIDs\n");
		return false;
	}
	if (mktme_off) {
		pr_info("disabled by mktme=off\n");
		return false;
	}
	if (!boot_cpu_has(X86_FEATURE_PCONFIG) || !pconfig_has_mktme_target()) {
		pr_warn("%u KeyID bits but no PCONFIG MKTME target: KeyIDs cannot be programmed\n",
			g->keyid_bits);
		return false;
	}

	rdmsrl(MSR_TME_CAPABILITY, cap);
	g->max_keys = FIELD_GET(TME_CAP_MAX_KEYS, cap);
	g->tdx_keyid_bits = FIELD_GET(TME_ACTIVATE_TDX_KEYID_BITS, activate);
	g->algs = FIELD_GET(TME_ACTIVATE_CRYPTO_ALGS, activate) &
		  (MKTME_ALG_AES_XTS_128 | MKTME_ALG_AES_XTS_256);
	if (!g->algs) {
		pr_warn("firmware activated no AES-XTS algorithm for KeyIDs\n");
		return false;
	}

	/* MKTME KeyIDs come first, TDX private KeyIDs after them */
	if (!rdmsrl_safe(MSR_IA32_MKTME_KEYID_PARTITIONING, &part)) {
		g->nr_keyids = lower_32_bits(part);
		g->nr_tdx_keyids = upper_32_bits(part);
	} else {
		g->nr_keyids = (1U << (g->keyid_bits - g->tdx_keyid_bits)) - 1;
	}
	/* No more than the KeyID bits and the key table hold, whatever it says */
	g->nr_keyids = min3(g->nr_keyids, g->max_keys, (1U << g->keyid_bits) - 1);
	/* detect_tme_early() took the KeyID bits out of x86_phys_bits */
	mktme_keyid_shift = boot_cpu_data.x86_phys_bits;
	if (!g->nr_keyids) {
		pr_info("no KeyIDs left for MKTME (%u for TDX)\n", g->nr_tdx_keyids);
		return false;
	}
	if (!mktme_aliases_fit(g->nr_keyids))
		return false;
	mktme_alias_mask = GENMASK_ULL(mktme_keyid_shift + g->keyid_bits - 1,
				       mktme_keyid_shift);
	detected = 1;
	return true;
}

/*
 * With RANDOMIZE_MEMORY, kernel_randomize_memory() sizes the direct map's
 * region from the memory present; it must hold the KeyID aliases too.
 * Return: the virtual size of the direct map and its aliases, 0 when MKTME
 * will not be enabled.
 */
u64 __init mktme_direct_map_size(void)
{
	if (!mktme_detect())
		return 0;
	return ((u64)mktme_geo.nr_keyids + 1) << mktme_keyid_shift;
}

/*
 * Every KeyID's alias of the direct map is mapped at boot, for boot
 * memory: hot-added System RAM would have none, and page_address() of a
 * page given a KeyID there would point at nothing.  ZONE_DEVICE memory
 * (memremap_pages()) never reaches the page allocator: not refused.
 */
int mktme_memory_add_check(u64 start, u64 size)
{
	if (!mktme_enabled())
		return 0;
	pr_warn("memory hot-add of [mem %#010llx-%#010llx] refused: the KeyIDs' direct-map aliases cover boot memory only (boot with mktme=off to hot-add memory)\n",
		start, start + size - 1);
	return -EPERM;
}

u32 mktme_algorithms(void)
{
	return mktme_enabled() ? mktme_geo.algs : 0;
}

/*
 * Return: a free KeyID, -ENOSPC when all are taken, -ENODEV without MKTME,
 * -EBUSY when a package that owns memory has no online CPU to program it.
 * Once a KeyID is in use, the last online CPU of a package stays online
 * (pconfig.c).
 */
int mktme_keyid_alloc(void)
{
	int keyid;

	if (!mktme_enabled())
		return -ENODEV;
	cpus_read_lock();
	/* Before any page, VMA or mm can have a KeyID: the hooks go live */
	if (!static_key_enabled(&mktme_used))
		static_branch_enable_cpuslocked(&mktme_used);
	keyid = mktme_packages_online();
	if (!keyid) {
		keyid = ida_alloc_range(&mktme_keyid_ida, 1, mktme_nr_keyids, GFP_KERNEL);
		if (keyid > 0)
			atomic_inc(&mktme_keyids_used);
	}
	/*
	 * The key is about to be reprogrammed: no line the old key left in a
	 * cache (read from a pinned page after the erasure, say) may survive.
	 */
	if (keyid > 0 && test_and_clear_bit(keyid, mktme_unflushed))
		wbinvd_on_all_cpus();
	cpus_read_unlock();
	return keyid;
}

void mktme_keyid_free(int keyid)
{
	WRITE_ONCE(mktme_keyid_owners[keyid], NULL);
	clear_bit(keyid, mktme_dead);
	ida_free(&mktme_keyid_ida, keyid);
	atomic_dec(&mktme_keyids_used);
}

/* KeyIDs handed out and not given up for good (quarantined) */
int mktme_keyids_in_use(void)
{
	return atomic_read(&mktme_keyids_used) - mktme_keyids_quarantined();
}

/* The key whose KeyID this is: its users hold references to it. */
void mktme_keyid_set_owner(unsigned int keyid, struct key *key)
{
	WRITE_ONCE(mktme_keyid_owners[keyid], key);
}

struct key *mktme_keyid_owner(unsigned int keyid)
{
	return READ_ONCE(mktme_keyid_owners[keyid]);
}

/* For the key's /proc/keys line: pages allocated under the KeyID */
long mktme_keyid_nr_pages(unsigned int keyid)
{
	return atomic_long_read(&mktme_keyid_pages[keyid]);
}

/* ... and the processes (mms) that use it */
int mktme_keyid_nr_users(unsigned int keyid)
{
	return atomic_read(&mktme_keyid_users[keyid]);
}

/*
 * An erased KeyID goes back to the pool once nothing can reach it: no mm
 * uses it (users.c) and no page holds data under it.
 */
void mktme_keyid_maybe_free(unsigned int keyid)
{
	if (atomic_long_read(&mktme_keyid_pages[keyid]) ||
	    atomic_read(&mktme_keyid_users[keyid]))
		return;
	if (test_and_clear_bit(keyid, mktme_draining))
		mktme_keyid_free(keyid);
}

/* Revocation reached every user: none may start using the KeyID again. */
void mktme_keyid_kill(unsigned int keyid)
{
	set_bit(keyid, mktme_dead);
}

bool mktme_keyid_dead(unsigned int keyid)
{
	return test_bit(keyid, mktme_dead);
}

/*
 * The KeyID's key was erased (@erased), or erasing it failed: then some
 * package may still hold the key, and the KeyID is never used again.
 */
void mktme_keyid_retire(unsigned int keyid, bool erased)
{
	mktme_keyid_kill(keyid);
	if (!erased) {
		if (!test_and_set_bit(keyid, mktme_quarantined))
			pr_err("KeyID %u could not be erased: quarantined, never reused\n",
			       keyid);
		return;
	}
	set_bit(keyid, mktme_draining);
	if (atomic_long_read(&mktme_keyid_pages[keyid]) ||
	    atomic_read(&mktme_keyid_users[keyid]))
		set_bit(keyid, mktme_unflushed);
	mktme_keyid_maybe_free(keyid);
}

/* A KeyID that some package may hold a key for that nobody can erase */
void mktme_keyid_quarantine(unsigned int keyid)
{
	atomic64_inc(&mktme_stats.erase_failures);
	mktme_keyid_retire(keyid, false);
}

int mktme_keyids_draining(void)
{
	return bitmap_weight(mktme_draining, mktme_nr_keyids + 1);
}

int mktme_keyids_quarantined(void)
{
	return bitmap_weight(mktme_quarantined, mktme_nr_keyids + 1);
}

/*
 * A kernel started by kexec, for a crash dump say, finds the previous
 * kernel's keys still in the key tables: clear every KeyID before any is
 * handed out, so that none decrypts the memory the previous kernel left.
 * A KeyID that cannot be cleared is never handed out.
 */
static void __init mktme_clear_keyids(void)
{
	u32 alg = BIT(__ffs(mktme_geo.algs));
	unsigned int keyid;
	int ret;

	for (keyid = 1; keyid <= mktme_nr_keyids; keyid++) {
		ret = mktme_program_keyid(keyid, MKTME_KEYID_CLEAR_KEY, alg, NULL, NULL, 0);
		if (!ret)
			continue;
		pr_err("KeyID %u could not be cleared: %d\n", keyid, ret);
		if (ida_alloc_range(&mktme_keyid_ida, keyid, keyid, GFP_KERNEL) == keyid) {
			atomic_inc(&mktme_keyids_used);
			mktme_keyid_quarantine(keyid);
		}
	}
}

static int __init mktme_init(void)
{
	unsigned int nr = mktme_geo.nr_keyids;
	int ret;

	if (!mktme_detect())
		return 0;

	pr_info("%u KeyID bits at physical address bit %u: KeyIDs 1-%u for MKTME, %u for TDX; %s%s\n",
		mktme_geo.keyid_bits, mktme_keyid_shift, nr, mktme_geo.nr_tdx_keyids,
		mktme_geo.algs & MKTME_ALG_AES_XTS_128 ? "AES-XTS-128 " : "",
		mktme_geo.algs & MKTME_ALG_AES_XTS_256 ? "AES-XTS-256" : "");

	mktme_keyid_pages = kcalloc(nr + 1, sizeof(*mktme_keyid_pages), GFP_KERNEL);
	mktme_keyid_users = kcalloc(nr + 1, sizeof(*mktme_keyid_users), GFP_KERNEL);
	mktme_keyid_owners = kcalloc(nr + 1, sizeof(*mktme_keyid_owners), GFP_KERNEL);
	mktme_dead = bitmap_zalloc(nr + 1, GFP_KERNEL);
	mktme_draining = bitmap_zalloc(nr + 1, GFP_KERNEL);
	mktme_quarantined = bitmap_zalloc(nr + 1, GFP_KERNEL);
	mktme_unflushed = bitmap_zalloc(nr + 1, GFP_KERNEL);
	if (!mktme_keyid_pages || !mktme_keyid_users || !mktme_keyid_owners ||
	    !mktme_dead || !mktme_draining || !mktme_quarantined || !mktme_unflushed) {
		ret = -ENOMEM;
		goto fail;
	}
	/*
	 * Map the aliases while __pa() still maps their addresses to the
	 * KeyID-tagged physical addresses; from then on, __pa() strips the
	 * KeyID and PTEs carry it outside the physical address mask.
	 */
	ret = mktme_map_direct_aliases(nr);
	if (ret)
		goto fail;
	mktme_keyid_mask = GENMASK_ULL(mktme_keyid_shift + mktme_geo.keyid_bits - 1,
				       mktme_keyid_shift);
	mktme_narrow_physical_mask();
#ifdef CONFIG_RANDOMIZE_MEMORY
	/* The region KASLR sized for the aliases: memory is in KeyID 0's part */
	physmem_end = min_t(u64, physmem_end, BIT_ULL(mktme_keyid_shift) - 1);
#endif

	/* This turns on the allocator hooks and page_address() aliases. */
	WRITE_ONCE(mktme_nr_keyids, nr);
	if (mktme_hotplug_init())
		pr_warn("no CPU hotplug callback: keep a CPU of every package online\n");
	mktme_clear_keyids();
	mktme_sysfs_init();
	pr_info("enabled: %u KeyIDs\n", nr);
	return 0;
fail:
	pr_err("not enabled: %d\n", ret);
	kfree(mktme_keyid_pages);
	mktme_keyid_pages = NULL;
	kfree(mktme_keyid_users);
	kfree(mktme_keyid_owners);
	bitmap_free(mktme_dead);
	bitmap_free(mktme_draining);
	bitmap_free(mktme_quarantined);
	bitmap_free(mktme_unflushed);
	return ret;
}
arch_initcall(mktme_init);

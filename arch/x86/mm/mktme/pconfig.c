// SPDX-License-Identifier: GPL-2.0
/*
 * Programming KeyIDs with PCONFIG on every package
 *
 * Each package has its own key table and PCONFIG programs the table of
 * the package it runs on, so a KeyID is programmed by running PCONFIG on
 * one CPU of every package, with CPU hotplug held off.  A package with no
 * online CPU could be neither programmed nor erased: programming fails
 * while a package that owns memory has none, and while KeyIDs are in use
 * the last online CPU of a package cannot go offline.  When the first
 * CPU of a package comes online (a hot-added package, or one whose CPUs
 * were all offline), it programs every KeyID as the other packages have
 * it before it runs user code.
 */
#define pr_fmt(fmt) "x86/mktme: " fmt

#include <linux/bitmap.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/delay.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/topology.h>

#include "mktme.h"

#define PCONFIG_MKTME_KEY_PROGRAM	0

/* PCONFIG return codes */
#define PCONFIG_SUCCESS			0
#define PCONFIG_ENTROPY_ERROR		2
#define PCONFIG_DEVICE_BUSY		5

/* Busy key tables and drained entropy are transient: retry a little. */
#define PCONFIG_TRIES			10

/*
 * What each KeyID was last programmed with, for a package that comes
 * online later.  CPU keys get a fresh random key there; a user key needs
 * its material, which is kept only while mktme_keep_user_keys is set.
 * Written with CPU hotplug held off for reading and mktme_state_lock
 * held; read by the hotplug callback, which excludes both.
 */
struct mktme_keyid_state {
	enum mktme_command cmd;
	u32 alg;
	unsigned int key_len;
	u8 *material;		/* SET_KEY_DIRECT: key, then tweak */
};

static struct mktme_keyid_state *mktme_state;
static DEFINE_MUTEX(mktme_state_lock);
bool mktme_keep_user_keys;

static void mktme_record_keyid(u16 keyid, enum mktme_command cmd, u32 alg,
			       const u8 *key, const u8 *tweak, unsigned int key_len)
{
	struct mktme_keyid_state *st;

	if (!mktme_state)
		return;
	st = &mktme_state[keyid];
	mutex_lock(&mktme_state_lock);
	kfree_sensitive(st->material);
	st->material = NULL;
	st->cmd = cmd;
	st->alg = alg;
	st->key_len = key_len;
	if (cmd == MKTME_KEYID_SET_KEY_DIRECT && READ_ONCE(mktme_keep_user_keys)) {
		/* Without it, bringing a package online is refused: said then */
		st->material = kzalloc(2 * key_len, GFP_KERNEL);
		if (st->material) {
			memcpy(st->material, key, key_len);
			memcpy(st->material + key_len, tweak, key_len);
		}
	}
	mutex_unlock(&mktme_state_lock);
}

/* keep_user_keys off: the material kept so far is wiped too */
void mktme_set_keep_user_keys(bool keep)
{
	unsigned int keyid;

	mutex_lock(&mktme_state_lock);
	WRITE_ONCE(mktme_keep_user_keys, keep);
	for (keyid = 1; !keep && mktme_state && keyid <= mktme_nr_keyids; keyid++) {
		kfree_sensitive(mktme_state[keyid].material);
		mktme_state[keyid].material = NULL;
	}
	mutex_unlock(&mktme_state_lock);
}

/*
 * A CPU's package, also for a CPU that never ran: its cpuinfo has no
 * package yet, but its APIC ID, known from enumeration, tells it.
 */
static unsigned int mktme_cpu_package(unsigned int cpu)
{
	int pkg = topology_get_logical_id(cpu_physical_id(cpu), TOPO_PKG_DOMAIN);

	return pkg < 0 ? topology_logical_package_id(cpu) : pkg;
}

/* Whether package @pkg has an online CPU other than @except */
static bool mktme_package_has_online_cpu(unsigned int pkg, unsigned int except)
{
	unsigned int cpu;

	for_each_online_cpu(cpu)
		if (cpu != except && mktme_cpu_package(cpu) == pkg)
			return true;
	return false;
}

struct pconfig_call {
	struct mktme_key_program *kp;
	u64 rax;
};

static u64 pconfig(u32 leaf, struct mktme_key_program *kp)
{
	u64 rax = leaf;

	/* PCONFIG: NP 0F 01 C5; ZF mirrors RAX != 0 */
	asm volatile(".byte 0x0f, 0x01, 0xc5"
		     : "+a" (rax) : "b" (kp) : "memory", "cc");
	return rax;
}

/* The one place that maps PCONFIG's results to errnos. */
static int pconfig_errno(u64 rax)
{
	switch (rax) {
	case PCONFIG_SUCCESS:
		return 0;
	case PCONFIG_DEVICE_BUSY:
		return -EBUSY;
	case PCONFIG_ENTROPY_ERROR:
		return -EAGAIN;
	default:
		pr_err_ratelimited("PCONFIG returned unexpected code %llu\n", rax);
		return -EIO;
	}
}

/* Fill PCONFIG's operand; @key and @tweak may be NULL */
static void mktme_fill_program(struct mktme_key_program *kp, u16 keyid,
			       enum mktme_command cmd, u32 alg, const u8 *key,
			       const u8 *tweak, unsigned int key_len)
{
	memset(kp, 0, sizeof(*kp));
	kp->keyid = keyid;
	kp->keyid_ctrl = cmd | alg << 8;
	if (key)
		memcpy(kp->key_field_1, key, key_len);
	if (tweak)
		memcpy(kp->key_field_2, tweak, key_len);
}

static void pconfig_on_this_package(void *arg)
{
	struct pconfig_call *call = arg;

	call->rax = pconfig(PCONFIG_MKTME_KEY_PROGRAM, call->kp);
}

/* One package: retry a busy key table or drained entropy, sleeping. */
static int pconfig_package(unsigned int cpu, struct pconfig_call *call)
{
	int try, ret;

	for (try = 0; try < PCONFIG_TRIES; try++) {
		if (try)
			usleep_range(10, 100);
		ret = smp_call_function_single(cpu, pconfig_on_this_package,
					       call, true);
		if (ret)
			return ret;
		atomic64_inc(&mktme_stats.pconfig_calls);
		if (call->rax == PCONFIG_SUCCESS)
			return 0;
		atomic64_inc(&mktme_stats.pconfig_failures);
		if (call->rax != PCONFIG_DEVICE_BUSY &&
		    call->rax != PCONFIG_ENTROPY_ERROR)
			break;
		atomic64_inc(&mktme_stats.pconfig_retries);
	}
	return pconfig_errno(call->rax);
}

/*
 * 0 if every package that owns memory has an online CPU to program its
 * key table with; -EBUSY if not (booted with maxcpus=, or its CPUs taken
 * offline while no KeyID was in use).  A package without memory, such as
 * a hot-added one, is programmed by its first CPU to come online.
 * Hotplug held.
 */
int mktme_packages_online(void)
{
	unsigned int cpu, pkg;
	int nid;

	for_each_present_cpu(cpu) {
		if (cpu_online(cpu))
			continue;
		pkg = mktme_cpu_package(cpu);
		nid = cpu_to_node(cpu);
		if (nid == NUMA_NO_NODE || !node_state(nid, N_MEMORY) ||
		    mktme_package_has_online_cpu(pkg, nr_cpu_ids))
			continue;
		pr_warn_ratelimited("package %u owns the memory of node %d but has no online CPU: KeyIDs cannot be programmed\n",
				    pkg, nid);
		return -EBUSY;
	}
	return 0;
}

/**
 * mktme_program_keyid - program a KeyID on every package
 * @keyid: the KeyID, 1..mktme_nr_keyids
 * @cmd: what to program
 * @alg: MKTME_ALG_AES_XTS_128 or _256, activated by firmware
 * @key: data key for MKTME_KEYID_SET_KEY_DIRECT, entropy mixed into the CPU's
 *	key for _RANDOM; may be NULL
 * @tweak: tweak key or entropy, likewise
 * @key_len: bytes of @key and @tweak
 *
 * Context: may sleep; takes the CPU hotplug lock.
 * Return: 0, or -EBUSY / -EAGAIN when a package stayed busy or short of
 * entropy, -EBUSY when a package that owns memory has no online CPU
 * (for a command other than MKTME_KEYID_CLEAR_KEY), -EIO on another
 * hardware error, -EINVAL for bad arguments.
 * After a failure some packages may hold the new key and others not: the
 * caller must not use the KeyID until it is programmed successfully.
 */
int mktme_program_keyid(u16 keyid, enum mktme_command cmd, u32 alg,
			const u8 *key, const u8 *tweak, unsigned int key_len)
{
	struct pconfig_call call = { };
	unsigned long *done;
	unsigned int cpu;
	int ret = 0;

	if (!mktme_enabled() || !keyid || keyid > mktme_nr_keyids ||
	    hweight32(alg) != 1 || !(alg & mktme_geo.algs) ||
	    key_len > MKTME_KEY_FIELD_SIZE)
		return -EINVAL;

	done = bitmap_zalloc(topology_max_packages(), GFP_KERNEL);
	/* kmalloc() aligns power-of-two sizes: the 256 PCONFIG requires */
	call.kp = kzalloc(sizeof(*call.kp), GFP_KERNEL);
	if (!done || !call.kp) {
		ret = -ENOMEM;
		goto out;
	}
	mktme_fill_program(call.kp, keyid, cmd, alg, key, tweak, key_len);

	cpus_read_lock();
	/*
	 * Clearing needs no package without an online CPU: its first CPU
	 * clears what is recorded cleared before it runs user code.
	 */
	if (cmd != MKTME_KEYID_CLEAR_KEY)
		ret = mktme_packages_online();
	if (!ret)
		mktme_record_keyid(keyid, cmd, alg, key, tweak, key_len);
	for_each_online_cpu(cpu) {
		if (ret)
			break;
		if (__test_and_set_bit(mktme_cpu_package(cpu), done))
			continue;
		ret = pconfig_package(cpu, &call);
	}
	cpus_read_unlock();
out:
	kfree_sensitive(call.kp);
	bitmap_free(done);
	return ret;
}

/*
 * CPU hotplug: the last online CPU of a package stays online while KeyIDs
 * are in use or draining, or the package's key table would miss their
 * erasure and reprogramming.  This also refuses suspend then: key tables
 * are not saved across it.
 */
static int mktme_cpu_down_prep(unsigned int cpu)
{
	unsigned int pkg = mktme_cpu_package(cpu);

	if ((!mktme_keyids_in_use() && !mktme_keyids_draining()) ||
	    mktme_package_has_online_cpu(pkg, cpu))
		return 0;
	pr_warn_ratelimited("CPU %u is the last online CPU of package %u, whose key table holds KeyIDs in use: it stays online\n",
			    cpu, pkg);
	return -EBUSY;
}

/*
 * The first CPU of a package to come online programs every KeyID as the
 * other packages have it, before the scheduler gives it user tasks
 * (CPUHP_AP_ONLINE_DYN runs before CPUHP_AP_ACTIVE): CPU keys get a fresh
 * random key, as any package's differs from the others', a user key its
 * kept material; without the material the CPU stays offline.  KeyIDs
 * never handed out are cleared, as at boot.
 */
static int mktme_cpu_online(unsigned int cpu)
{
	unsigned int pkg = mktme_cpu_package(cpu);
	struct pconfig_call call = { };
	struct mktme_keyid_state *st;
	unsigned int keyid, done;
	int ret = 0;

	if (mktme_package_has_online_cpu(pkg, cpu))
		return 0;
	call.kp = kzalloc(sizeof(*call.kp), GFP_KERNEL);
	if (!call.kp)
		return -ENOMEM;
	mutex_lock(&mktme_state_lock);
	/* All or nothing: refuse before the package holds any key */
	for (keyid = 1; keyid <= mktme_nr_keyids; keyid++) {
		st = &mktme_state[keyid];
		if (st->cmd == MKTME_KEYID_SET_KEY_DIRECT && !st->material) {
			pr_err("CPU %u cannot come online: package %u would need the user key of KeyID %u, whose material the kernel did not keep (/sys/kernel/mm/mktme/keep_user_keys)\n",
			       cpu, pkg, keyid);
			ret = -EPERM;
			goto out;
		}
	}
	for (keyid = 1; keyid <= mktme_nr_keyids; keyid++) {
		st = &mktme_state[keyid];
		mktme_fill_program(call.kp, keyid, st->cmd, st->alg, st->material,
				   st->material ? st->material + st->key_len : NULL,
				   st->key_len);
		ret = pconfig_package(cpu, &call);
		if (ret)
			break;
	}
	if (ret) {
		pr_err("CPU %u cannot come online: programming KeyID %u on package %u failed: %d\n",
		       cpu, keyid, pkg, ret);
		/* Leave no key behind on a package that stays offline */
		for (done = 1; done < keyid; done++) {
			mktme_fill_program(call.kp, done, MKTME_KEYID_CLEAR_KEY,
					   mktme_state[done].alg, NULL, NULL, 0);
			pconfig_package(cpu, &call);
		}
		goto out;
	}
	pr_info("package %u: %u KeyIDs programmed as on the other packages\n",
		pkg, mktme_nr_keyids);
out:
	mutex_unlock(&mktme_state_lock);
	kfree_sensitive(call.kp);
	return ret;
}

/* Before the KeyIDs are first programmed: every one is recorded */
int __init mktme_hotplug_init(void)
{
	u32 alg = BIT(__ffs(mktme_geo.algs));
	unsigned int keyid;
	int ret;

	mktme_state = kcalloc(mktme_nr_keyids + 1, sizeof(*mktme_state), GFP_KERNEL);
	if (!mktme_state)
		return -ENOMEM;
	for (keyid = 1; keyid <= mktme_nr_keyids; keyid++) {
		mktme_state[keyid].cmd = MKTME_KEYID_CLEAR_KEY;
		mktme_state[keyid].alg = alg;
	}
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "x86/mktme:online",
					mktme_cpu_online, mktme_cpu_down_prep);
	if (ret >= 0)
		return 0;
	kfree(mktme_state);
	mktme_state = NULL;
	return ret;
}

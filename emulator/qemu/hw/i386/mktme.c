/*
 * TME-MK (multi-key total memory encryption) engine model: key tables
 *
 * With TME-MK active, the top KeyID bits of a physical address select one
 * of the keys in the key table, and the memory controller encrypts every
 * line written through that KeyID.  The alias range [1 << shift,
 * 1 << phys_bits) reaches RAM at the address with the KeyID bits stripped,
 * through the caches (mktme-cache.c), and RAM holds ciphertext.
 *
 * - AES-XTS, one data unit per 64-byte line, tweak = address >> 6
 *   (KeyID bits excluded), K1 = KEY_FIELD_1, K2 = KEY_FIELD_2.
 * - KeyID 0 is TME bypass: plain RAM, never through this engine.
 * - One key table per package (socket): PCONFIG programs the executing
 *   CPU's package, and an access uses the table of the package that owns
 *   the address's NUMA node.
 * - A KeyID not programmed since reset uses a key drawn at reset, so it
 *   reads garbage; CLEAR_KEY and NO_ENCRYPT make a KeyID plaintext.
 * - Lines are cached tagged by KeyID and written back encrypted under their
 *   own KeyID; aliases through two KeyIDs are not coherent, as on
 *   hardware, and a detector reports the missing flushes (mktme-cache.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qemu/guest-random.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-misc-target.h"
#include "qapi/util.h"
#include "migration/blocker.h"
#include "trace.h"
#include "qapi/qapi-commands-misc-target.h"
#include "qapi/qmp/qdict.h"
#include "monitor/hmp-target.h"
#include "monitor/monitor.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "hw/i386/x86.h"
#include "hw/i386/pc.h"
#include "hw/pci/pci_host.h"
#include "hw/i386/mktme.h"
#include "hw/i386/mktme-xts.h"
#include "mktme-internal.h"
#include "sysemu/numa.h"
#include "sysemu/reset.h"
#include "sysemu/sysemu.h"
#include "sysemu/tcg.h"
#include "cpu.h"

static MktmeEngine *mktme;

MktmeEngine *mktme_engine(void)
{
    return mktme;
}

static const char *mktme_alg_name(uint32_t alg)
{
    return alg == MKTME_ALG_AES_XTS_256 ? "aes-xts-256" : "aes-xts-128";
}

const MktmeRange *mktme_range(MktmeEngine *e, hwaddr pa)
{
    for (unsigned i = 0; i < e->nr_ranges; i++) {
        if (pa >= e->ranges[i].start && pa < e->ranges[i].end) {
            return &e->ranges[i];
        }
    }
    return NULL;
}

/* The key for @keyid in @package's table, drawing reset keys lazily. */
MktmeKey *mktme_key(MktmeEngine *e, unsigned package, unsigned keyid)
{
    MktmeKey *k = &e->pkg[package].keys[keyid];

    if (!k->ready) {
        uint8_t rnd[2][32];

        qemu_guest_getrandom_nofail(rnd, sizeof(rnd));
        mktme_xts_setkey(&k->xts, rnd[0], rnd[1], 256);
        memset(rnd, 0, sizeof(rnd));
        k->ready = true;
        k->gen++;
    }
    return k;
}

bool mktme_key_encrypts(const MktmeKey *k)
{
    return k->state != MKTME_KEY_STATE_CLEAR &&
           k->state != MKTME_KEY_STATE_NO_ENCRYPT;
}

uint32_t mktme_key_program(unsigned package, uint16_t keyid, uint32_t cmd,
                           uint32_t alg, const uint8_t *key1,
                           const uint8_t *key2)
{
    MktmeEngine *e = mktme;
    MktmePackage *pkg;
    MktmeKey *k;
    uint8_t k1[32], k2[32];
    int bits = alg == MKTME_ALG_AES_XTS_256 ? 256 : 128;

    assert(e && package < e->nr_packages && keyid < (1u << e->keyid_bits));
    pkg = &e->pkg[package];
    k = &pkg->keys[keyid];
    pkg->pconfig_calls++;

    if (e->fault_count &&
        (e->fault == MKTME_FAULT_DEVICE_BUSY ||
         cmd == MKTME_CMD_SET_KEY_RANDOM)) {
        e->fault_count--;
        pkg->pconfig_failures++;
        trace_mktme_pconfig_fail(package, keyid,
                                 e->fault == MKTME_FAULT_DEVICE_BUSY ?
                                 "device-busy (injected)" :
                                 "entropy-error (injected)");
        return e->fault == MKTME_FAULT_DEVICE_BUSY ? MKTME_DEVICE_BUSY
                                                   : MKTME_ENTROPY_ERROR;
    }

    /* Lines still cached under the KeyID: the detector's, then the key's */
    mktme_cache_lock(e);
    mktme_cache_key_change(e, package, keyid);

    switch (cmd) {
    case MKTME_CMD_SET_KEY_DIRECT:
    case MKTME_CMD_SET_KEY_RANDOM:
        /* Only the bytes the algorithm needs are used. */
        memcpy(k1, key1, bits / 8);
        memcpy(k2, key2, bits / 8);
        if (cmd == MKTME_CMD_SET_KEY_RANDOM) {
            uint8_t rnd[2][32];

            qemu_guest_getrandom_nofail(rnd, sizeof(rnd));
            for (int i = 0; i < bits / 8; i++) {
                k1[i] ^= rnd[0][i];
                k2[i] ^= rnd[1][i];
            }
            memset(rnd, 0, sizeof(rnd));
        }
        mktme_xts_setkey(&k->xts, k1, k2, bits);
        memset(k1, 0, sizeof(k1));
        memset(k2, 0, sizeof(k2));
        k->ready = true;
        k->state = cmd == MKTME_CMD_SET_KEY_DIRECT ? MKTME_KEY_STATE_DIRECT
                                                   : MKTME_KEY_STATE_RANDOM;
        break;
    case MKTME_CMD_CLEAR_KEY:
        k->state = MKTME_KEY_STATE_CLEAR;
        break;
    case MKTME_CMD_NO_ENCRYPT:
        k->state = MKTME_KEY_STATE_NO_ENCRYPT;
        break;
    default:
        g_assert_not_reached();
    }
    k->alg = alg;
    k->gen++;
    k->programs++;
    mktme_cache_unlock(e);
    trace_mktme_pconfig(package, keyid, cmd, alg);
    return MKTME_PROG_SUCCESS;
}

static void mktme_reset(void *opaque)
{
    MktmeEngine *e = opaque;
    size_t n = 1u << e->keyid_bits;

    /* Keys are ephemeral: a reset forgets them all, and the caches. */
    mktme_cache_lock(e);
    mktme_cache_reset(e);
    for (unsigned p = 0; p < e->nr_packages; p++) {
        memset(e->pkg[p].keys, 0, n * sizeof(MktmeKey));
        e->pkg[p].pconfig_calls = e->pkg[p].pconfig_failures = 0;
    }
    e->fault_count = 0;
    mktme_cache_unlock(e);
}

/* The package of the first CPU on each NUMA node owns the node. */
static unsigned mktme_node_package(MachineState *ms, unsigned node)
{
    const CPUArchIdList *cpus = ms->possible_cpus;

    for (int i = 0; cpus && i < cpus->len; i++) {
        const CpuInstanceProperties *p = &cpus->cpus[i].props;

        if (p->has_node_id && p->node_id == node && p->has_socket_id) {
            return p->socket_id;
        }
    }
    return 0;
}

static void mktme_add_range(MktmeEngine *e, hwaddr start, hwaddr end,
                            unsigned package)
{
    if (start >= end) {
        return;
    }
    e->ranges = g_renew(MktmeRange, e->ranges, e->nr_ranges + 1);
    e->ranges[e->nr_ranges++] = (MktmeRange){ start, end, package };
}

/*
 * Lay out RAM as the x86 machines do: node after node from address 0,
 * continuing at 4 GiB past the PCI hole.
 */
static void mktme_map_ram(MktmeEngine *e, MachineState *ms)
{
    X86MachineState *x86ms = X86_MACHINE(ms);
    hwaddr below = x86ms->below_4g_mem_size;
    int nodes = ms->numa_state ? ms->numa_state->num_nodes : 0;
    hwaddr off = 0;

    for (int n = 0; n < MAX(nodes, 1); n++) {
        hwaddr size = nodes ? ms->numa_state->nodes[n].node_mem : ms->ram_size;
        unsigned pkg = nodes ? mktme_node_package(ms, n) : 0;
        hwaddr end = off + size;

        pkg = MIN(pkg, e->nr_packages - 1);
        mktme_add_range(e, MIN(off, below), MIN(end, below), pkg);
        mktme_add_range(e, 4 * GiB + MAX(off, below) - below,
                        4 * GiB + MAX(end, below) - below, pkg);
        off = end;
    }
}

static void mktme_machine_done(Notifier *n, void *unused)
{
    MktmeEngine *e = container_of(n, MktmeEngine, machine_done);
    MachineState *ms = MACHINE(qdev_get_machine());
    hwaddr limit = 1ULL << e->shift, top;
    Object *host;

    if (!object_dynamic_cast(OBJECT(ms), TYPE_X86_MACHINE)) {
        error_report("tme=on: the TME-MK model needs a PC machine");
        exit(1);
    }
    /* Linux refuses hot-added memory while TME-MK is in use */
    if (ms->maxram_size > ms->ram_size) {
        warn_report("tme=on: memory hot-added later (-m maxmem=) is not "
                    "encrypted: only boot memory is");
    }
    mktme_map_ram(e, ms);
    mktme_cache_machine_done(e);
    top = 0;
    for (unsigned i = 0; i < e->nr_ranges; i++) {
        top = MAX(top, e->ranges[i].end);
    }
    host = object_resolve_path_type("", TYPE_PCI_HOST_BRIDGE, NULL);
    if (host) {
        top = MAX(top, object_property_get_uint(host,
                                                PCI_HOST_PROP_PCI_HOLE64_END,
                                                NULL));
    }
    if (top > limit) {
        error_report("tme=on: guest memory and the 64-bit PCI hole end at "
                     "0x%" HWADDR_PRIx ", past 0x%" HWADDR_PRIx " where "
                     "KeyID 1 begins (phys-bits=%u, mktme-keyid-bits=%u); "
                     "use less memory, raise phys-bits or lower "
                     "mktme-keyid-bits", top, limit, e->phys_bits,
                     e->keyid_bits);
        exit(1);
    }
}

static MktmeEngine *mktme_engine_new(X86CPU *cpu, MktmeCheckMode check,
                                     Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    MktmeEngine *e = MKTME_ENGINE(object_new(TYPE_MKTME_ENGINE));
    size_t nkeys = 1u << cpu->mktme_keyid_bits;

    e->phys_bits = cpu->phys_bits;
    e->keyid_bits = cpu->mktme_keyid_bits;
    e->tdx_keyid_bits = cpu->mktme_tdx_keyid_bits;
    e->max_keys = cpu->mktme_keys ? cpu->mktme_keys : nkeys - 1;
    e->algs = (cpu->mktme_aes_xts_128 ? MKTME_ALG_AES_XTS_128 : 0) |
              (cpu->mktme_aes_xts_256 ? MKTME_ALG_AES_XTS_256 : 0);
    e->shift = e->phys_bits - e->keyid_bits;
    e->nr_packages = MAX(ms->smp.sockets, 1);
    e->pkg = g_new0(MktmePackage, e->nr_packages);
    for (unsigned p = 0; p < e->nr_packages; p++) {
        e->pkg[p].keys = g_new0(MktmeKey, nkeys);
    }

    object_property_add_child(OBJECT(ms), "mktme", OBJECT(e));
    object_unref(OBJECT(e));
    if (!mktme_cache_init(e, cpu->mktme_cache_pages, check, errp)) {
        return NULL;
    }
    /* The key tables and the caches are not in the migration stream. */
    error_setg(&e->migration_blocker, "TME-MK: the model's key tables and "
               "caches cannot be migrated or saved");
    if (migrate_add_blocker(e->migration_blocker, errp) < 0) {
        return NULL;
    }
    e->machine_done.notify = mktme_machine_done;
    qemu_add_machine_init_done_notifier(&e->machine_done);
    qemu_register_reset(mktme_reset, e);
    return e;
}

/* The KeyID bits the CPU supports: at least the activated ones */
static unsigned mktme_bits_supported(X86CPU *cpu)
{
    return MAX(cpu->mktme_max_keyid_bits, cpu->mktme_keyid_bits);
}

bool mktme_cpu_active(X86CPU *cpu)
{
    return cpu->mktme_fw != MKTME_FW_DISABLED && cpu->mktme_keyid_bits;
}

bool mktme_cpu_realize(X86CPU *cpu, Error **errp)
{
    CPUX86State *env = &cpu->env;
    unsigned k = cpu->mktme_keyid_bits, p = cpu->mktme_tdx_keyid_bits;
    int check;

    if (!(env->features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME)) {
        return true;
    }
    if (!tcg_enabled()) {
        error_setg(errp, "tme=on: TME-MK is modelled under TCG only");
        return false;
    }
    if (!(env->features[FEAT_8000_0001_EDX] & CPUID_EXT2_LM)) {
        error_setg(errp, "tme=on needs a 64-bit CPU (lm=on)");
        return false;
    }
    if (k > 15) {
        error_setg(errp, "mktme-keyid-bits=%u: must be 0 to 15", k);
        return false;
    }
    if (cpu->mktme_max_keyid_bits &&
        (cpu->mktme_max_keyid_bits < k || cpu->mktme_max_keyid_bits > 15)) {
        error_setg(errp, "mktme-max-keyid-bits=%u: must be mktme-keyid-bits "
                   "(%u) to 15", cpu->mktme_max_keyid_bits, k);
        return false;
    }
    if (!cpu->mktme_firmware || !strcmp(cpu->mktme_firmware, "locked")) {
        cpu->mktme_fw = MKTME_FW_LOCKED;
    } else if (!strcmp(cpu->mktme_firmware, "unlocked")) {
        cpu->mktme_fw = MKTME_FW_UNLOCKED;
    } else if (!strcmp(cpu->mktme_firmware, "disabled")) {
        cpu->mktme_fw = MKTME_FW_DISABLED;
    } else {
        error_setg(errp, "mktme-firmware=%s: must be locked, unlocked or "
                   "disabled", cpu->mktme_firmware);
        return false;
    }
    if (cpu->phys_bits < k + 32) {
        error_setg(errp, "mktme-keyid-bits=%u leaves %d of phys-bits=%u for "
                   "addresses, fewer than 32; raise phys-bits", k,
                   (int)cpu->phys_bits - (int)k, cpu->phys_bits);
        return false;
    }
    if (p && p >= k) {
        error_setg(errp, "mktme-tdx-keyid-bits=%u: must be less than "
                   "mktme-keyid-bits=%u", p, k);
        return false;
    }
    if (cpu->mktme_keys > (1u << mktme_bits_supported(cpu)) - 1) {
        error_setg(errp, "mktme-keys=%u: %u KeyID bits hold at most %u keys",
                   cpu->mktme_keys, mktme_bits_supported(cpu),
                   (1u << mktme_bits_supported(cpu)) - 1);
        return false;
    }
    if (!cpu->mktme_aes_xts_128 && !cpu->mktme_aes_xts_256) {
        error_setg(errp, "tme=on: at least one of mktme-aes-xts-128 and "
                   "mktme-aes-xts-256 must be on");
        return false;
    }

    check = cpu->mktme_check ? qapi_enum_parse(&MktmeCheckMode_lookup,
                                               cpu->mktme_check, -1, NULL)
                             : MKTME_CHECK_MODE_OFF;
    if (check < 0) {
        error_setg(errp, "mktme-check=%s: must be off, on or strict",
                   cpu->mktme_check);
        return false;
    }
    if (cpu->mktme_cache_pages < 16 || cpu->mktme_cache_pages > 1u << 20) {
        error_setg(errp, "mktme-cache-pages=%u: must be 16 to %u",
                   cpu->mktme_cache_pages, 1u << 20);
        return false;
    }

    if (!mktme_cpu_active(cpu)) {
        return true;            /* TME without KeyIDs: no engine */
    }
    if (!mktme) {
        mktme = mktme_engine_new(cpu, check, errp);
        return mktme != NULL;
    }
    if (mktme->phys_bits != cpu->phys_bits || mktme->keyid_bits != k ||
        mktme->tdx_keyid_bits != p ||
        mktme->max_keys != (cpu->mktme_keys ?: (1u << k) - 1)) {
        error_setg(errp, "tme=on: every CPU needs the same phys-bits and "
                   "TME-MK properties");
        return false;
    }
    return true;
}

MktmeInfo *qmp_query_mktme(Error **errp)
{
    MktmeEngine *e = mktme;
    MktmeInfo *info;

    if (!e) {
        error_setg(errp, "TME-MK is not enabled (no CPU has tme=on)");
        return NULL;
    }
    info = g_new0(MktmeInfo, 1);
    info->keyid_bits = e->keyid_bits;
    info->keyid_shift = e->shift;
    info->max_keys = e->max_keys;
    info->tdx_keyid_bits = e->tdx_keyid_bits;
    info->pending_count = e->fault_count;
    if (e->fault_count) {
        info->has_pending_fault = true;
        info->pending_fault = e->fault;
    }
    for (int p = e->nr_packages - 1; p >= 0; p--) {
        MktmePackageInfo *pi = g_new0(MktmePackageInfo, 1);

        pi->package = p;
        pi->pconfig_calls = e->pkg[p].pconfig_calls;
        pi->pconfig_failures = e->pkg[p].pconfig_failures;
        for (int id = (1 << e->keyid_bits) - 1; id > 0; id--) {
            const MktmeKey *k = &e->pkg[p].keys[id];
            MktmeKeyInfo *ki;

            if (!k->programs && !k->reads && !k->writes) {
                continue;
            }
            ki = g_new0(MktmeKeyInfo, 1);
            ki->keyid = id;
            ki->state = k->state;
            if (k->state == MKTME_KEY_STATE_DIRECT ||
                k->state == MKTME_KEY_STATE_RANDOM) {
                ki->has_algorithm = true;
                ki->algorithm = g_strdup(mktme_alg_name(k->alg));
            }
            ki->programs = k->programs;
            ki->reads = k->reads;
            ki->writes = k->writes;
            QAPI_LIST_PREPEND(pi->keys, ki);
        }
        QAPI_LIST_PREPEND(info->packages, pi);
    }
    mktme_cache_info(e, info);
    return info;
}

void qmp_x_mktme_inject_fault(MktmeFault error, uint32_t count, Error **errp)
{
    if (!mktme) {
        error_setg(errp, "TME-MK is not enabled (no CPU has tme=on)");
        return;
    }
    mktme->fault = error;
    mktme->fault_count = count;
}

void hmp_info_mktme(Monitor *mon, const QDict *qdict)
{
    g_autoptr(MktmeInfo) info = qmp_query_mktme(NULL);

    if (!info) {
        monitor_printf(mon, "TME-MK is not enabled (no CPU has tme=on)\n");
        return;
    }
    monitor_printf(mon, "KeyID bits %u at bit %u, %u keys, %u TDX KeyID "
                   "bits\n", info->keyid_bits, info->keyid_shift,
                   info->max_keys, info->tdx_keyid_bits);
    if (info->pending_count) {
        monitor_printf(mon, "next %u PCONFIGs fail with %s\n",
                       info->pending_count,
                       MktmeFault_str(info->pending_fault));
    }
    monitor_printf(mon, "cache: %u of %u pages, %" PRIu64 " fills, %" PRIu64
                   " lines written back, %" PRIu64 " evictions, %" PRIu64
                   " shootdowns\n", info->cache->resident,
                   info->cache->capacity, info->cache->fills,
                   info->cache->writebacks, info->cache->evictions,
                   info->cache->shootdowns);
    monitor_printf(mon, "missing flushes (check=%s): %" PRIu64 " (dirty-alias %"
                   PRIu64 ", stale %" PRIu64 ", dma %" PRIu64 ", pconfig %"
                   PRIu64 ", overwrite %" PRIu64 ")\n",
                   MktmeCheckMode_str(info->cache->check),
                   info->missing_flush->total, info->missing_flush->dirty_alias,
                   info->missing_flush->stale, info->missing_flush->dma,
                   info->missing_flush->pconfig,
                   info->missing_flush->overwrite);
    for (MktmePackageInfoList *p = info->packages; p; p = p->next) {
        monitor_printf(mon, "package %u: %" PRIu64 " PCONFIGs, %" PRIu64
                       " failed\n", p->value->package,
                       p->value->pconfig_calls, p->value->pconfig_failures);
        monitor_printf(mon, "  %5s  %-12s  %-11s  %8s  %12s  %12s\n", "KeyID",
                       "state", "algorithm", "programs", "reads", "writes");
        for (MktmeKeyInfoList *k = p->value->keys; k; k = k->next) {
            monitor_printf(mon, "  %5u  %-12s  %-11s  %8" PRIu64 "  %12"
                           PRIu64 "  %12" PRIu64 "\n", k->value->keyid,
                           MktmeKeyState_str(k->value->state),
                           k->value->algorithm ?: "-", k->value->programs,
                           k->value->reads, k->value->writes);
        }
    }
}

static const TypeInfo mktme_engine_info = {
    .name = TYPE_MKTME_ENGINE,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(MktmeEngine),
};

static void mktme_register_types(void)
{
    type_register_static(&mktme_engine_info);
}

type_init(mktme_register_types)

/*
 * TME-MK model: what the key tables (mktme.c) and the caches
 * (mktme-cache.c) share
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_MKTME_INTERNAL_H
#define HW_I386_MKTME_INTERNAL_H

#include "exec/memory.h"
#include "qapi/qapi-types-misc-target.h"
#include "hw/i386/mktme.h"
#include "hw/i386/mktme-xts.h"

#define MKTME_LINE          64
#define MKTME_PAGE          4096
#define MKTME_PAGE_LINES    (MKTME_PAGE / MKTME_LINE)

typedef struct MktmeKey {
    MktmeKeyState state;
    uint32_t alg;               /* ENC_ALG bit, for encrypting states */
    bool ready;                 /* @xts holds the key schedule */
    uint32_t gen;               /* bumped whenever the key changes */
    MktmeXts xts;
    uint64_t programs;
    uint64_t reads, writes;     /* lines read from and written to RAM */
} MktmeKey;

typedef struct MktmePackage {
    MktmeKey *keys;             /* indexed by KeyID, 1 << keyid_bits */
    uint64_t pconfig_calls, pconfig_failures;
} MktmePackage;

typedef struct MktmeRange {
    hwaddr start, end;
    unsigned package;
} MktmeRange;

typedef struct MktmeCache MktmeCache;

struct MktmeEngine {
    Object parent_obj;

    /* configuration, from the first CPU with tme=on */
    unsigned phys_bits, keyid_bits, tdx_keyid_bits, max_keys;
    uint32_t algs;

    unsigned nr_packages;
    MktmePackage *pkg;
    unsigned shift;             /* phys_bits - keyid_bits */

    /* RAM, by package; addresses elsewhere are passed through unencrypted */
    MktmeRange *ranges;
    unsigned nr_ranges;

    MktmeFault fault;
    uint32_t fault_count;

    MktmeCache *cache;

    Notifier machine_done;
    Error *migration_blocker;
};

MktmeEngine *mktme_engine(void);

const MktmeRange *mktme_range(MktmeEngine *e, hwaddr pa);
MktmeKey *mktme_key(MktmeEngine *e, unsigned package, unsigned keyid);
bool mktme_key_encrypts(const MktmeKey *k);

/*
 * The caches (mktme-cache.c).  The alias range [1 << shift, 1 << phys_bits)
 * is an IOMMU region: a CPU access maps a plaintext shadow of the page, a
 * line-tagged cache entry, straight into the softmmu TLB; devices, the page
 * walker and the monitor go through the engine one access at a time.
 */
bool mktme_cache_init(MktmeEngine *e, uint32_t capacity, MktmeCheckMode mode,
                      Error **errp);
void mktme_cache_machine_done(MktmeEngine *e);
/* With the cache lock held: drop every line, written back or not */
void mktme_cache_reset(MktmeEngine *e);
/* Held while a key changes: the caches use the keys without the BQL */
void mktme_cache_lock(MktmeEngine *e);
void mktme_cache_unlock(MktmeEngine *e);
/*
 * Before PCONFIG changes @keyid on @package, with the cache lock held:
 * report what is still cached under it.
 */
void mktme_cache_key_change(MktmeEngine *e, unsigned package, unsigned keyid);
void mktme_cache_info(MktmeEngine *e, MktmeInfo *info);

#endif

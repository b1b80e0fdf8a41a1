/*
 * TME-MK model: caches tagged by KeyID, and a missing-flush detector
 *
 * On TME-MK hardware a cache line is tagged with the whole physical
 * address, KeyID bits included, and nothing keeps the lines of one page
 * under two KeyIDs coherent: software writes back and invalidates a page's
 * lines under the old KeyID before using it under a new one.  This file
 * models those caches closely enough that a missing flush shows.
 *
 * Entries.  The cache holds whole pages, each tagged (KeyID, page) with a
 * valid and a dirty bit per 64-byte line.  An entry's plaintext lives in a
 * shadow page of host RAM that the softmmu TLB maps directly (the alias
 * range is an IOMMU region whose translation, for a CPU, is the shadow
 * page), so hot encrypted memory runs at plain TCG speed.  Stores are not
 * seen one by one: a line is dirty when its shadow differs from @pt, the
 * plaintext last exchanged with RAM, found out at every point where it
 * matters ("sync").  RAM's ciphertext at that time is kept in @ct, so a
 * change of memory behind the entry's back shows too.  Invalid lines of a
 * mapped entry still read their old plaintext, as they would if refetched
 * from unchanged memory.
 *
 * One KeyID per page is mapped.  When a CPU first touches a page through
 * KeyID B while KeyID A's entry for it is mapped, A's entry is unmapped
 * (its TLB entries shot down) and kept, so that each change of KeyID on a
 * page passes through here, where the lines are compared.
 *
 * Write-back: eviction (a bounded number of pages, clock order), CLFLUSH
 * and CLFLUSHOPT (write back and invalidate one line, in every package),
 * CLWB (write back), WBINVD and WBNOINVD (every line the executing
 * package holds), PCONFIG of the KeyID, and QMP x-mktme-writeback.  Each
 * writes dirty lines back to RAM encrypted under their own KeyID.  Device
 * DMA through a KeyID snoops that KeyID's lines, as x86 DMA is coherent;
 * DMA through KeyID 0 sees memory only.
 *
 * KeyID 0 (TME bypass) and KeyIDs programmed to be plaintext are not
 * cached: their accesses go to RAM, at full speed.  Missing flushes of
 * KeyID-0 lines before a page is used under another KeyID do not show.
 *
 * The detector counts, and with mktme-check=on reports, every violation:
 *  dirty-alias  a page is accessed through KeyID B while lines of it are
 *               dirty under KeyID A
 *  stale        a page is accessed through KeyID A whose cached lines'
 *               memory was written meanwhile (through another KeyID, by a
 *               device or through KeyID 0): they were never invalidated
 *  dma          a device reads or writes memory that is dirty in the cache
 *               under another KeyID than the one it uses
 *  pconfig      a KeyID is reprogrammed while lines of it are cached
 *  overwrite    a dirty line is written back over memory that was changed
 *               meanwhile
 * Then, by default, the model resolves it as a flush would have: the dirty
 * lines are written back, stale lines refetched, the newer memory kept.
 * With mktme-check=strict it does what hardware may do instead: stale
 * lines are served, dirty lines written back later over newer memory and
 * with whatever key the KeyID has by then, so the damage shows as data.
 *
 * Locking: the cache's own mutex, taken under the BQL where that is held
 * (PCONFIG, devices), never the other way round.  A shadow page is reused
 * only once every vCPU has flushed its TLB after the entry was unmapped; a
 * store that lands in between is found and written back then.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-misc-target.h"
#include "exec/address-spaces.h"
#include "exec/exec-all.h"
#include "exec/memory.h"
#include "exec/ram-observer.h"
#include "hw/core/cpu.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "cpu.h"
#include "mktme-internal.h"
#include "trace.h"

#define TYPE_MKTME_IOMMU_MEMORY_REGION "mktme-iommu-memory-region"

/* Reports of each kind that also go to stderr; the rest to the log only */
#define MKTME_REPORTS_SHOWN 16

typedef enum MktmeViolation {
    MKTME_V_DIRTY_ALIAS,
    MKTME_V_STALE,
    MKTME_V_DMA,
    MKTME_V_PCONFIG,
    MKTME_V_OVERWRITE,
    MKTME_V_NR
} MktmeViolation;

static const char *const mktme_violation_name[MKTME_V_NR] = {
    [MKTME_V_DIRTY_ALIAS] = "dirty-alias",
    [MKTME_V_STALE] = "stale",
    [MKTME_V_DMA] = "dma",
    [MKTME_V_PCONFIG] = "pconfig",
    [MKTME_V_OVERWRITE] = "overwrite",
};

typedef struct MktmeEntry {
    hwaddr page;                /* physical page, without KeyID bits */
    uint16_t keyid;
    uint16_t package;           /* the memory's package: whose key table */
    bool live;                  /* the tag is in @pages */
    bool mapped;                /* CPUs may have @buf in their TLBs */
    bool retiring;              /* unmapped; TLB shootdown @round pending */
    bool dying;                 /* dropped: freed after the shootdown,
                                   unless accessed again meanwhile */
    bool discard;               /* dropped without write-back (reset) */
    uint32_t round;
    uint32_t holders;           /* packages whose caches hold its lines */
    uint64_t valid, dirty;      /* per line */
    MktmeKey *key;
    struct MktmeEntry *next;    /* the other KeyIDs' entries of @page */
    uint8_t *buf;               /* the shadow page: what CPUs access */
    uint8_t pt[MKTME_PAGE];     /* plaintext as last exchanged with RAM */
    uint8_t ct[MKTME_PAGE];     /* RAM's ciphertext then */
} MktmeEntry;

/* Guest RAM as RAMBlock offsets, to place device accesses */
typedef struct MktmeRamMap {
    ram_addr_t ram_addr;
    hwaddr pa, size;
} MktmeRamMap;

/*
 * The plaintext of a line recently accessed by a device, valid for @key at
 * @gen while RAM still holds @ct: devices come 1 to 8 bytes at a time.
 */
typedef struct MktmeDevLine {
    hwaddr line;
    MktmeKey *key;
    uint32_t gen;
    bool valid;
    uint8_t ct[MKTME_LINE];
    uint8_t pt[MKTME_LINE];
} MktmeDevLine;

#define MKTME_DEV_LINES 256

struct MktmeCache {
    MktmeEngine *e;
    QemuMutex lock;
    MktmeCheckMode mode;
    unsigned capacity, nr_slots, hand;
    unsigned nr_live, nr_dying;     /* tags in @pages; of which dying */
    MktmeEntry *entries;        /* one per shadow page */
    unsigned *free;             /* slots neither live nor retiring */
    unsigned nr_free;
    GHashTable *pages;          /* page frame -> its first entry */

    /* TLB shootdowns: one round in flight, the next one gathered */
    uint32_t round;             /* the last round started */
    bool round_active, round_wanted;
    int round_left;             /* vCPUs yet to flush in this round */

    IOMMUMemoryRegion alias;
    MemoryRegion shadow_mr, engine_mr;
    AddressSpace shadow_as, engine_as;

    MktmeRamMap *ram;
    unsigned nr_ram;
    MktmeDevLine *dev_lines;

    uint64_t fills, writebacks, evictions, shootdowns;
    uint64_t violations[MKTME_V_NR];
};

static inline unsigned slot_of(MktmeCache *c, MktmeEntry *en)
{
    return en - c->entries;
}

static inline gpointer pfn_key(hwaddr page)
{
    return GUINT_TO_POINTER(page / MKTME_PAGE);
}

/* The guest's RIP and CPU, for reports */
static void mktme_where(uint64_t *rip, int *cpu)
{
    *rip = 0;
    *cpu = -1;
    if (current_cpu) {
        *rip = X86_CPU(current_cpu)->env.eip;
        *cpu = current_cpu->cpu_index;
    }
}

static void mktme_report(MktmeCache *c, MktmeViolation v, hwaddr pa,
                         int keyid_a, int keyid_b, unsigned lines,
                         bool dev_write)
{
    const char *what = mktme_violation_name[v];
    uint64_t rip;
    int cpu;
    uint64_t n = ++c->violations[v];
    g_autofree char *msg = NULL;

    if (c->mode == MKTME_CHECK_MODE_OFF) {
        return;
    }
    mktme_where(&rip, &cpu);
    trace_mktme_missing_flush(what, pa, keyid_a, keyid_b, lines, rip, cpu);
    switch (v) {
    case MKTME_V_DIRTY_ALIAS:
        msg = g_strdup_printf("0x%" HWADDR_PRIx " accessed through KeyID %d "
                              "with %u lines dirty under KeyID %d", pa,
                              keyid_b, lines, keyid_a);
        break;
    case MKTME_V_STALE:
        msg = g_strdup_printf("0x%" HWADDR_PRIx " accessed through KeyID %d: "
                              "%u cached lines stale, memory written since "
                              "(last by %s %d)", pa, keyid_a, lines,
                              keyid_b < 0 ? "a device or" : "KeyID",
                              keyid_b < 0 ? 0 : keyid_b);
        break;
    case MKTME_V_DMA:
        msg = g_strdup_printf("device %s 0x%" HWADDR_PRIx " through KeyID %d "
                              "while %u lines are dirty under KeyID %d",
                              dev_write ? "writes" : "reads", pa, keyid_b,
                              lines, keyid_a);
        break;
    case MKTME_V_PCONFIG:
        msg = g_strdup_printf("PCONFIG of KeyID %d with %u lines of "
                              "0x%" HWADDR_PRIx " cached", keyid_a, lines, pa);
        break;
    case MKTME_V_OVERWRITE:
        msg = g_strdup_printf("%u dirty lines of 0x%" HWADDR_PRIx " under "
                              "KeyID %d written back over memory changed "
                              "since", lines, pa, keyid_a);
        break;
    default:
        g_assert_not_reached();
    }
    qemu_log_mask(LOG_GUEST_ERROR, "mktme: missing flush (%s): %s, cpu %d "
                  "rip 0x%" PRIx64 "\n", what, msg, cpu, rip);
    if (n <= MKTME_REPORTS_SHOWN) {
        warn_report("mktme: missing flush (%s): %s, cpu %d rip 0x%" PRIx64
                    "%s", what, msg, cpu, rip,
                    n == MKTME_REPORTS_SHOWN ? " (further reports of this "
                    "kind: -d guest_errors)" : "");
    }
}

/*
 * RAM accesses of the engine itself are not device DMA: the observer
 * ignores them while a host access is marked.
 */
static MemTxResult ram_rw(hwaddr pa, void *buf, hwaddr len, bool write)
{
    MemTxResult r;

    ram_observer_suspend();
    r = address_space_rw(&address_space_memory, pa, MEMTXATTRS_UNSPECIFIED,
                         buf, len, write);
    ram_observer_resume();
    return r;
}

static MemTxResult ram_read(hwaddr pa, void *buf, hwaddr len)
{
    return ram_rw(pa, buf, len, false);
}

static MemTxResult ram_write(hwaddr pa, const void *buf, hwaddr len)
{
    return ram_rw(pa, (void *)buf, len, true);
}

static void crypt_line(MktmeKey *k, hwaddr line, uint8_t *buf, bool enc)
{
    uint8_t t[MKTME_XTS_BLOCK];

    mktme_xts_tweak(&k->xts, line >> 6, t);
    mktme_xts_crypt(&k->xts, t, buf, MKTME_LINE, enc);
}

static inline uint64_t line_bit(hwaddr pa)
{
    return 1ULL << ((pa & (MKTME_PAGE - 1)) / MKTME_LINE);
}

/* Lines whose shadow differs from what RAM was last given: dirty now */
static void entry_sync(MktmeEntry *en, uint64_t mask)
{
    for (int l = 0; l < MKTME_PAGE_LINES; l++) {
        uint64_t b = 1ULL << l;

        if ((mask & b) && !(en->dirty & b) &&
            memcmp(en->buf + l * MKTME_LINE, en->pt + l * MKTME_LINE,
                   MKTME_LINE)) {
            en->dirty |= b;
            en->valid |= b;
        }
    }
}

/* Store into the shadow page: translated code there is dropped */
static void shadow_write(MktmeCache *c, MktmeEntry *en, hwaddr off,
                         const void *src, hwaddr len)
{
    ram_observer_suspend();
    address_space_write(&c->shadow_as,
                        (hwaddr)slot_of(c, en) * MKTME_PAGE + off,
                        MEMTXATTRS_UNSPECIFIED, src, len);
    ram_observer_resume();
}

/*
 * Write the dirty lines of @mask back, encrypted under the entry's KeyID.
 * A line whose memory changed since the entry last exchanged it with RAM
 * belongs to someone else by now: reported, and kept unless strict.
 */
static void entry_writeback(MktmeCache *c, MktmeEntry *en, uint64_t mask)
{
    uint8_t ram[MKTME_PAGE];
    unsigned changed = 0;
    int run = -1;

    mask &= en->dirty;
    if (!mask) {
        return;
    }
    ram_read(en->page, ram, MKTME_PAGE);
    for (int l = 0; l <= MKTME_PAGE_LINES; l++) {
        uint64_t b = l < MKTME_PAGE_LINES ? 1ULL << l : 0;
        uint8_t *pt = en->pt + l * MKTME_LINE, *ct = en->ct + l * MKTME_LINE;
        bool wb = false;

        if (mask & b) {
            if (memcmp(ram + l * MKTME_LINE, ct, MKTME_LINE)) {
                changed++;
                if (c->mode == MKTME_CHECK_MODE_STRICT) {
                    wb = true;
                } else {
                    /* the newer memory wins; the shadow follows it */
                    memcpy(ct, ram + l * MKTME_LINE, MKTME_LINE);
                    memcpy(pt, ct, MKTME_LINE);
                    crypt_line(en->key, en->page + l * MKTME_LINE, pt, false);
                    shadow_write(c, en, l * MKTME_LINE, pt, MKTME_LINE);
                }
            } else {
                wb = true;
            }
            if (wb) {
                memcpy(pt, en->buf + l * MKTME_LINE, MKTME_LINE);
                memcpy(ct, pt, MKTME_LINE);
                crypt_line(en->key, en->page + l * MKTME_LINE, ct, true);
                en->key->writes++;
                c->writebacks++;
            }
            en->dirty &= ~b;
        }
        /* write runs of lines with one RAM access each */
        if (wb && run < 0) {
            run = l;
        } else if (!wb && run >= 0) {
            ram_write(en->page + run * MKTME_LINE, en->ct + run * MKTME_LINE,
                      (l - run) * MKTME_LINE);
            run = -1;
        }
    }
    if (changed) {
        mktme_report(c, MKTME_V_OVERWRITE, en->page, en->keyid, -1, changed,
                     false);
    }
}

/* Fetch lines of @mask from RAM (@ram, the page) into the entry. */
static void entry_fetch(MktmeCache *c, MktmeEntry *en, uint64_t mask,
                        const uint8_t *ram)
{
    for (int l = 0; l < MKTME_PAGE_LINES; l++) {
        if (mask & (1ULL << l)) {
            memcpy(en->ct + l * MKTME_LINE, ram + l * MKTME_LINE, MKTME_LINE);
            memcpy(en->pt + l * MKTME_LINE, ram + l * MKTME_LINE, MKTME_LINE);
            crypt_line(en->key, en->page + l * MKTME_LINE,
                       en->pt + l * MKTME_LINE, false);
            en->key->reads++;
        }
    }
    if (mask == ~0ULL) {
        shadow_write(c, en, 0, en->pt, MKTME_PAGE);
        return;
    }
    for (int l = 0; l < MKTME_PAGE_LINES; l++) {
        if (mask & (1ULL << l)) {
            shadow_write(c, en, l * MKTME_LINE, en->pt + l * MKTME_LINE,
                         MKTME_LINE);
        }
    }
}

static MktmeEntry *entry_lookup(MktmeCache *c, hwaddr page, unsigned keyid)
{
    MktmeEntry *en = g_hash_table_lookup(c->pages, pfn_key(page));

    while (en && en->keyid != keyid) {
        en = en->next;
    }
    return en;
}

static void entry_unlink(MktmeCache *c, MktmeEntry *en)
{
    MktmeEntry *head = g_hash_table_lookup(c->pages, pfn_key(en->page));
    MktmeEntry **pp = &head;

    while (*pp != en) {
        pp = &(*pp)->next;
    }
    *pp = en->next;
    if (head) {
        g_hash_table_insert(c->pages, pfn_key(en->page), head);
    } else {
        g_hash_table_remove(c->pages, pfn_key(en->page));
    }
    en->next = NULL;
    en->live = false;
    c->nr_live--;
}

/* TLB shootdowns */
static void round_start(MktmeCache *c);

static void entry_set_dying(MktmeCache *c, MktmeEntry *en, bool dying)
{
    if (en->dying != dying) {
        c->nr_dying += dying ? 1 : -1;
        en->dying = dying;
    }
}

static void entry_free_slot(MktmeCache *c, MktmeEntry *en)
{
    en->valid = en->dirty = 0;
    entry_set_dying(c, en, false);
    en->discard = false;
    c->free[c->nr_free++] = slot_of(c, en);
}

/* Every vCPU has flushed its TLB: nothing maps the round's entries now. */
static void round_finish(MktmeCache *c)
{
    for (unsigned i = 0; i < c->nr_slots; i++) {
        MktmeEntry *en = &c->entries[i];

        if (!en->retiring || (int32_t)(en->round - c->round) > 0) {
            continue;
        }
        en->retiring = false;
        if (en->mapped) {
            continue;           /* accessed again meanwhile */
        }
        /* stores that landed before a vCPU's flush: dirty lines */
        entry_sync(en, ~0ULL);
        if (en->dying) {
            if (!en->discard) {
                entry_writeback(c, en, en->dirty);
            }
            entry_unlink(c, en);
            entry_free_slot(c, en);
        }
    }
    c->round_active = false;
    if (c->round_wanted) {
        round_start(c);
    }
}

static void round_work(CPUState *cpu, run_on_cpu_data data)
{
    MktmeCache *c = data.host_ptr;

    tlb_flush(cpu);
    qemu_mutex_lock(&c->lock);
    if (--c->round_left == 0) {
        round_finish(c);
    }
    qemu_mutex_unlock(&c->lock);
}

static void round_start(MktmeCache *c)
{
    CPUState *cpu;

    c->round_wanted = false;
    c->round_active = true;
    c->round++;
    c->shootdowns++;
    c->round_left = 1;          /* held until every vCPU is asked */
    WITH_RCU_READ_LOCK_GUARD() {
        CPU_FOREACH(cpu) {
            c->round_left++;
            async_run_on_cpu(cpu, round_work, RUN_ON_CPU_HOST_PTR(c));
        }
    }
    if (--c->round_left == 0) {
        round_finish(c);
    }
}

/* Take the entry out of every TLB, in the next round of shootdowns. */
static void entry_unmap(MktmeCache *c, MktmeEntry *en)
{
    if (!en->mapped) {
        return;
    }
    en->mapped = false;
    en->retiring = true;
    en->round = c->round + 1;
    c->round_wanted = true;
    if (!c->round_active) {
        round_start(c);
    }
}

/*
 * Drop the entry's lines: written back (or discarded) by the caller.  An
 * entry that vCPUs may still store to keeps its tag until the shootdown,
 * so that those stores are found, and an access meanwhile revives it.
 */
static void entry_drop(MktmeCache *c, MktmeEntry *en)
{
    en->valid = 0;
    if (en->mapped || en->retiring) {
        entry_set_dying(c, en, true);
        entry_unmap(c, en);
    } else {
        entry_unlink(c, en);
        entry_free_slot(c, en);
    }
}

static void entry_evict(MktmeCache *c, MktmeEntry *en)
{
    entry_sync(en, ~0ULL);
    entry_writeback(c, en, en->dirty);
    c->evictions++;
    entry_drop(c, en);
}

/*
 * Make room: evict entries in clock order, an eighth at a time.  Returns
 * false when every spare shadow page waits for a shootdown that this
 * vCPU, inside a TLB fill, cannot wait for.
 */
static bool cache_make_room(MktmeCache *c)
{
    unsigned batch = MAX(c->capacity / 8, 1), scanned = 0;

    /* dying entries are out of the cache already, only their pages wait */
    if (c->nr_live - c->nr_dying < c->capacity && c->nr_free) {
        return true;
    }
    while (batch && scanned++ < 2 * c->nr_slots) {
        MktmeEntry *en = &c->entries[c->hand];

        c->hand = (c->hand + 1) % c->nr_slots;
        if (en->live && !en->dying) {
            entry_evict(c, en);
            batch--;
        }
    }
    return c->nr_free > 0;
}

/*
 * Before @keyid maps @page: the other KeyIDs' entries of the page are
 * unmapped, and their dirty lines are what hardware would later write
 * back over the new KeyID's data.
 */
static void page_conflicts(MktmeCache *c, hwaddr page, unsigned keyid)
{
    for (MktmeEntry *o = g_hash_table_lookup(c->pages, pfn_key(page)); o;
         o = o->next) {
        if (o->keyid == keyid) {
            continue;
        }
        entry_unmap(c, o);
        entry_sync(o, ~0ULL);
        if (o->dirty) {
            mktme_report(c, MKTME_V_DIRTY_ALIAS, page, o->keyid, keyid,
                         ctpop64(o->dirty), false);
            if (c->mode != MKTME_CHECK_MODE_STRICT) {
                entry_writeback(c, o, o->dirty);
            }
        }
    }
}

/*
 * An entry not mapped is accessed again: its cached lines must still hold
 * what memory does (stale otherwise), and lines not cached are fetched.
 */
static void entry_revalidate(MktmeCache *c, MktmeEntry *en)
{
    uint8_t ram[MKTME_PAGE];
    uint64_t stale = 0, refetch;

    entry_sync(en, ~0ULL);
    ram_read(en->page, ram, MKTME_PAGE);
    for (int l = 0; l < MKTME_PAGE_LINES; l++) {
        if (memcmp(ram + l * MKTME_LINE, en->ct + l * MKTME_LINE,
                   MKTME_LINE)) {
            stale |= 1ULL << l;
        }
    }
    stale &= en->valid & ~en->dirty;
    refetch = ~en->valid;
    if (stale) {
        mktme_report(c, MKTME_V_STALE, en->page, en->keyid, -1,
                     ctpop64(stale), false);
        if (c->mode != MKTME_CHECK_MODE_STRICT) {
            refetch |= stale;
        }
    }
    /* dirty lines over changed memory: overwrite, at their write-back */
    if (refetch) {
        entry_fetch(c, en, refetch, ram);
    }
    en->valid = ~0ULL;          /* all of the shadow is reachable again */
    entry_set_dying(c, en, false);
    en->discard = false;
}

static MktmeEntry *cache_fill(MktmeCache *c, hwaddr page, unsigned keyid,
                              const MktmeRange *r, MktmeKey *k)
{
    uint8_t ram[MKTME_PAGE];
    MktmeEntry *en;

    if (!cache_make_room(c)) {
        return NULL;
    }
    en = &c->entries[c->free[--c->nr_free]];
    en->page = page;
    en->keyid = keyid;
    en->package = r->package;
    en->key = k;
    en->holders = 0;
    en->valid = ~0ULL;
    en->dirty = 0;
    en->live = true;
    en->mapped = false;
    en->next = g_hash_table_lookup(c->pages, pfn_key(page));
    g_hash_table_insert(c->pages, pfn_key(page), en);
    c->nr_live++;
    c->fills++;
    ram_read(page, ram, MKTME_PAGE);
    entry_fetch(c, en, ~0ULL, ram);
    return en;
}

static IOMMUTLBEntry mktme_translate(IOMMUMemoryRegion *iommu, hwaddr addr,
                                     IOMMUAccessFlags flag, int iommu_idx)
{
    MktmeCache *c = container_of(iommu, MktmeCache, alias);
    MktmeEngine *e = c->e;
    hwaddr full = addr + (1ULL << e->shift);
    unsigned keyid = full >> e->shift;
    hwaddr pa = full & ((1ULL << e->shift) - 1);
    hwaddr page = pa & ~(hwaddr)(MKTME_PAGE - 1);
    IOMMUTLBEntry ret = {
        .target_as = &c->engine_as,
        .iova = addr & ~(hwaddr)(MKTME_PAGE - 1),
        .translated_addr = addr & ~(hwaddr)(MKTME_PAGE - 1),
        .addr_mask = MKTME_PAGE - 1,
        .perm = IOMMU_RW,
    };
    const MktmeRange *r;
    MktmeEntry *en;
    MktmeKey *k;

    /*
     * Anything but a CPU's TLB fill (devices, the monitor): one access at a
     * time, through the engine.  (The page walker fills the TLB too.)
     */
    if (flag != IOMMU_NONE || !current_cpu) {
        return ret;
    }
    r = mktme_range(e, pa);
    if (!r) {
        /*
         * Not RAM.  The memory controller decodes no KeyID for device
         * memory; a TLB entry for an I/O section of another address space
         * would name the wrong section, so the access is unassigned.
         */
        ret.perm = IOMMU_NONE;
        return ret;
    }
    qemu_mutex_lock(&c->lock);
    k = mktme_key(e, r->package, keyid);
    if (!mktme_key_encrypts(k)) {
        /* a KeyID that is plaintext: straight to RAM */
        qemu_mutex_unlock(&c->lock);
        ret.target_as = &address_space_memory;
        ret.translated_addr = page;
        return ret;
    }
    en = entry_lookup(c, page, keyid);
    if (!en || !en->mapped) {
        page_conflicts(c, page, keyid);
        if (en) {
            entry_revalidate(c, en);
        } else if (!(en = cache_fill(c, page, keyid, r, k))) {
            /* only with far more vCPUs than the spare shadow pages */
            qemu_mutex_unlock(&c->lock);
            error_report("mktme: every spare page of the cache waits for a "
                         "TLB shootdown; raise mktme-cache-pages");
            exit(1);
        }
        en->mapped = true;
    }
    en->holders |= 1u << X86_CPU(current_cpu)->socket_id;
    ret.target_as = &c->shadow_as;
    ret.translated_addr = (hwaddr)slot_of(c, en) * MKTME_PAGE;
    qemu_mutex_unlock(&c->lock);
    return ret;
}

static int mktme_attrs_to_index(IOMMUMemoryRegion *iommu, MemTxAttrs attrs)
{
    return 0;
}

/* CLFLUSH, CLFLUSHOPT, CLWB: the line of every package's caches */
void mktme_flush_line(CPUState *cs, hwaddr full, bool invalidate)
{
    MktmeEngine *e = mktme_engine();
    MktmeCache *c = e ? e->cache : NULL;
    unsigned keyid;
    hwaddr pa;
    MktmeEntry *en;
    bool unmapped = false;

    if (!c || !(keyid = full >> e->shift)) {
        return;                 /* KeyID 0 is not cached in the model */
    }
    pa = full & ((1ULL << e->shift) - 1);
    qemu_mutex_lock(&c->lock);
    en = entry_lookup(c, pa & ~(hwaddr)(MKTME_PAGE - 1), keyid);
    if (en) {
        uint64_t b = line_bit(pa);

        entry_sync(en, b);
        entry_writeback(c, en, b);
        if (invalidate) {
            /* the next access misses: unmapped, the entry refetches it */
            en->valid &= ~b;
            unmapped = en->mapped || en->retiring;
            if (!en->valid && !en->dirty) {
                entry_drop(c, en);
            } else {
                entry_unmap(c, en);
            }
        }
    }
    qemu_mutex_unlock(&c->lock);
    if (unmapped) {
        /* this vCPU refetches at once; the others when they flush */
        tlb_flush(cs);
    }
}

/*
 * INVD (no @writeback), WBINVD, WBNOINVD (no @invalidate): every line the
 * executing package holds.
 */
void mktme_wbinvd(CPUState *cs, bool writeback, bool invalidate)
{
    MktmeEngine *e = mktme_engine();
    MktmeCache *c = e ? e->cache : NULL;
    uint32_t pkg;

    if (!c) {
        return;
    }
    pkg = 1u << X86_CPU(cs)->socket_id;
    qemu_mutex_lock(&c->lock);
    for (unsigned i = 0; i < c->nr_slots; i++) {
        MktmeEntry *en = &c->entries[i];

        if (!en->live || !(en->holders & pkg)) {
            continue;
        }
        entry_sync(en, ~0ULL);
        if (writeback) {
            entry_writeback(c, en, en->dirty);
        } else if (invalidate && en->holders == pkg) {
            /* INVD: the dirty lines are lost */
            memcpy(en->pt, en->buf, MKTME_PAGE);
            en->dirty = 0;
        }
        if (invalidate) {
            en->holders &= ~pkg;
            if (!en->holders) {
                entry_drop(c, en);
            }
        }
    }
    qemu_mutex_unlock(&c->lock);
    if (invalidate) {
        /* this package's vCPUs become holders again as they refetch */
        tlb_flush(cs);
    }
}

void mktme_cache_lock(MktmeEngine *e)
{
    qemu_mutex_lock(&e->cache->lock);
}

void mktme_cache_unlock(MktmeEngine *e)
{
    qemu_mutex_unlock(&e->cache->lock);
}

void mktme_cache_key_change(MktmeEngine *e, unsigned package, unsigned keyid)
{
    MktmeCache *c = e->cache;

    for (unsigned i = 0; i < c->nr_slots; i++) {
        MktmeEntry *en = &c->entries[i];

        if (!en->live || en->keyid != keyid || en->package != package) {
            continue;
        }
        entry_sync(en, ~0ULL);
        if (!en->valid && !en->dirty) {
            continue;
        }
        mktme_report(c, MKTME_V_PCONFIG, en->page, keyid, keyid,
                     ctpop64(en->valid | en->dirty), false);
        if (c->mode != MKTME_CHECK_MODE_STRICT) {
            /* as a WBINVD would have: under the old key, then gone */
            entry_writeback(c, en, en->dirty);
            entry_drop(c, en);
        }
    }
}

/*
 * Device DMA (and the page walker) through a KeyID alias: coherent with
 * that KeyID's cached lines; other KeyIDs' dirty lines are a violation.
 */
static void dma_conflicts(MktmeCache *c, hwaddr line, unsigned keyid,
                          bool write)
{
    for (MktmeEntry *o = g_hash_table_lookup(c->pages,
                                             pfn_key(line & ~(hwaddr)(MKTME_PAGE - 1)));
         o; o = o->next) {
        uint64_t b = line_bit(line);

        if (o->keyid == keyid) {
            continue;
        }
        entry_sync(o, b);
        if (o->dirty & b) {
            mktme_report(c, MKTME_V_DMA, line, o->keyid, keyid, 1, write);
            if (c->mode != MKTME_CHECK_MODE_STRICT) {
                entry_writeback(c, o, b);
            }
        }
        if (write && (o->valid & b)) {
            /* the next CPU access through it finds the line stale */
            entry_unmap(c, o);
        }
    }
}

static MemTxResult dev_line(MktmeCache *c, MktmeKey *k, hwaddr line,
                            uint8_t *pt)
{
    MktmeDevLine *d = &c->dev_lines[(line >> 6) % MKTME_DEV_LINES];
    uint8_t ct[MKTME_LINE];
    MemTxResult res = ram_read(line, ct, MKTME_LINE);

    if (res != MEMTX_OK) {
        return res;
    }
    if (!d->valid || d->line != line || d->key != k || d->gen != k->gen ||
        memcmp(d->ct, ct, MKTME_LINE)) {
        d->line = line;
        d->key = k;
        d->gen = k->gen;
        memcpy(d->ct, ct, MKTME_LINE);
        memcpy(d->pt, ct, MKTME_LINE);
        crypt_line(k, line, d->pt, false);
        d->valid = true;
        k->reads++;
    }
    memcpy(pt, d->pt, MKTME_LINE);
    return MEMTX_OK;
}

static MemTxResult mktme_dev_access(MktmeCache *c, hwaddr addr, uint8_t *buf,
                                    unsigned size, MemTxAttrs attrs,
                                    bool write)
{
    MktmeEngine *e = c->e;
    hwaddr full = addr + (1ULL << e->shift);
    unsigned keyid = full >> e->shift;
    hwaddr pa = full & ((1ULL << e->shift) - 1);
    hwaddr line = pa & ~(hwaddr)(MKTME_LINE - 1);
    hwaddr page = pa & ~(hwaddr)(MKTME_PAGE - 1);
    const MktmeRange *r = mktme_range(e, pa);
    uint8_t pt[MKTME_LINE];
    MemTxResult res = MEMTX_OK;
    MktmeEntry *en;
    MktmeKey *k;
    uint64_t b = line_bit(pa);

    assert((pa & (MKTME_LINE - 1)) + size <= MKTME_LINE);
    if (!r) {
        /* not RAM: the controller does not encrypt device memory */
        return address_space_rw(&address_space_memory, pa, attrs, buf, size,
                                write);
    }
    qemu_mutex_lock(&c->lock);
    k = mktme_key(e, r->package, keyid);
    if (!ram_observer_suspended()) {
        dma_conflicts(c, line, keyid, write);
    }
    if (!mktme_key_encrypts(k)) {
        /* plaintext: checked above, not again as DMA through KeyID 0 */
        qemu_mutex_unlock(&c->lock);
        ram_observer_suspend();
        res = address_space_rw(&address_space_memory, pa, attrs, buf, size,
                               write);
        ram_observer_resume();
        return res;
    }
    en = entry_lookup(c, page, keyid);
    if (en && ((en->valid & b) || en->mapped)) {
        /* snooped: the cached line is the data */
        uint8_t *p = en->buf + (line - page);

        if (!write) {
            memcpy(buf, p + (pa - line), size);
            goto out;
        }
        /* written through: the line stays cached, clean */
        entry_sync(en, b);
        entry_writeback(c, en, b);
        memcpy(pt, p, MKTME_LINE);
        memcpy(pt + (pa - line), buf, size);
        shadow_write(c, en, line - page, pt, MKTME_LINE);
        memcpy(en->pt + (line - page), pt, MKTME_LINE);
        crypt_line(k, line, pt, true);
        memcpy(en->ct + (line - page), pt, MKTME_LINE);
        k->writes++;
        res = ram_write(line, pt, MKTME_LINE);
        goto out;
    }
    res = dev_line(c, k, line, pt);
    if (res != MEMTX_OK) {
        goto out;
    }
    if (!write) {
        memcpy(buf, pt + (pa - line), size);
        goto out;
    }
    memcpy(pt + (pa - line), buf, size);
    crypt_line(k, line, pt, true);
    k->writes++;
    res = ram_write(line, pt, MKTME_LINE);
out:
    qemu_mutex_unlock(&c->lock);
    return res;
}

static MemTxResult mktme_dev_read(void *opaque, hwaddr addr, uint64_t *val,
                                  unsigned size, MemTxAttrs attrs)
{
    uint8_t buf[8];
    MemTxResult res = mktme_dev_access(opaque, addr, buf, size, attrs, false);

    *val = ldn_le_p(buf, size);
    return res;
}

static MemTxResult mktme_dev_write(void *opaque, hwaddr addr, uint64_t val,
                                   unsigned size, MemTxAttrs attrs)
{
    uint8_t buf[8];

    stn_le_p(buf, size, val);
    return mktme_dev_access(opaque, addr, buf, size, attrs, true);
}

static const MemoryRegionOps mktme_dev_ops = {
    .read_with_attrs = mktme_dev_read,
    .write_with_attrs = mktme_dev_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = false,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
    },
};

/* Device DMA to plain RAM: any KeyID's dirty lines there are missed. */
static void mktme_ram_observe(MemoryRegion *mr, hwaddr offset, hwaddr len,
                              bool write)
{
    MktmeEngine *e = mktme_engine();
    MktmeCache *c = e->cache;
    ram_addr_t ra;
    hwaddr pa = 0;
    unsigned i;

    if (!mr->ram_block || !len) {
        return;
    }
    ra = memory_region_get_ram_addr(mr) + offset;
    for (i = 0; i < c->nr_ram; i++) {
        if (ra >= c->ram[i].ram_addr &&
            ra < c->ram[i].ram_addr + c->ram[i].size) {
            pa = c->ram[i].pa + (ra - c->ram[i].ram_addr);
            break;
        }
    }
    if (i == c->nr_ram) {
        return;
    }
    qemu_mutex_lock(&c->lock);
    if (c->nr_live) {
        hwaddr end = pa + len;

        for (hwaddr line = pa & ~(hwaddr)(MKTME_LINE - 1); line < end;
             line += MKTME_LINE) {
            if (g_hash_table_lookup(c->pages,
                                    pfn_key(line & ~(hwaddr)(MKTME_PAGE - 1)))) {
                dma_conflicts(c, line, 0, write);
            } else {
                line |= MKTME_PAGE - MKTME_LINE;    /* next page */
            }
        }
    }
    qemu_mutex_unlock(&c->lock);
}

static bool mktme_ram_section(Int128 start, Int128 len,
                              const MemoryRegion *mr,
                              hwaddr offset_in_region, void *opaque)
{
    MktmeCache *c = opaque;

    if (memory_region_is_ram((MemoryRegion *)mr) && mr->ram_block) {
        c->ram = g_renew(MktmeRamMap, c->ram, c->nr_ram + 1);
        c->ram[c->nr_ram++] = (MktmeRamMap){
            .ram_addr = memory_region_get_ram_addr((MemoryRegion *)mr) +
                        offset_in_region,
            .pa = int128_get64(start),
            .size = int128_get64(len),
        };
    }
    return false;
}

/* The legacy VGA and ROM window, 640 KiB to 1 MiB: never RAM here */
#define LEGACY_HOLE_START   0xa0000
#define LEGACY_HOLE_END     0x100000

static void add_range(MktmeRange **r, unsigned *n, hwaddr start, hwaddr end,
                      unsigned package)
{
    if (start < end) {
        *r = g_renew(MktmeRange, *r, *n + 1);
        (*r)[(*n)++] = (MktmeRange){ start, end, package };
    }
}

/*
 * Only RAM is encrypted and cached: the nodes' ranges, cut to the RAM
 * sections of the memory map and without the legacy hole.  (A range that
 * covered MMIO would have the cache take the BQL inside its lock.)
 */
static void mktme_ranges_to_ram(MktmeEngine *e, MktmeCache *c)
{
    MktmeRange *nodes = e->ranges, *r = NULL;
    unsigned nr = e->nr_ranges, n = 0;

    for (unsigned i = 0; i < nr; i++) {
        for (unsigned j = 0; j < c->nr_ram; j++) {
            hwaddr start = MAX(nodes[i].start, c->ram[j].pa);
            hwaddr end = MIN(nodes[i].end, c->ram[j].pa + c->ram[j].size);

            if (start >= end) {
                continue;
            }
            add_range(&r, &n, start, MIN(end, LEGACY_HOLE_START),
                      nodes[i].package);
            add_range(&r, &n, MAX(start, LEGACY_HOLE_END), end,
                      nodes[i].package);
        }
    }
    g_free(nodes);
    e->ranges = r;
    e->nr_ranges = n;
}

void mktme_cache_machine_done(MktmeEngine *e)
{
    MktmeCache *c = e->cache;
    FlatView *fv;

    WITH_RCU_READ_LOCK_GUARD() {
        fv = address_space_to_flatview(&address_space_memory);
        flatview_for_each_range(fv, mktme_ram_section, c);
    }
    mktme_ranges_to_ram(e, c);
    ram_observer_set(mktme_ram_observe);
}

static void mktme_cache_drop_all(MktmeCache *c, bool writeback)
{
    for (unsigned i = 0; i < c->nr_slots; i++) {
        MktmeEntry *en = &c->entries[i];

        if (!en->live) {
            continue;
        }
        entry_sync(en, ~0ULL);
        if (writeback) {
            entry_writeback(c, en, en->dirty);
        } else {
            /* nothing of it reaches RAM, even from the shootdown */
            memcpy(en->pt, en->buf, MKTME_PAGE);
            en->dirty = 0;
            en->discard = true;
        }
        entry_drop(c, en);
    }
}

/* Reset loses the caches' contents, as it loses the keys. */
void mktme_cache_reset(MktmeEngine *e)
{
    MktmeCache *c = e->cache;

    mktme_cache_drop_all(c, false);
    memset(c->dev_lines, 0, MKTME_DEV_LINES * sizeof(MktmeDevLine));
}

/*
 * At exit, lines still dirty over memory changed since: the write-back
 * that would have overwritten someone else's data.  Then the summary that
 * test harnesses read.
 */
static void mktme_cache_exit(Notifier *n, void *data)
{
    MktmeEngine *e = mktme_engine();
    MktmeCache *c = e ? e->cache : NULL;
    uint64_t total = 0;
    uint8_t ram[MKTME_PAGE];

    if (!c || c->mode == MKTME_CHECK_MODE_OFF) {
        return;
    }
    if (qemu_mutex_trylock(&c->lock)) {
        /* exit() from a vCPU that holds it */
        fprintf(stderr, "model: no missing-flush summary (exit inside the "
                "cache)\n");
        return;
    }
    for (unsigned i = 0; i < c->nr_slots; i++) {
        MktmeEntry *en = &c->entries[i];
        unsigned changed = 0;

        if (!en->live) {
            continue;
        }
        entry_sync(en, ~0ULL);
        if (!en->dirty) {
            continue;
        }
        ram_read(en->page, ram, MKTME_PAGE);
        for (int l = 0; l < MKTME_PAGE_LINES; l++) {
            if ((en->dirty & (1ULL << l)) &&
                memcmp(ram + l * MKTME_LINE, en->ct + l * MKTME_LINE,
                       MKTME_LINE)) {
                changed++;
            }
        }
        if (changed) {
            mktme_report(c, MKTME_V_OVERWRITE, en->page, en->keyid, -1,
                         changed, false);
        }
    }
    for (int v = 0; v < MKTME_V_NR; v++) {
        total += c->violations[v];
    }
    qemu_mutex_unlock(&c->lock);
    fprintf(stderr, "model: %" PRIu64 " missing-flush reports "
            "(dirty-alias %" PRIu64 ", stale %" PRIu64 ", dma %" PRIu64
            ", pconfig %" PRIu64 ", overwrite %" PRIu64 ")\n", total,
            c->violations[MKTME_V_DIRTY_ALIAS], c->violations[MKTME_V_STALE],
            c->violations[MKTME_V_DMA], c->violations[MKTME_V_PCONFIG],
            c->violations[MKTME_V_OVERWRITE]);
}

static Notifier mktme_exit_notifier = { .notify = mktme_cache_exit };

bool mktme_cache_init(MktmeEngine *e, uint32_t capacity, MktmeCheckMode mode,
                      Error **errp)
{
    ERRP_GUARD();
    MktmeCache *c;
    size_t nkeys = 1u << e->keyid_bits;
    uint64_t span = (nkeys - 1) << e->shift;

    if (e->nr_packages > 32) {
        error_setg(errp, "tme=on: the TME-MK model has caches for at most 32 "
                   "packages (sockets), not %u", e->nr_packages);
        return false;
    }
    c = g_new0(MktmeCache, 1);
    c->e = e;
    c->mode = mode;
    c->capacity = capacity;
    /* slack for entries waiting on a shootdown */
    c->nr_slots = capacity + MAX(capacity, 1024);
    memory_region_init_ram_flags_nomigrate(&c->shadow_mr, OBJECT(e),
                                           "mktme-shadow",
                                           (uint64_t)c->nr_slots * MKTME_PAGE,
                                           0, errp);
    if (*errp) {
        g_free(c);
        return false;
    }
    c->entries = g_new0(MktmeEntry, c->nr_slots);
    c->free = g_new(unsigned, c->nr_slots);
    for (unsigned i = 0; i < c->nr_slots; i++) {
        c->free[c->nr_free++] = c->nr_slots - 1 - i;
        c->entries[i].buf = (uint8_t *)memory_region_get_ram_ptr(&c->shadow_mr)
                            + (size_t)i * MKTME_PAGE;
    }
    c->pages = g_hash_table_new(g_direct_hash, g_direct_equal);
    c->dev_lines = g_new0(MktmeDevLine, MKTME_DEV_LINES);
    qemu_mutex_init(&c->lock);

    address_space_init(&c->shadow_as, &c->shadow_mr, "mktme-shadow");
    memory_region_init_io(&c->engine_mr, OBJECT(e), &mktme_dev_ops, c,
                          "mktme-engine", span);
    address_space_init(&c->engine_as, &c->engine_mr, "mktme-engine");
    memory_region_init_iommu(&c->alias, sizeof(c->alias),
                             TYPE_MKTME_IOMMU_MEMORY_REGION, OBJECT(e),
                             "mktme-keyid-alias", span);
    /* above the PCI container, which spans the whole address space */
    memory_region_add_subregion_overlap(get_system_memory(), 1ULL << e->shift,
                                        MEMORY_REGION(&c->alias), 1);
    qemu_add_exit_notifier(&mktme_exit_notifier);
    e->cache = c;
    return true;
}

void mktme_cache_info(MktmeEngine *e, MktmeInfo *info)
{
    MktmeCache *c = e->cache;
    MktmeCacheInfo *ci = g_new0(MktmeCacheInfo, 1);
    MktmeMissingFlushInfo *mf = g_new0(MktmeMissingFlushInfo, 1);

    qemu_mutex_lock(&c->lock);
    ci->check = c->mode;
    ci->capacity = c->capacity;
    ci->resident = c->nr_live - c->nr_dying;
    ci->fills = c->fills;
    ci->writebacks = c->writebacks;
    ci->evictions = c->evictions;
    ci->shootdowns = c->shootdowns;
    mf->dirty_alias = c->violations[MKTME_V_DIRTY_ALIAS];
    mf->stale = c->violations[MKTME_V_STALE];
    mf->dma = c->violations[MKTME_V_DMA];
    mf->pconfig = c->violations[MKTME_V_PCONFIG];
    mf->overwrite = c->violations[MKTME_V_OVERWRITE];
    for (int v = 0; v < MKTME_V_NR; v++) {
        mf->total += c->violations[v];
    }
    qemu_mutex_unlock(&c->lock);
    info->cache = ci;
    info->missing_flush = mf;
}

void qmp_x_mktme_writeback(bool has_invalidate, bool invalidate, Error **errp)
{
    MktmeEngine *e = mktme_engine();
    MktmeCache *c;

    if (!e) {
        error_setg(errp, "TME-MK is not enabled (no CPU has tme=on)");
        return;
    }
    c = e->cache;
    /* a snapshot: what vCPUs store meanwhile stays dirty, as on hardware */
    qemu_mutex_lock(&c->lock);
    if (has_invalidate && invalidate) {
        mktme_cache_drop_all(c, true);
    } else {
        for (unsigned i = 0; i < c->nr_slots; i++) {
            MktmeEntry *en = &c->entries[i];

            if (en->live) {
                entry_sync(en, ~0ULL);
                entry_writeback(c, en, en->dirty);
            }
        }
    }
    qemu_mutex_unlock(&c->lock);
}

static void mktme_iommu_class_init(ObjectClass *klass, void *data)
{
    IOMMUMemoryRegionClass *imrc = IOMMU_MEMORY_REGION_CLASS(klass);

    imrc->translate = mktme_translate;
    imrc->attrs_to_index = mktme_attrs_to_index;
}

static const TypeInfo mktme_iommu_info = {
    .parent = TYPE_IOMMU_MEMORY_REGION,
    .name = TYPE_MKTME_IOMMU_MEMORY_REGION,
    .class_init = mktme_iommu_class_init,
};

static void mktme_cache_register_types(void)
{
    type_register_static(&mktme_iommu_info);
}

type_init(mktme_cache_register_types)

/*
 * TME-MK: the TME MSRs, the PCONFIG instruction (leaf 0,
 * MKTME_KEY_PROGRAM), as the Intel SDM describes them, and the cache
 * instructions that the model's caches act on.  The key tables and the
 * encryption engine they program live in hw/i386/mktme.c, the caches in
 * hw/i386/mktme-cache.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/log.h"
#include "cpu.h"
#include "exec/helper-proto.h"
#include "exec/cpu_ldst.h"
#include "hw/i386/mktme.h"
#include "tcg/helper-tcg.h"

#define TME_CAP_AES_XTS_128         BIT_ULL(0)
#define TME_CAP_AES_XTS_256         BIT_ULL(2)
#define TME_CAP_BYPASS              BIT_ULL(31)
#define TME_ACT_LOCKED              BIT_ULL(0)
#define TME_ACT_ENABLED             BIT_ULL(1)
#define TME_ACT_BYPASS              BIT_ULL(31)
#define TME_ACT_KEYID_BITS_SHIFT    32
#define TME_ACT_TDX_BITS_SHIFT      36
#define TME_ACT_ALGS_SHIFT          48

/* MKTME_KEY_PROGRAM_STRUCT: 256-byte aligned, 192 bytes read */
#define KP_KEYID                    0
#define KP_KEYID_CTRL               2
#define KP_KEY_FIELD_1              64
#define KP_KEY_FIELD_2              128
#define KP_SIZE                     192
#define KP_CTRL_RESERVED            0xff000000u

static bool mktme_on(CPUX86State *env)
{
    return env->features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME;
}

/* ENC_ALG bits, as in IA32_TME_ACTIVATE[63:48] and KEYID_CTRL[23:8] */
static uint32_t mktme_algs(X86CPU *cpu)
{
    return (cpu->mktme_aes_xts_128 ? MKTME_ALG_AES_XTS_128 : 0) |
           (cpu->mktme_aes_xts_256 ? MKTME_ALG_AES_XTS_256 : 0);
}

/* MK_TME_MAX_KEYS: what the CPU supports, beyond what firmware activated */
static uint32_t mktme_cap_keys(X86CPU *cpu)
{
    unsigned bits = MAX(cpu->mktme_max_keyid_bits, cpu->mktme_keyid_bits);

    return cpu->mktme_keys ? cpu->mktme_keys : (1u << bits) - 1;
}

/* The KeyIDs PCONFIG takes: those of the activated bits */
static uint32_t mktme_max_keys(X86CPU *cpu)
{
    return MIN(mktme_cap_keys(cpu), (1u << cpu->mktme_keyid_bits) - 1);
}

/*
 * The MSRs as firmware leaves them (mktme-firmware): by default TME
 * activated and locked, KeyID 0 in bypass (plaintext), the exclusion range
 * unused; or enabled but not locked; or not enabled (ACTIVATE reads 0).
 * Returns false for an MSR that is not ours; writes (@val == NULL) are
 * refused: the caller raises #GP, as the memory encryption spec prescribes
 * for locked registers (an unlocked one is not modelled as writable).
 */
bool x86_mktme_msr(CPUX86State *env, uint32_t msr, uint64_t *val)
{
    X86CPU *cpu = env_archcpu(env);
    unsigned k = cpu->mktme_keyid_bits, p = cpu->mktme_tdx_keyid_bits;
    uint64_t v;

    if (!mktme_on(env)) {
        return false;
    }
    switch (msr) {
    case MSR_IA32_TME_CAPABILITY:
        v = TME_CAP_AES_XTS_128 | TME_CAP_AES_XTS_256 | TME_CAP_BYPASS |
            ((uint64_t)MAX(cpu->mktme_max_keyid_bits, k) << 32) |
            ((uint64_t)mktme_cap_keys(cpu) << 36);
        break;
    case MSR_IA32_TME_ACTIVATE:
        if (cpu->mktme_fw == MKTME_FW_DISABLED) {
            v = 0;
            break;
        }
        v = (cpu->mktme_fw == MKTME_FW_LOCKED ? TME_ACT_LOCKED : 0) |
            TME_ACT_ENABLED | TME_ACT_BYPASS |
            ((uint64_t)k << TME_ACT_KEYID_BITS_SHIFT) |
            ((uint64_t)p << TME_ACT_TDX_BITS_SHIFT) |
            ((uint64_t)mktme_algs(cpu) << TME_ACT_ALGS_SHIFT);
        break;
    case MSR_IA32_TME_EXCLUDE_MASK:
    case MSR_IA32_TME_EXCLUDE_BASE:
        v = 0;
        break;
    case MSR_IA32_MKTME_KEYID_PARTITIONING:
        /* MKTME KeyIDs first, then the TDX private ones */
        if (!mktme_cpu_active(cpu)) {
            v = 0;
            break;
        }
        v = MIN(mktme_max_keys(cpu), (1u << (k - p)) - 1);
        if (p) {
            v |= (uint64_t)((1u << k) - (1u << (k - p))) << 32;
        }
        break;
    default:
        return false;
    }
    if (val) {
        *val = v;
    }
    return true;
}

/*
 * CLFLUSH, CLFLUSHOPT (@invalidate) and CLWB of the line at linear address
 * @addr.  They fault like a byte load; the line is named by its physical
 * address, KeyID bits included.  A flush is not an access: the page walk
 * does not go through the TLB, whose fill would map the line's page.
 */
void helper_mktme_clflush(CPUX86State *env, target_ulong addr,
                          uint32_t invalidate)
{
    CPUState *cs = env_cpu(env);
    MemTxAttrs attrs;
    hwaddr pa = x86_cpu_get_phys_page_attrs_debug(cs, addr, &attrs);
    CPUTLBEntryFull *full;
    void *host;

    if (pa == -1) {
        /* not mapped: let the TLB fill raise the #PF a load would */
        probe_access_full(env, addr, MMU_DATA_LOAD, cpu_mmu_index(env, false),
                          false, &host, &full, GETPC());
        pa = full->phys_addr;
    }
    mktme_flush_line(cs, (pa & TARGET_PAGE_MASK) | (addr & ~TARGET_PAGE_MASK),
                     invalidate);
}

/* INVD, WBINVD, WBNOINVD: the executing package's caches */
void helper_mktme_wbinvd(CPUX86State *env, uint32_t op)
{
    mktme_wbinvd(env_cpu(env), op != MKTME_CACHE_INVD,
                 op != MKTME_CACHE_WBNOINVD);
}

/* Every #GP of PCONFIG says why on the guest-error log (-d guest_errors). */
static G_NORETURN void pconfig_gp(CPUX86State *env, uintptr_t ra,
                                  const char *why, uint64_t val)
{
    qemu_log_mask(LOG_GUEST_ERROR, "pconfig: #GP(0) at rip 0x" TARGET_FMT_lx
                  ": %s (0x%" PRIx64 ")\n", env->eip, why, val);
    raise_exception_err_ra(env, EXCP0D_GPF, 0, ra);
}

/*
 * PCONFIG.  The translator has raised #UD for CPL > 0, virtual-8086 mode,
 * the LOCK, REP and operand-size prefixes, and a CPU without PCONFIG.
 * Faults follow the SDM's order; results are ZF and RAX.
 */
void helper_pconfig(CPUX86State *env)
{
    X86CPU *cpu = env_archcpu(env);
    uintptr_t ra = GETPC();
    unsigned k = cpu->mktme_keyid_bits, p = cpu->mktme_tdx_keyid_bits;
    uint8_t key1[MKTME_KEY_FIELD], key2[MKTME_KEY_FIELD];
    target_ulong addr;
    uint32_t ctrl, cmd, alg, status;
    uint16_t keyid;
    const char *why;
    uint64_t val;

    /* Only leaf 0 (MKTME_KEY_PROGRAM) of target 1 is enumerated. */
    if (!mktme_on(env)) {
        pconfig_gp(env, ra, "no TME-MK", 0);
    }
    if ((uint32_t)env->regs[R_EAX] != 0) {
        pconfig_gp(env, ra, "leaf in EAX is not MKTME_KEY_PROGRAM",
                   (uint32_t)env->regs[R_EAX]);
    }
    if (!mktme_cpu_active(cpu)) {
        pconfig_gp(env, ra, "firmware activated no KeyIDs (TME not enabled, "
                   "or no KeyID bits)", cpu->mktme_fw);
    }

    addr = env->regs[R_EBX];
    if (env->hflags & HF_CS64_MASK) {
        /* DS has no base in 64-bit mode; canonical per the paging depth */
        int top = env->cr[4] & CR4_LA57_MASK ? 56 : 47;

        if ((int64_t)addr >> top != 0 && (int64_t)addr >> top != -1) {
            pconfig_gp(env, ra, "structure address not canonical", addr);
        }
    } else {
        addr = (uint32_t)(env->segs[R_DS].base + (uint32_t)addr);
    }
    if (addr & 0xff) {
        pconfig_gp(env, ra, "structure not 256-byte aligned", addr);
    }

    /* Read the whole structure first: a #PF leaves nothing changed. */
    keyid = cpu_lduw_data_ra(env, addr + KP_KEYID, ra);
    ctrl = cpu_ldl_data_ra(env, addr + KP_KEYID_CTRL, ra);
    for (int i = 0; i < MKTME_KEY_FIELD; i++) {
        key1[i] = cpu_ldub_data_ra(env, addr + KP_KEY_FIELD_1 + i, ra);
        key2[i] = cpu_ldub_data_ra(env, addr + KP_KEY_FIELD_2 + i, ra);
    }
    cmd = ctrl & 0xff;
    alg = (ctrl >> 8) & 0xffff;

    val = ctrl;
    if (ctrl & KP_CTRL_RESERVED) {
        why = "KEYID_CTRL reserved bits 31:24 set";
        goto gp;
    }
    if (cmd > MKTME_CMD_NO_ENCRYPT) {
        why = "KEYID_CTRL.COMMAND is not 0 to 3";
        goto gp;
    }
    val = keyid;
    if (keyid == 0) {
        why = "KeyID 0";
        goto gp;
    }
    if (keyid > mktme_max_keys(cpu) || (keyid >> k)) {
        why = "KeyID above MK_TME_MAX_KEYS or the KeyID bits";
        goto gp;
    }
    /* TDX private KeyIDs are programmed only from SEAM. */
    if (p && (keyid >> (k - p))) {
        why = "TDX private KeyID";
        goto gp;
    }
    val = alg;
    if (ctpop32(alg) != 1 || !(alg & mktme_algs(cpu))) {
        why = "KEYID_CTRL.ENC_ALG is not exactly one activated algorithm";
        goto gp;
    }

    qemu_mutex_lock_iothread();
    status = mktme_key_program(cpu->socket_id, keyid, cmd, alg, key1, key2);
    qemu_mutex_unlock_iothread();
    memset(key1, 0, sizeof(key1));
    memset(key2, 0, sizeof(key2));

    env->regs[R_EAX] = status;
    /* ZF reports failure; CF, PF, AF, OF and SF are cleared. */
    CC_SRC = status ? CC_Z : 0;
    return;
gp:
    memset(key1, 0, sizeof(key1));
    memset(key2, 0, sizeof(key2));
    pconfig_gp(env, ra, why, val);
}

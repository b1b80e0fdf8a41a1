/*
 * TME-MK (multi-key total memory encryption) hardware model
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_MKTME_H
#define HW_I386_MKTME_H

#include "qom/object.h"
#include "target/i386/cpu-qom.h"
#include "exec/hwaddr.h"

#define TYPE_MKTME_ENGINE "mktme-engine"
OBJECT_DECLARE_SIMPLE_TYPE(MktmeEngine, MKTME_ENGINE)

/* KEYID_CTRL.COMMAND */
#define MKTME_CMD_SET_KEY_DIRECT    0
#define MKTME_CMD_SET_KEY_RANDOM    1
#define MKTME_CMD_CLEAR_KEY         2
#define MKTME_CMD_NO_ENCRYPT        3

/* KEYID_CTRL.ENC_ALG, IA32_TME_ACTIVATE[63:48] */
#define MKTME_ALG_AES_XTS_128       (1u << 0)
#define MKTME_ALG_AES_XTS_256       (1u << 2)

/* PCONFIG return codes (RAX) */
#define MKTME_PROG_SUCCESS          0
#define MKTME_ENTROPY_ERROR         2
#define MKTME_DEVICE_BUSY           5

#define MKTME_KEY_FIELD             64

/* mktme-firmware: how firmware left TME (IA32_TME_ACTIVATE) */
#define MKTME_FW_LOCKED             0   /* enabled and locked */
#define MKTME_FW_UNLOCKED           1   /* enabled, not locked */
#define MKTME_FW_DISABLED           2   /* not enabled */

/* Firmware enabled TME with KeyID bits: the engine and PCONFIG work */
bool mktme_cpu_active(X86CPU *cpu);

/*
 * Check a CPU's TME-MK properties; the first CPU with tme=on creates the
 * engine, the others must agree with it.
 */
bool mktme_cpu_realize(X86CPU *cpu, Error **errp);

/*
 * Run a validated MKTME_KEY_PROGRAM on @package's key table.  Called with
 * the iothread lock held.  Returns a PCONFIG return code.
 */
uint32_t mktme_key_program(unsigned package, uint16_t keyid, uint32_t cmd,
                           uint32_t alg, const uint8_t *key1,
                           const uint8_t *key2);

/*
 * The caches: CLFLUSH and CLFLUSHOPT (@invalidate) and CLWB of the line at
 * physical address @pa (KeyID bits included), in every package.
 */
void mktme_flush_line(CPUState *cs, hwaddr pa, bool invalidate);
/* INVD, WBINVD, WBNOINVD: every line of @cs's package */
void mktme_wbinvd(CPUState *cs, bool writeback, bool invalidate);

#endif

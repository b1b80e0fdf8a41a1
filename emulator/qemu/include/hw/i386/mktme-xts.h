/*
 * AES-XTS as the TME-MK engine applies it (IEEE 1619-2007)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_I386_MKTME_XTS_H
#define HW_I386_MKTME_XTS_H

#include "crypto/aes.h"

#define MKTME_XTS_BLOCK 16

typedef struct MktmeXts {
    AES_KEY data_enc;           /* K1, encryption schedule */
    AES_KEY data_dec;           /* K1, decryption schedule */
    AES_KEY tweak_enc;          /* K2 */
    /* the same schedules as AES-NI round keys, bytes in memory order */
    uint8_t ni_enc[AES_MAXNR + 1][16] QEMU_ALIGNED(16);
    uint8_t ni_dec[AES_MAXNR + 1][16] QEMU_ALIGNED(16);
} MktmeXts;

/*
 * AES-NI is used when the host has it; tests clear this to check the
 * portable path against the same vectors.
 */
extern bool mktme_xts_aesni;

/* @bits is 128 or 256; @k1 and @k2 hold bits / 8 bytes each. */
void mktme_xts_setkey(MktmeXts *x, const uint8_t *k1, const uint8_t *k2,
                      int bits);

/*
 * En- or decrypt one data unit of @len bytes (a multiple of 16) in place.
 * The tweak is @dun as a 128-bit little-endian number.
 */
void mktme_xts_encrypt(const MktmeXts *x, uint64_t dun, uint8_t *buf,
                       size_t len);
void mktme_xts_decrypt(const MktmeXts *x, uint64_t dun, uint8_t *buf,
                       size_t len);

/*
 * The same in two steps, for callers that reuse a data unit's encrypted
 * tweak @t (16 bytes): mktme_xts_tweak() computes it from @dun.
 */
void mktme_xts_tweak(const MktmeXts *x, uint64_t dun, uint8_t *t);
void mktme_xts_crypt(const MktmeXts *x, const uint8_t *t, uint8_t *buf,
                     size_t len, bool enc);

#endif

/*
 * AES-XTS as the TME-MK engine applies it (IEEE 1619-2007)
 *
 * The engine encrypts each 64-byte cache line as one XTS data unit whose
 * tweak is the line's physical address (without KeyID bits) >> 6.  Written
 * against QEMU's built-in AES so that the model needs no crypto library;
 * checked against OpenSSL and the IEEE 1619 vectors by emulator/tests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/i386/mktme-xts.h"

void mktme_xts_setkey(MktmeXts *x, const uint8_t *k1, const uint8_t *k2,
                      int bits)
{
    AES_set_encrypt_key(k1, bits, &x->data_enc);
    AES_set_decrypt_key(k1, bits, &x->data_dec);
    AES_set_encrypt_key(k2, bits, &x->tweak_enc);
}

/* T <- T * alpha in GF(2^128), T little-endian. */
static void xts_next_tweak(uint8_t *t)
{
    unsigned carry = 0;

    for (int i = 0; i < MKTME_XTS_BLOCK; i++) {
        unsigned b = t[i];

        t[i] = (b << 1) | carry;
        carry = b >> 7;
    }
    if (carry) {
        t[0] ^= 0x87;
    }
}

void mktme_xts_tweak(const MktmeXts *x, uint64_t dun, uint8_t *t)
{
    uint8_t iv[MKTME_XTS_BLOCK] = { 0 };

    stq_le_p(iv, dun);
    AES_encrypt(iv, t, &x->tweak_enc);
}

void mktme_xts_crypt(const MktmeXts *x, const uint8_t *tweak, uint8_t *buf,
                     size_t len, bool enc)
{
    uint8_t t[MKTME_XTS_BLOCK], b[MKTME_XTS_BLOCK];

    assert(len % MKTME_XTS_BLOCK == 0);
    memcpy(t, tweak, MKTME_XTS_BLOCK);
    for (size_t off = 0; off < len; off += MKTME_XTS_BLOCK) {
        for (int i = 0; i < MKTME_XTS_BLOCK; i++) {
            b[i] = buf[off + i] ^ t[i];
        }
        if (enc) {
            AES_encrypt(b, b, &x->data_enc);
        } else {
            AES_decrypt(b, b, &x->data_dec);
        }
        for (int i = 0; i < MKTME_XTS_BLOCK; i++) {
            buf[off + i] = b[i] ^ t[i];
        }
        xts_next_tweak(t);
    }
}

void mktme_xts_encrypt(const MktmeXts *x, uint64_t dun, uint8_t *buf,
                       size_t len)
{
    uint8_t t[MKTME_XTS_BLOCK];

    mktme_xts_tweak(x, dun, t);
    mktme_xts_crypt(x, t, buf, len, true);
}

void mktme_xts_decrypt(const MktmeXts *x, uint64_t dun, uint8_t *buf,
                       size_t len)
{
    uint8_t t[MKTME_XTS_BLOCK];

    mktme_xts_tweak(x, dun, t);
    mktme_xts_crypt(x, t, buf, len, false);
}

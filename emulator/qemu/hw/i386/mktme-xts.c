/*
 * AES-XTS as the TME-MK engine applies it (IEEE 1619-2007)
 *
 * The engine encrypts each 64-byte cache line as one XTS data unit whose
 * tweak is the line's physical address (without KeyID bits) >> 6.  Written
 * against QEMU's built-in AES so that the model needs no crypto library,
 * with AES-NI for the rounds when the host has it (the key schedules are
 * QEMU's, byte-swapped into AES-NI's layout); both paths are checked
 * against OpenSSL and the IEEE 1619 vectors by emulator/tests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/i386/mktme-xts.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define MKTME_HAVE_AESNI 1
bool mktme_xts_aesni = true;
#else
bool mktme_xts_aesni;
#endif

/* QEMU keeps round keys as big-endian words; AES-NI wants memory order. */
static void xts_ni_schedule(uint8_t (*ni)[16], const AES_KEY *k)
{
    for (int r = 0; r <= k->rounds; r++) {
        for (int w = 0; w < 4; w++) {
            stl_be_p(&ni[r][4 * w], k->rd_key[4 * r + w]);
        }
    }
}

void mktme_xts_setkey(MktmeXts *x, const uint8_t *k1, const uint8_t *k2,
                      int bits)
{
    AES_set_encrypt_key(k1, bits, &x->data_enc);
    AES_set_decrypt_key(k1, bits, &x->data_dec);
    AES_set_encrypt_key(k2, bits, &x->tweak_enc);
    xts_ni_schedule(x->ni_enc, &x->data_enc);
    xts_ni_schedule(x->ni_dec, &x->data_dec);
#ifdef MKTME_HAVE_AESNI
    if (!__builtin_cpu_supports("aes")) {
        mktme_xts_aesni = false;
    }
#endif
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

#ifdef MKTME_HAVE_AESNI
/* T <- T * alpha, on a register: shift the 128 bits left, fold 0x87 in. */
static inline __attribute__((target("sse2"))) __m128i
xts_ni_next_tweak(__m128i t)
{
    __m128i carry = _mm_srai_epi32(_mm_shuffle_epi32(t, 0x93), 31);

    carry = _mm_and_si128(carry, _mm_set_epi32(1, 1, 1, 0x87));
    return _mm_xor_si128(_mm_slli_epi32(t, 1), carry);
}

static __attribute__((target("aes,sse2"))) void
xts_ni_crypt(const MktmeXts *x, const uint8_t *tweak, uint8_t *buf,
             size_t len, bool enc)
{
    const uint8_t (*rk)[16] = enc ? x->ni_enc : x->ni_dec;
    int rounds = x->data_enc.rounds;
    __m128i t = _mm_loadu_si128((const __m128i *)tweak);
    __m128i k[AES_MAXNR + 1];

    for (int r = 0; r <= rounds; r++) {
        k[r] = _mm_load_si128((const __m128i *)rk[r]);
    }
    for (size_t off = 0; off < len; off += MKTME_XTS_BLOCK) {
        __m128i b = _mm_loadu_si128((const __m128i *)(buf + off));

        b = _mm_xor_si128(_mm_xor_si128(b, t), k[0]);
        for (int r = 1; r < rounds; r++) {
            b = enc ? _mm_aesenc_si128(b, k[r]) : _mm_aesdec_si128(b, k[r]);
        }
        b = enc ? _mm_aesenclast_si128(b, k[rounds])
                : _mm_aesdeclast_si128(b, k[rounds]);
        _mm_storeu_si128((__m128i *)(buf + off), _mm_xor_si128(b, t));
        t = xts_ni_next_tweak(t);
    }
}
#endif

void mktme_xts_crypt(const MktmeXts *x, const uint8_t *tweak, uint8_t *buf,
                     size_t len, bool enc)
{
    uint8_t t[MKTME_XTS_BLOCK], b[MKTME_XTS_BLOCK];

    assert(len % MKTME_XTS_BLOCK == 0);
#ifdef MKTME_HAVE_AESNI
    if (mktme_xts_aesni) {
        xts_ni_crypt(x, tweak, buf, len, enc);
        return;
    }
#endif
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

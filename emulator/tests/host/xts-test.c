// SPDX-License-Identifier: GPL-2.0
/*
 * The TME-MK engine's AES-XTS (emulator/qemu/hw/i386/mktme-xts.c), tested
 * on the host: the IEEE 1619-2007 vectors, then OpenSSL's AES-XTS on random
 * keys and lines for both key sizes, the way the engine uses it (one
 * 64-byte data unit per line, tweak = address >> 6, little-endian), on
 * both of its paths: AES-NI (skipped on a host without it) and portable.
 * Prints TAP.
 */
#include "qemu/osdep.h"
#include "hw/i386/mktme-xts.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

struct vector {
	const char *name;
	const char *k1, *k2;
	uint64_t dun;
	const char *pt, *ct;
};

/* IEEE Std 1619-2007, Annex B (XTS-AES-128). */
static const struct vector vectors[] = {
	{ "IEEE 1619 vector 1",
	  "00000000000000000000000000000000", "00000000000000000000000000000000", 0,
	  "0000000000000000000000000000000000000000000000000000000000000000",
	  "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e" },
	{ "IEEE 1619 vector 2",
	  "11111111111111111111111111111111", "22222222222222222222222222222222",
	  0x3333333333ULL,
	  "4444444444444444444444444444444444444444444444444444444444444444",
	  "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0" },
	{ "IEEE 1619 vector 3",
	  "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0", "22222222222222222222222222222222",
	  0x3333333333ULL,
	  "4444444444444444444444444444444444444444444444444444444444444444",
	  "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89" },
	{ "IEEE 1619 vector 4 (512-byte unit)",
	  "27182818284590452353602874713526", "31415926535897932384626433832795", 0,
	  NULL, /* bytes 0x00..0xff twice */
        "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c"
        "c78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412"
        "328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc512c8866c7e860ce"
        "93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad0265"
        "5ea92dc4c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8"
        "a750e8768defffed9122810aaeb99f9172af82b604dc4b8e51bcb08235a6f434"
        "1332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f1badd03c"
        "5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e"
        "94bff94effd01a91735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc"
        "1e08298516e2c9ed03ff3c1b7860f6de76d4cecd94c8119855ef5297ca67e9f3"
        "e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344"
        "b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd"
        "74d20cc39881c213ee770b1010e4bea718846977ae119f7a023ab58cca0ad752"
        "afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539edb609ef4f79c203e"
        "bb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18d"
        "eb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568" },
};

static int tests, failures;
static const char *path;	/* "AES-NI" or "portable" */

static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d %s: ", ok ? "" : "not ", ++tests, path);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures += !ok;
}

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
	return n;
}

static void test_vector(const struct vector *v)
{
	uint8_t k1[32], k2[32], pt[512], ct[512], buf[512];
	size_t bits = unhex(v->k1, k1) * 8, len;
	MktmeXts x;

	unhex(v->k2, k2);
	len = unhex(v->ct, ct);
	if (v->pt)
		unhex(v->pt, pt);
	else
		for (size_t i = 0; i < len; i++)
			pt[i] = i;

	mktme_xts_setkey(&x, k1, k2, bits);
	memcpy(buf, pt, len);
	mktme_xts_encrypt(&x, v->dun, buf, len);
	result(!memcmp(buf, ct, len), "%s: encrypt", v->name);
	mktme_xts_decrypt(&x, v->dun, buf, len);
	result(!memcmp(buf, pt, len), "%s: decrypt", v->name);
}

/* OpenSSL's XTS of one line: key = K1 || K2, IV = dun little-endian. */
static void openssl_xts(int bits, const uint8_t *k1, const uint8_t *k2,
			uint64_t dun, const uint8_t *in, uint8_t *out)
{
	const EVP_CIPHER *c = bits == 256 ? EVP_aes_256_xts() : EVP_aes_128_xts();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t key[64], iv[16] = { 0 };
	int n;

	memcpy(key, k1, bits / 8);
	memcpy(key + bits / 8, k2, bits / 8);
	for (int i = 0; i < 8; i++)
		iv[i] = dun >> (8 * i);
	if (!EVP_EncryptInit_ex(ctx, c, NULL, key, iv) ||
	    !EVP_EncryptUpdate(ctx, out, &n, in, 64) || n != 64) {
		fprintf(stderr, "OpenSSL AES-XTS failed\n");
		exit(1);
	}
	EVP_CIPHER_CTX_free(ctx);
}

static void test_against_openssl(int bits)
{
	int bad_enc = 0, bad_dec = 0, rounds = 500;

	for (int r = 0; r < rounds; r++) {
		uint8_t k1[32], k2[32], pt[64], ct[64], buf[64];
		uint64_t addr;
		MktmeXts x;

		RAND_bytes(k1, sizeof(k1));
		RAND_bytes(k2, sizeof(k2));
		k2[0] = ~k1[0];	/* OpenSSL refuses equal halves */
		RAND_bytes(pt, sizeof(pt));
		RAND_bytes((uint8_t *)&addr, sizeof(addr));
		addr &= (1ULL << 40) - 64;	/* a line below the KeyID bits */

		openssl_xts(bits, k1, k2, addr >> 6, pt, ct);
		mktme_xts_setkey(&x, k1, k2, bits);
		memcpy(buf, pt, 64);
		mktme_xts_encrypt(&x, addr >> 6, buf, 64);
		bad_enc += !!memcmp(buf, ct, 64);
		mktme_xts_decrypt(&x, addr >> 6, buf, 64);
		bad_dec += !!memcmp(buf, pt, 64);
	}
	result(!bad_enc, "AES-XTS-%d line encryption equals OpenSSL's (%d of %d differ)",
	       bits, bad_enc, rounds);
	result(!bad_dec, "AES-XTS-%d line decryption inverts it (%d of %d differ)",
	       bits, bad_dec, rounds);
}

static void run_all(void)
{
	size_t n = sizeof(vectors) / sizeof(vectors[0]);

	for (size_t i = 0; i < n; i++)
		test_vector(&vectors[i]);
	test_against_openssl(128);
	test_against_openssl(256);
}

int main(void)
{
	size_t n = sizeof(vectors) / sizeof(vectors[0]), per_path = 2 * n + 4;

	printf("TAP version 13\n1..%zu\n", 2 * per_path);
	path = "AES-NI";
	if (mktme_xts_aesni && __builtin_cpu_supports("aes")) {
		run_all();
	} else {
		for (size_t i = 0; i < per_path; i++)
			printf("ok %d AES-NI # SKIP the host has no AES-NI\n", ++tests);
	}
	mktme_xts_aesni = false;
	path = "portable";
	run_all();
	return failures ? 1 : 0;
}

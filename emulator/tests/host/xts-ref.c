// SPDX-License-Identifier: GPL-2.0
/*
 * xts-ref BITS K1 K2 ADDR PLAINTEXT: print, in hex, OpenSSL's AES-XTS of
 * PLAINTEXT (hex, whole 64-byte lines) as the TME-MK engine must store it
 * at physical address ADDR: one data unit per line, tweak = address >> 6.
 * The independent reference the known-answer tests compare RAM against.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

static int unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s) / 2;

	if (strlen(s) % 2 || n > max)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return n;
}

int main(int argc, char **argv)
{
	static uint8_t pt[1 << 16], ct[1 << 16];
	uint8_t key[64], iv[16];
	int bits, klen, n, len;
	uint64_t addr;
	EVP_CIPHER_CTX *ctx;

	if (argc != 6) {
		fprintf(stderr, "usage: xts-ref 128|256 K1 K2 ADDR PLAINTEXT\n");
		return 2;
	}
	bits = atoi(argv[1]);
	klen = bits / 8;
	addr = strtoull(argv[4], NULL, 0);
	len = unhex(argv[5], pt, sizeof(pt));
	if ((bits != 128 && bits != 256) || unhex(argv[2], key, 32) != klen ||
	    unhex(argv[3], key + klen, 32) != klen || len <= 0 || len % 64 ||
	    addr % 64) {
		fprintf(stderr, "xts-ref: bad arguments\n");
		return 2;
	}
	ctx = EVP_CIPHER_CTX_new();
	for (int off = 0; off < len; off += 64) {
		uint64_t dun = (addr + off) >> 6;

		memset(iv, 0, sizeof(iv));
		for (int i = 0; i < 8; i++)
			iv[i] = dun >> (8 * i);
		if (!EVP_EncryptInit_ex(ctx, bits == 256 ? EVP_aes_256_xts() :
					EVP_aes_128_xts(), NULL, key, iv) ||
		    !EVP_EncryptUpdate(ctx, ct + off, &n, pt + off, 64) || n != 64) {
			fprintf(stderr, "xts-ref: OpenSSL refused (equal key halves?)\n");
			return 1;
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	for (int i = 0; i < len; i++)
		printf("%02x", ct[i]);
	printf("\n");
	return 0;
}

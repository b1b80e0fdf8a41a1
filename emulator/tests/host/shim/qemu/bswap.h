/* SPDX-License-Identifier: GPL-2.0 */
/* Stand-in for QEMU's qemu/bswap.h: the helpers mktme-xts.c uses. */
#ifndef SHIM_QEMU_BSWAP_H
#define SHIM_QEMU_BSWAP_H
#include <stdint.h>
#include <string.h>

static inline void stq_le_p(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));	/* x86 hosts are little-endian */
}

static inline void stl_be_p(void *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, sizeof(v));
}
#endif

/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Intel Multi-Key Total Memory Encryption: the user-space interface
 *
 * Documentation/arch/x86/mktme.rst, section "User-space interface".
 *
 * Keys:     add_key("mktme", DESCRIPTION, PAYLOAD, PLEN, KEYRING)
 *           PAYLOAD: space-separated "name=value" words:
 *             type=cpu|no-encrypt|user   (required)
 *             algorithm=aes-xts-128|aes-xts-256   (default aes-xts-128)
 *             key=HEX tweak=HEX   (type=user only: 16 or 32 bytes each,
 *                                  as the algorithm needs)
 *
 * Memory:   encrypt_mprotect(addr, len, prot, serial, flags)
 *           __NR_encrypt_mprotect comes from <asm/unistd.h>.
 */
#ifndef _UAPI_LINUX_MKTME_H
#define _UAPI_LINUX_MKTME_H

/* The key type's name, for add_key() and request_key() */
#define MKTME_KEY_TYPE		"mktme"

/* The longest payload add_key() accepts for it */
#define MKTME_MAX_PAYLOAD	512

/* encrypt_mprotect(): the key serial meaning "no key": back to KeyID 0 */
#define MKTME_NO_KEY		0

/* encrypt_mprotect() flags: none are defined yet, and any bit is -EINVAL */

#endif /* _UAPI_LINUX_MKTME_H */

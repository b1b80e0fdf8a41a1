/* SPDX-License-Identifier: GPL-2.0 */
/* Constants shared by boot.S and C. */
#ifndef BAREMETAL_ASM_H
#define BAREMETAL_ASM_H

#define GDT_CODE32		0x08
#define GDT_CODE64		0x10
#define GDT_DATA		0x18
#define AP_TRAMPOLINE_PA	0x8000	/* SIPI vector 0x08 */
#define GDT_USER_CODE		0x20
#define GDT_USER_DATA		0x28
#define GDT_TSS			0x30

/* KeyID k in PA bits 45:40: phys-bits=46, 6 KeyID bits */
#define KEYID_SHIFT		40
#define NR_KEYIDS		64

/* int $0x80 from ring 3 ends run_user() without a fault */
#define USER_RETURN_VECTOR	0x80

#endif

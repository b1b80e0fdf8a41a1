/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stand-in for QEMU's qemu/osdep.h, so that the engine's AES-XTS and QEMU's
 * AES can be unit-tested on the host without a configured QEMU build tree.
 */
#ifndef SHIM_QEMU_OSDEP_H
#define SHIM_QEMU_OSDEP_H
#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QEMU_ALIGNED(X) __attribute__((aligned(X)))
#endif

/*
 * Device access to guest RAM, for a hardware model that must see it
 *
 * DMA that reaches RAM directly (address_space_rw, address_space_map) is
 * shown to one observer, the TME-MK model's caches: on hardware such DMA
 * does not see lines that the CPU caches hold under another KeyID.  The
 * host's own accesses (memory dumps, the model's) are not observed:
 * a thread marks them with ram_observer_suspend() and _resume().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef EXEC_RAM_OBSERVER_H
#define EXEC_RAM_OBSERVER_H

#include "exec/hwaddr.h"

/* @len bytes at @offset in RAM region @mr are about to be read or written */
typedef void RamObserverFn(MemoryRegion *mr, hwaddr offset, hwaddr len,
                           bool write);

void ram_observer_set(RamObserverFn *fn);
void ram_observer_suspend(void);
void ram_observer_resume(void);
bool ram_observer_suspended(void);

#endif

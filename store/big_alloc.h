/*
 * big_alloc.h - the store's start-up allocations of large arrays.
 *
 * Anonymous mmap, zero-filled, with MADV_HUGEPAGE: a 1M-binding table is
 * ~450 MB, and with 4 KiB pages every random lookup also missed the TLB and
 * walked page tables.  Transparent huge pages cut that (perf/bench-store,
 * refresh and recovery) and also cut first-touch page faults 512-fold.
 * Falls back silently to normal pages where THP is off.  Pages are still
 * faulted in on first use, so RSS grows with the bindings actually stored.
 */
#ifndef SIPREG_STORE_BIG_ALLOC_H
#define SIPREG_STORE_BIG_ALLOC_H

#include <stddef.h>

/* Zeroed, 2 MiB aligned when large; NULL on ENOMEM. */
void *store_big_alloc(size_t bytes);
void store_big_free(void *p, size_t bytes);

#endif

/* Per-request memory: many small allocations, freed all at once when the request ends.
 *
 * An arena hands out memory from chunks it obtains with malloc. Nothing is freed
 * individually; bw_arena_reset() or bw_arena_free() release everything. Every pointer
 * returned is 16-byte aligned. max_bytes bounds the memory the arena reserves from
 * malloc for its chunks (headers excluded), so a hostile request cannot grow it without
 * limit. An arena is not thread-safe: one request, one thread. */
#ifndef BULWARK_ARENA_H
#define BULWARK_ARENA_H

#include <stddef.h>

typedef struct bw_arena bw_arena;

/* Creates an arena whose chunks hold chunk_size bytes (0 = 4096; rounded up to 16) and
 * that reserves at most max_bytes in total (0 = no cap). The first chunk is allocated now
 * (clamped to max_bytes). Returns NULL on OOM. The caller owns it: bw_arena_free(). */
bw_arena *bw_arena_new(size_t chunk_size, size_t max_bytes);

/* Returns size bytes (uninitialised, 16-byte aligned) owned by the arena, or NULL when the
 * cap would be exceeded, on OOM, or if a is NULL. size 0 returns a valid, unique pointer.
 * A request larger than chunk_size gets a chunk of its own. */
void *bw_arena_alloc(bw_arena *a, size_t size);

/* Like bw_arena_alloc for n * size zeroed bytes; NULL also when n * size overflows. */
void *bw_arena_calloc(bw_arena *a, size_t n, size_t size);

/* Copies len bytes of p (which may contain NULs; may be NULL only if len is 0) and appends
 * a NUL. Returns the copy, owned by the arena, or NULL like bw_arena_alloc. */
char *bw_arena_strndup(bw_arena *a, const char *p, size_t len);

/* Bytes handed out since creation or the last reset, including alignment padding. */
size_t bw_arena_used(const bw_arena *a);

/* Invalidates every pointer handed out and frees all chunks but the first, which is kept
 * for reuse by the next request. Every byte handed out is wiped first (as by bw_arena_free):
 * a request's secrets do not linger in memory after it. */
void bw_arena_reset(bw_arena *a);

/* Wipes every byte handed out, then frees the arena and everything allocated from it. NULL
 * is a no-op. */
void bw_arena_free(bw_arena *a);

#endif

/* Bump allocator over a list of malloc'd chunks; see arena.h for the contract. */
#include "bulwark/arena.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define ARENA_ALIGN ((size_t)16)
#define ARENA_DEFAULT_CHUNK ((size_t)4096)

struct chunk {
    struct chunk *next;
    size_t cap;  /* payload bytes after the header */
    size_t used; /* payload bytes handed out */
    size_t pad;  /* keeps the header a multiple of ARENA_ALIGN */
};

_Static_assert(sizeof(struct chunk) % ARENA_ALIGN == 0, "chunk header must keep payloads aligned");

struct bw_arena {
    struct chunk *first; /* kept across resets; every other chunk hangs off first->next */
    struct chunk *cur;   /* where small allocations are carved from */
    size_t chunk_size;
    size_t max_bytes;
    size_t reserved; /* payload bytes of all chunks; never above max_bytes */
    size_t used;
};

static unsigned char *chunk_data(struct chunk *c)
{
    return (unsigned char *)(c + 1);
}

static int round_up(size_t n, size_t *out)
{
    if (n > SIZE_MAX - (ARENA_ALIGN - 1))
        return -1;
    *out = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    return 0;
}

/* cap must be a multiple of ARENA_ALIGN: aligned_alloc wants the size to be one. */
static struct chunk *chunk_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(struct chunk))
        return NULL;
    struct chunk *c = aligned_alloc(ARENA_ALIGN, sizeof(struct chunk) + cap);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    c->pad = 0;
    return c;
}

/* What a request held (a login body's password, a bearer token in an answer, recovery
 * codes) does not outlive it in freed memory: the bytes handed out are wiped first. */
static void wipe(struct chunk *c)
{
    sodium_memzero(chunk_data(c), c->used);
}

static void free_chain(struct chunk *c)
{
    while (c != NULL) {
        struct chunk *next = c->next;
        wipe(c);
        free(c);
        c = next;
    }
}

bw_arena *bw_arena_new(size_t chunk_size, size_t max_bytes)
{
    size_t csize;
    if (round_up(chunk_size == 0 ? ARENA_DEFAULT_CHUNK : chunk_size, &csize) != 0)
        return NULL;
    if (max_bytes == 0)
        max_bytes = SIZE_MAX;
    size_t first_cap = csize;
    if (first_cap > max_bytes)
        first_cap = max_bytes & ~(ARENA_ALIGN - 1);

    bw_arena *a = malloc(sizeof(*a));
    if (a == NULL)
        return NULL;
    a->first = chunk_new(first_cap);
    if (a->first == NULL) {
        free(a);
        return NULL;
    }
    a->cur = a->first;
    a->chunk_size = csize;
    a->max_bytes = max_bytes;
    a->reserved = first_cap;
    a->used = 0;
    return a;
}

void *bw_arena_alloc(bw_arena *a, size_t size)
{
    if (a == NULL)
        return NULL;
    size_t need;
    /* Size 0 still takes one aligned slot so the pointer is unique. */
    if (round_up(size == 0 ? 1 : size, &need) != 0)
        return NULL;

    struct chunk *c = a->cur;
    if (c->cap - c->used >= need) {
        void *p = chunk_data(c) + c->used;
        c->used += need;
        a->used += need;
        return p;
    }

    size_t room = a->max_bytes - a->reserved;
    if (need > room)
        return NULL;
    /* Large requests get an exact chunk and leave cur alone, so the free space in cur is
     * not wasted; a normal chunk shrinks to what the cap still allows (>= need, since
     * need is aligned and <= room). */
    bool large = need > a->chunk_size;
    size_t cap = a->chunk_size;
    if (large)
        cap = need;
    else if (cap > room)
        cap = room & ~(ARENA_ALIGN - 1);

    struct chunk *n = chunk_new(cap);
    if (n == NULL)
        return NULL;
    n->next = a->first->next;
    a->first->next = n;
    a->reserved += cap;
    if (!large)
        a->cur = n;
    n->used = need;
    a->used += need;
    return chunk_data(n);
}

void *bw_arena_calloc(bw_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = bw_arena_alloc(a, n * size);
    if (p != NULL && n * size != 0)
        memset(p, 0, n * size);
    return p;
}

char *bw_arena_strndup(bw_arena *a, const char *p, size_t len)
{
    if ((p == NULL && len != 0) || len == SIZE_MAX)
        return NULL;
    char *s = bw_arena_alloc(a, len + 1);
    if (s == NULL)
        return NULL;
    if (len != 0)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

size_t bw_arena_used(const bw_arena *a)
{
    return a == NULL ? 0 : a->used;
}

void bw_arena_reset(bw_arena *a)
{
    if (a == NULL)
        return;
    free_chain(a->first->next);
    a->first->next = NULL;
    wipe(a->first);
    a->first->used = 0;
    a->cur = a->first;
    a->reserved = a->first->cap;
    a->used = 0;
}

void bw_arena_free(bw_arena *a)
{
    if (a == NULL)
        return;
    free_chain(a->first);
    free(a);
}

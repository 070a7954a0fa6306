/* Packaging smoke test: a C client of the installed library.
 *
 * Creates a VM arena and an MVFF pool, allocates and frees some blocks,
 * destroys both and prints "ok". Written against the documented C interface
 * only (arena.md, pool-and-classes.md, pools-mvff.md, allocation.md). */

#include <stdio.h>
#include <string.h>

#include "mps.h"
#include "mpsavm.h"
#include "mpscmvff.h"

#define NBLOCKS 64

static int fail(const char *what, mps_res_t res)
{
  fprintf(stderr, "smoke: %s failed (res=%d)\n", what, (int)res);
  return 1;
}

int main(void)
{
  mps_arena_t arena;
  mps_pool_t pool;
  mps_addr_t blocks[NBLOCKS];
  size_t sizes[NBLOCKS];
  mps_res_t res;
  int i;

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, (size_t)32 << 20);
    res = mps_arena_create_k(&arena, mps_arena_class_vm(), args);
  } MPS_ARGS_END(args);
  if (res != MPS_RES_OK)
    return fail("mps_arena_create_k", res);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, (size_t)65536);
    res = mps_pool_create_k(&pool, arena, mps_class_mvff(), args);
  } MPS_ARGS_END(args);
  if (res != MPS_RES_OK)
    return fail("mps_pool_create_k", res);

  for (i = 0; i < NBLOCKS; ++i) {
    sizes[i] = (size_t)(8 + (i * 37) % 500);
    res = mps_alloc(&blocks[i], pool, sizes[i]);
    if (res != MPS_RES_OK)
      return fail("mps_alloc", res);
    memset(blocks[i], i & 0xFF, sizes[i]);
  }
  for (i = 0; i < NBLOCKS; ++i) {
    const unsigned char *p = (const unsigned char *)blocks[i];
    if (p[0] != (unsigned char)(i & 0xFF) || p[sizes[i] - 1] != (unsigned char)(i & 0xFF)) {
      fprintf(stderr, "smoke: block %d lost its contents\n", i);
      return 1;
    }
  }
  for (i = 0; i < NBLOCKS; i += 2)
    mps_free(pool, blocks[i], sizes[i]);
  for (i = 1; i < NBLOCKS; i += 2)
    mps_free(pool, blocks[i], sizes[i]);

  mps_pool_destroy(pool);
  mps_arena_destroy(arena);
  printf("ok\n");
  return 0;
}

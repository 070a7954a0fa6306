/* tree_format.h: GCBench's tree node and its object format for a copying
 * pool (AMC), shared by examples/demo.c and bench/incremental_bench.c.
 * Static functions: include it in one translation unit of a program. */
#ifndef MPS_EXAMPLES_TREE_FORMAT_H
#define MPS_EXAMPLES_TREE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "mps.h"

/* GCBench's node: four words, two references and two words of data. */
typedef struct node_s {
  struct node_s *left, *right;
  intptr_t i, j;
} node_s;

/* A copying pool needs more from the format than a marking one: besides
 * scan and skip, a way to leave a forwarding marker where an object was
 * (fwd), to recognise one (isfwd), and to fill gaps with padding objects
 * (pad). Here every object starts with a word whose low two bits say what
 * it is; a node's first word is a pointer (or NULL), so its low bits are 0:
 *   ...00  a node (32 bytes)
 *   ...01  padding of (word >> 2) bytes
 *   ...10  a forwarding marker: the node is now at (word & ~3). */
#define TAG_MASK ((uintptr_t)3)
#define TAG_PAD ((uintptr_t)1)
#define TAG_FWD ((uintptr_t)2)

static uintptr_t first_word(mps_addr_t p) {
  return *(uintptr_t*)p;
}

static mps_addr_t node_skip(mps_addr_t p) {
  uintptr_t w = first_word(p);
  size_t size = (w & TAG_MASK) == TAG_PAD ? (size_t)(w >> 2) : sizeof(node_s);
  return (char*)p + size;
}

static mps_res_t node_scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    char* p = base;
    while (p < (char*)limit) {
      node_s* n = (node_s*)p;
      mps_addr_t ref;
      mps_res_t res;
      if ((first_word(p) & TAG_MASK) != 0) { /* padding or forwarded */
        p = node_skip(p);
        continue;
      }
      ref = n->left;
      res = MPS_FIX12(ss, &ref);
      if (res != MPS_RES_OK) return res;
      n->left = ref;
      ref = n->right;
      res = MPS_FIX12(ss, &ref);
      if (res != MPS_RES_OK) return res;
      n->right = ref;
      p += sizeof(node_s);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

static void node_fwd(mps_addr_t old, mps_addr_t new_addr) {
  *(uintptr_t*)old = (uintptr_t)new_addr | TAG_FWD;
}

static mps_addr_t node_isfwd(mps_addr_t p) {
  uintptr_t w = first_word(p);
  return (w & TAG_MASK) == TAG_FWD ? (mps_addr_t)(w & ~TAG_MASK) : NULL;
}

static void node_pad(mps_addr_t p, size_t size) {
  *(uintptr_t*)p = ((uintptr_t)size << 2) | TAG_PAD;
}

#endif /* MPS_EXAMPLES_TREE_FORMAT_H */

/*
 * checkpoint_internal.h - what checkpoint.c, checkpoint_list.c and
 * checkpoint_diff.c share and nobody else needs: store keys, URI
 * resolution and retention.
 */
#ifndef GNARL_CHECKPOINT_INTERNAL_H
#define GNARL_CHECKPOINT_INTERNAL_H

#include "checkpoint.h"

#define CKPT_DIR "checkpoints/"
#define CKPT_PREFIX "checkpoint_"

/* Keys joined with '/', skipping empty parts (owned; NULL: no memory). */
char *gnarl_checkpoint_join(const char *a, const char *b);
char *gnarl_checkpoint_join3(const char *a, const char *b, const char *c);
/* The key without its last component ("" for a one-component key). */
char *gnarl_checkpoint_dirname(const char *key);
/* The URI of key in st (owned). */
char *gnarl_checkpoint_uri_of(const struct gnarl_storage *st, const char *key);

/* Put a one-line pointer object at key naming `target` (a key relative
 * to key's directory). */
int gnarl_checkpoint_put_pointer(struct gnarl_storage *st, const char *key,
                                 const char *target, char err[GNARL_ERR_SIZE]);

/* Resolve `uri` (see gnarl_checkpoint_open) to a store and the key of a
 * checkpoint directory in it.  *st_out is st or a new store also given in
 * *own_out (close it).  *key_out owned. */
int gnarl_checkpoint_resolve(const struct gnarl_config *cfg, struct gnarl_storage *st,
                             const char *base, const char *uri,
                             struct gnarl_storage **st_out, struct gnarl_storage **own_out,
                             char **key_out, char err[GNARL_ERR_SIZE]);

/* Retention of the run `run` after checkpoint `current` (a directory
 * name) was saved. */
int gnarl_checkpoint_prune(struct gnarl_storage *st, const char *run, const char *current,
                           const struct gnarl_checkpoint_retention *keep,
                           char err[GNARL_ERR_SIZE]);

/* A tag's name: letters, digits, '_', '.' and '-', not starting with '.'. */
bool gnarl_checkpoint_tag_name_ok(const char *name);

#endif /* GNARL_CHECKPOINT_INTERNAL_H */

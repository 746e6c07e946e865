/* Helpers shared by the engine's ratings consumers (agreement, aggregation): the table walked by
 * annotator instead of by item, without copying labels. Internal to the engine. */
#ifndef HITL_RATINGS_IMPL_H
#define HITL_RATINGS_IMPL_H

#include "hitl_engine.h"

/* Annotator a's ratings are by_ann[ann_ptr[a] .. ann_ptr[a + 1]) (indices into r's arrays, in
 * item order); item_of[k] is the item of rating k. */
typedef struct hitl__by_annotator {
    int64_t *ann_ptr; /* [n_annotators + 1] */
    int64_t *by_ann;  /* [n_ratings] */
    int32_t *item_of; /* [n_ratings] */
} hitl__by_annotator;

/* Builds the index of a checked table; HITL_ENOMEM only. Release with
 * hitl__by_annotator_release(). */
hitl_status hitl__by_annotator_build(const hitl_ratings *r, hitl__by_annotator *ix,
                                     hitl_error *err);
void hitl__by_annotator_release(hitl__by_annotator *ix);

#endif /* HITL_RATINGS_IMPL_H */

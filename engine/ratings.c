/* The ratings table every quality measure reads: (item, annotator, label) triplets compressed by
 * item, sorted by annotator within an item, built with two stable counting sorts (O(n + items +
 * annotators), no comparison sort) so that a million items cost two passes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratings_impl.h"
#include "hitl_banned.h"

/* malloc of n elements of `size` bytes: NULL when n * size overflows, 1 byte when it is 0 (so
 * NULL always means out of memory). Caller frees. */
static void *alloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return malloc(n && size ? n * size : 1);
}

void hitl_ratings_release(hitl_ratings *r)
{
    if (!r) return;
    free(r->item_ptr);
    free(r->annotator);
    free(r->label);
    free(r->value);
    memset(r, 0, sizeof(*r));
}

/* HITL_EINVAL unless every label value (NULL: none) is finite. */
static hitl_status check_values(const double *values, size_t n_labels, hitl_error *err)
{
    for (size_t c = 0; values && c < n_labels; c++)
        if (!isfinite(values[c]))
            return hitl_error_set(err, HITL_EINVAL, "label %zu has a non-finite value", c);
    return HITL_OK;
}

hitl_status hitl_ratings_build(hitl_ratings *r, size_t n_items, size_t n_annotators,
                               size_t n_labels, const int32_t *item, const int32_t *annotator,
                               const int32_t *label, size_t n, const double *values,
                               hitl_error *err)
{
    if (!r) return hitl_error_set(err, HITL_EINVAL, "no ratings table given");
    memset(r, 0, sizeof(*r));
    if (n > 0 && (!item || !annotator || !label))
        return hitl_error_set(err, HITL_EINVAL, "no triplets given");
    if (n_items > INT32_MAX || n_annotators > INT32_MAX || n_labels > INT32_MAX ||
        n > (size_t)INT64_MAX)
        return hitl_error_set(err, HITL_EINVAL, "table too large");
    for (size_t i = 0; i < n; i++) {
        if (item[i] < 0 || (size_t)item[i] >= n_items || annotator[i] < 0 ||
            (size_t)annotator[i] >= n_annotators || label[i] < 0 || (size_t)label[i] >= n_labels) {
            hitl_error_set(err, HITL_EINVAL,
                           "rating %zu: item %d, annotator %d or label %d out of range (%zu "
                           "items, %zu annotators, %zu labels)",
                           i, item[i], annotator[i], label[i], n_items, n_annotators, n_labels);
            if (err) err->row = (int64_t)i;
            return HITL_EINVAL;
        }
    }
    hitl_status st = check_values(values, n_labels, err);
    if (st != HITL_OK) return st;

    size_t *by_ann = alloc_array(n, sizeof(size_t)), *order = alloc_array(n, sizeof(size_t));
    int64_t *cnt = calloc(n_annotators + 1, sizeof(int64_t));
    r->item_ptr = calloc(n_items + 1, sizeof(int64_t));
    r->annotator = alloc_array(n, sizeof(int32_t));
    r->label = alloc_array(n, sizeof(int32_t));
    if (values) r->value = alloc_array(n_labels, sizeof(double));
    if (!by_ann || !order || !cnt || !r->item_ptr || !r->annotator || !r->label ||
        (values && !r->value)) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ratings", n);
        goto done;
    }
    /* pass 1: stable by annotator; pass 2: stable by item, so annotators ascend in an item */
    for (size_t i = 0; i < n; i++)
        cnt[annotator[i] + 1]++;
    for (size_t a = 0; a < n_annotators; a++)
        cnt[a + 1] += cnt[a];
    for (size_t i = 0; i < n; i++)
        by_ann[cnt[annotator[i]]++] = i;
    int64_t *ptr = r->item_ptr;
    for (size_t i = 0; i < n; i++)
        ptr[item[i] + 1]++;
    for (size_t u = 0; u < n_items; u++)
        ptr[u + 1] += ptr[u];
    for (size_t k = 0; k < n; k++) {
        size_t i = by_ann[k];
        order[ptr[item[i]]++] = i;
    }
    memmove(ptr + 1, ptr, n_items * sizeof(int64_t));
    ptr[0] = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        r->annotator[k] = annotator[i];
        r->label[k] = label[i];
    }
    for (size_t u = 0; u < n_items; u++)
        for (int64_t k = ptr[u] + 1; k < ptr[u + 1]; k++)
            if (r->annotator[k] == r->annotator[k - 1]) {
                st = hitl_error_set(err, HITL_EDATA, "annotator %d rated item %zu twice",
                                    r->annotator[k], u);
                if (err) err->row = (int64_t)order[k];
                goto done;
            }
    if (values) memcpy(r->value, values, n_labels * sizeof(double));
    r->n_items = n_items;
    r->n_annotators = n_annotators;
    r->n_labels = n_labels;
    r->n_ratings = n;
done:
    free(by_ann);
    free(order);
    free(cnt);
    if (st != HITL_OK) hitl_ratings_release(r);
    return st;
}

/* One pass counts each item's ratings (and checks every label), a second fills the table: a
 * row's annotators already ascend. */
hitl_status hitl_ratings_from_matrix(hitl_ratings *r, const hitl_ratings_matrix *m, hitl_error *err)
{
    if (!r) return hitl_error_set(err, HITL_EINVAL, "no ratings table given");
    memset(r, 0, sizeof(*r));
    if (!m || (!m->m && m->n_items && m->n_annotators))
        return hitl_error_set(err, HITL_EINVAL, "no ratings matrix given");
    size_t n = m->n_items, A = m->n_annotators, L = m->n_labels;
    if (L > 127)
        return hitl_error_set(err, HITL_EINVAL, "an int8 matrix holds at most 127 labels, not %zu",
                              L);
    if (n > INT32_MAX || A > INT32_MAX || (A && n > SIZE_MAX / A))
        return hitl_error_set(err, HITL_EINVAL, "matrix too large");
    hitl_status st = check_values(m->value, L, err);
    if (st != HITL_OK) return st;
    r->item_ptr = calloc(n + 1, sizeof(int64_t));
    if (!r->item_ptr) return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu items", n);
    for (size_t u = 0; u < n; u++) {
        const int8_t *row = m->m + u * A;
        int64_t k = 0;
        for (size_t a = 0; a < A; a++) {
            if (row[a] >= (int)L) {
                hitl_ratings_release(r);
                hitl_error_set(err, HITL_EINVAL,
                               "item %zu, annotator %zu: label %d out of range (%zu labels)", u, a,
                               row[a], L);
                if (err) err->row = (int64_t)u;
                return HITL_EINVAL;
            }
            k += row[a] >= 0;
        }
        r->item_ptr[u + 1] = r->item_ptr[u] + k;
    }
    size_t total = (size_t)r->item_ptr[n];
    r->annotator = alloc_array(total, sizeof(int32_t));
    r->label = alloc_array(total, sizeof(int32_t));
    if (m->value) r->value = alloc_array(L, sizeof(double));
    if (!r->annotator || !r->label || (m->value && !r->value)) {
        hitl_ratings_release(r);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ratings", total);
    }
    size_t k = 0;
    for (size_t u = 0; u < n; u++)
        for (size_t a = 0; a < A; a++)
            if (m->m[u * A + a] >= 0) {
                r->annotator[k] = (int32_t)a;
                r->label[k++] = m->m[u * A + a];
            }
    if (m->value) memcpy(r->value, m->value, L * sizeof(double));
    r->n_items = n;
    r->n_annotators = A;
    r->n_labels = L;
    r->n_ratings = total;
    return HITL_OK;
}

hitl_status hitl_ratings_check(const hitl_ratings *r, hitl_error *err)
{
    if (!r) return hitl_error_set(err, HITL_EINVAL, "no ratings table given");
    if (r->n_items > INT32_MAX || r->n_annotators > INT32_MAX || r->n_labels > INT32_MAX)
        return hitl_error_set(err, HITL_EINVAL, "table too large");
    if (!r->item_ptr || (r->n_ratings > 0 && (!r->annotator || !r->label)))
        return hitl_error_set(err, HITL_EINVAL, "ratings table without arrays");
    if (r->item_ptr[0] != 0 || r->item_ptr[r->n_items] < 0 ||
        (uint64_t)r->item_ptr[r->n_items] != (uint64_t)r->n_ratings)
        return hitl_error_set(err, HITL_EINVAL, "item offsets do not span the %zu ratings",
                              r->n_ratings);
    for (size_t u = 0; u < r->n_items; u++) {
        int64_t s = r->item_ptr[u], e = r->item_ptr[u + 1];
        if (e < s || e > (int64_t)r->n_ratings)
            return hitl_error_set(err, HITL_EINVAL, "item %zu: offsets out of order", u);
        for (int64_t k = s; k < e; k++) {
            int32_t a = r->annotator[k], l = r->label[k];
            hitl_status st = HITL_OK;
            if (a < 0 || (size_t)a >= r->n_annotators || l < 0 || (size_t)l >= r->n_labels)
                st = hitl_error_set(err, HITL_EINVAL,
                                    "item %zu: annotator %d or label %d out of range", u, a, l);
            else if (k > s && a == r->annotator[k - 1])
                st = hitl_error_set(err, HITL_EDATA, "annotator %d rated item %zu twice", a, u);
            else if (k > s && a < r->annotator[k - 1])
                st = hitl_error_set(err, HITL_EINVAL, "item %zu: annotators not in order", u);
            if (st != HITL_OK) {
                if (err) err->row = k;
                return st;
            }
        }
    }
    return check_values(r->value, r->n_labels, err);
}

void hitl__by_annotator_release(hitl__by_annotator *ix)
{
    if (!ix) return;
    free(ix->ann_ptr);
    free(ix->by_ann);
    free(ix->item_of);
    memset(ix, 0, sizeof(*ix));
}

hitl_status hitl__by_annotator_build(const hitl_ratings *r, hitl__by_annotator *ix, hitl_error *err)
{
    size_t A = r->n_annotators, N = r->n_ratings;
    memset(ix, 0, sizeof(*ix));
    ix->ann_ptr = calloc(A + 1, sizeof(int64_t));
    ix->by_ann = alloc_array(N, sizeof(int64_t));
    ix->item_of = alloc_array(N, sizeof(int32_t));
    int64_t *pos = alloc_array(A, sizeof(int64_t));
    if (!ix->ann_ptr || !ix->by_ann || !ix->item_of || !pos) {
        free(pos);
        hitl__by_annotator_release(ix);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ratings", N);
    }
    for (size_t u = 0; u < r->n_items; u++)
        for (int64_t k = r->item_ptr[u]; k < r->item_ptr[u + 1]; k++)
            ix->item_of[k] = (int32_t)u;
    for (size_t k = 0; k < N; k++)
        ix->ann_ptr[r->annotator[k] + 1]++;
    for (size_t a = 0; a < A; a++)
        ix->ann_ptr[a + 1] += ix->ann_ptr[a];
    if (A) memcpy(pos, ix->ann_ptr, A * sizeof(int64_t));
    for (size_t k = 0; k < N; k++)
        ix->by_ann[pos[r->annotator[k]]++] = (int64_t)k;
    free(pos);
    return HITL_OK;
}

/* Seeded bug: a buffer holder whose refill clears the data pointer while the new buffer is prepared.
 *
 * The holder and its buffer are owned by the holder (holder_new / holder_free); callers only borrow.
 * `holder_refill_racy` publishes NULL during the refill, so a concurrent `holder_sum_racy` dereferences
 * NULL (or freed memory) and the process dies: the harness must report "crashed", not die with it.
 * The `_locked` functions are the correct twin: one mutex guards the pointer and the bytes it points to.
 */
#include <pthread.h>
#include <stdlib.h>

typedef struct holder {
    /* volatile: keep every load and store of the pointer, as the racy code is written */
    unsigned char *volatile data;
    size_t size;
    pthread_mutex_t lock;
} holder;

holder *holder_new(size_t size)
{
    holder *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->data = calloc(size, 1);
    if (h->data == NULL) {
        free(h);
        return NULL;
    }
    h->size = size;
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void holder_free(holder *h)
{
    if (h == NULL)
        return;
    pthread_mutex_destroy(&h->lock);
    free(h->data);
    free(h);
}

/* A new buffer of `size` bytes, owned by the caller: `value` mixed with each byte's position. */
static unsigned char *filled(size_t size, unsigned char value)
{
    unsigned char *fresh = malloc(size);

    if (fresh != NULL)
        for (size_t i = 0; i < size; i++)
            fresh[i] = (unsigned char)(value ^ (i * 31u));
    return fresh;
}

/* Returns 0 on success, -1 when out of memory (the old buffer is then kept). */
int holder_refill_racy(holder *h, unsigned char value)
{
    unsigned char *old = h->data;

    h->data = NULL; /* published while the replacement is prepared: the bug */
    free(old);
    h->data = filled(h->size, value);
    return h->data == NULL ? -1 : 0;
}

/* Sum of the held bytes. */
unsigned long holder_sum_racy(holder *h)
{
    unsigned long sum = 0;

    for (size_t i = 0; i < h->size; i++)
        sum += h->data[i];
    return sum;
}

int holder_refill_locked(holder *h, unsigned char value)
{
    unsigned char *fresh = filled(h->size, value);

    if (fresh == NULL)
        return -1;
    pthread_mutex_lock(&h->lock);
    free(h->data);
    h->data = fresh;
    pthread_mutex_unlock(&h->lock);
    return 0;
}

unsigned long holder_sum_locked(holder *h)
{
    unsigned long sum = 0;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->size; i++)
        sum += h->data[i];
    pthread_mutex_unlock(&h->lock);
    return sum;
}

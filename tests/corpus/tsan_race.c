/* Seeded bugs only ThreadSanitizer sees: every result is right, the code is still undefined behaviour.
 *
 * fill_static stages its work in one static buffer shared by every caller; each caller writes the same
 * bytes, so the sum read back is always right (a data race, invisible to any oracle). fill_local is its
 * twin with a per-call buffer. lock_ab and lock_ba take two mutexes in opposite orders under a guard mutex,
 * so they never deadlock here, but the lock order is inverted (a potential deadlock for any caller without
 * the guard). The caller owns nothing returned; no function keeps a pointer it was given.
 */
#include <pthread.h>
#include <string.h>

#define SCRATCH_SIZE 256

static unsigned char scratch[SCRATCH_SIZE];
static pthread_mutex_t guard = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static unsigned long lock_counter;

static unsigned long sum(const unsigned char *buffer, size_t n)
{
    unsigned long total = 0;
    for (size_t i = 0; i < n; i++)
        total += buffer[i];
    return total;
}

unsigned long fill_static(unsigned char value, size_t n)
{
    if (n > SCRATCH_SIZE)
        n = SCRATCH_SIZE;
    for (size_t i = 0; i < n; i++)
        scratch[i] = value;
    return sum(scratch, n);
}

unsigned long fill_local(unsigned char value, size_t n)
{
    unsigned char local[SCRATCH_SIZE];
    if (n > SCRATCH_SIZE)
        n = SCRATCH_SIZE;
    for (size_t i = 0; i < n; i++)
        local[i] = value;
    return sum(local, n);
}

unsigned long lock_ab(void)
{
    unsigned long seen;
    pthread_mutex_lock(&guard);
    pthread_mutex_lock(&lock_a);
    pthread_mutex_lock(&lock_b);
    seen = ++lock_counter;
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&guard);
    return seen;
}

unsigned long lock_ba(void)
{
    unsigned long seen;
    pthread_mutex_lock(&guard);
    pthread_mutex_lock(&lock_b);
    pthread_mutex_lock(&lock_a);
    seen = ++lock_counter;
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&guard);
    return seen;
}

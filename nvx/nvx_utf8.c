/*
 * Incremental UTF-8 validation: the per-instance state word, the scalar scanner, and the driver that
 * splits a chunk into "finish the pending code point", "SIMD bulk" and "scalar tail".
 *
 * The scanner is a small automaton over the well-formed byte sequences of Unicode (Table 3-7): the
 * state says how many continuation bytes are still due and which range the next one must fall in.
 * The first byte that no valid sequence can continue is the error position, exactly where
 * bytes.decode('utf-8') places the end of its maximal invalid subpart.
 */
#include <string.h>

#include "nvx.h"

enum {
    S_ACCEPT = 0,  /* on a code point boundary */
    S_REJECT = 1,  /* invalid; frozen until reset */
    S_TAIL1 = 2,   /* 1 continuation due, 80..BF */
    S_TAIL2 = 3,   /* 2 due, next 80..BF */
    S_E0 = 4,      /* 2 due, next A0..BF (no overlongs) */
    S_ED = 5,      /* 2 due, next 80..9F (no surrogates) */
    S_F0 = 6,      /* 3 due, next 90..BF (no overlongs) */
    S_TAIL3 = 7,   /* 3 due, next 80..BF */
    S_F4 = 8       /* 3 due, next 80..8F (nothing above U+10FFFF) */
};

/* Per pending state: allowed range of the next byte and the state after it (read-only tables). */
static const uint8_t NEXT_LO[9] = {0, 0, 0x80, 0x80, 0xA0, 0x80, 0x90, 0x80, 0x80};
static const uint8_t NEXT_HI[9] = {0, 0, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0xBF, 0x8F};
static const uint8_t NEXT_STATE[9] = {0, 0, S_ACCEPT, S_TAIL1, S_TAIL1, S_TAIL1, S_TAIL2, S_TAIL2, S_TAIL2};

static inline unsigned lead_state(uint8_t b)
{
    if (b < 0x80) return S_ACCEPT;
    if (b < 0xC2) return S_REJECT; /* stray continuation, or C0/C1 (always overlong) */
    if (b < 0xE0) return S_TAIL1;
    if (b == 0xE0) return S_E0;
    if (b == 0xED) return S_ED;
    if (b < 0xF0) return S_TAIL2;
    if (b == 0xF0) return S_F0;
    if (b < 0xF4) return S_TAIL3;
    if (b == 0xF4) return S_F4;
    return S_REJECT;
}

static inline unsigned step(unsigned s, uint8_t b)
{
    if (s == S_ACCEPT) return lead_state(b);
    return (b >= NEXT_LO[s] && b <= NEXT_HI[s]) ? NEXT_STATE[s] : S_REJECT;
}

/* Scan data[0..length) from state s. On rejection stores the offending offset in *error_at. */
static unsigned scan_scalar(const uint8_t *data, size_t length, unsigned s, size_t *error_at)
{
    size_t i = 0;
    for (;;) {
        /* On a boundary with a whole code point ahead: judge it at once rather than byte by byte. */
        while (s == S_ACCEPT && i + 4 <= length) {
            uint8_t b = data[i];
            if (b < 0x80) { /* ASCII: skip ahead a word at a time */
                for (i++; i + 8 <= length; i += 8) {
                    uint64_t word;
                    memcpy(&word, data + i, 8);
                    if (word & UINT64_C(0x8080808080808080)) break;
                }
                continue;
            }
            unsigned lead = lead_state(b);
            if (lead == S_REJECT) break;
            size_t size = lead >= S_F0 ? 4 : lead >= S_TAIL2 ? 3 : 2;
            if (data[i + 1] < NEXT_LO[lead] || data[i + 1] > NEXT_HI[lead]) {
                *error_at = i + 1;
                return S_REJECT;
            }
            for (size_t k = 2; k < size; k++) {
                if ((data[i + k] & 0xC0) != 0x80) {
                    *error_at = i + k;
                    return S_REJECT;
                }
            }
            i += size;
        }
        if (i >= length) return s;
        s = step(s, data[i]);
        if (s == S_REJECT) {
            *error_at = i;
            return s;
        }
        i++;
    }
}

#if NVX_X86_SIMD
/* Offset where the last code point of data[0..length) starts if it is cut off by the end, else length. */
static size_t complete_prefix(const uint8_t *data, size_t length)
{
    for (size_t back = 1; back <= 3 && back <= length; back++) {
        uint8_t b = data[length - back];
        if (b < 0x80) return length;
        if (b >= 0xC0) {
            size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            return need > back ? length - back : length;
        }
    }
    return length;
}

static unsigned scan_simd(int level, const uint8_t *data, size_t length, unsigned s, size_t *error_at)
{
    size_t start = 0;
    while (s != S_ACCEPT && start < length) { /* finish the code point left open by the last chunk */
        s = step(s, data[start]);
        if (s == S_REJECT) {
            *error_at = start;
            return s;
        }
        start++;
    }
    if (s != S_ACCEPT) return s;

    size_t cut = start + complete_prefix(data + start, length - start);
    size_t checked = (level == NVX_LEVEL_AVX512 ? nvx_utf8_check_avx512 : nvx_utf8_check_avx2)(
        data + start, cut - start);
    size_t restart = start + checked;
    if (checked == cut - start) {
        restart = cut; /* the SIMD part is valid; only the cut-off code point remains */
    } else if (restart > start) {
        /* Back up to the lead byte of the code point that straddles the failing block. */
        restart--;
        while (restart > start && (data[restart] & 0xC0) == 0x80) restart--;
    }
    s = scan_scalar(data + restart, length - restart, S_ACCEPT, error_at);
    if (s == S_REJECT) *error_at += restart;
    return s;
}
#endif

/* Chunks up to this size that start on a boundary are first tested for all-ASCII (see scan). */
#define SHORT_CHUNK 256

/* Whether data[0..length) is all ASCII: 32 bytes per step, stopping at the first step with a high bit
 * (text that is not ASCII usually shows it early, and then costs one step here). */
static int all_ascii(const uint8_t *data, size_t length)
{
    const uint64_t high = UINT64_C(0x8080808080808080);
    size_t i = 0;
    for (; i + 32 <= length; i += 32) {
        uint64_t w[4];
        memcpy(w, data + i, 32);
        if ((w[0] | w[1] | w[2] | w[3]) & high) return 0;
    }
    uint64_t any = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t word;
        memcpy(&word, data + i, 8);
        any |= word;
    }
    for (; i < length; i++) any |= data[i];
    return !(any & high);
}

static unsigned scan(int level, const uint8_t *data, size_t length, unsigned s, size_t *error_at)
{
    /* Most WebSocket text frames are short and ASCII: deciding them in one pass costs a few nanoseconds,
     * less than preparing a SIMD kernel (measured: a 128-byte ASCII chunk took longer with AVX2 than scalar). */
    if (s == S_ACCEPT && length <= SHORT_CHUNK && all_ascii(data, length)) return S_ACCEPT;
#if NVX_X86_SIMD
    if (level != NVX_LEVEL_SCALAR) return scan_simd(level, data, length, s, error_at);
#else
    (void)level;
#endif
    return scan_scalar(data, length, s, error_at);
}

static int64_t pack_invalid(uint64_t current, uint64_t total)
{
    uint64_t packed = total < (uint64_t)NVX_UTF8_COMPACT_LIMIT ? (current << 30) | total : (UINT64_C(1) << 61) + current;
    return INT64_MIN + (int64_t)packed;
}

static int64_t pack_valid(uint64_t total, unsigned s)
{
    return s == S_ACCEPT ? (int64_t)total : -1 - (int64_t)total;
}

void nvx_utf8_init(nvx_utf8 *state, int level)
{
    state->level = level;
    __atomic_store_n(&state->word, 0, __ATOMIC_RELEASE);
}

void nvx_utf8_reset(nvx_utf8 *state)
{
    __atomic_store_n(&state->word, 0, __ATOMIC_RELEASE);
}

uint64_t nvx_utf8_total(nvx_utf8 *state)
{
    return __atomic_load_n(&state->word, __ATOMIC_ACQUIRE) >> 4;
}

int64_t nvx_utf8_validate(nvx_utf8 *state, const char *data, size_t length)
{
    uint64_t old = __atomic_load_n(&state->word, __ATOMIC_ACQUIRE);
    for (;;) {
        unsigned s = (unsigned)(old & 15);
        uint64_t total = old >> 4;
        if (s == S_REJECT) return pack_invalid(0, total);
        size_t error_at = 0;
        s = scan(state->level, (const uint8_t *)data, length, s, &error_at);
        uint64_t current = s == S_REJECT ? error_at : length;
        total += current;
        uint64_t word = (total << 4) | s;
        /* Publish only if no other thread moved the stream meanwhile; otherwise rescan from its state. */
        if (__atomic_compare_exchange_n(&state->word, &old, word, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return s == S_REJECT ? pack_invalid(current, total) : pack_valid(total, s);
        }
    }
}

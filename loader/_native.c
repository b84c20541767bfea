/*
 * cdrnet.loader._native: the normaliser's hottest per-value loops, over Arrow's buffers.
 *
 * Why C: these loops run once per cell of every block (tens of millions of cells in a
 * 10M-row dump), and their pure-Python/pandas versions pay a Python object per distinct
 * value (pandas' SipHash wants a bytes object each) or ~10 Arrow kernel calls per column.
 * Here each is one pass over the column's offsets and bytes, with the GIL released.
 *
 * Every function is a drop-in for a pure path kept in loader/ as the reference
 * (loader/native.py picks one); tests/test_native.py checks both give the same bits on
 * generated valid and invalid inputs. Built by setup.py as an optional extension: without
 * a compiler the install still succeeds and the pure path runs.
 *
 * Inputs are Python buffers (numpy arrays, pyarrow Buffers, bytes): `offsets` holds
 * n + 1 int32 or int64 entries (already sliced to the array's offset), `data` the value
 * bytes. Offsets are checked (monotone, inside `data`) before any byte is read.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- SipHash-2-4, as pandas' hashing.pyx (the reference C implementation) ---- */

static inline uint64_t load_le64(const uint8_t *p) {
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24) |
           ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                 \
    do {                                                                                         \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                                \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                   \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                   \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                                \
    } while (0)

/* SipHash-2-4's last word (the tail bytes and the length in the top byte) and finalisation. */
static inline uint64_t siphash_last(uint64_t v0, uint64_t v1, uint64_t v2, uint64_t v3, uint64_t b) {
    v3 ^= b;
    SIPROUND; SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

#define SIP_V0 0x736f6d6570736575ULL
#define SIP_V1 0x646f72616e646f6dULL
#define SIP_V2 0x6c7967656e657261ULL
#define SIP_V3 0x7465646279746573ULL

static inline uint64_t siphash24(const uint8_t *in, size_t inlen, uint64_t k0, uint64_t k1) {
    uint64_t v0 = SIP_V0 ^ k0, v1 = SIP_V1 ^ k1, v2 = SIP_V2 ^ k0, v3 = SIP_V3 ^ k1;
    uint64_t b = ((uint64_t)inlen) << 56;
    const uint8_t *end = in + inlen - (inlen % 8);
    for (; in != end; in += 8) {
        uint64_t m = load_le64(in);
        v3 ^= m;
        SIPROUND; SIPROUND;
        v0 ^= m;
    }
    switch (inlen & 7) {
        case 7: b |= ((uint64_t)in[6]) << 48; /* fall through */
        case 6: b |= ((uint64_t)in[5]) << 40; /* fall through */
        case 5: b |= ((uint64_t)in[4]) << 32; /* fall through */
        case 4: b |= ((uint64_t)in[3]) << 24; /* fall through */
        case 3: b |= ((uint64_t)in[2]) << 16; /* fall through */
        case 2: b |= ((uint64_t)in[1]) << 8;  /* fall through */
        case 1: b |= ((uint64_t)in[0]); break;
        case 0: break;
    }
    return siphash_last(v0, v1, v2, v3, b);
}

/* siphash24 of a value under 8 bytes, given as one little-endian word (bytes past the value
   zero): no block loop and no switch on the length, the same result. */
static inline uint64_t siphash24_short(uint64_t word, size_t inlen, uint64_t k0, uint64_t k1) {
    return siphash_last(SIP_V0 ^ k0, SIP_V1 ^ k1, SIP_V2 ^ k0, SIP_V3 ^ k1, (((uint64_t)inlen) << 56) | word);
}

/* SHORT_MASK[n]: the low n bytes of a word (n < 8). */
static const uint64_t SHORT_MASK[8] = {0, 0xffULL, 0xffffULL, 0xffffffULL, 0xffffffffULL, 0xffffffffffULL,
                                       0xffffffffffffULL, 0xffffffffffffffULL};

/* pandas' _hash_ndarray redistributes each SipHash value with SplitMix64's finaliser. */
static inline uint64_t splitmix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

/* ---- argument helpers ---- */

typedef struct {
    Py_buffer offsets, data;
    Py_ssize_t n;   /* values */
    int wide;       /* int64 offsets (else int32) */
} Strings;

static void strings_release(Strings *s) {
    if (s->offsets.obj) PyBuffer_Release(&s->offsets);
    if (s->data.obj) PyBuffer_Release(&s->data);
}

static inline int64_t off_at(const Strings *s, Py_ssize_t i) {
    return s->wide ? ((const int64_t *)s->offsets.buf)[i] : (int64_t)((const int32_t *)s->offsets.buf)[i];
}

/* Take the offsets and data buffers and check every offset before any byte is read. */
static int strings_get(PyObject *offsets, PyObject *data, Strings *s) {
    memset(s, 0, sizeof(*s));
    if (PyObject_GetBuffer(offsets, &s->offsets, PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (PyObject_GetBuffer(data, &s->data, PyBUF_C_CONTIGUOUS) < 0) {
        strings_release(s);
        return -1;
    }
    Py_ssize_t item = s->offsets.itemsize;
    if ((item != 4 && item != 8) || s->offsets.len % item != 0 || s->offsets.len < item) {
        PyErr_SetString(PyExc_ValueError, "offsets must be n + 1 int32 or int64 values");
        strings_release(s);
        return -1;
    }
    s->wide = item == 8;
    s->n = s->offsets.len / item - 1;
    int64_t prev = off_at(s, 0), size = (int64_t)s->data.len;
    int bad = prev < 0 || prev > size;
    for (Py_ssize_t i = 1; i <= s->n && !bad; i++) {
        int64_t cur = off_at(s, i);
        bad = cur < prev || cur > size;
        prev = cur;
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "offsets are not monotone inside the data buffer");
        strings_release(s);
        return -1;
    }
    return 0;
}

static int writable_u64(PyObject *obj, Py_buffer *view, Py_ssize_t n, Py_ssize_t itemsize, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return -1;
    if (view->len != n * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s must hold %zd values of %zd bytes", what, n, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#define CACHE_BITS 8
#define CACHE_SLOTS (1 << CACHE_BITS)

/* Whether two values of the same length (8 bytes or more) hold the same bytes. */
static inline int same_long(const uint8_t *x, const uint8_t *y, int64_t len) {
    if (load_le64(x) != load_le64(y) || load_le64(x + len - 8) != load_le64(y + len - 8)) return 0;
    return len <= 16 || memcmp(x + 8, y + 8, (size_t)(len - 16)) == 0;
}

/* Each value's hash (pandas' hash_array: SipHash-2-4 of its bytes, then SplitMix64) into h[i], or,
   with `combine`, folded into a running row hash as pandas' combine_hash_arrays does:
   h[i] = (h[i] ^ hash) * mult. Called without the GIL. */
static inline void hash_values(const Strings *s, uint64_t k0, uint64_t k1, uint64_t *h, int combine, uint64_t mult) {
    const uint8_t *bytes = (const uint8_t *)s->data.buf;
    const int64_t size = (int64_t)s->data.len;
    /* Columns repeat their values (a subscriber, a server, a day): a small direct-mapped cache of
       values already hashed, each hit confirmed by comparing every byte, skips most SipHash calls. */
    /* The probe of a value under 8 bytes holds its length and every byte (bits 0-7 and 8-63): equal
       probes are equal values, no byte comparison needed (most repeats: ports, dates, addresses).
       Longer values are confirmed by two 8-byte loads, and memcmp only past 16 bytes: memcmp
       called per hit cost as much as the hashing. */
    struct { int64_t at, len; uint64_t probe, hash; } cache[CACHE_SLOTS];
    for (int c = 0; c < CACHE_SLOTS; c++) cache[c].len = -1;
    for (Py_ssize_t i = 0; i < s->n; i++) {
        int64_t a = off_at(s, i), len = off_at(s, i + 1) - a;
        const uint8_t *p = bytes + a;
        uint64_t probe = (uint64_t)len, word = 0;
        if (len >= 8) {
            probe ^= load_le64(p) ^ (load_le64(p + len - 8) * 0x9E3779B97F4A7C15ULL);
        } else {
            /* the value's bytes as one word: one load and a mask where 8 bytes lie inside the
               buffer (no loop, no branch on the length), byte by byte at its very end */
            if (a + 8 <= size) word = load_le64(p) & SHORT_MASK[len];
            else for (int64_t k = 0; k < len; k++) word |= (uint64_t)p[k] << (8 * k);
            probe ^= word << 8;
        }
        unsigned slot = (unsigned)((probe * 0xBF58476D1CE4E5B9ULL) >> (64 - CACHE_BITS));
        uint64_t v;
        if (cache[slot].len == len && cache[slot].probe == probe &&
            (len < 8 || same_long(p, bytes + cache[slot].at, len))) {
            v = cache[slot].hash;
        } else {
            v = splitmix(len < 8 ? siphash24_short(word, (size_t)len, k0, k1) : siphash24(p, (size_t)len, k0, k1));
            cache[slot].at = a;
            cache[slot].len = len;
            cache[slot].probe = probe;
            cache[slot].hash = v;
        }
        h[i] = combine ? (h[i] ^ v) * mult : v;
    }
}

/* ---- hash_strings(offsets, data, key, out): pandas' hash_array of each value's bytes ---- */

static PyObject *hash_strings(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *offsets, *data, *out_obj;
    const char *key;
    Py_ssize_t key_len;
    if (!PyArg_ParseTuple(args, "OOy#O", &offsets, &data, &key, &key_len, &out_obj)) return NULL;
    if (key_len != 16) {
        PyErr_SetString(PyExc_ValueError, "the hash key must be 16 bytes (pandas' hash_key)");
        return NULL;
    }
    Strings s;
    if (strings_get(offsets, data, &s) < 0) return NULL;
    Py_buffer out;
    if (writable_u64(out_obj, &out, s.n, 8, "out") < 0) {
        strings_release(&s);
        return NULL;
    }
    uint64_t k0 = load_le64((const uint8_t *)key), k1 = load_le64((const uint8_t *)key + 8);
    uint64_t *h = (uint64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    hash_values(&s, k0, k1, h, 0, 0);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    strings_release(&s);
    Py_RETURN_NONE;
}

/* ---- parse_ints(offsets, data, low, high, values, status) -> count of other values ----
 *
 * A value is "plain" when it is an optional '-' and 1 to 18 ASCII digits (no sign '+', no
 * space, no point): Arrow's integer cast reads exactly those, to the same number, and no
 * 18-digit number overflows. status per value: 0 empty, 1 plain and in [low, high],
 * 2 plain and out of range, 3 anything else. The caller falls back to the reference path
 * for a column holding any 3, so only the plain case must match it.
 */
static PyObject *parse_ints(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *offsets, *data, *values_obj, *status_obj;
    long long low, high;
    if (!PyArg_ParseTuple(args, "OOLLOO", &offsets, &data, &low, &high, &values_obj, &status_obj)) return NULL;
    Strings s;
    if (strings_get(offsets, data, &s) < 0) return NULL;
    Py_buffer values, status;
    if (writable_u64(values_obj, &values, s.n, 8, "values") < 0) {
        strings_release(&s);
        return NULL;
    }
    if (writable_u64(status_obj, &status, s.n, 1, "status") < 0) {
        PyBuffer_Release(&values);
        strings_release(&s);
        return NULL;
    }
    const uint8_t *bytes = (const uint8_t *)s.data.buf;
    int64_t *v = (int64_t *)values.buf;
    uint8_t *st = (uint8_t *)status.buf;
    Py_ssize_t other = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < s.n; i++) {
        int64_t a = off_at(&s, i), b = off_at(&s, i + 1);
        v[i] = 0;
        if (a == b) {
            st[i] = 0;
            continue;
        }
        const uint8_t *p = bytes + a;
        int64_t len = b - a;
        int neg = p[0] == '-';
        int64_t digits = len - neg;
        int plain = digits >= 1 && digits <= 18;
        int64_t x = 0;
        for (int64_t k = neg; plain && k < len; k++) {
            unsigned d = (unsigned)p[k] - '0';
            if (d > 9) plain = 0;
            else x = x * 10 + (int64_t)d;
        }
        if (!plain) {
            st[i] = 3;
            other++;
            continue;
        }
        if (neg) x = -x;
        if (x >= low && x <= high) {
            st[i] = 1;
            v[i] = x;
        } else {
            st[i] = 2;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&status);
    PyBuffer_Release(&values);
    strings_release(&s);
    return PyLong_FromSsize_t(other);
}

/* ---- mix_into(out, words, salt): out = mix(out ^ mix(words + salt)), the session key's step ---- */

static PyObject *mix_into(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *out_obj, *words_obj;
    unsigned long long salt;
    if (!PyArg_ParseTuple(args, "OOK", &out_obj, &words_obj, &salt)) return NULL;
    Py_buffer out, words;
    if (PyObject_GetBuffer(words_obj, &words, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (words.itemsize != 8 || words.len % 8 != 0) {
        PyErr_SetString(PyExc_ValueError, "words must be 64-bit values");
        PyBuffer_Release(&words);
        return NULL;
    }
    Py_ssize_t n = words.len / 8;
    if (writable_u64(out_obj, &out, n, 8, "out") < 0) {
        PyBuffer_Release(&words);
        return NULL;
    }
    uint64_t *o = (uint64_t *)out.buf;
    const uint64_t *w = (const uint64_t *)words.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) o[i] = splitmix(o[i] ^ splitmix(w[i] + (uint64_t)salt));
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    PyBuffer_Release(&words);
    Py_RETURN_NONE;
}

/* ---- count_byte(data, byte): how many times one byte occurs ---- */

/*
 * bytes.count(b"\n") without CPython's per-byte loop: that loop checks a maximum count after each
 * hit, which keeps the compiler from vectorising it (~1 byte a cycle: 0.2 CPU s for the 400-dump
 * case's 686 MB, counted once as each block is read). Here 32 one-byte lanes count hits over runs of
 * at most 255 * 32 bytes (a lane cannot overflow), a loop gcc turns into vector compares at -O3.
 */
static Py_ssize_t count_byte_in(const uint8_t *p, Py_ssize_t n, uint8_t c) {
    Py_ssize_t total = 0, i = 0;
    while (n - i >= 32) {
        Py_ssize_t run = (n - i) / 32;
        if (run > 255) run = 255;
        uint8_t lanes[32] = {0};
        for (Py_ssize_t r = 0; r < run; r++, i += 32)
            for (int j = 0; j < 32; j++) lanes[j] += p[i + j] == c;
        for (int j = 0; j < 32; j++) total += lanes[j];
    }
    for (; i < n; i++) total += p[i] == c;
    return total;
}

static PyObject *count_byte(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data;
    int c;
    if (!PyArg_ParseTuple(args, "y*i", &data, &c)) return NULL;
    if (c < 0 || c > 255) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "byte: 0-255");
        return NULL;
    }
    Py_ssize_t total;
    Py_BEGIN_ALLOW_THREADS
    total = count_byte_in((const uint8_t *)data.buf, data.len, (uint8_t)c);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(total);
}

/* ---- name_lines(data, names): the lines holding a name, ASCII case folded ---- */

static Py_ssize_t count_newlines(const uint8_t *p, Py_ssize_t n) {
    Py_ssize_t c = 0;
    const uint8_t *e = p + n;
    while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

/*
 * 0-based numbers (count of '\n' before the hit) of the lines of `data` on which any of `names`
 * occurs with data's ASCII letters lower-cased, each line once, in order: what
 * loader/parse.py's `_name_lines` finds with bytes.lower() and one bytes.find per name and hit.
 * Why: that pure path lowers a copy of every block and searches it once per name (about 40 ms
 * of a 16 MB block); this is one pass with a byte table. The names must be non-empty, hold no
 * '\n' and no ASCII capital (the wrapper in loader/native.py checks; those the pure path never
 * matches differently). Returns the count of such lines and puts the first ones in `out` (a
 * writable int64 buffer); a count above out's length tells the caller to run again with room.
 */
static PyObject *name_lines(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data, out;
    PyObject *names;
    if (!PyArg_ParseTuple(args, "y*O!w*", &data, &PyTuple_Type, &names, &out)) return NULL;
    Py_ssize_t k = PyTuple_GET_SIZE(names);
    if (k > 64) k = -1;
    const uint8_t *nm[64];
    Py_ssize_t nl[64];
    uint8_t table[256];
    memset(table, 0, sizeof table);
    for (Py_ssize_t j = 0; k > 0 && j < k; j++) {
        PyObject *b = PyTuple_GET_ITEM(names, j);
        if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) == 0) {
            k = -1;
            break;
        }
        nm[j] = (const uint8_t *)PyBytes_AS_STRING(b);
        nl[j] = PyBytes_GET_SIZE(b);
        for (Py_ssize_t q = 0; q < nl[j]; q++)
            if (nm[j][q] == '\n' || (nm[j][q] >= 'A' && nm[j][q] <= 'Z')) k = -1;
        if (k < 0) break;
        uint8_t c = nm[j][0];
        table[c] = 2;
        if (c >= 'a' && c <= 'z') table[c - 32] = 2;
    }
    if (k < 0 || out.len % 8 != 0) {
        PyErr_SetString(PyExc_ValueError, "names: a tuple of at most 64 non-empty lower-case bytes without newlines; "
                                          "out: a writable int64 buffer");
        PyBuffer_Release(&data);
        PyBuffer_Release(&out);
        return NULL;
    }
    const uint8_t *p = (const uint8_t *)data.buf;
    Py_ssize_t n = data.len, cap = out.len / 8, found = 0;
    int64_t *o = (int64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    /* Lines are counted only up to each hit (memchr), not byte by byte. */
    /* When every first letter has bit 0x40 (all ASCII letters do; digits and punctuation, most of
     * a row, do not), eight bytes without that bit anywhere hold no hit and are skipped at once. */
    int skip8 = 1;
    for (int b = 0; b < 256; b++)
        if (table[b] && !(b & 0x40)) skip8 = 0;
    int64_t line = 0;
    Py_ssize_t i = 0, counted = 0;
    while (i < n) {
        if (skip8 && i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x4040404040404040ULL)) {
                i += 8;
                continue;
            }
        }
        if (!table[p[i]]) {
            i++;
            continue;
        }
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z') c += 32;
        int hit = 0;
        for (Py_ssize_t j = 0; j < k && !hit; j++) {
            if (nm[j][0] != c || nl[j] > n - i) continue;
            Py_ssize_t q = 1;
            for (; q < nl[j]; q++) {
                uint8_t d = p[i + q];
                if (d >= 'A' && d <= 'Z') d += 32;
                if (d != nm[j][q]) break;
            }
            hit = q == nl[j];
        }
        if (!hit) {
            i++;
            continue;
        }
        line += count_newlines(p + counted, i - counted);
        if (found < cap) o[found] = line;
        found++;
        const uint8_t *e = memchr(p + i, '\n', (size_t)(n - i));
        if (!e) break;
        i = counted = (Py_ssize_t)(e - p) + 1;
        line++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(found);
}

/* ---- pad_lines(data, out): the padding lines of a block ---- */

/*
 * The lines of `data` (cut at '\n'; the empty string after a final newline is no line) that are
 * padding as loader/parse.py's `_drop_padding_pure` decides it: every byte one of
 * " \t,;|\"'\n\v\f" (blank lines, rows of empty cells), except a line starting with a quote not
 * followed by another (an open quoted cell); an empty line always is. Returns (lines, padding
 * lines) and puts the first padding lines' 0-based numbers in `out` (a writable int64 buffer); a
 * count above out's length tells the caller to run again with room.
 * Why: the pure path lists every line start of every 16 MB block (a byte comparison, a nonzero
 * and a few gathers: ~8 ms) to find, on ordinary blocks, no padding at all; this is a memchr per
 * line and a table look-up of its first byte.
 */
static PyObject *pad_lines(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer data, out;
    if (!PyArg_ParseTuple(args, "y*w*", &data, &out)) return NULL;
    if (out.len % 8 != 0) {
        PyErr_SetString(PyExc_ValueError, "out: a writable int64 buffer");
        PyBuffer_Release(&data);
        PyBuffer_Release(&out);
        return NULL;
    }
    static uint8_t pad[256];
    if (!pad[' ']) {
        const char *b = " \t,;|\"'\n\v\f";
        for (; *b; b++) pad[(uint8_t)*b] = 1;
    }
    const uint8_t *p = (const uint8_t *)data.buf;
    Py_ssize_t n = data.len, cap = out.len / 8, found = 0, lines = 0;
    int64_t *o = (int64_t *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t s = 0;
    while (s < n) {
        const uint8_t *nl = memchr(p + s, '\n', (size_t)(n - s));
        Py_ssize_t e = nl ? (Py_ssize_t)(nl - p) : n; /* the line's newline, or the end */
        int is_pad = 0;
        if (e == s) {
            is_pad = 1;
        } else if (pad[p[s]] && pad[p[e - 1]]) {
            is_pad = 1;
            for (Py_ssize_t q = s + 1; q < e - 1 && is_pad; q++) is_pad = pad[p[q]];
            if (is_pad && p[s] == '"') is_pad = p[s + 1 < n ? s + 1 : s] == '"';
        }
        if (is_pad) {
            if (found < cap) o[found] = lines;
            found++;
        }
        lines++;
        s = e + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyBuffer_Release(&out);
    return Py_BuildValue("nn", lines, found);
}

/* ---- parse_fixed(offsets, data, rows, items, width, year_start, ok, values) ----
 *
 * loader/fixedtime.py's parse_fixed, one pass per value instead of ~40 numpy passes over a byte
 * matrix: for each of `rows` (int64 indices) whose value is exactly `width` bytes, every digit
 * position a digit, every literal in place, month (or its 3-letter name, any case) 1-12, day within
 * the month, hour 0-23, minute and second 0-59, a year from 1000 (%y: 69-99 are 19xx), ok[i] = 1
 * and values[i] = naive seconds since the epoch. `items` is (code, position, width, literal byte)
 * per item (codes: 0 day, 1 month, 2 year, 3 year2, 4 hour, 5 minute, 6 second, 7 month name,
 * 8 literal); `year_start` the days from 1970 to 1 January of each year 0-9999 (the pure path's
 * table, so both count days alike).
 */
static const int64_t DAYS_IN[2][14] = {{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0},
                                       {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0}};
static const char MONTH_NAMES[12][3] = {{'j', 'a', 'n'}, {'f', 'e', 'b'}, {'m', 'a', 'r'}, {'a', 'p', 'r'},
                                        {'m', 'a', 'y'}, {'j', 'u', 'n'}, {'j', 'u', 'l'}, {'a', 'u', 'g'},
                                        {'s', 'e', 'p'}, {'o', 'c', 't'}, {'n', 'o', 'v'}, {'d', 'e', 'c'}};

/* DAYS_BEFORE[leap][month]: days of the year before the month's first (months 1-12; 0 and 13 unused). */
static const int64_t DAYS_BEFORE[2][14] = {{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365},
                                           {0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366}};

static PyObject *parse_fixed(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *offsets, *data, *rows_obj, *items_obj, *ys_obj, *ok_obj, *values_obj;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "OOOOnOOO", &offsets, &data, &rows_obj, &items_obj, &width, &ys_obj, &ok_obj,
                          &values_obj))
        return NULL;
    Strings s;
    if (strings_get(offsets, data, &s) < 0) return NULL;
    Py_buffer rows = {0}, items = {0}, ys = {0}, ok = {0}, values = {0};
    const char *err = NULL;
    if (PyObject_GetBuffer(rows_obj, &rows, PyBUF_C_CONTIGUOUS) < 0 ||
        PyObject_GetBuffer(items_obj, &items, PyBUF_C_CONTIGUOUS) < 0 ||
        PyObject_GetBuffer(ys_obj, &ys, PyBUF_C_CONTIGUOUS) < 0 ||
        PyObject_GetBuffer(ok_obj, &ok, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0 ||
        PyObject_GetBuffer(values_obj, &values, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        err = "";
        goto done;
    }
    Py_ssize_t m = rows.len / 8, k = items.len / 32;
    if (rows.len % 8 || items.len % 32 || ys.len != 10000 * 8 || ok.len != m || values.len != m * 8) {
        err = "rows: int64; items: int64 (k, 4); year_start: 10000 int64; ok and values: one a row";
        goto done;
    }
    const int64_t *r = (const int64_t *)rows.buf, *it = (const int64_t *)items.buf, *ystart = (const int64_t *)ys.buf;
    for (Py_ssize_t i = 0; i < m; i++)
        if (r[i] < 0 || r[i] >= s.n) { err = "a row outside the array"; goto done; }
    for (Py_ssize_t j = 0; j < k; j++)
        if (it[4 * j] < 0 || it[4 * j] > 8 || it[4 * j + 1] < 0 || it[4 * j + 2] < 1 ||
            it[4 * j + 1] + it[4 * j + 2] > width) { err = "an item outside the width"; goto done; }
    const uint8_t *bytes = (const uint8_t *)s.data.buf;
    uint8_t *okp = (uint8_t *)ok.buf;
    int64_t *out = (int64_t *)values.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < m; i++) {
        int64_t a = off_at(&s, r[i]);
        okp[i] = 0;
        out[i] = 0;
        if (off_at(&s, r[i] + 1) - a != width) continue;
        const uint8_t *p = bytes + a;
        int64_t f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int good = 1;
        for (Py_ssize_t j = 0; j < k && good; j++) {
            int64_t code = it[4 * j], pos = it[4 * j + 1], w = it[4 * j + 2];
            if (code == 8) {
                good = p[pos] == (uint8_t)it[4 * j + 3];
            } else if (code == 7) {
                int month = 0;
                for (int mo = 0; mo < 12 && !month; mo++)
                    if ((p[pos] | 0x20) == MONTH_NAMES[mo][0] && (p[pos + 1] | 0x20) == MONTH_NAMES[mo][1] &&
                        (p[pos + 2] | 0x20) == MONTH_NAMES[mo][2])
                        month = mo + 1;
                good = month > 0;
                f[1] = month;
            } else {
                int64_t v = 0;
                for (int64_t q = 0; q < w; q++) {
                    uint8_t d = (uint8_t)(p[pos + q] - '0');
                    if (d > 9) { good = 0; break; }
                    v = v * 10 + d;
                }
                f[code == 3 ? 2 : code] = code == 3 ? (v >= 69 ? 1900 : 2000) + v : v;
            }
        }
        if (!good) continue;
        int64_t year = f[2] < 9999 ? f[2] : 9999, month = f[1] < 13 ? f[1] : 13, day = f[0];
        int leap = ((year % 4 == 0) && (year % 100 != 0)) || (year % 400 == 0);
        if (year < 1000 || day < 1 || day > DAYS_IN[leap][month] || f[4] > 23 || f[5] > 59 || f[6] > 59) continue;
        okp[i] = 1;
        out[i] = (ystart[year] + DAYS_BEFORE[leap][month] + (day - 1)) * 86400 + (f[4] * 3600 + f[5] * 60 + f[6]);
    }
    Py_END_ALLOW_THREADS
done:
    if (rows.obj) PyBuffer_Release(&rows);
    if (items.obj) PyBuffer_Release(&items);
    if (ys.obj) PyBuffer_Release(&ys);
    if (ok.obj) PyBuffer_Release(&ok);
    if (values.obj) PyBuffer_Release(&values);
    strings_release(&s);
    if (err) {
        if (*err) PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- take_strings(offsets, data, indices, out_offsets, out_data) ----
 *
 * Arrow's take of a string array by row codes (a dictionary's values gathered per row): the
 * normaliser gathers ~10 such columns a block (labels, canonical cells, addresses, IMEIs), and
 * Arrow's take appends value by value with checks per row. Two calls, so the caller allocates both
 * outputs from Arrow's memory pool (fresh malloc'ed buffers each block cost page faults): with
 * out_data None, the lengths are summed into out_offsets (int64, n_indices + 1), every index
 * checked, and the total returned (-1 for an index out of range); with out_data (total + 16 bytes),
 * the bytes are copied, short values as 16 fixed bytes where both buffers have room (no memcpy
 * call per row). Returns the total.
 */
static PyObject *take_strings(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *offsets, *data, *indices_obj, *out_obj, *dst_obj;
    if (!PyArg_ParseTuple(args, "OOOOO", &offsets, &data, &indices_obj, &out_obj, &dst_obj)) return NULL;
    Strings s;
    if (strings_get(offsets, data, &s) < 0) return NULL;
    Py_buffer idx;
    if (PyObject_GetBuffer(indices_obj, &idx, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        strings_release(&s);
        return NULL;
    }
    if ((idx.itemsize != 4 && idx.itemsize != 8) || idx.len % idx.itemsize != 0 || !idx.format ||
        strchr("iqlIQL", idx.format[0] == '<' || idx.format[0] == '=' ? idx.format[1] : idx.format[0]) == NULL) {
        PyErr_SetString(PyExc_ValueError, "indices must be int32 or int64 values");
        PyBuffer_Release(&idx);
        strings_release(&s);
        return NULL;
    }
    Py_ssize_t m = idx.len / idx.itemsize;
    Py_buffer out;
    if (writable_u64(out_obj, &out, m + 1, 8, "out_offsets") < 0) {
        PyBuffer_Release(&idx);
        strings_release(&s);
        return NULL;
    }
    int64_t *oo = (int64_t *)out.buf;
    const int wide_idx = idx.itemsize == 8;
    int64_t total = -1;
    if (dst_obj == Py_None) {
        const int64_t n = (int64_t)s.n;
        Py_BEGIN_ALLOW_THREADS
        int64_t sum = 0;
        oo[0] = 0;
        Py_ssize_t i = 0;
        for (; i < m; i++) {
            int64_t j = wide_idx ? ((const int64_t *)idx.buf)[i] : (int64_t)((const int32_t *)idx.buf)[i];
            if (j < 0 || j >= n) break;
            sum += off_at(&s, (Py_ssize_t)j + 1) - off_at(&s, (Py_ssize_t)j);
            oo[i + 1] = sum;
        }
        total = i == m ? sum : -1;
        Py_END_ALLOW_THREADS
    } else {
        Py_buffer dst;
        if (PyObject_GetBuffer(dst_obj, &dst, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto done;
        total = oo[m];
        if (oo[0] != 0 || total < 0 || dst.len < total + 16) {
            PyErr_SetString(PyExc_ValueError, "out_data must hold the summed lengths and 16 bytes more");
            PyBuffer_Release(&dst);
            goto done;
        }
        uint8_t *d = (uint8_t *)dst.buf;
        const uint8_t *src = (const uint8_t *)s.data.buf;
        const int64_t size = (int64_t)s.data.len, n = (int64_t)s.n;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        memset(d + total, 0, 16);
        for (Py_ssize_t i = 0; i < m; i++) {
            int64_t j = wide_idx ? ((const int64_t *)idx.buf)[i] : (int64_t)((const int32_t *)idx.buf)[i];
            int64_t len = oo[i + 1] - oo[i];
            /* out_offsets came from the first call; checked again so no call can copy outside */
            if (j < 0 || j >= n || len != off_at(&s, (Py_ssize_t)j + 1) - off_at(&s, (Py_ssize_t)j) ||
                oo[i] + len > total) {
                bad = 1;
                break;
            }
            int64_t a = off_at(&s, (Py_ssize_t)j);
            if (len <= 16 && a + 16 <= size) memcpy(d + oo[i], src + a, 16);
            else if (len) memcpy(d + oo[i], src + a, (size_t)len);
        }
        Py_END_ALLOW_THREADS
        PyBuffer_Release(&dst);
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "out_offsets do not match the indices' values");
            total = -1;
            PyBuffer_Release(&out);
            PyBuffer_Release(&idx);
            strings_release(&s);
            return NULL;
        }
    }
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&idx);
    strings_release(&s);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromLongLong((long long)total);
}

/* ---- edge_flags(offsets, data, table) -> OR of table[first byte] & 1 and table[last byte] & 2 ----
 *
 * identifiers._may_need_cleaning in one pass: every value's first and last byte read off the
 * offsets, clipped into the data buffer as numpy's take(mode="clip") does (an empty value reads a
 * neighbour's byte), looked up in a 256-entry table; stops once both bits are found.
 */
static PyObject *edge_flags(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *offsets, *data, *table_obj;
    if (!PyArg_ParseTuple(args, "OOO", &offsets, &data, &table_obj)) return NULL;
    Strings s;
    if (strings_get(offsets, data, &s) < 0) return NULL;
    Py_buffer table;
    if (PyObject_GetBuffer(table_obj, &table, PyBUF_C_CONTIGUOUS) < 0) {
        strings_release(&s);
        return NULL;
    }
    if (table.len != 256) {
        PyErr_SetString(PyExc_ValueError, "table must hold 256 bytes");
        PyBuffer_Release(&table);
        strings_release(&s);
        return NULL;
    }
    const uint8_t *t = (const uint8_t *)table.buf, *bytes = (const uint8_t *)s.data.buf;
    const int64_t last = (int64_t)s.data.len - 1;
    unsigned flags = 0;
    if (last >= 0) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < s.n && flags != 3; i++) {
            int64_t a = off_at(&s, i), b = off_at(&s, i + 1) - 1;
            a = a > last ? last : a;
            b = b < 0 ? 0 : (b > last ? last : b);
            flags |= (t[bytes[a]] & 1u) | (t[bytes[b]] & 2u);
        }
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&table);
    strings_release(&s);
    return PyLong_FromUnsignedLong(flags);
}

/* ---- row_hash(columns, key, out): pandas' hash_pandas_object(frame, index=False) of text columns ----
 *
 * The raw-row hash of a block: each column's value hashes (hash_values) folded straight into the
 * row hash, as pandas' combine_hash_arrays (CPython's tuple hash): out = 0x345678, then per column
 * out = (out ^ h) * mult, mult += 82520 + 2 * (columns left), and finally out += 97531. One call per
 * block instead of a hash array per column and two numpy passes to fold it in. A column is an
 * (offsets, data) pair, or a uint64 array of its hashes already made (a column with missing values).
 */
static PyObject *row_hash(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *columns, *out_obj;
    const char *key;
    Py_ssize_t key_len;
    if (!PyArg_ParseTuple(args, "O!y#O", &PyList_Type, &columns, &key, &key_len, &out_obj)) return NULL;
    if (key_len != 16) {
        PyErr_SetString(PyExc_ValueError, "the hash key must be 16 bytes (pandas' hash_key)");
        return NULL;
    }
    Py_ssize_t ncols = PyList_GET_SIZE(columns);
    Py_buffer out;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return NULL;
    if (out.len % 8 != 0) {
        PyErr_SetString(PyExc_ValueError, "out must hold 64-bit values");
        PyBuffer_Release(&out);
        return NULL;
    }
    Py_ssize_t n = out.len / 8;
    uint64_t *h = (uint64_t *)out.buf;
    uint64_t k0 = load_le64((const uint8_t *)key), k1 = load_le64((const uint8_t *)key + 8);
    for (Py_ssize_t i = 0; i < n; i++) h[i] = 0x345678ULL;
    uint64_t mult = 1000003ULL;
    for (Py_ssize_t c = 0; c < ncols; c++) {
        PyObject *item = PyList_GET_ITEM(columns, c);
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2) {
            Strings s;
            if (strings_get(PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1), &s) < 0) goto fail;
            if (s.n != n) {
                strings_release(&s);
                PyErr_SetString(PyExc_ValueError, "every column must hold as many values as out");
                goto fail;
            }
            Py_BEGIN_ALLOW_THREADS
            hash_values(&s, k0, k1, h, 1, mult);
            Py_END_ALLOW_THREADS
            strings_release(&s);
        } else {
            Py_buffer given;
            if (PyObject_GetBuffer(item, &given, PyBUF_C_CONTIGUOUS) < 0) goto fail;
            if (given.len != out.len) {
                PyBuffer_Release(&given);
                PyErr_SetString(PyExc_ValueError, "every column must hold as many values as out");
                goto fail;
            }
            const uint64_t *g = (const uint64_t *)given.buf;
            for (Py_ssize_t i = 0; i < n; i++) h[i] = (h[i] ^ g[i]) * mult;
            PyBuffer_Release(&given);
        }
        mult += 82520ULL + 2ULL * (uint64_t)(ncols - c);
    }
    for (Py_ssize_t i = 0; i < n; i++) h[i] += 97531ULL;
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&out);
    return NULL;
}

/* ---- hex_keys(h1, h2, out): 32 lower-case hex digits a row, h1 then h2, each big-endian ----
 *
 * The session key's text (normalize._hex_keys): numpy stacked the halves, byte-swapped them, and
 * bytes.hex and an encode copied the digits twice more; here each row's digits are written once.
 */
static PyObject *hex_keys(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *h1_obj, *h2_obj, *out_obj;
    if (!PyArg_ParseTuple(args, "OOO", &h1_obj, &h2_obj, &out_obj)) return NULL;
    Py_buffer h1, h2, out;
    if (PyObject_GetBuffer(h1_obj, &h1, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (PyObject_GetBuffer(h2_obj, &h2, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&h1);
        return NULL;
    }
    if (h1.len % 8 != 0 || h2.len != h1.len) {
        PyErr_SetString(PyExc_ValueError, "h1 and h2 must hold as many 64-bit values");
        PyBuffer_Release(&h2);
        PyBuffer_Release(&h1);
        return NULL;
    }
    Py_ssize_t n = h1.len / 8;
    if (writable_u64(out_obj, &out, n * 32, 1, "out") < 0) {
        PyBuffer_Release(&h2);
        PyBuffer_Release(&h1);
        return NULL;
    }
    static const char DIGITS[] = "0123456789abcdef";
    const uint64_t *a = (const uint64_t *)h1.buf, *b = (const uint64_t *)h2.buf;
    char *o = (char *)out.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++, o += 32) {
        uint64_t x = a[i], y = b[i];
        for (int k = 15; k >= 0; k--, x >>= 4, y >>= 4) {
            o[k] = DIGITS[x & 15];
            o[16 + k] = DIGITS[y & 15];
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    PyBuffer_Release(&h2);
    PyBuffer_Release(&h1);
    Py_RETURN_NONE;
}

/* ---- mix_columns(out1, out2, columns, seed1, seed2): the session key's two hashes in one pass ----
 *
 * normalize._mix_columns over every key column at once: for column i (from 0) and hash key k,
 * out_k = mix(out_k ^ mix(word + (i + 1) * seed_k)), out_k starting at seed_k. A column is
 * (0, words1, words2): a text column's word per key (uint64); (1, seconds): int64 times, NAT
 * (INT64_MIN) as -1; (2, values, ok): int64 values, -1 where ok (uint8) is 0. Each row is read
 * once (the numpy path made a word array per column and 24 passes over the two outputs).
 */
#define MIX_MAX_COLUMNS 64
static PyObject *mix_columns(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *out1_obj, *out2_obj, *columns;
    unsigned long long seed1, seed2;
    if (!PyArg_ParseTuple(args, "OOO!KK", &out1_obj, &out2_obj, &PyList_Type, &columns, &seed1, &seed2)) return NULL;
    Py_ssize_t ncols = PyList_GET_SIZE(columns);
    if (ncols > MIX_MAX_COLUMNS) {
        PyErr_SetString(PyExc_ValueError, "too many columns");
        return NULL;
    }
    Py_buffer out1, out2;
    if (PyObject_GetBuffer(out1_obj, &out1, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return NULL;
    Py_ssize_t n = out1.len / 8;
    if (out1.len % 8 != 0 || writable_u64(out2_obj, &out2, n, 8, "out2") < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "out1 must hold 64-bit values");
        PyBuffer_Release(&out1);
        return NULL;
    }
    Py_buffer views[MIX_MAX_COLUMNS][2];
    int kinds[MIX_MAX_COLUMNS], taken[MIX_MAX_COLUMNS], ok = 1;
    memset(taken, 0, sizeof(taken));
    for (Py_ssize_t c = 0; c < ncols && ok; c++) {
        PyObject *item = PyList_GET_ITEM(columns, c);
        long kind = -1;
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) >= 2) kind = PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        Py_ssize_t parts = kind == 1 ? 1 : 2;
        if ((kind != 0 && kind != 1 && kind != 2) || PyTuple_GET_SIZE(item) != parts + 1) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a column is (0, w1, w2), (1, seconds) or (2, values, ok)");
            ok = 0;
            break;
        }
        kinds[c] = (int)kind;
        for (Py_ssize_t p = 0; p < parts && ok; p++) {
            Py_ssize_t item_size = (kind == 2 && p == 1) ? 1 : 8;
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, p + 1), &views[c][p], PyBUF_C_CONTIGUOUS) < 0) {
                ok = 0;
                break;
            }
            taken[c]++;
            if (views[c][p].len != n * item_size) {
                PyErr_SetString(PyExc_ValueError, "every column must hold as many values as the outputs");
                ok = 0;
            }
        }
    }
    if (ok) {
        uint64_t *o1 = (uint64_t *)out1.buf, *o2 = (uint64_t *)out2.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t a = seed1, b = seed2;
            for (Py_ssize_t c = 0; c < ncols; c++) {
                uint64_t w1, w2;
                if (kinds[c] == 0) {
                    w1 = ((const uint64_t *)views[c][0].buf)[i];
                    w2 = ((const uint64_t *)views[c][1].buf)[i];
                } else if (kinds[c] == 1) {
                    int64_t t = ((const int64_t *)views[c][0].buf)[i];
                    w1 = w2 = (uint64_t)(t == INT64_MIN ? -1 : t);
                } else {
                    int64_t v = ((const int64_t *)views[c][0].buf)[i];
                    w1 = w2 = (uint64_t)(((const uint8_t *)views[c][1].buf)[i] ? v : -1);
                }
                uint64_t salt = (uint64_t)(c + 1);
                a = splitmix(a ^ splitmix(w1 + salt * (uint64_t)seed1));
                b = splitmix(b ^ splitmix(w2 + salt * (uint64_t)seed2));
            }
            o1[i] = a;
            o2[i] = b;
        }
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t c = 0; c < ncols; c++)
        for (int p = 0; p < taken[c]; p++) PyBuffer_Release(&views[c][p]);
    PyBuffer_Release(&out2);
    PyBuffer_Release(&out1);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* ---- date_fields(offsets, data, status, f1, f2, y): dateorder.numeric_fields' byte reading ----
 *
 * Per value, from its first 11 bytes (0 past its end), as dateorder.date_fields_pure's numpy passes
 * read them: status 1 for a zero-padded dd/dd/dddd (separators - / .) not followed by a digit, with its
 * two fields and year in f1, f2, y; 2 for a value only the regex can settle (a leading byte that is
 * a space, a control or non-ASCII, or d[-/.]d / dd[-/.]d at the start); 0 for one that cannot match.
 * One pass instead of ~25 numpy passes over an 11-row byte matrix.
 */
static PyObject *date_fields(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *offsets, *data, *st_obj, *f1_obj, *f2_obj, *y_obj;
    if (!PyArg_ParseTuple(args, "OOOOOO", &offsets, &data, &st_obj, &f1_obj, &f2_obj, &y_obj)) return NULL;
    Strings s;
    if (strings_get(offsets, data, &s) < 0) return NULL;
    Py_buffer st, f1, f2, y;
    st.obj = f1.obj = f2.obj = y.obj = NULL;
    if (writable_u64(st_obj, &st, s.n, 1, "status") < 0 || writable_u64(f1_obj, &f1, s.n, 8, "f1") < 0 ||
        writable_u64(f2_obj, &f2, s.n, 8, "f2") < 0 || writable_u64(y_obj, &y, s.n, 8, "y") < 0) {
        if (st.obj) PyBuffer_Release(&st);
        if (f1.obj) PyBuffer_Release(&f1);
        if (f2.obj) PyBuffer_Release(&f2);
        strings_release(&s);
        return NULL;
    }
    const uint8_t *bytes = (const uint8_t *)s.data.buf;
    uint8_t *status = (uint8_t *)st.buf;
    int64_t *o1 = (int64_t *)f1.buf, *o2 = (int64_t *)f2.buf, *oy = (int64_t *)y.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < s.n; i++) {
        int64_t a = off_at(&s, i), len = off_at(&s, i + 1) - a;
        uint8_t h[11];
        for (int k = 0; k < 11; k++) h[k] = k < len ? bytes[a + k] : 0;
        uint8_t d[11];
        int dig[11], sep[11];
        for (int k = 0; k < 11; k++) {
            d[k] = (uint8_t)(h[k] - '0');
            dig[k] = d[k] <= 9;
            sep[k] = h[k] == '-' || h[k] == '/' || h[k] == '.';
        }
        int fast = dig[0] && dig[1] && dig[3] && dig[4] && dig[6] && dig[7] && dig[8] && dig[9] && sep[2] &&
                   sep[5] && !dig[10];
        o1[i] = (int64_t)d[0] * 10 + d[1];
        o2[i] = (int64_t)d[3] * 10 + d[4];
        oy[i] = (((int64_t)d[6] * 10 + d[7]) * 10 + d[8]) * 10 + d[9];
        if (fast) {
            status[i] = 1;
        } else {
            int plain = h[0] > 0x20 && h[0] < 0x80;
            int shaped = dig[0] && ((sep[1] && dig[2]) || (dig[1] && sep[2] && dig[3]));
            status[i] = (!plain || shaped) ? 2 : 0;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&st);
    PyBuffer_Release(&f1);
    PyBuffer_Release(&f2);
    PyBuffer_Release(&y);
    strings_release(&s);
    Py_RETURN_NONE;
}

/* ---- set_insert(table, stored, hashes, keep, has_zero) -> (inserted, has_zero): a set of 64-bit hashes ----
 *
 * dedupe.DuplicateFilter's "seen before in this dump?": an open-addressing table (linear probing, 0
 * marks an empty slot, its size a power of two the caller keeps at least twice the keys; ``stored``
 * the non-zero hashes it holds) into which
 * each hash is inserted in row order; keep[i] is 1 where hashes[i] was not there yet (the first of
 * equal hashes in a block is kept), 0 otherwise. A hash's slot is the top bits of hash * SET_MIX (an
 * odd constant: any hash, however its bits are spread, is spread over the table), so hashes given in
 * the order of hash * SET_MIX probe the table from its start to its end: at 10M rows, probes in row
 * order into the 134 MB table cost ~240 ns each (cache and TLB misses). The hash 0 cannot be stored: the caller's flag
 * stands for it. One probe a row on average, where the sorted array it replaces copied every hash
 * seen so far at each block (quadratic in the dump: 3.9 CPU s of a 10M-row dump).
 */
#define SET_MIX 0x9E3779B97F4A7C15ULL

static PyObject *set_insert(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *table_obj, *hashes_obj, *keep_obj;
    Py_ssize_t stored;
    int has_zero;
    if (!PyArg_ParseTuple(args, "OnOOp", &table_obj, &stored, &hashes_obj, &keep_obj, &has_zero)) return NULL;
    Py_buffer table, hashes, keep;
    if (PyObject_GetBuffer(table_obj, &table, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return NULL;
    Py_ssize_t slots = table.len / 8;
    if (table.len % 8 != 0 || slots < 2 || (slots & (slots - 1)) != 0 || stored < 0 || stored >= slots) {
        PyErr_SetString(PyExc_ValueError, "table must hold a power of two (at least 2) of 64-bit values, "
                                          "more than the hashes stored");
        PyBuffer_Release(&table);
        return NULL;
    }
    if (PyObject_GetBuffer(hashes_obj, &hashes, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&table);
        return NULL;
    }
    Py_ssize_t n = hashes.len / 8;
    if (hashes.len % 8 != 0 || writable_u64(keep_obj, &keep, n, 1, "keep") < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "hashes must hold 64-bit values");
        PyBuffer_Release(&hashes);
        PyBuffer_Release(&table);
        return NULL;
    }
    uint64_t *t = (uint64_t *)table.buf;
    const uint64_t *h = (const uint64_t *)hashes.buf;
    uint8_t *k = (uint8_t *)keep.buf;
    const uint64_t mask = (uint64_t)slots - 1;
    int shift = 64;
    for (Py_ssize_t s = slots; s > 1; s >>= 1) shift--;
    Py_ssize_t inserted = 0, free_slots = slots - stored;
    int full = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v = h[i];
        if (v == 0) {  /* kept once, not stored in the table (not counted in `inserted`) */
            k[i] = (uint8_t)!has_zero;
            has_zero = 1;
            continue;
        }
        uint64_t at = shift < 64 ? (v * SET_MIX) >> shift : 0;  /* see set_slot_order in loader/dedupe.py */
        while (t[at] != 0 && t[at] != v) at = (at + 1) & mask;
        if (t[at] == v) {
            k[i] = 0;
        } else {
            if (free_slots <= 1) {  /* never fill the last slot: a probe must always end */
                full = 1;
                break;
            }
            t[at] = v;
            free_slots--;
            k[i] = 1;
            inserted++;
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&keep);
    PyBuffer_Release(&hashes);
    PyBuffer_Release(&table);
    if (full) {
        PyErr_SetString(PyExc_ValueError, "table too small for the hashes (the caller keeps it half empty)");
        return NULL;
    }
    return Py_BuildValue("(nO)", inserted, has_zero ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"set_insert", set_insert, METH_VARARGS,
     "set_insert(table, stored, hashes, keep, has_zero) -> (inserted, has_zero): hashes into an "
     "open-addressing set of 64-bit values holding `stored` of them (0 stands apart, in has_zero), keep[i] = 1 "
     "where hashes[i] was new; inserted counts the table's new entries."},
    {"date_fields", date_fields, METH_VARARGS,
     "date_fields(offsets, data, status, f1, f2, y): numeric dates' fields from each value's first bytes."},
    {"mix_columns", mix_columns, METH_VARARGS,
     "mix_columns(out1, out2, columns, seed1, seed2): the session key's two hashes over typed key columns."},
    {"hex_keys", hex_keys, METH_VARARGS,
     "hex_keys(h1, h2, out): 32 hex digits a row (h1 then h2, big-endian) into out (32 bytes a row)."},
    {"row_hash", row_hash, METH_VARARGS,
     "row_hash(columns, key, out): pandas' hash_pandas_object(index=False) of text columns ((offsets, data) "
     "pairs or uint64 hash arrays), in out."},
    {"take_strings", take_strings, METH_VARARGS,
     "take_strings(offsets, data, indices, out_offsets, out_data) -> total bytes: with out_data None the "
     "offsets (-1: an index out of range), else the bytes copied into out_data (total + 16 bytes)."},
    {"edge_flags", edge_flags, METH_VARARGS,
     "edge_flags(offsets, data, table) -> OR of table[first byte] & 1 and table[last byte] & 2 over values."},
    {"mix_into", mix_into, METH_VARARGS, "mix_into(out, words, salt): out = mix(out ^ mix(words + salt)) in place."},
    {"hash_strings", hash_strings, METH_VARARGS,
     "hash_strings(offsets, data, key, out): pandas' hash_array (SipHash-2-4 + mix) of each value's bytes."},
    {"parse_ints", parse_ints, METH_VARARGS,
     "parse_ints(offsets, data, low, high, values, status) -> count of values that are not plain integers."},
    {"count_byte", count_byte, METH_VARARGS, "count_byte(data, byte) -> occurrences of byte in data (bytes.count)."},
    {"name_lines", name_lines, METH_VARARGS,
     "name_lines(data, names, out) -> count of lines of data holding a name (ASCII case folded), put in out."},
    {"pad_lines", pad_lines, METH_VARARGS,
     "pad_lines(data, out) -> (lines, padding lines) of data; the padding lines' numbers put in out."},
    {"parse_fixed", parse_fixed, METH_VARARGS,
     "parse_fixed(offsets, data, rows, items, width, year_start, ok, values): fixed-width date/time texts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native",
                                    "The normaliser's per-value loops in C (see loader/native.py).", -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }

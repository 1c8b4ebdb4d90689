/* analysis._cedn: the compiled half of analysis.edn.
 *
 * A recursive-descent EDN reader over the UTF-8 bytes of a str, for what Maelstrom writes:
 * maps, vectors, lists, sets, keywords, symbols, strings, 64-bit integers, nil/true/false and
 * tagged values. It builds the same objects as the pure-Python reader in analysis/edn.py,
 * whose helpers it calls for the rare cases (escaped strings, floats and big numbers, tags,
 * unhashable map keys and set elements).
 *
 * It never reports an error itself. Whatever it is not sure of (a comment, a character
 * literal, #_, ##NaN, unterminated input, odd whitespace, deep nesting, any exception raised
 * by a helper) makes it *give up* on that input: loads_all returns None and loads_lines puts
 * the `fallback` object in that line's place, and analysis/edn.py reads the input again with
 * the pure-Python reader, which gives the value or the exact error message. So the two
 * readers agree by construction wherever this one answers, and tests check that they agree
 * on the whole corpus.
 *
 * Why C: history files are tens of MB and edn_format reads a few thousand lines a second; the
 * pure-Python reader reaches 25-30x edn_format on kafka histories, this one over 100x
 * (docs/benchmarks.md).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Deeper than this gives up: the pure-Python reader has an explicit stack and no limit, while
 * C recursion could overflow a small thread stack. */
#define MAX_DEPTH 256

/* ---- helpers from analysis/edn.py, set once by configure() ---------------------------- */

static PyObject *Keyword_type;  /* analysis.edn.Keyword */
static PyObject *Symbol_type;   /* analysis.edn.Symbol */
static PyObject *tagged_fn;     /* _tagged(tag, value) */
static PyObject *atom_fn;       /* _atom(token): numbers other than plain 64-bit integers */
static PyObject *string_fn;     /* _string(token): strings with escapes, quotes included */
static PyObject *make_map_fn;   /* _make_map(items): maps with unhashable keys */
static PyObject *make_set_fn;   /* _make_set(items): sets (any set: dedup rules live there) */

/* ---- interned keywords and symbols ------------------------------------------------------
 * An open-addressing table from spelling (bytes, with the leading ':' for keywords) to the one
 * Keyword/Symbol object of that name, so a name seen a million times is made once and looked
 * up without making a str. Entries live as long as the module, like the pure reader's caches.
 */
typedef struct {
    uint64_t hash;
    Py_ssize_t len;
    char *bytes;
    PyObject *value;
} Name;

static Name *names;
static size_t names_cap; /* a power of two */
static size_t names_used;

static uint64_t
hash_bytes(const char *s, Py_ssize_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h | 1; /* never 0: 0 marks an empty slot */
}

static int
names_grow(void)
{
    size_t cap = names_cap ? names_cap * 2 : 1024;
    Name *table = PyMem_Calloc(cap, sizeof(Name));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < names_cap; i++) {
        if (names[i].hash) {
            size_t j = names[i].hash & (cap - 1);
            while (table[j].hash)
                j = (j + 1) & (cap - 1);
            table[j] = names[i];
        }
    }
    PyMem_Free(names);
    names = table;
    names_cap = cap;
    return 0;
}

/* The slot of these bytes in the table: theirs, or the empty one where they would go. */
static Name *
find_name(const char *s, Py_ssize_t n, uint64_t h)
{
    size_t j = h & (names_cap - 1);
    while (names[j].hash) {
        if (names[j].hash == h && names[j].len == n && memcmp(names[j].bytes, s, n) == 0)
            break;
        j = (j + 1) & (names_cap - 1);
    }
    return &names[j];
}

/* The Keyword (spelled ":name") or Symbol ("name") of these bytes: a new reference. */
static PyObject *
intern_name(const char *s, Py_ssize_t n)
{
    if (names_used * 2 >= names_cap && names_grow() < 0)
        return NULL;
    uint64_t h = hash_bytes(s, n);
    Name *slot = find_name(s, n, h);
    if (slot->hash) {
        Py_INCREF(slot->value);
        return slot->value;
    }
    int keyword = s[0] == ':';
    PyObject *text = PyUnicode_DecodeUTF8(s + keyword, n - keyword, "strict");
    if (text == NULL)
        return NULL;
    PyObject *value = PyObject_CallOneArg(keyword ? Keyword_type : Symbol_type, text);
    Py_DECREF(text);
    if (value == NULL)
        return NULL;
    /* The call ran Python code, so another thread may have changed the table: look again. */
    if (names_used * 2 >= names_cap && names_grow() < 0) {
        Py_DECREF(value);
        return NULL;
    }
    slot = find_name(s, n, h);
    if (slot->hash) {
        Py_DECREF(value);
        Py_INCREF(slot->value);
        return slot->value;
    }
    char *copy = PyMem_Malloc(n ? n : 1);
    if (copy == NULL) {
        Py_DECREF(value);
        return PyErr_NoMemory();
    }
    memcpy(copy, s, n);
    slot->hash = h;
    slot->len = n;
    slot->bytes = copy;
    slot->value = value; /* the table's reference */
    names_used++;
    Py_INCREF(value);
    return value;
}

/* ---- the parser ------------------------------------------------------------------------ */

typedef struct {
    const char *s;
    const char *end;
    /* Items of the open collections, innermost last: one shared stack, so building a map or a
     * vector needs no temporary list. */
    PyObject **items;
    Py_ssize_t n_items;
    Py_ssize_t cap_items;
} Parser;

/* What separates tokens: the pure reader's [\s,] restricted to ASCII. Other bytes that \s
 * matches (\x1c-\x1f, and non-ASCII spaces) make us give up. */
static unsigned char is_blank[256];
/* What ends an atom: blanks, delimiters, '"', '\\', ';' (the pure reader's token class), and
 * every byte we give up on (controls, non-ASCII). */
static unsigned char ends_atom[256];

static void
init_tables(void)
{
    const char *blanks = " \t\n\r\f\v,";
    for (const char *c = blanks; *c; c++)
        is_blank[(unsigned char)*c] = 1;
    for (int c = 0; c < 256; c++)
        ends_atom[c] = is_blank[c] || c < 0x20 || c >= 0x7f || strchr("[](){}\"\\;", c) != NULL;
}

/* Skip blanks. Returns 0, or -1 to give up (a comment or a byte the pure reader must judge). */
static inline int
skip_blanks(Parser *p)
{
    while (p->s < p->end && is_blank[(unsigned char)*p->s])
        p->s++;
    if (p->s < p->end) {
        unsigned char c = (unsigned char)*p->s;
        if (c == ';' || c < 0x20 || c >= 0x80)
            return -1;
    }
    return 0;
}

static int
push(Parser *p, PyObject *v)
{
    if (p->n_items == p->cap_items) {
        Py_ssize_t cap = p->cap_items ? p->cap_items * 2 : 256;
        PyObject **items = PyMem_Realloc(p->items, cap * sizeof(PyObject *));
        if (items == NULL) {
            Py_DECREF(v);
            PyErr_NoMemory();
            return -1;
        }
        p->items = items;
        p->cap_items = cap;
    }
    p->items[p->n_items++] = v;
    return 0;
}

/* The items from `start` on, as a new list; they leave the stack (the list owns them). */
static PyObject *
pop_list(Parser *p, Py_ssize_t start)
{
    Py_ssize_t n = p->n_items - start;
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyList_SET_ITEM(list, i, p->items[start + i]);
    p->n_items = start;
    return list;
}

static void
drop_items(Parser *p, Py_ssize_t start)
{
    while (p->n_items > start)
        Py_DECREF(p->items[--p->n_items]);
}

static PyObject *parse_value(Parser *p, int depth);

/* Items until `close`, pushed on the stack. 0, or -1 to give up. */
static int
parse_items(Parser *p, char close, int depth)
{
    for (;;) {
        if (skip_blanks(p) < 0 || p->s >= p->end)
            return -1;
        char c = *p->s;
        if (c == close) {
            p->s++;
            return 0;
        }
        if (c == ']' || c == ')' || c == '}')
            return -1;
        PyObject *v = parse_value(p, depth + 1);
        if (v == NULL || push(p, v) < 0)
            return -1;
    }
}

static PyObject *
build_map(Parser *p, Py_ssize_t start)
{
    Py_ssize_t n = p->n_items - start;
    if (n % 2)
        return NULL; /* odd: the pure reader says so */
    PyObject *map = PyDict_New();
    if (map == NULL)
        return NULL;
    for (Py_ssize_t i = start; i < p->n_items; i += 2) {
        if (PyDict_SetItem(map, p->items[i], p->items[i + 1]) < 0) {
            Py_DECREF(map);
            if (!PyErr_ExceptionMatches(PyExc_TypeError))
                return NULL;
            PyErr_Clear(); /* an unhashable key: the pure reader's rule */
            PyObject *items = pop_list(p, start);
            if (items == NULL)
                return NULL;
            map = PyObject_CallOneArg(make_map_fn, items);
            Py_DECREF(items);
            return map;
        }
    }
    drop_items(p, start);
    return map;
}

static PyObject *
build_set(Parser *p, Py_ssize_t start)
{
    PyObject *items = pop_list(p, start);
    if (items == NULL)
        return NULL;
    PyObject *set = PyFrozenSet_New(items);
    if (set == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        set = PyObject_CallOneArg(make_set_fn, items);
    }
    Py_DECREF(items);
    return set;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The body of a string with escapes, [s, end) without the quotes, decoded as the pure
 * reader's _string does. NULL (no exception) for what only _string may judge: an unknown
 * escape, or a \u escape of a surrogate (which has no UTF-8 spelling). */
static PyObject *
unescape(const char *s, const char *end)
{
    char *buf = PyMem_Malloc(end - s + 1);
    if (buf == NULL)
        return PyErr_NoMemory();
    char *out = buf;
    while (s < end) {
        if (*s != '\\') {
            *out++ = *s++;
            continue;
        }
        char c = s[1]; /* s + 1 < end: the scan never ends a string on a backslash */
        s += 2;
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case 'n': *out++ = '\n'; break;
        case 't': *out++ = '\t'; break;
        case 'r': *out++ = '\r'; break;
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case '/': *out++ = '/'; break;
        case 'u': {
            long cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = s + i < end ? hex_value(s[i]) : -1;
                if (h < 0)
                    goto defer;
                cp = cp * 16 + h;
            }
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDFFF)
                goto defer;
            if (cp < 0x80) {
                *out++ = (char)cp;
            }
            else if (cp < 0x800) {
                *out++ = (char)(0xC0 | (cp >> 6));
                *out++ = (char)(0x80 | (cp & 0x3F));
            }
            else {
                *out++ = (char)(0xE0 | (cp >> 12));
                *out++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *out++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            goto defer;
        }
    }
    PyObject *value = PyUnicode_DecodeUTF8(buf, out - buf, "strict");
    PyMem_Free(buf);
    return value;
defer:
    PyMem_Free(buf);
    return NULL;
}

static PyObject *
parse_string(Parser *p)
{
    const char *start = p->s; /* at the opening quote */
    const char *s = start + 1;
    int escaped = 0;
    while (s < p->end && *s != '"') {
        if (*s == '\\') {
            escaped = 1;
            s++; /* the escaped byte: any byte, as in the pure reader's pattern */
        }
        s++;
    }
    if (s >= p->end)
        return NULL; /* unterminated */
    p->s = s + 1;
    if (!escaped)
        return PyUnicode_DecodeUTF8(start + 1, s - start - 1, "strict");
    PyObject *value = unescape(start + 1, s);
    if (value != NULL || PyErr_Occurred())
        return value;
    PyObject *token = PyUnicode_DecodeUTF8(start, s + 1 - start, "strict");
    if (token == NULL)
        return NULL;
    value = PyObject_CallOneArg(string_fn, token);
    Py_DECREF(token);
    return value;
}

/* An atom: keyword, number, nil/true/false or symbol. */
static PyObject *
parse_atom(Parser *p)
{
    const char *start = p->s;
    const char *s = start;
    while (s < p->end && !ends_atom[(unsigned char)*s])
        s++;
    if (s < p->end && (unsigned char)*s >= 0x7f)
        return NULL; /* non-ASCII in a name: leave Unicode's rules to the pure reader */
    p->s = s;
    Py_ssize_t n = s - start;
    if (n == 0)
        return NULL;
    char c = start[0];
    if (c == ':')
        return n > 1 ? intern_name(start, n) : NULL;
    int sign = c == '+' || c == '-';
    if ((c >= '0' && c <= '9') || (sign && n > 1 && start[1] >= '0' && start[1] <= '9')) {
        /* Up to 18 digits fit in 64 bits whatever they are; anything else is _atom's. */
        Py_ssize_t digits = n - sign;
        if (digits <= 18) {
            long long v = 0;
            Py_ssize_t i = sign;
            for (; i < n && start[i] >= '0' && start[i] <= '9'; i++)
                v = v * 10 + (start[i] - '0');
            if (i == n)
                return PyLong_FromLongLong(c == '-' ? -v : v);
        }
        PyObject *token = PyUnicode_DecodeUTF8(start, n, "strict");
        if (token == NULL)
            return NULL;
        PyObject *value = PyObject_CallOneArg(atom_fn, token);
        Py_DECREF(token);
        return value;
    }
    if (n == 3 && memcmp(start, "nil", 3) == 0)
        Py_RETURN_NONE;
    if (n == 4 && memcmp(start, "true", 4) == 0)
        Py_RETURN_TRUE;
    if (n == 5 && memcmp(start, "false", 5) == 0)
        Py_RETURN_FALSE;
    return intern_name(start, n);
}

/* One value at p->s (blanks already skipped). A new reference, or NULL to give up. */
static PyObject *
parse_value(Parser *p, int depth)
{
    if (depth > MAX_DEPTH || p->s >= p->end)
        return NULL;
    Py_ssize_t start = p->n_items;
    char c = *p->s;
    switch (c) {
    case '[':
    case '(':
        p->s++;
        if (parse_items(p, c == '[' ? ']' : ')', depth) < 0)
            return NULL;
        return pop_list(p, start);
    case '{':
        p->s++;
        if (parse_items(p, '}', depth) < 0)
            return NULL;
        return build_map(p, start);
    case '"':
        return parse_string(p);
    case '#': {
        if (p->s + 1 >= p->end)
            return NULL;
        char next = p->s[1];
        if (next == '{') {
            p->s += 2;
            if (parse_items(p, '}', depth) < 0)
                return NULL;
            return build_set(p, start);
        }
        if (!((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z')))
            return NULL; /* #_, ##NaN, #"...": the pure reader's */
        /* A tag: '#' and an atom's characters, then the value it wraps. */
        const char *tag = p->s + 1;
        const char *s = tag;
        while (s < p->end && !ends_atom[(unsigned char)*s])
            s++;
        if (s < p->end && (unsigned char)*s >= 0x7f)
            return NULL;
        p->s = s;
        if (skip_blanks(p) < 0 || p->s >= p->end)
            return NULL;
        char after = *p->s;
        if (after == ']' || after == ')' || after == '}')
            return NULL;
        PyObject *value = parse_value(p, depth + 1);
        if (value == NULL)
            return NULL;
        PyObject *name = PyUnicode_DecodeUTF8(tag, s - tag, "strict");
        if (name == NULL) {
            Py_DECREF(value);
            return NULL;
        }
        PyObject *tagged = PyObject_CallFunctionObjArgs(tagged_fn, name, value, NULL);
        Py_DECREF(name);
        Py_DECREF(value);
        return tagged;
    }
    case ']':
    case ')':
    case '}':
    case '\\':
        return NULL; /* a stray closer, or a character literal */
    default:
        return parse_atom(p);
    }
}

/* Parse [s, end) into values appended to `out`; `limit` values at most (-1: no limit).
 * 0 when the input was read to its end, -1 to give up (any exception is cleared; the stack is
 * emptied). */
static int
parse_all(Parser *p, PyObject *out, Py_ssize_t limit)
{
    Py_ssize_t count = 0;
    for (;;) {
        if (skip_blanks(p) < 0)
            goto give_up;
        if (p->s >= p->end)
            return 0;
        if (limit >= 0 && count == limit)
            goto give_up; /* more values than expected: the pure reader words the error */
        PyObject *v = parse_value(p, 0);
        if (v == NULL)
            goto give_up;
        int failed = PyList_Append(out, v);
        Py_DECREF(v);
        if (failed)
            goto give_up;
        count++;
    }
give_up:
    drop_items(p, 0);
    PyErr_Clear();
    return -1;
}

/* ---- module functions ------------------------------------------------------------------ */

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *fns[7];
    if (!PyArg_ParseTuple(args, "OOOOOOO:configure", &fns[0], &fns[1], &fns[2], &fns[3],
                          &fns[4], &fns[5], &fns[6]))
        return NULL;
    PyObject **slots[7] = {&Keyword_type, &Symbol_type, &tagged_fn, &atom_fn,
                           &string_fn,    &make_map_fn, &make_set_fn};
    for (int i = 0; i < 7; i++) {
        PyObject *old = *slots[i];
        Py_INCREF(fns[i]);
        *slots[i] = fns[i];
        Py_XDECREF(old);
    }
    /* New types: forget the names made with the old ones. */
    for (size_t i = 0; i < names_cap; i++) {
        if (names[i].hash) {
            Py_DECREF(names[i].value);
            PyMem_Free(names[i].bytes);
        }
    }
    PyMem_Free(names);
    names = NULL;
    names_cap = names_used = 0;
    Py_RETURN_NONE;
}

static int
configured(void)
{
    if (make_set_fn == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "analysis._cedn.configure() was not called");
        return 0;
    }
    return 1;
}

static PyObject *
loads_all(PyObject *self, PyObject *text)
{
    if (!configured())
        return NULL;
    Py_ssize_t n;
    const char *s = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    if (s == NULL) { /* not a str, or lone surrogates: the pure reader's to judge */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    Parser p = {s, s + n, NULL, 0, 0};
    int failed = parse_all(&p, out, -1);
    PyMem_Free(p.items);
    if (failed) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

static PyObject *
loads_lines(PyObject *self, PyObject *args)
{
    PyObject *lines, *fallback;
    if (!PyArg_ParseTuple(args, "O!O:loads_lines", &PyList_Type, &lines, &fallback))
        return NULL;
    if (!configured())
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(lines);
    PyObject *out = PyList_New(count);
    PyObject *one = PyList_New(0);
    if (out == NULL || one == NULL)
        goto error;
    Parser p = {NULL, NULL, NULL, 0, 0};
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i);
        Py_ssize_t n;
        const char *s = PyUnicode_Check(line) ? PyUnicode_AsUTF8AndSize(line, &n) : NULL;
        PyObject *value = fallback;
        if (s == NULL) {
            PyErr_Clear();
        }
        else {
            p.s = s;
            p.end = s + n;
            if (parse_all(&p, one, 1) == 0 && PyList_GET_SIZE(one) == 1)
                value = PyList_GET_ITEM(one, 0);
        }
        Py_INCREF(value);
        PyList_SET_ITEM(out, i, value);
        if (PyList_SetSlice(one, 0, PY_SSIZE_T_MAX, NULL) < 0) {
            PyMem_Free(p.items);
            goto error;
        }
    }
    PyMem_Free(p.items);
    Py_DECREF(one);
    return out;
error:
    Py_XDECREF(out);
    Py_XDECREF(one);
    return NULL;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(Keyword, Symbol, tagged, atom, string, make_map, make_set): the helpers."},
    {"loads_all", loads_all, METH_O,
     "loads_all(text) -> every top-level value, or None where the pure reader must decide."},
    {"loads_lines", loads_lines, METH_VARARGS,
     "loads_lines(lines, fallback) -> one value per line; `fallback` where the pure reader "
     "must decide (an error, or anything this reader does not handle)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_cedn",
    .m_doc = "The compiled half of analysis.edn (see analysis/_cedn.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__cedn(void)
{
    init_tables();
    return PyModule_Create(&module);
}

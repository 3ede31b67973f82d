/* Key tables (see keys.h): one table per configuration drives its defaults, files, flags,
 * --help and resolved JSON, so adding a knob is one table line. Files are flat mappings
 * (JSON object or YAML mapping of scalars); flags override them. */
#include "rl/keys.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "rl/algo.h"
#include "rl/foreign.h"
#include "rl/keydefs.h"

/* "--clip-high" / "clip-high" / "clip_high" -> "clip_high" */
static void norm_name(const char *in, char *out, size_t cap) {
    while (*in == '-') in++;
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) out[i] = in[i] == '-' ? '_' : in[i];
    out[i] = 0;
}

void rl_keys_flag_name(const char *key, char *out, size_t cap) {
    snprintf(out, cap, "--%s", key);
    for (char *p = out; *p; p++)
        if (*p == '_') *p = '-';
}

int rl_keys_find(const rl_keytab_t *t, const char *name) {
    if (!name) return -1;
    char n[96];
    norm_name(name, n, sizeof n);
    for (int i = 0; i < t->n; i++)
        if (!strcmp(n, t->keys[i].name)) return i;
    return -1;
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

/* The closest key to `n` (normalised) if it is close enough to be a typo, else NULL. A flag
 * starting with "no" means a negated boolean: it is matched only to "no_" + a boolean key
 * (the result is then that key), never to a key of the other polarity; anything else is
 * matched to the keys themselves. */
static const char *suggest(const rl_keytab_t *t, const char *n, int negated) {
    size_t best = 99;
    const char *bk = NULL;
    for (int i = 0; i < t->n; i++) {
        char cand[112];
        if (negated && t->keys[i].type != RL_CFG_BOOL) continue;
        snprintf(cand, sizeof cand, "%s%s", negated ? "no_" : "", t->keys[i].name);
        size_t d = edit_distance(n, cand);
        if (d < best) best = d, bk = t->keys[i].name;
    }
    size_t lim = strlen(n) / 3;
    if (lim < 2) lim = 2;
    return best <= lim ? bk : NULL;
}

static int unknown_key(const rl_keytab_t *t, const char *origin, const char *key, int flag) {
    char n[96];
    norm_name(key, n, sizeof n);
    int negated = flag && !strncmp(n, "no", 2);
    const char *s = suggest(t, n, negated);
    char hint[240] = "", foreign[200];
    const char *target;
    if (rl_foreign_hint(n, flag, &target, foreign, sizeof foreign) && (!target || rl_keys_find(t, target) >= 0)) {
        snprintf(hint, sizeof hint, " (%s)", foreign);
    } else if (s && flag) {
        char nk[112], f[120];
        snprintf(nk, sizeof nk, "%s%s", negated ? "no_" : "", s);
        rl_keys_flag_name(nk, f, sizeof f);
        snprintf(hint, sizeof hint, " (did you mean %s?)", f);
    } else if (s) {
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", s);
    } else if (negated && rl_keys_find(t, n + (n[2] == '_' ? 3 : 2)) >= 0) {
        snprintf(hint, sizeof hint, " (%s is not a boolean: give it a value)", n + (n[2] == '_' ? 3 : 2));
    }
    if (flag) return rlc_errc(RLC_EINVAL, "unknown flag %s%s", key, hint);
    return rlc_errc(RLC_EINVAL, "%s: unknown key '%s'%s", origin, key, hint);
}

int rl_keys_unknown_flag(const rl_keytab_t *t, const char *flag) {
    char name[96];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(flag, "="), flag);
    return unknown_key(t, "command line", name, 1);
}

/* ---------------------------------------------------------------- enums */

static int enum_parse(int ek, const char *v) {
    switch (ek) {
    case E_ADV: return rl_adv_parse(v);
    case E_KL: return rl_kl_parse(v);
    case E_AGG: return rl_agg_parse(v);
    case E_LR: return rl_lr_parse(v);
    case E_STD:
        if (!strcasecmp(v, "population") || !strcasecmp(v, "pop")) return 0;
        if (!strcasecmp(v, "sample") || !strcasecmp(v, "unbiased")) return 1;
        return -1;
    }
    return -1;
}

static const char *enum_name(int ek, int v) {
    switch (ek) {
    case E_ADV: return rl_adv_name(v);
    case E_KL: return rl_kl_name(v);
    case E_AGG: return rl_agg_name(v);
    case E_LR: return rl_lr_name(v);
    case E_STD: return v ? "sample" : "population";
    }
    return "?";
}

/* ---------------------------------------------------------------- typed set/get */

static int parse_bool(const char *v, int *out) {
    static const char *const t[] = {"true", "1", "yes", "on"}, *const f[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, t[i])) return *out = 1, 0;
        if (!strcasecmp(v, f[i])) return *out = 0, 0;
    }
    return -1;
}

static int parse_long(const char *v, long *out) {
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno == 0 && end != v && *end == 0) {
        *out = (long)x;
        return 0;
    }
    /* "1e3" and "100.0" are accepted when they are integral */
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d != floor(d) || fabs(d) > 9.0e15) return -1;
    *out = (long)d;
    return 0;
}

static int parse_double(const char *v, double *out) {
    while (isspace((unsigned char)*v)) v++;
    if (!*v) return -1;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    while (isspace((unsigned char)*end)) end++;
    if (errno == ERANGE || end == v || *end || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

int rl_keys_was_set(const rl_keytab_t *t, const void *obj, const char *key) {
    int i = rl_keys_find(t, key);
    return i >= 0 && i < RL_KEYS_MAX && t->set_offset != (size_t)-1 && ((const unsigned char *)obj + t->set_offset)[i];
}

static int set_idx(const rl_keytab_t *t, void *obj, int i, const char *v, const char *origin) {
    const rl_config_key_t *k = &t->keys[i];
    if (t->set_offset != (size_t)-1 && i < RL_KEYS_MAX)
        ((unsigned char *)obj + t->set_offset)[i] = strcmp(origin, "default") != 0;
    void *p = (char *)obj + k->offset;
    const char *kn = k->name;
    switch (k->type) {
    case RL_CFG_BOOL:
        if (parse_bool(v, (int *)p)) return rlc_errc(RLC_EINVAL, "%s: %s: expected true or false, got '%s'", origin, kn, v);
        return 0;
    case RL_CFG_INT:
        if (parse_long(v, (long *)p)) return rlc_errc(RLC_EINVAL, "%s: %s: expected an integer, got '%s'", origin, kn, v);
        if (*(long *)p < INT_MIN || *(long *)p > INT_MAX) /* never wrap silently where an int is used */
            return rlc_errc(RLC_EINVAL, "%s: %s = %s: out of range (an integer in [%d, %d])", origin, kn, v, INT_MIN,
                            INT_MAX);
        return 0;
    case RL_CFG_FLOAT:
        if (parse_double(v, (double *)p))
            return rlc_errc(RLC_EINVAL, "%s: %s: expected a finite number, got '%s'", origin, kn, v);
        return 0;
    case RL_CFG_ENUM: {
        int e = enum_parse(k->enum_kind, v);
        if (e < 0) return rlc_errc(RLC_EINVAL, "%s: %s: unknown value '%s' (choose %s)", origin, kn, v, k->choices);
        *(int *)p = e;
        return 0;
    }
    case RL_CFG_STR: {
        char *s = rlc_strdup(v);
        if (!s) return RLC_ENOMEM;
        free(*(char **)p);
        *(char **)p = s;
        return 0;
    }
    }
    return rlc_errc(RLC_EINVAL, "%s: %s: bad key type", origin, kn);
}

int rl_keys_set(const rl_keytab_t *t, void *obj, const char *key, const char *value, const char *origin) {
    int i = rl_keys_find(t, key);
    if (i < 0) return unknown_key(t, origin ? origin : "config", key, 0);
    return set_idx(t, obj, i, value ? value : "", origin ? origin : "config");
}

static void fmt_double(double d, char *buf, size_t cap) {
    /* shortest %g that reads back exactly */
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return;
    }
}

int rl_keys_get(const rl_keytab_t *t, const void *obj, const char *key, char *buf, size_t cap) {
    int i = rl_keys_find(t, key);
    if (i < 0) return unknown_key(t, "config", key, 0);
    const rl_config_key_t *k = &t->keys[i];
    const void *p = (const char *)obj + k->offset;
    switch (k->type) {
    case RL_CFG_BOOL: snprintf(buf, cap, "%s", *(const int *)p ? "true" : "false"); break;
    case RL_CFG_INT: snprintf(buf, cap, "%ld", *(const long *)p); break;
    case RL_CFG_FLOAT: fmt_double(*(const double *)p, buf, cap); break;
    case RL_CFG_ENUM: snprintf(buf, cap, "%s", enum_name(k->enum_kind, *(const int *)p)); break;
    case RL_CFG_STR: snprintf(buf, cap, "%s", *(char *const *)p ? *(char *const *)p : ""); break;
    }
    return 0;
}

int rl_keys_init(const rl_keytab_t *t, void *obj) {
    for (int i = 0; i < t->n; i++) {
        int rc = set_idx(t, obj, i, t->keys[i].def, "default");
        if (rc) {
            rl_keys_free(t, obj);
            return rc;
        }
    }
    return 0;
}

void rl_keys_free(const rl_keytab_t *t, void *obj) {
    for (int i = 0; i < t->n; i++)
        if (t->keys[i].type == RL_CFG_STR) {
            char **p = (char **)((char *)obj + t->keys[i].offset);
            free(*p);
            *p = NULL;
        }
}

/* ---------------------------------------------------------------- JSON */

int rl_keys_load_json(const rl_keytab_t *t, void *obj, const cJSON *json, const char *what) {
    if (!cJSON_IsObject(json)) return rlc_errc(RLC_EINVAL, "%s: the config must be a JSON object of key: value", what);
    for (const cJSON *it = json->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        int i = rl_keys_find(t, key);
        if (i < 0) return unknown_key(t, what, key, 0);
        for (const cJSON *j = json->child; j != it; j = j->next)
            if (j->string && rl_keys_find(t, j->string) == i)
                return rlc_errc(RLC_EINVAL, "%s: key '%s' given twice", what, key);
        rl_cfg_type_t ty = t->keys[i].type;
        char buf[64];
        const char *v = NULL;
        if (cJSON_IsString(it)) {
            v = it->valuestring;
        } else if (cJSON_IsNumber(it) && (ty == RL_CFG_INT || ty == RL_CFG_FLOAT)) {
            fmt_double(it->valuedouble, buf, sizeof buf);
            v = buf;
        } else if (cJSON_IsBool(it) && ty == RL_CFG_BOOL) {
            v = cJSON_IsTrue(it) ? "true" : "false";
        } else if (cJSON_IsNull(it) && ty == RL_CFG_STR) {
            v = "";
        } else {
            static const char *const tn[] = {"true or false", "an integer", "a number", "a string", "a string"};
            return rlc_errc(RLC_EINVAL, "%s: %s: expected %s", what, key, tn[ty]);
        }
        int rc = set_idx(t, obj, i, v, what);
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- YAML */

static int yaml_fail(yaml_parser_t *p, const char *what) {
    return rlc_errc(RLC_EFMT, "%s:%zu:%zu: malformed YAML: %s", what, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, p->problem ? p->problem : "parse error");
}

int rl_keys_load_yaml(const rl_keytab_t *t, void *obj, const char *text, size_t len, const char *what) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return rlc_errc(RLC_ENOMEM, "%s: cannot initialize the YAML parser", what);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0, depth = 0, done = 0, have_map = 0;
    char *key = NULL;
    size_t key_line = 0;
    unsigned char *seen = rlc_calloc((size_t)t->n, 1);
    if (!seen) {
        yaml_parser_delete(&p);
        return RLC_ENOMEM;
    }
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_fail(&p, what);
            break;
        }
        size_t line = ev.start_mark.line + 1;
        char origin[600];
        snprintf(origin, sizeof origin, "%s:%zu", what, line);
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT: break;
        case YAML_DOCUMENT_START_EVENT:
            if (have_map) rc = rlc_errc(RLC_EINVAL, "%s: only one YAML document is allowed", origin);
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth == 0 && !have_map) {
                depth = 1;
                have_map = 1;
            } else {
                char foreign[200] = "", n[96];
                const char *target;
                if (key) norm_name(key, n, sizeof n);
                if (key && rl_foreign_hint(n, 0, &target, foreign + 2, sizeof foreign - 3))
                    foreign[0] = ';', foreign[1] = ' ';
                rc = rlc_errc(RLC_EINVAL, "%s: %s: nested mappings are not allowed (keys are flat)%s", origin,
                              key ? key : "?", foreign);
            }
            break;
        case YAML_MAPPING_END_EVENT: depth = 0; break;
        case YAML_SEQUENCE_START_EVENT:
            rc = rlc_errc(RLC_EINVAL, "%s: %s: lists are not allowed (every value is a scalar)", origin,
                          key ? key : "the document");
            break;
        case YAML_ALIAS_EVENT: rc = rlc_errc(RLC_EINVAL, "%s: YAML aliases are not supported", origin); break;
        case YAML_SCALAR_EVENT: {
            const char *val = (const char *)ev.data.scalar.value;
            if (depth == 0) {
                /* A bare scalar document: only an empty one (a comments-only file) is fine. */
                if (ev.data.scalar.length)
                    rc = rlc_errc(RLC_EINVAL, "%s: the config must be a mapping of key: value", origin);
                break;
            }
            if (!key) {
                int i = rl_keys_find(t, val);
                if (i < 0) {
                    rc = unknown_key(t, origin, val, 0);
                } else if (seen[i]) {
                    rc = rlc_errc(RLC_EINVAL, "%s: key '%s' given twice", origin, val);
                } else {
                    seen[i] = 1;
                    key = rlc_strdup(val);
                    key_line = line;
                    if (!key) rc = RLC_ENOMEM;
                }
            } else {
                int i = rl_keys_find(t, key);
                int plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                int is_null = plain && (!strcmp(val, "") || !strcmp(val, "~") || !strcasecmp(val, "null"));
                snprintf(origin, sizeof origin, "%s:%zu", what, key_line);
                if (is_null && t->keys[i].type != RL_CFG_STR)
                    rc = rlc_errc(RLC_EINVAL, "%s: %s: needs a value", origin, key);
                else
                    rc = set_idx(t, obj, i, is_null ? "" : val, origin);
                free(key);
                key = NULL;
            }
            break;
        }
        default: break;
        }
        yaml_event_delete(&ev);
    }
    free(key);
    free(seen);
    yaml_parser_delete(&p);
    return rc;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

int rl_keys_load_file(const rl_keytab_t *t, void *obj, const char *path) {
    char *text;
    size_t len;
    int rc = fs_read_all(path, &text, &len);
    if (rc) return rlc_err_ctx(rc, "config");
    int json;
    if (ends_with(path, ".json"))
        json = 1;
    else if (ends_with(path, ".yaml") || ends_with(path, ".yml"))
        json = 0;
    else {
        const char *s = text;
        while (isspace((unsigned char)*s)) s++;
        json = *s == '{';
    }
    if (json) {
        cJSON *j = rlc_json_parse(text, len, path);
        rc = j ? rl_keys_load_json(t, obj, j, path) : RLC_EFMT;
        cJSON_Delete(j);
    } else {
        rc = rl_keys_load_yaml(t, obj, text, len, path);
    }
    free(text);
    return rc;
}

/* ---------------------------------------------------------------- argv */

static int is_bool_word(const char *s) {
    int b;
    return s && parse_bool(s, &b) == 0;
}

/* Which key argument a names: its index, whether it is a --no- form, and its "=value" (or
 * NULL); -1 when it is not a key flag (name receives the flag's name part). */
static int flag_key(const rl_keytab_t *t, const char *a, char *name, size_t cap, int *negate, const char **eq) {
    *negate = 0;
    *eq = NULL;
    name[0] = 0;
    if (a[0] != '-' || a[1] != '-' || !a[2]) return -1;
    *eq = strchr(a, '=');
    size_t nl = *eq ? (size_t)(*eq - a) : strlen(a);
    if (nl >= cap) nl = cap - 1;
    memcpy(name, a, nl);
    name[nl] = 0;
    int idx = rl_keys_find(t, name);
    if (idx < 0 && !strncmp(name, "--no-", 5) && !*eq) {
        idx = rl_keys_find(t, name + 5);
        if (idx >= 0 && t->keys[idx].type == RL_CFG_BOOL) *negate = 1;
        else idx = -1;
    }
    return idx;
}

int rl_keys_apply_argv(const rl_keytab_t *t, void *obj, int argc, char **argv, int *rest, int *n_rest) {
    int rc = 0;
    if (n_rest) *n_rest = 0;
    /* The files first, so flags override them wherever they appear. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *path = NULL;
        if (!strcmp(a, "--config")) {
            if (i + 1 >= argc) return rlc_errc(RLC_EINVAL, "--config needs a file");
            path = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            path = a + 9;
        }
        if (path && (rc = rl_keys_load_file(t, obj, path))) return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        char name[96];
        int negate;
        const char *eq;
        int idx = flag_key(t, a, name, sizeof name, &negate, &eq);
        if (idx < 0) {
            if (rest) {
                rest[(*n_rest)++] = i;
                continue;
            }
            if (a[0] == '-' && a[1] == '-') return unknown_key(t, "command line", a[2] ? name : a, 1);
            return rlc_errc(RLC_EINVAL, "unexpected argument '%s'", a);
        }
        char origin[112];
        snprintf(origin, sizeof origin, "flag %s", name);
        const char *v;
        if (negate)
            v = "false";
        else if (eq)
            v = eq + 1;
        else if (t->keys[idx].type == RL_CFG_BOOL)
            v = (i + 1 < argc && is_bool_word(argv[i + 1])) ? argv[++i] : "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else
            return rlc_errc(RLC_EINVAL, "%s needs a value", name);
        if ((rc = set_idx(t, obj, idx, v, origin))) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

cJSON *rl_keys_to_json(const rl_keytab_t *t, const void *obj) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int i = 0; i < t->n; i++) {
        const rl_config_key_t *k = &t->keys[i];
        const void *p = (const char *)obj + k->offset;
        cJSON *v = NULL;
        switch (k->type) {
        case RL_CFG_BOOL: v = cJSON_CreateBool(*(const int *)p); break;
        case RL_CFG_INT: v = cJSON_CreateNumber((double)*(const long *)p); break;
        case RL_CFG_FLOAT: v = cJSON_CreateNumber(*(const double *)p); break;
        case RL_CFG_ENUM: v = cJSON_CreateString(enum_name(k->enum_kind, *(const int *)p)); break;
        case RL_CFG_STR: {
            const char *s = *(char *const *)p;
            v = cJSON_CreateString(s ? s : "");
            break;
        }
        }
        if (!v) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToObject(o, k->name, v);
    }
    return o;
}

int rl_keys_write(const rl_keytab_t *t, const void *obj, const char *path) {
    cJSON *o = rl_keys_to_json(t, obj);
    if (!o) return rlc_errc(RLC_ENOMEM, "out of memory writing %s", path);
    char *txt = rlc_json_print(o, 1);
    cJSON_Delete(o);
    if (!txt) return RLC_ENOMEM;
    size_t n = strlen(txt);
    char *buf = rlc_realloc(txt, n + 2);
    if (!buf) {
        free(txt);
        return RLC_ENOMEM;
    }
    buf[n] = '\n';
    buf[n + 1] = 0;
    int rc = fs_write_atomic(path, buf, n + 1);
    free(buf);
    return rc;
}

/* One key's --help line(s). */
static void print_key_help(const rl_config_key_t *k, FILE *f) {
    static const char *const tn[] = {"", "INT", "FLOAT", "STR", ""};
    char flag[128];
    int n = snprintf(flag, sizeof flag, "--%s", k->name);
    for (int j = 2; j < n; j++)
        if (flag[j] == '_') flag[j] = '-';
    if (k->type == RL_CFG_ENUM)
        snprintf(flag + n, sizeof flag - (size_t)n, " {%s}", k->choices);
    else if (tn[k->type][0])
        snprintf(flag + n, sizeof flag - (size_t)n, " %s", tn[k->type]);
    const char *def = k->def[0] ? k->def : "\"\"";
    if (strlen(flag) > 30)
        fprintf(f, "  %s\n  %-30s %s (default %s)\n", flag, "", k->help, def);
    else
        fprintf(f, "  %-30s %s (default %s)\n", flag, k->help, def);
}

/* The order --help lists the sections in; a section not named here follows them. */
static int section_rank(const char *s) {
    static const char *const order[] = {S_SFT,  S_ALG, S_FLT,  S_PPO, S_OREAL, S_OPT, S_GEN,
                                        S_TOOL, S_MRT, S_PATH, S_RUN, S_DIST};
    int n = (int)(sizeof order / sizeof *order);
    for (int i = 0; i < n; i++)
        if (!strcmp(order[i], s)) return i;
    return n;
}

/* The keys grouped by section, in table order within a section. */
void rl_keys_print_help(const rl_keytab_t *t, FILE *f) {
    fprintf(f, "Boolean keys: --KEY (or --KEY true|false) turns one on, --no-KEY turns it off.\n");
    for (int r = 0, last = section_rank(""); r <= last; r++)
        for (int i = 0; i < t->n; i++) {
            const char *sect = t->keys[i].section;
            int seen = section_rank(sect) != r;
            for (int j = 0; j < i && !seen; j++) seen = !strcmp(t->keys[j].section, sect);
            if (seen) continue;
            fprintf(f, "\n%s:\n", sect);
            for (int j = i; j < t->n; j++)
                if (!strcmp(t->keys[j].section, sect)) print_key_help(&t->keys[j], f);
        }
}

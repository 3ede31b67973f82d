/* Key tables: the machinery behind every configuration of rl/ (`rlc train`'s rl_config_t,
 * `rlc sft`'s rl_sft_opts_t). A table lists each knob once (name, type, section, default,
 * help, field offset); from it come the defaults, JSON/YAML loading (unknown keys are
 * errors naming the key, with a suggestion), the command-line grammar, `--help`, and the
 * resolved config.json. Owns: nothing (the strings inside a configured struct belong to it
 * and are released by rl_keys_free). */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

typedef enum { RL_CFG_BOOL = 0, RL_CFG_INT, RL_CFG_FLOAT, RL_CFG_STR, RL_CFG_ENUM } rl_cfg_type_t;

/* Field types: BOOL int, INT long, FLOAT double, STR char * (owned), ENUM int. */
typedef struct {
    const char *name;    /* file key "clip_high"; the flag is "--clip-high" (and "--no-KEY" for a BOOL) */
    rl_cfg_type_t type;
    const char *section; /* heading for --help */
    const char *def;     /* default as text (what --help shows) */
    const char *help;    /* one line */
    const char *choices; /* RL_CFG_ENUM: "a|b|c" */
    size_t offset;       /* of the field in the configured struct */
    int enum_kind;       /* internal: which parser an RL_CFG_ENUM uses (rl/keydefs.h) */
} rl_config_key_t;

typedef struct rl_keytab {
    const rl_config_key_t *keys;
    int n;
    /* offset of an unsigned char[RL_KEYS_MAX] in the configured struct where every key set
     * other than by its default is marked (1), or (size_t)-1 when the struct keeps none */
    size_t set_offset;
} rl_keytab_t;

enum { RL_KEYS_MAX = 192 };
/* 1 when key was set by a flag, a file or a call (not only by its default). */
int rl_keys_was_set(const rl_keytab_t *t, const void *obj, const char *key);

/* Index of a key ("clip_high", "clip-high" or "--clip-high"), -1 if unknown. */
/* A key's flag spelling: "--clip-high" for clip_high (out holds at least strlen + 3). */
void rl_keys_flag_name(const char *key, char *out, size_t cap);
int rl_keys_find(const rl_keytab_t *t, const char *name);
/* Defaults from the table (obj zeroed first). rl_keys_free releases the strings (safe on a
 * zeroed struct). */
int rl_keys_init(const rl_keytab_t *t, void *obj);
void rl_keys_free(const rl_keytab_t *t, void *obj);
/* Set one key from text (flag value, YAML scalar). `origin` names where it came from for
 * the error ("flag --lr", "train.yaml:12"). Unknown key: error naming it, with a suggestion. */
int rl_keys_set(const rl_keytab_t *t, void *obj, const char *key, const char *value, const char *origin);
/* Current value as text (bools true/false, enums by name, floats shortest exact %g). */
int rl_keys_get(const rl_keytab_t *t, const void *obj, const char *key, char *buf, size_t cap);

/* Merge a JSON object (values typed or as strings). */
int rl_keys_load_json(const rl_keytab_t *t, void *obj, const cJSON *json, const char *what);
/* Merge a YAML document: a flat mapping of scalars (comments, quoting as usual). */
int rl_keys_load_yaml(const rl_keytab_t *t, void *obj, const char *text, size_t len, const char *what);
/* By extension (.json / .yaml / .yml), else by content ('{' first means JSON). */
int rl_keys_load_file(const rl_keytab_t *t, void *obj, const char *path);

/* The command-line grammar, applied onto obj as it is (defaults, a saved config, ...):
 * first every `--config FILE` / `--config=FILE` (in order), so flags override files wherever
 * they appear; then, in order, `--key value`, `--key=value`, a bare boolean `--key` (or
 * `--key true|false|yes|no|on|off|1|0`), and `--no-key` for every boolean key. Arguments
 * that are not keys are handed back when rest != NULL: rest[] receives their argv indices
 * (a non-key flag's value is not a key either, so it follows its flag in rest[]); else they
 * are an error. An unknown flag's suggestion keeps its polarity: `--no-X` is only ever
 * matched to `--no-` forms of boolean keys, a positive flag only to keys. argv[0] skipped. */
int rl_keys_apply_argv(const rl_keytab_t *t, void *obj, int argc, char **argv, int *rest, int *n_rest);

/* The error for a flag that is no key of the table: "unknown flag --X (did you mean --Y?)",
 * for a caller that handles its own flags from rest[] and meets one it does not know. */
int rl_keys_unknown_flag(const rl_keytab_t *t, const char *flag);

/* Every key in table order with its value (caller deletes). */
cJSON *rl_keys_to_json(const rl_keytab_t *t, const void *obj);
/* The resolved configuration as pretty JSON, written atomically. */
int rl_keys_write(const rl_keytab_t *t, const void *obj, const char *path);
/* `--help` text: sections, flags (with --no- for booleans), types, defaults, one-line help. */
void rl_keys_print_help(const rl_keytab_t *t, FILE *f);

/*
 * policy.c - policy parameters, validation, storage (policy.h).
 */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

struct policy_param {
	const char *name;
	long long min, max, def;         /* numbers */
	const char *const *names;        /* enums: allowed strings; def indexes */
};

static const char *const on_off[] = { "off", "on", NULL };
static const char *const respond_names[] = { "challenge", "drop", NULL };

/* Ranges follow dataplane/config.c [policy]; protection defaults DESIGN.md. */
static const struct policy_param params[] = {
	{ "register_replace", 0, 0, 1, on_off },
	{ "max_bindings", 1, 32, 10, NULL },
	{ "default_expires_s", 1, 604800, 3600, NULL },
	{ "min_expires_s", 0, 604800, 60, NULL },
	{ "max_expires_s", 1, 604800, 7200, NULL },
	{ "expiring_window_s", 0, 86400, 60, NULL },
	{ "nat_keepalive_s", 0, 3600, 30, NULL },
	{ "nat_keepalive_misses", 1, 100, 3, NULL },
	{ "nat_max_expires_s", 0, 604800, 120, NULL },
	{ "lockout_failures", 0, 1000000, 5, NULL },      /* 0: off, as [lockout] failures */
	{ "lockout_window_s", 1, 86400, 60, NULL },
	{ "lockout_duration_s", 1, 31536000, 900, NULL },
	{ "rate_per_ip", 0, 10000000, 50, NULL },
	{ "rate_global", 0, 100000000, 0, NULL },
	{ "respond_unknown", 0, 0, 0, respond_names },
};

#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static const struct policy_param *find_param(const char *name)
{
	for (size_t i = 0; i < N_PARAMS; i++)
		if (strcmp(params[i].name, name) == 0)
			return &params[i];
	return NULL;
}

json_t *policy_defaults(void)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < N_PARAMS; i++)
		json_object_set_new(o, params[i].name,
				    params[i].names ? json_string(params[i].names[params[i].def])
						    : json_integer(params[i].def));
	return o;
}

/* NULL when v is a valid value of p, else a reason. */
static const char *check_value(const struct policy_param *p, const json_t *v, char *buf,
			       size_t len)
{
	if (p->names) {
		if (json_is_string(v))
			for (size_t i = 0; p->names[i]; i++)
				if (strcmp(json_string_value(v), p->names[i]) == 0)
					return NULL;
		snprintf(buf, len, "'%s' must be one of %s%s%s", p->name, p->names[0],
			 p->names[1] ? ", " : "", p->names[1] ? p->names[1] : "");
		return buf;
	}
	if (!json_is_integer(v) || json_integer_value(v) < p->min ||
	    json_integer_value(v) > p->max) {
		snprintf(buf, len, "'%s' must be an integer from %lld to %lld", p->name, p->min,
			 p->max);
		return buf;
	}
	return NULL;
}

json_t *policy_load(struct store_config *c, json_t **explicit_out, char *err, size_t err_len)
{
	json_t *pol = policy_defaults(), *stored;
	json_error_t jerr;
	const char *k;
	json_t *v;
	char why[160];
	static char text[65536];
	int rc = store_policy_get(c, text, sizeof(text));

	*explicit_out = json_object();
	if (rc == MDB_NOTFOUND)
		return pol;
	if (rc != 0) {
		snprintf(err, err_len, "config policy: %s", rc == ENOSPC ? "too large" : mdb_strerror(rc));
		json_decref(pol);
		json_decref(*explicit_out);
		return NULL;
	}
	stored = json_loads(text, 0, &jerr);
	if (!json_is_object(stored)) {
		snprintf(err, err_len, "config policy: not a JSON object (%s)", jerr.text);
		json_decref(stored);
		json_decref(pol);
		json_decref(*explicit_out);
		return NULL;
	}
	json_object_foreach(stored, k, v) {
		const struct policy_param *p = find_param(k);

		/* unknown or invalid stored values: keep the default (only a
		 * hand edit of the environment gets here) */
		if (p && !check_value(p, v, why, sizeof(why))) {
			json_object_set(pol, k, v);
			json_object_set(*explicit_out, k, v);
		}
	}
	json_decref(stored);
	return pol;
}

int policy_save(struct store_config *c, const json_t *policy, char *err, size_t err_len)
{
	char *text = json_dumps(policy, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = text ? store_policy_put(c, text, strlen(text)) : ENOMEM;

	free(text);
	if (rc != 0) {
		snprintf(err, err_len, "cannot store the policy: %s", rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
		return -1;
	}
	return 0;
}

static long long int_of(const json_t *pol, const char *name)
{
	return json_integer_value(json_object_get(pol, name));
}

json_t *policy_apply_set(const json_t *current, const json_t *set, json_t **changes, char *err,
			 size_t err_len)
{
	json_t *pol, *v;
	const char *k;

	*changes = NULL;
	if (!json_is_object(set) || json_object_size(set) == 0) {
		snprintf(err, err_len, "field 'set' must be an object of parameter: value");
		return NULL;
	}
	json_object_foreach((json_t *)set, k, v) {
		const struct policy_param *p = find_param(k);

		if (!p) {
			snprintf(err, err_len, "unknown policy parameter '%.64s'", k);
			return NULL;
		}
		if (check_value(p, v, err, err_len))
			return NULL;
	}
	pol = json_deep_copy(current);
	*changes = json_object();
	if (!pol || !*changes) {
		json_decref(pol);
		json_decref(*changes);
		*changes = NULL;
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	json_object_foreach((json_t *)set, k, v) {
		json_t *old = json_object_get(pol, k);

		if (!json_equal(old, v))
			json_object_set_new(*changes, k, json_pack("{sOsO}", "old", old, "new", v));
		json_object_set(pol, k, v);
	}
	if (int_of(pol, "min_expires_s") > int_of(pol, "max_expires_s") ||
	    int_of(pol, "default_expires_s") > int_of(pol, "max_expires_s") ||
	    int_of(pol, "default_expires_s") < int_of(pol, "min_expires_s")) {
		snprintf(err, err_len, "min_expires_s <= default_expires_s <= max_expires_s "
			 "must hold (now %lld, %lld, %lld)", int_of(pol, "min_expires_s"),
			 int_of(pol, "default_expires_s"), int_of(pol, "max_expires_s"));
		json_decref(pol);
		json_decref(*changes);
		*changes = NULL;
		return NULL;
	}
	return pol;
}

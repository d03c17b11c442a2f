/* policy_store.c — the stored policy (JSON, jansson) over the registrar config. */
#include "policy_store.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

struct number_key {
	const char *name;
	long long min, max;
	size_t offset;            /* into struct registrar_config, a uint32_t */
};

#define CFG(field) offsetof(struct registrar_config, field)

static const struct number_key numbers[] = {
	{ "max_bindings", 1, 32, CFG(policy.max_bindings) },
	{ "default_expires_s", 1, 604800, CFG(policy.default_expires_s) },
	{ "min_expires_s", 0, 604800, CFG(policy.min_expires_s) },
	{ "max_expires_s", 1, 604800, CFG(policy.max_expires_s) },
	{ "expiring_window_s", 0, 86400, CFG(expiring_window_s) },
	{ "nat_max_expires_s", 0, 604800, CFG(policy.nat_max_expires_s) },
	{ "nat_keepalive_s", 0, 3600, CFG(nat_keepalive_s) },
	{ "nat_keepalive_misses", 1, 100, CFG(nat_keepalive_misses) },
	{ "lockout_failures", 0, 1000000, CFG(lockout.failures) },
	{ "lockout_window_s", 1, 86400, CFG(lockout.window_s) },
	{ "lockout_duration_s", 1, 31536000, CFG(lockout.duration_s) },
};

int policy_store_apply(struct store_config *c, struct registrar_config *cfg,
		       struct policy_rates *rates, char *err, size_t err_len)
{
	static char text[65536];
	static const char path[] = "config policy";   /* names it in messages */
	json_error_t jerr;
	json_t *o;
	struct registrar_config next = *cfg;
	struct policy_rates next_rates = *rates;
	int rc = store_policy_get(c, text, sizeof(text));

	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0) {
		snprintf(err, err_len, "%s: %s", path, rc == ENOSPC ? "too large" : mdb_strerror(rc));
		return -1;
	}
	o = json_loads(text, 0, &jerr);
	if (!json_is_object(o)) {
		snprintf(err, err_len, "%s: not a JSON object (%s)", path, o ? "" : jerr.text);
		json_decref(o);
		return -1;
	}
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		json_t *v = json_object_get(o, numbers[i].name);
		if (!v)
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < numbers[i].min ||
		    json_integer_value(v) > numbers[i].max) {
			snprintf(err, err_len, "%s: %s must be an integer from %lld to %lld", path,
				 numbers[i].name, numbers[i].min, numbers[i].max);
			json_decref(o);
			return -1;
		}
		*(uint32_t *)((char *)&next + numbers[i].offset) = (uint32_t)json_integer_value(v);
	}
	const char *word;
	json_t *v;
	if ((v = json_object_get(o, "register_replace")) != NULL) {
		word = json_string_value(v);
		if (!word || (strcmp(word, "on") && strcmp(word, "off"))) {
			snprintf(err, err_len, "%s: register_replace must be \"on\" or \"off\"", path);
			json_decref(o);
			return -1;
		}
		next.policy.register_replace = strcmp(word, "on") == 0;
	}
	if ((v = json_object_get(o, "respond_unknown")) != NULL) {
		word = json_string_value(v);
		if (!word || (strcmp(word, "challenge") && strcmp(word, "drop"))) {
			snprintf(err, err_len, "%s: respond_unknown must be \"challenge\" or \"drop\"", path);
			json_decref(o);
			return -1;
		}
		next.respond_unknown = strcmp(word, "drop") == 0 ? RESPOND_UNKNOWN_DROP : RESPOND_UNKNOWN_CHALLENGE;
	}
	json_t *rate;
	if ((rate = json_object_get(o, "rate_per_ip")) != NULL) {
		if (!json_is_integer(rate) || json_integer_value(rate) < 0 ||
		    json_integer_value(rate) > 100000000) {
			snprintf(err, err_len, "%s: rate_per_ip must be an integer from 0 to 100000000", path);
			json_decref(o);
			return -1;
		}
		next_rates.per_ip_pps = (uint32_t)json_integer_value(rate);
	}
	if ((rate = json_object_get(o, "rate_global")) != NULL) {
		if (!json_is_integer(rate) || json_integer_value(rate) < 0 ||
		    json_integer_value(rate) > 1000000000) {
			snprintf(err, err_len, "%s: rate_global must be an integer from 0 to 1000000000", path);
			json_decref(o);
			return -1;
		}
		next_rates.global_pps = (uint32_t)json_integer_value(rate);
	}
	json_decref(o);
	if (next.policy.min_expires_s > next.policy.max_expires_s) {
		snprintf(err, err_len, "%s: min_expires_s above max_expires_s", path);
		return -1;
	}
	*cfg = next;
	*rates = next_rates;
	return 0;
}
